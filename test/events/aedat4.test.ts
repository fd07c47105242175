import fc from 'fast-check';
import { compress as lz4Compress, decompress as lz4jsDecompress } from 'lz4js';
import { describe, expect, it } from 'vitest';
import { Aedat4Decoder } from '../../src/events/aedat4.js';
import { badEventReason, copyEvents, EVENT_STRUCT_BYTES } from '../../src/events/aedat4/event-packet.js';
import { decompressLz4Frame, lz4FrameLayout, LZ4_SLACK } from '../../src/events/aedat4/lz4-frame.js';
import { Lz4Wasm, MAX_WASM_OUT } from '../../src/events/aedat4/lz4-wasm.js';
import { parseInfoNode } from '../../src/events/aedat4/info-node.js';
import { decompressZstdFrame } from '../../src/events/aedat4/zstd-frame.js';
import { allocBatch, batchFrom, concatBatches, type EventBatch } from '../../src/events/batch.js';
import { DecodeError } from '../../src/events/decode-error.js';
import { uniformChunkSizes } from '../helpers/chunk-sizes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { columnDigests, decodeChunked, toRows } from '../helpers/events.js';
import { expectOnlyDecodeErrors } from '../helpers/expect-only-decode-errors.js';
import { describeManifestFixture } from '../helpers/manifest-fixture.js';
import { compressPayload, eventPacketBytes, ioHeaderBytes, writeAedat4, zstdStored, type WriterCompression } from '../helpers/aedat4-writer.js';

const STREAMS = [{ id: 0, type: 'EVTS', sizeX: 346, sizeY: 260 }, { id: 2, type: 'IMUS' }];
const ev = (rows: number[][]): EventBatch => batchFrom({ t: rows.map((r) => r[0]), x: rows.map((r) => r[1]), y: rows.map((r) => r[2]), p: rows.map((r) => r[3]) });
const A = ev([[1605537493718345, 154, 204, 0], [1605537493718348, 149, 206, 1]]);
const B = ev([[1605537493718400, 1, 2, 1], [1605537493718399, 345, 259, 0], [5, 0, 0, 1]]);

function lz4(raw: Uint8Array): Uint8Array {
  const dst = new Uint8Array(lz4FrameLayout(raw).bound + LZ4_SLACK);
  return dst.subarray(0, decompressLz4Frame(raw, lz4FrameLayout(raw), dst));
}

/** A fresh liblz4 instance; the package is a dependency, so it must load here. */
function wasmLz4(): Lz4Wasm {
  const w = Lz4Wasm.create();
  expect(w).not.toBeNull();
  return w!;
}

/** An LZ4 frame (v1, linked 64 KiB blocks, no checksums) holding one compressed block. */
function lz4FrameOf(block: readonly number[]): Uint8Array {
  const n = block.length;
  return Uint8Array.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0xc0, n & 0xff, n >>> 8, 0, 0, ...block, 0, 0, 0, 0]);
}

/** Whether the first block of an LZ4 frame (no content size) has a match at offset 0 before its first fault. */
function hasZeroOffset(frame: Uint8Array): boolean {
  let s = 11;
  const end = Math.min(frame.length, s + ((frame[7] | (frame[8] << 8) | (frame[9] << 16)) >>> 0));
  while (s < end) {
    const token = frame[s++];
    let lit = token >>> 4;
    if (lit === 15) for (let c = 255; c === 255 && s < end; lit += c) c = frame[s++];
    s += lit;
    if (s + 2 > end) return false;
    if ((frame[s] | (frame[s + 1] << 8)) === 0) return true;
    s += 2;
    if ((token & 15) === 15) while (s < end && frame[s++] === 255);
  }
  return false;
}

/** Decodes until the error; returns every event delivered (by write() results and the error). */
function decodeUntilError(bytes: Uint8Array, size: number): { events: EventBatch; error: DecodeError } {
  const dec = new Aedat4Decoder();
  const got: EventBatch[] = [];
  try {
    for (let i = 0; i < bytes.length; i += size) got.push(dec.write(bytes.subarray(i, i + size)));
    got.push(dec.end());
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    got.push((e as DecodeError).events);
    return { events: concatBatches(got), error: e as DecodeError };
  }
  throw new Error('expected a DecodeError');
}

describe('LZ4 frame decompression', () => {
  it('agrees with lz4js on lz4js-compressed data of any content', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 200_000 }).map((a) => Uint8Array.from(a))), (raw) => {
      const frame = lz4Compress(raw);
      expect(Buffer.from(lz4(frame)).equals(Buffer.from(lz4jsDecompress(frame)))).toBe(true);
      expect(Buffer.from(lz4(frame)).equals(Buffer.from(raw))).toBe(true);
    }), { numRuns: 60 });
  });

  it('rejects malformed frames with a CodecError, never another exception, and never reads past them', () => {
    const frame = lz4Compress(new TextEncoder().encode('abcabcabcabcabcabcabcabcabcabcabcabcabc x '.repeat(40)));
    fc.assert(fc.property(fc.integer({ min: 0, max: frame.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: frame.length }), (pos, value, cut) => {
      const bad = frame.slice(0, cut);
      if (pos < bad.length) bad[pos] = value;
      try {
        lz4(bad);
      } catch (e) {
        expect((e as Error).name).toBe('CodecError');
      }
    }), { numRuns: 500 });
  });

  it('refuses a match that reaches before the output start', () => {
    // Frame: magic, FLG 0x40, BD 0x40, HC, one block: token 0x10 literal 'a', then offset 5 (> 1 byte produced).
    const bad = Uint8Array.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0xc0, 6, 0, 0, 0, 0x10, 0x61, 5, 0, 0x00, 0x61, 0, 0, 0, 0]);
    expect(() => lz4(bad)).toThrow(/corrupt LZ4 block/);
  });

  it('refuses a block that ends with a match instead of literals', () => {
    const ok = Uint8Array.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0xc0, 5, 0, 0, 0, 0x10, 0x61, 1, 0, 0x00, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(lz4(ok))).toBe('aaaaa');
    const bad = Uint8Array.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0xc0, 4, 0, 0, 0, 0x10, 0x61, 1, 0, 0, 0, 0, 0]);
    expect(() => lz4(bad)).toThrow(/corrupt LZ4 block/);
  });
});

describe('LZ4 frames through liblz4 (wasm)', () => {
  const text = new TextEncoder().encode('abcabcabcabcabcabcabcabcabcabcabcabcabc x '.repeat(40));

  it('agrees with the input on lz4js-compressed data of any content', () => {
    const w = wasmLz4();
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 200_000 }).map((a) => Uint8Array.from(a))), (raw) => {
      const frame = lz4Compress(raw);
      const out = w.decompress(frame, lz4FrameLayout(frame).bound);
      expect(out).not.toBeNull();
      expect(Buffer.from(out!).equals(Buffer.from(raw))).toBe(true);
    }), { numRuns: 40 });
  });

  it('decodes a corrupted frame as the JS decoder does, or refuses it', () => {
    // The decoder's contract: what liblz4 accepts must not depend on which path ran; what it
    // refuses goes to the JS decoder. Offset-0 matches are the known exception (next test).
    const frame = lz4Compress(text);
    let w = wasmLz4();
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 11, max: frame.length - 5 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
      const bad = frame.slice();
      for (const [at, v] of edits) bad[at] = v;
      const layout = lz4FrameLayout(bad);
      if (!w.usable) w = wasmLz4();
      const fast = w.decompress(bad, layout.bound)?.slice();
      if (!fast) {
        expect(w.usable).toBe(false);
        return;
      }
      if (!hasZeroOffset(bad)) expect(Buffer.from(fast).equals(Buffer.from(lz4(bad)))).toBe(true);
    }), { numRuns: 60 });
  });

  it('gives zeros for an offset-0 match, never an earlier frame\'s bytes (the JS decoder refuses it)', () => {
    const w = wasmLz4();
    const secret = new TextEncoder().encode('0123456789'.repeat(100));
    const earlier = lz4Compress(secret);
    expect(w.decompress(earlier, lz4FrameLayout(earlier).bound)).not.toBeNull();
    // 4 literals "abcd", a 4-byte match at offset 0, then 5 literals "abcde".
    const frame = lz4FrameOf([0x40, 0x61, 0x62, 0x63, 0x64, 0, 0, 0x50, 0x61, 0x62, 0x63, 0x64, 0x65]);
    expect(() => lz4(frame)).toThrow(/corrupt LZ4 block/);
    const out = w.decompress(frame, lz4FrameLayout(frame).bound);
    expect(Array.from(out!)).toEqual([0x61, 0x62, 0x63, 0x64, 0, 0, 0, 0, 0x61, 0x62, 0x63, 0x64, 0x65]);
  });

  it('refuses all work after a failure (liblz4 would continue the failed frame) and never returns partial output', () => {
    const good = lz4Compress(text);
    const bound = lz4FrameLayout(good).bound;
    const bad = good.slice();
    bad.fill(0xff, 11, bad.length - 4);
    for (const fail of [() => bad, () => good.subarray(0, 0)]) {
      const w = wasmLz4();
      const frame = fail();
      expect(w.decompress(frame, frame.length ? lz4FrameLayout(frame).bound : bound)).toBeNull();
      expect(w.usable).toBe(false);
      expect(w.decompress(good, bound)).toBeNull();
    }
    const small = wasmLz4();
    expect(small.decompress(good, 100)).toBeNull(); // output room for less than the frame holds
    expect(small.usable).toBe(false);
    expect(Buffer.from(wasmLz4().decompress(good, bound)!).equals(Buffer.from(text))).toBe(true);
  });

  it('leaves frames larger than MAX_WASM_OUT to the JS decoder without failing', () => {
    const w = wasmLz4();
    const good = lz4Compress(text);
    expect(w.decompress(good, MAX_WASM_OUT + 1)).toBeNull();
    expect(w.usable).toBe(true);
    expect(Buffer.from(w.decompress(good, lz4FrameLayout(good).bound)!).equals(Buffer.from(text))).toBe(true);
  });
});

describe('copyEvents', () => {
  interface Ev { t: bigint; x: number; y: number; p: number; pad: number }
  const goodEvent = fc.record({
    t: fc.bigInt({ min: -(2n ** 53n), max: 2n ** 53n - 1n }), x: fc.integer({ min: 0, max: 0x7fff }), y: fc.integer({ min: 0, max: 0x7fff }),
    p: fc.integer({ min: 0, max: 255 }), pad: fc.integer({ min: 0, max: 0xffffff }),
  });
  const badEvent = fc.oneof(
    goodEvent.chain((e) => fc.integer({ min: -0x8000, max: -1 }).map((x) => ({ ...e, x }))),
    goodEvent.chain((e) => fc.integer({ min: -0x8000, max: -1 }).map((y) => ({ ...e, y }))),
    goodEvent.chain((e) => fc.oneof(fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n }), fc.bigInt({ min: -(2n ** 63n), max: -(2n ** 53n) - 1n })).map((t) => ({ ...e, t }))),
  );

  // Timestamps in [-2^53, 2^53) are exact doubles; the decoder refuses the others.
  /** Structs as DV lays them out, starting `skew` bytes into the buffer. */
  function structs(evs: readonly Ev[], skew: number): Uint8Array {
    const bytes = new Uint8Array(skew + EVENT_STRUCT_BYTES * evs.length);
    const dv = new DataView(bytes.buffer);
    evs.forEach((e, k) => {
      const b = skew + EVENT_STRUCT_BYTES * k;
      dv.setBigInt64(b, e.t, true);
      dv.setInt16(b + 8, e.x, true);
      dv.setInt16(b + 10, e.y, true);
      dv.setUint8(b + 12, e.p);
      dv.setUint8(b + 13, e.pad & 0xff);
      dv.setUint16(b + 14, e.pad >>> 8, true);
    });
    return bytes;
  }

  it('reads t, x, y and polarity (any non-zero byte is ON), aligned or not, and stops at the first invalid event', () => {
    fc.assert(fc.property(fc.array(goodEvent, { maxLength: 50 }), fc.option(fc.tuple(badEvent, fc.array(fc.oneof(goodEvent, badEvent), { maxLength: 5 }))), fc.integer({ min: 0, max: 3 }), (head, tail, o) => {
      const evs: Ev[] = [...head, ...(tail ? [tail[0], ...tail[1]] : [])];
      const want = head.map((e) => [Number(e.t), e.x, e.y, e.p !== 0 ? 1 : 0]);
      for (const skew of [0, 4, 1, 2]) {
        const bytes = structs(evs, skew);
        const out = allocBatch(o + evs.length);
        expect(copyEvents(bytes, skew, evs.length, out, o)).toBe(head.length);
        expect(toRows(out).slice(o, o + head.length)).toEqual(want);
        if (tail) expect(badEventReason(bytes, skew, head.length)).toMatch(tail[0].x < 0 || tail[0].y < 0 ? /negative address/ : /beyond 2\^53/);
      }
    }), { numRuns: 200 });
  });
});

describe('zstd frame decompression', () => {
  it('decompresses stored frames and bounds declared sizes', () => {
    const raw = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff);
    expect(Buffer.from(decompressZstdFrame(zstdStored(raw), 1 << 20)).equals(Buffer.from(raw))).toBe(true);
    expect(() => decompressZstdFrame(zstdStored(raw), 1000)).toThrow(/exceeds/);
    const lying = zstdStored(raw.subarray(0, 100));
    new DataView(lying.buffer).setUint32(5, 5000, true); // content size larger than the blocks hold
    expect(() => decompressZstdFrame(lying, 1 << 20)).toThrow(/declares 5000/);
  });
});

describe('parseInfoNode', () => {
  it('lists streams with their type and geometry', () => {
    const xml = '<dv version="2.0"><node name="outInfo" path="/m/outInfo/"><node name="3" path="/m/outInfo/3/">' +
      '<attr key="typeIdentifier" type="string">TRIG</attr></node><node name="0" path="/m/outInfo/0/">' +
      '<attr key="typeIdentifier" type="string">EVTS</attr><node name="info" path="/m/outInfo/0/info/">' +
      '<attr key="sizeX" type="int">320</attr><attr key="sizeY" type="int">240</attr>' +
      '<attr key="source" type="string">A &amp; B</attr></node></node></node></dv>';
    expect(parseInfoNode(xml)).toEqual([
      { id: 0, type: 'EVTS', sizeX: 320, sizeY: 240, source: 'A & B' },
      { id: 3, type: 'TRIG', sizeX: undefined, sizeY: undefined, source: undefined },
    ]);
  });
});

describe('Aedat4Decoder on written files', () => {
  const evts = fc.array(fc.record({
    t: fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), x: fc.integer({ min: 0, max: 0x7fff }), y: fc.integer({ min: 0, max: 0x7fff }), p: fc.integer({ min: 0, max: 1 }),
  }), { maxLength: 40 }).map((rows) => ev(rows.map((r) => [r.t, r.x, r.y, r.p])));

  for (const compression of ['NONE', 'LZ4', 'ZSTD'] as WriterCompression[]) {
    it(`round-trips ${compression} packets through any chunking, skipping other streams`, () => {
      fc.assert(fc.property(fc.array(fc.tuple(evts, fc.boolean()), { maxLength: 5 }), fc.boolean(), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 4 }), (packets, dataTable, sizes) => {
        const f = writeAedat4({
          compression, streams: STREAMS, dataTable,
          packets: packets.flatMap(([events, imu]) => [{ streamId: 0, events }, ...(imu ? [{ streamId: 2, payload: compressPayload(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), compression) }] : [])]),
        });
        const dec = new Aedat4Decoder();
        const back = decodeChunked(dec, f.bytes, sizes);
        expect(toRows(back)).toEqual(toRows(concatBatches([ev([]), ...packets.map(([e]) => e)])));
        expect(dec.info.skippedPackets).toBe(packets.filter(([, imu]) => imu).length);
        expect([dec.info.width, dec.info.height]).toEqual([346, 260]);
        expect(dec.info.details.compression).toBe(compression);
      }), { numRuns: 40 });
    });
  }

  it('decodes the chosen EVTS stream and refuses an unknown one', () => {
    const streams = [{ id: 1, type: 'EVTS', sizeX: 10, sizeY: 10 }, { id: 4, type: 'EVTS', sizeX: 640, sizeY: 480 }];
    const f = writeAedat4({ compression: 'LZ4', streams, packets: [{ streamId: 1, events: A }, { streamId: 4, events: B }] });
    expect(toRows(decodeChunked(new Aedat4Decoder(), f.bytes))).toEqual(toRows(A));
    const dec = new Aedat4Decoder({ streamId: 4 });
    expect(toRows(decodeChunked(dec, f.bytes))).toEqual(toRows(B));
    expect([dec.info.width, dec.info.height, dec.info.skippedPackets]).toEqual([640, 480, 1]);
    expect(decodeErrorOf(() => decodeChunked(new Aedat4Decoder({ streamId: 2 }), f.bytes)).code).toBe('BAD_HEADER');
  });
});

describe('Aedat4Decoder on bad input', () => {
  const good = (c: WriterCompression, dataTable = false) => writeAedat4({ compression: c, streams: STREAMS, dataTable, packets: [{ streamId: 0, events: A }, { streamId: 0, events: B }] });

  function withSize(bytes: Uint8Array, at: number, size: number): Uint8Array {
    const out = bytes.slice();
    new DataView(out.buffer).setInt32(at + 4, size, true);
    return out;
  }

  for (const c of ['LZ4', 'ZSTD', 'NONE'] as WriterCompression[]) {
    it(`${c}: a packet size that is too large is CORRUPT at that packet, after the earlier packet's events`, () => {
      const f = good(c);
      const extra = new Uint8Array(64).fill(0x5a); // bytes after the second packet: the size swallows them
      const bytes = Uint8Array.from([...withSize(f.bytes, f.packetOffsets[0], f.packetOffsets[1] - f.packetOffsets[0] - 8 + 20), ...extra]);
      for (const size of [7, 100_000]) {
        const { events, error } = decodeUntilError(bytes, size);
        expect(error.code).toBe('CORRUPT');
        expect(error.offset).toBe(f.packetOffsets[0]);
        expect(events.t.length).toBe(0);
      }
      // The same lie on the second packet: the first packet's events are delivered.
      const second = Uint8Array.from([...withSize(f.bytes, f.packetOffsets[1], f.bytes.length - f.packetOffsets[1] - 8 + 12), ...extra]);
      const r = decodeUntilError(second, 5);
      expect(r.error.code).toBe('CORRUPT');
      expect(r.error.offset).toBe(f.packetOffsets[1]);
      expect(toRows(r.events)).toEqual(toRows(A));
    });

    it(`${c}: a packet size that is too small is CORRUPT at that packet`, () => {
      const f = good(c);
      const bytes = withSize(f.bytes, f.packetOffsets[1], f.bytes.length - f.packetOffsets[1] - 8 - 9);
      const r = decodeUntilError(bytes, 1 << 20);
      expect(r.error.code).toBe('CORRUPT');
      expect(r.error.offset).toBe(f.packetOffsets[1]);
      expect(toRows(r.events)).toEqual(toRows(A));
    });

    it(`${c}: a size running past the end of the input is TRUNCATED`, () => {
      const f = good(c);
      const r = decodeUntilError(withSize(f.bytes, f.packetOffsets[1], 1_000_000), 333);
      expect(r.error.code).toBe('TRUNCATED');
      expect(r.error.offset).toBe(f.packetOffsets[1]);
      expect(toRows(r.events)).toEqual(toRows(A));
    });

    it(`${c}: a size running into the declared data table is CORRUPT before any payload is read`, () => {
      const f = good(c, true);
      const r = decodeUntilError(withSize(f.bytes, f.packetOffsets[1], f.bytes.length), 1);
      expect(r.error.code).toBe('CORRUPT');
      expect(r.error.offset).toBe(f.packetOffsets[1]);
      expect(r.error.reason).toMatch(/data table/);
    });
  }

  it('garbage in a compressed payload gives a typed error or events, never another exception', () => {
    for (const c of ['LZ4', 'ZSTD', 'NONE'] as WriterCompression[]) {
      const f = good(c);
      fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 1000 }), (junk, where) => {
        const bytes = f.bytes.slice();
        const start = f.packetOffsets[0] + 8 + (c === 'NONE' ? 0 : 7) + (where % 40);
        bytes.set(junk.subarray(0, Math.max(0, f.packetOffsets[1] - start)), start);
        try {
          decodeChunked(new Aedat4Decoder(), bytes, [64]);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          expect(['CORRUPT', 'TRUNCATED', 'TOO_LARGE', 'UNSUPPORTED']).toContain((e as DecodeError).code);
        }
      }), { numRuns: 150 });
    }
  });

  it('an event with a negative address or a timestamp beyond 2^53 us is CORRUPT, after the events before it', () => {
    for (const [bad, why] of [[[7, 0xffff, 3, 0], /negative address \(-1, 3\)/], [[2 ** 53, 1, 1, 1], /beyond 2\^53/]] as const) {
      const second = ev([[5, 1, 2, 1], [6, 3, 4, 0], [...bad], [8, 1, 1, 1]]);
      const f = writeAedat4({ compression: 'LZ4', streams: STREAMS, packets: [{ streamId: 0, events: A }, { streamId: 0, events: second }] });
      for (const size of [1 << 20, 13]) {
        const r = decodeUntilError(f.bytes, size);
        expect([r.error.code, r.error.offset]).toEqual(['CORRUPT', f.packetOffsets[1]]);
        expect(r.error.reason).toMatch(why);
        expect(r.error.reason).toMatch(/event 2 of the packet/);
        expect(toRows(r.events)).toEqual([...toRows(A), [5, 1, 2, 1], [6, 3, 4, 0]]);
      }
    }
  });

  it('an LZ4 payload of random bytes after a valid frame header is CORRUPT', () => {
    const f = good('LZ4');
    const bytes = f.bytes.slice();
    // Keep magic, descriptor and first block size; replace the block contents with 0xff runs.
    bytes.fill(0xff, f.packetOffsets[0] + 8 + 11, f.packetOffsets[1] - 4);
    expect(decodeUntilError(bytes, 1 << 20).error.code).toBe('CORRUPT');
  });

  it('rejects a wrong magic, a bad IOHeader and an unknown compression', () => {
    const e = decodeErrorOf(() => new Aedat4Decoder().write(new TextEncoder().encode('#!AER-DAT3.1\r\n')));
    expect([e.code, e.offset]).toEqual(['BAD_MAGIC', 9]);
    const f = good('LZ4');
    const badHeader = f.bytes.slice();
    badHeader.set(new TextEncoder().encode('XXXX'), 14 + 4 + 4); // the "IOHE" identifier
    expect(decodeErrorOf(() => decodeChunked(new Aedat4Decoder(), badHeader)).code).toBe('BAD_HEADER');
    const magic = new TextEncoder().encode('#!AER-DAT4.0\r\n');
    const unknown = Uint8Array.from([...magic, ...ioHeaderBytes(9, -1, '')]);
    expect(decodeErrorOf(() => decodeChunked(new Aedat4Decoder(), unknown)).code).toBe('UNSUPPORTED');
  });

  it('bounds the IOHeader, packet and decompressed sizes by the limits', () => {
    const f = good('LZ4');
    expect(decodeErrorOf(() => decodeChunked(new Aedat4Decoder({ limits: { maxHeaderBytes: 100 } }), f.bytes)).code).toBe('TOO_LARGE');
    const huge = withSize(f.bytes, f.packetOffsets[0], 0x7fffffff);
    expect(decodeErrorOf(() => decodeChunked(new Aedat4Decoder(), huge)).code).toBe('TOO_LARGE');
    // A 4 MiB block-size frame may decompress to 4 MiB: over a 1 MiB limit before any work.
    const frame = lz4Compress(eventPacketBytes(A));
    frame[5] = 0x70;
    const big = writeAedat4({ compression: 'LZ4', streams: STREAMS, packets: [{ streamId: 0, payload: frame }] });
    expect(decodeErrorOf(() => decodeChunked(new Aedat4Decoder({ limits: { maxPacketBytes: 1 << 20 } }), big.bytes)).code).toBe('TOO_LARGE');
    expect(toRows(decodeChunked(new Aedat4Decoder(), big.bytes))).toEqual(toRows(A));
  });

  it('reports truncation in the header, in a packet header and before a declared data table', () => {
    const f = good('ZSTD', true);
    for (const [cut, offset] of [[10, 0], [20, 14], [f.packetOffsets[1] + 3, f.packetOffsets[1]], [f.bytes.length - 12, f.bytes.length - 12]]) {
      const r = decodeUntilError(f.bytes.subarray(0, cut), 4);
      expect(r.error.code).toBe('TRUNCATED');
      expect(r.error.offset).toBe(offset);
    }
    expect(decodeErrorOf(() => decodeChunked(new Aedat4Decoder(), new Uint8Array(0))).code).toBe('TRUNCATED');
  });

  it('never throws anything but a DecodeError on random bytes, with or without a valid file header', () => {
    const head = good('LZ4').bytes.subarray(0, good('LZ4').headerEnd);
    expectOnlyDecodeErrors({ makeDecoder: () => new Aedat4Decoder(), header: head, maxLength: 400, maxChunk: 97, maxChunks: 3 });
  });

  it('stays failed after an error', () => {
    const dec = new Aedat4Decoder();
    const e = decodeErrorOf(() => dec.write(Uint8Array.of(1)));
    expect(decodeErrorOf(() => dec.write(Uint8Array.of(2)))).toBe(e);
    expect(decodeErrorOf(() => dec.end())).toBe(e);
  });
});

const SAMPLE = 'events/tonic/sample.aedat4';
describeManifestFixture(SAMPLE, () => new Aedat4Decoder(), {
  name: 'Aedat4Decoder on the real DVXplorer recording',
  manifest: {
    title: 'matches MANIFEST count (111,954, not tonic\'s 118,651), first/last events and column digests',
    sizes: [65536],
    extra: ({ dec, bytes }) => {
      expect([dec.info.width, dec.info.height]).toEqual([320, 240]);
      expect(dec.info.details.compression).toBe('LZ4');
      expect(dec.info.skippedPackets).toBe(59); // the IMU stream's packets
      expect(dec.info.bytes).toBe(bytes.length);
    },
  },
  // Sizes from 16 up keep this fast; single bytes are fed once after them.
  chunking: { sizes: (len) => uniformChunkSizes(16, len, 8), numRuns: 15, fixed: [[1]] },
  more: ({ bytes, m }) => {
    it('decodes the recording identically right after another decoder met a corrupt LZ4 packet', () => {
      const broken = bytes.slice();
      const dv = new DataView(broken.buffer);
      const first = 14 + 4 + dv.getInt32(14, true);
      broken.fill(0xff, first + 8 + 11, first + 8 + dv.getInt32(first + 4, true) - 4);
      expect(decodeUntilError(broken, 65536).error.code).toBe('CORRUPT');
      expect(columnDigests(decodeChunked(new Aedat4Decoder(), bytes, [65536]))).toEqual(m.column_sha256);
    });

    it('decompresses every packet of the recording exactly as lz4js and liblz4 do', () => {
      const w = wasmLz4();
      const dec = new Aedat4Decoder();
      decodeChunked(dec, bytes);
      const dataTable = dec.info.details.dataTablePosition as number;
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let at = 14 + 4 + dv.getInt32(14, true);
      let packets = 0;
      while (at < dataTable) {
        const size = dv.getInt32(at + 4, true);
        const payload = bytes.subarray(at + 8, at + 8 + size);
        expect(Buffer.from(lz4(payload)).equals(Buffer.from(lz4jsDecompress(payload)))).toBe(true);
        expect(Buffer.from(w.decompress(payload, lz4FrameLayout(payload).bound)!).equals(Buffer.from(lz4(payload)))).toBe(true);
        at += 8 + size;
        packets++;
      }
      expect(packets).toBe(118);
    });
  },
});
