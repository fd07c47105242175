import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Aedat3Decoder, aedat3Geometry, encodeAedat3 } from '../../src/events/aedat3.js';
import { batchFrom } from '../../src/events/batch.js';
import { DecodeError } from '../../src/events/decode-error.js';
import { concatBytes } from '../helpers/concat-bytes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { decodeChunked, toRows } from '../helpers/events.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const HEADER = ['!AER-DAT3.1', 'Format: RAW', 'Source 1: DAVIS240C', 'Start-Time: 2017-01-01 00:00:00 (TZ+0000)', '!END-HEADER'];

interface Packet {
  type?: number;
  source?: number;
  size?: number;
  tsOffset?: number;
  overflow?: number;
  capacity?: number;
  number?: number;
  body: Uint8Array;
}

/** Little-endian AEDAT 3.1 bytes built field by field from the spec (independent of the encoder). */
function file(packets: Packet[], header = HEADER): Uint8Array {
  const parts: Uint8Array[] = [enc(header.map((l) => `#${l}\r\n`).join(''))];
  for (const p of packets) {
    const h = new DataView(new ArrayBuffer(28));
    const size = p.size ?? 8;
    const capacity = p.capacity ?? p.body.length / size;
    h.setInt16(0, p.type ?? 1, true);
    h.setInt16(2, p.source ?? 1, true);
    h.setInt32(4, size, true);
    h.setInt32(8, p.tsOffset ?? 4, true);
    h.setInt32(12, p.overflow ?? 0, true);
    h.setInt32(16, capacity, true);
    h.setInt32(20, p.number ?? capacity, true);
    h.setInt32(24, p.number ?? capacity, true);
    parts.push(new Uint8Array(h.buffer), p.body);
  }
  return concatBytes(...parts);
}

/** Polarity events [x, y, on, valid, ts] as 8-byte records. */
function polarity(evs: Array<[number, number, number, number, number]>): Uint8Array {
  const dv = new DataView(new ArrayBuffer(evs.length * 8));
  evs.forEach(([x, y, on, valid, ts], k) => {
    dv.setUint32(k * 8, ((x << 17) | (y << 2) | (on << 1) | valid) >>> 0, true);
    dv.setInt32(k * 8 + 4, ts, true);
  });
  return new Uint8Array(dv.buffer);
}

describe('Aedat3Decoder', () => {
  it('decodes polarity packets, skips invalid events and other packet types, and joins the overflow epoch', () => {
    const bytes = file([
      { body: polarity([[10, 20, 1, 1, 100], [11, 21, 0, 0, 101], [239, 179, 0, 1, 102]]) },
      { type: 2, size: 12, body: new Uint8Array(24) }, // a frame packet
      { overflow: 3, body: polarity([[1, 2, 1, 1, 5]]) },
    ]);
    const dec = new Aedat3Decoder();
    expect(toRows(decodeChunked(dec, bytes))).toEqual([[100, 10, 20, 1], [102, 239, 179, 0], [3 * 2 ** 31 + 5, 1, 2, 1]]);
    expect(dec.info.skippedPackets).toBe(1);
    expect(dec.info.details.invalidEvents).toBe(1);
    expect([dec.info.width, dec.info.height]).toEqual([240, 180]);
    expect(dec.info.headerLines).toEqual(HEADER);
  });

  it('reads only the first eventNumber events of a packet', () => {
    const bytes = file([{ capacity: 3, number: 1, body: polarity([[1, 1, 1, 1, 1], [2, 2, 1, 1, 2], [3, 3, 1, 1, 3]]) }, { body: polarity([[4, 4, 0, 1, 4]]) }]);
    expect(toRows(decodeChunked(new Aedat3Decoder(), bytes, [5]))).toEqual([[1, 1, 1, 1], [4, 4, 4, 0]]);
  });

  it('decodes one source: the first polarity packet\'s, or the one chosen', () => {
    const bytes = file([{ source: 2, body: polarity([[1, 1, 1, 1, 1]]) }, { source: 1, body: polarity([[2, 2, 1, 1, 2]]) }]);
    const first = new Aedat3Decoder();
    expect(toRows(decodeChunked(first, bytes))).toEqual([[1, 1, 1, 1]]);
    expect(first.info.skippedPackets).toBe(1);
    expect(toRows(decodeChunked(new Aedat3Decoder({ source: 1 }), bytes))).toEqual([[2, 2, 2, 1]]);
  });

  it('takes geometry from the source device or explicit sizeX/sizeY, else leaves it unknown', () => {
    expect(aedat3Geometry(['Source 1: DVS128'])).toMatchObject({ width: 128, height: 128 });
    expect(aedat3Geometry(['Source 1: DAVIS346B'])).toMatchObject({ width: 346, height: 260 });
    expect(aedat3Geometry(['<attr key="dvsSizeX" type="short">640</attr>', '<attr key="dvsSizeY" type="short">480</attr>'])).toMatchObject({ width: 640, height: 480 });
    expect(aedat3Geometry(['Source 1: SomethingElse'])).toBeUndefined();
    const dec = new Aedat3Decoder();
    decodeChunked(dec, file([], ['!AER-DAT3.1', 'Source 1: Unknown', '!END-HEADER']));
    expect(dec.info.width).toBeUndefined();
  });

  it('round-trips encodeAedat3 for any events and chunking, including timestamp epochs and backward steps', () => {
    const ev = fc.record({ t: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.integer({ min: 0, max: 2 ** 53 - 1 })), x: fc.integer({ min: 0, max: 0x7fff }), y: fc.integer({ min: 0, max: 0x7fff }), p: fc.integer({ min: 0, max: 1 }) });
    fc.assert(fc.property(fc.array(ev, { maxLength: 60 }), fc.integer({ min: 1, max: 9 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), (evs, perPacket, sizes) => {
      const b = batchFrom({ t: evs.map((e) => e.t), x: evs.map((e) => e.x), y: evs.map((e) => e.y), p: evs.map((e) => e.p) });
      const dec = new Aedat3Decoder();
      const back = decodeChunked(dec, encodeAedat3(b, { width: 346, height: 260, eventsPerPacket: perPacket }), sizes);
      expect(toRows(back)).toEqual(toRows(b));
      expect([dec.info.width, dec.info.height]).toEqual([346, 260]);
    }), { numRuns: 150 });
  });

  it('writes geometry a reader can find for sizes that are not a known device', () => {
    const dec = new Aedat3Decoder();
    decodeChunked(dec, encodeAedat3(batchFrom({ t: [1], x: [2], y: [3], p: [1] }), { width: 100, height: 50 }));
    expect([dec.info.width, dec.info.height]).toEqual([100, 50]);
    expect(() => encodeAedat3(batchFrom({ t: [-1], x: [0], y: [0], p: [0] }))).toThrow(RangeError);
    expect(() => encodeAedat3(batchFrom({ t: [0], x: [0x8000], y: [0], p: [0] }))).toThrow(RangeError);
  });
});

describe('Aedat3Decoder on bad input', () => {
  it('rejects a wrong magic, another AEDAT version and a header without #!END-HEADER', () => {
    const e = decodeErrorOf(() => new Aedat3Decoder().write(enc('#!AER-DAT2.0\r\n')));
    expect(e.code).toBe('BAD_MAGIC');
    expect(e.offset).toBe(9);
    expect(decodeErrorOf(() => new Aedat3Decoder().write(Uint8Array.from([1, 2, 3]))).code).toBe('BAD_MAGIC');
    const noEnd = Uint8Array.from([...enc('#!AER-DAT3.1\r\n#Format: RAW\r\n'), 1, 0, 1, 0]);
    expect(decodeErrorOf(() => decodeChunked(new Aedat3Decoder(), noEnd)).code).toBe('BAD_HEADER');
    expect(decodeErrorOf(() => decodeChunked(new Aedat3Decoder(), file([], ['!AER-DAT3.1', 'Format: SerializedTS', '!END-HEADER']))).code).toBe('UNSUPPORTED');
  });

  it('reports truncation inside the header, a packet header and a packet, keeping earlier events', () => {
    expect(decodeErrorOf(() => decodeChunked(new Aedat3Decoder(), enc('#!AER-DAT3.1\r\n#Format: RAW\r\n'))).code).toBe('TRUNCATED');
    const bytes = file([{ body: polarity([[1, 1, 1, 1, 1]]) }, { body: polarity([[2, 2, 1, 1, 2], [3, 3, 1, 1, 3]]) }]);
    const headerLen = bytes.length - 2 * 28 - 3 * 8;
    // Cut inside the second packet's events, then inside its header: both name that packet.
    for (const cut of [bytes.length - 4, headerLen + 36 + 10]) {
      const dec = new Aedat3Decoder();
      const got = dec.write(bytes.subarray(0, cut));
      expect(toRows(got)[0]).toEqual([1, 1, 1, 1]);
      const e = decodeErrorOf(() => dec.end());
      expect(e.code).toBe('TRUNCATED');
      expect(e.offset).toBe(headerLen + 36);
    }
  });

  it('rejects inconsistent packet headers, oversized packets and negative timestamps with the packet offset', () => {
    const headerLen = file([]).length;
    expect(decodeErrorOf(() => decodeChunked(new Aedat3Decoder(), file([{ size: 12, body: new Uint8Array(24) }]))).code).toBe('CORRUPT');
    expect(decodeErrorOf(() => decodeChunked(new Aedat3Decoder(), file([{ capacity: 1, number: 2, body: polarity([[1, 1, 1, 1, 1]]) }]))).code).toBe('CORRUPT');
    const big = decodeErrorOf(() => decodeChunked(new Aedat3Decoder({ limits: { maxPacketBytes: 64 } }), file([{ type: 2, size: 100, capacity: 1, body: new Uint8Array(100) }])));
    expect(big.code).toBe('TOO_LARGE');
    expect(big.offset).toBe(headerLen);
    const dec = new Aedat3Decoder();
    const neg = decodeErrorOf(() => decodeChunked(dec, file([{ body: polarity([[1, 1, 1, 1, 7], [2, 2, 1, 1, -5]]) }])));
    expect(neg.code).toBe('CORRUPT');
    expect(neg.offset).toBe(headerLen + 28 + 8);
    expect(toRows(neg.events)).toEqual([[7, 1, 1, 1]]);
  });

  it('never throws anything but a DecodeError on random bytes after a valid header, and terminates', () => {
    const head = enc(HEADER.map((l) => `#${l}\r\n`).join(''));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400, size: 'max' }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }), (body, sizes) => {
      try {
        decodeChunked(new Aedat3Decoder(), Uint8Array.from([...head, ...body]), sizes);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
    }), { numRuns: 400 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100, size: 'max' }), (bytes) => {
      try {
        decodeChunked(new Aedat3Decoder(), bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
    }));
  });
});
