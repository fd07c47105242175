import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Aedat2Decoder, aedat2ChipFromClass, encodeAedat2, type Aedat2Chip, type Dvs128Convention } from '../../src/events/aedat2.js';
import { batchFrom, concatBatches, type EventBatch } from '../../src/events/batch.js';
import { uniformChunkSizes } from '../helpers/chunk-sizes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { columnDigests, decodeChunked, toRows } from '../helpers/events.js';
import { expectOnlyDecodeErrors } from '../helpers/expect-only-decode-errors.js';
import { describeWithFixtures, loadManifest, sharedFixture } from '../helpers/fixtures.js';
import { itDecodesAnyChunking, itMatchesManifest } from '../helpers/manifest-fixture.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function file(header: string[], words: Array<[number, number]>, recordBytes = 8): Uint8Array {
  const head = enc(header.map((l) => `#${l}\r\n`).join(''));
  const out = new Uint8Array(head.length + words.length * recordBytes);
  out.set(head);
  const dv = new DataView(out.buffer);
  let o = head.length;
  for (const [a, t] of words) {
    if (recordBytes === 8) dv.setUint32(o, a >>> 0);
    else dv.setUint16(o, a);
    dv.setUint32(o + recordBytes - 4, t);
    o += recordBytes;
  }
  return out;
}

const V2 = ['!AER-DAT2.0'];
const dvs128 = (row: number, col: number, bit0: number) => (row << 8) | (col << 1) | bit0;

describe('Aedat2Decoder, DVS128 addresses', () => {
  // Row 9, column 5, polarity bit 0; then row 100, column 120, polarity bit 1.
  const bytes = file(V2, [[dvs128(9, 5, 0), 1000], [dvs128(100, 120, 1), 7]]);

  it("reads jAER's convention by default: x mirrored, ON when bit 0 is 0", () => {
    const dec = new Aedat2Decoder();
    expect(toRows(decodeChunked(dec, bytes))).toEqual([[1000, 127 - 5, 9, 1], [7, 127 - 120, 100, 0]]);
    expect(dec.info.width).toBe(128);
    expect(dec.info.height).toBe(128);
    expect(dec.info.details.chip).toBe('DVS128');
  });

  it('reads the iniVation docs table with dvs128Convention "inivation"', () => {
    expect(toRows(decodeChunked(new Aedat2Decoder({ dvs128Convention: 'inivation' }), bytes)))
      .toEqual([[1000, 5, 9, 0], [7, 120, 100, 1]]);
  });

  it('reproduces tonic (x = row bits, y = column bits, p = bit 0) with dvs128Convention "tonic"', () => {
    expect(toRows(decodeChunked(new Aedat2Decoder({ dvs128Convention: 'tonic' }), bytes)))
      .toEqual([[1000, 9, 5, 0], [7, 100, 120, 1]]);
  });

  it('skips and counts words with bit 15 set, or decodes them as the second retina with stereo', () => {
    const b = file(V2, [[dvs128(1, 2, 1), 10], [0x8000 | dvs128(3, 4, 1), 11], [dvs128(5, 6, 0), 12]]);
    const plain = new Aedat2Decoder();
    expect(toRows(decodeChunked(plain, b))).toEqual([[10, 125, 1, 0], [12, 121, 5, 1]]);
    expect(plain.info.skippedWords).toBe(1);
    const stereo = new Aedat2Decoder({ stereo: true });
    expect(toRows(decodeChunked(stereo, b))).toEqual([[10, 125, 1, 0], [11, 128 + 123, 3, 0], [12, 121, 5, 1]]);
    expect(stereo.info.skippedWords).toBe(0);
    expect(stereo.info.width).toBe(256);
  });

  it('keeps timestamps exactly as recorded, including backward steps and values >= 2^31', () => {
    const b = file(V2, [[0, 0xfffffff0], [0, 5], [0, 3], [0, 0x80000000]]);
    expect(Array.from(decodeChunked(new Aedat2Decoder(), b).t)).toEqual([0xfffffff0, 5, 3, 0x80000000]);
  });

  it('reads AEDAT 1.0 (6-byte records, 16-bit addresses)', () => {
    const b = file(['!AER-DAT1.0'], [[dvs128(9, 5, 0), 1000], [dvs128(100, 120, 1), 7]], 6);
    const dec = new Aedat2Decoder();
    expect(toRows(decodeChunked(dec, b, [5]))).toEqual([[1000, 122, 9, 1], [7, 7, 100, 0]]);
    expect(dec.info.details.version).toBe('1.0');
  });
});

describe('Aedat2Decoder, DAVIS addresses', () => {
  const davis = (y: number, rawX: number, on: number) => ((y << 22) | (rawX << 12) | (on << 11)) >>> 0;

  it('decodes DVS words (x mirrored, y as recorded) and skips APS, IMU and external-input words', () => {
    const b = file([...V2, ' AEChip: eu.seebetter.ini.chips.davis.DAVIS240C'], [
      [davis(10, 20, 1), 100],
      [0x80000000 | davis(3, 3, 0) | 0x155, 101], // APS sample
      [0x80000c00, 102], // IMU sample
      [davis(1, 1, 0) | 0x400, 103], // external input event
      [davis(179, 0, 0), 104],
      [davis(0, 239, 1), 105],
    ]);
    const dec = new Aedat2Decoder();
    expect(toRows(decodeChunked(dec, b, [3]))).toEqual([[100, 239 - 20, 10, 1], [104, 239, 179, 0], [105, 0, 0, 1]]);
    expect(dec.info.skippedWords).toBe(3);
    expect([dec.info.width, dec.info.height]).toEqual([240, 180]);
    expect(dec.info.details.chipClass).toBe('eu.seebetter.ini.chips.davis.DAVIS240C');
  });

  it('skips and counts DVS words whose address is outside the sensor', () => {
    const b = file([...V2, ' AEChip: eu.seebetter.ini.chips.davis.DAVIS240C'], [[davis(180, 0, 0), 1], [davis(0, 240, 0), 2], [davis(0, 0, 0), 3]]);
    const dec = new Aedat2Decoder();
    expect(toRows(decodeChunked(dec, b))).toEqual([[3, 239, 0, 0]]);
    expect(dec.info.skippedWords).toBe(2);
    expect(dec.info.details.outOfRangeWords).toBe(2);
  });

  it('maps jAER chip classes to layouts', () => {
    expect(aedat2ChipFromClass('ch.unizh.ini.jaer.chip.retina.DVS128')).toBe('DVS128');
    expect(aedat2ChipFromClass('ch.unizh.ini.jaer.chip.retina.Tmpdiff128')).toBe('DVS128');
    expect(aedat2ChipFromClass('eu.seebetter.ini.chips.davis.DAVIS240B')).toBe('DAVIS240');
    expect(aedat2ChipFromClass('DAVIS240C')).toBe('DAVIS240');
    expect(aedat2ChipFromClass('eu.seebetter.ini.chips.davis.Davis346red')).toBe('DAVIS346');
    expect(aedat2ChipFromClass('eu.seebetter.ini.chips.davis.Davis346mini')).toBeUndefined();
    expect(aedat2ChipFromClass('eu.seebetter.ini.chips.davis.Davis640')).toBeUndefined();
  });

  it('refuses an unknown chip class unless the chip option chooses a layout', () => {
    const b = file([...V2, ' AEChip: eu.seebetter.ini.chips.davis.Davis640'], [[0, 1]]);
    expect(decodeErrorOf(() => decodeChunked(new Aedat2Decoder(), b)).code).toBe('UNSUPPORTED');
    const headerOnly = new Aedat2Decoder();
    headerOnly.write(enc('#!AER-DAT2.0\r\n# AEChip: Davis640\r\n'));
    const e = decodeErrorOf(() => headerOnly.end());
    expect(e.code).toBe('UNSUPPORTED');
    expect(decodeErrorOf(() => headerOnly.end())).toBe(e); // stays failed
    const dec = new Aedat2Decoder({ chip: 'DAVIS346' });
    expect(toRows(decodeChunked(dec, b))).toEqual([[1, 345, 0, 0]]);
  });
});

describe('Aedat2Decoder on bad input', () => {
  it('rejects a wrong magic at the first differing byte', () => {
    const e = decodeErrorOf(() => new Aedat2Decoder().write(enc('#!AER-DAX2.0\r\n')));
    expect(e.code).toBe('BAD_MAGIC');
    expect(e.offset).toBe(8);
    expect(decodeErrorOf(() => new Aedat2Decoder().write(Uint8Array.from([0, 1, 2]))).offset).toBe(0);
    expect(decodeErrorOf(() => new Aedat2Decoder().write(enc('#!AER-DAT3.1\r\n'))).code).toBe('BAD_MAGIC');
  });

  it('reports input that ends inside the version line, a header line or a record', () => {
    expect(decodeErrorOf(() => decodeChunked(new Aedat2Decoder(), new Uint8Array(0))).code).toBe('TRUNCATED');
    expect(decodeErrorOf(() => decodeChunked(new Aedat2Decoder(), enc('#!AER-DA'))).code).toBe('TRUNCATED');
    expect(decodeErrorOf(() => decodeChunked(new Aedat2Decoder(), enc('#!AER-DAT2.0\r\n# half a li'))).code).toBe('TRUNCATED');
    const b = file(V2, [[dvs128(1, 1, 1), 5], [dvs128(2, 2, 1), 6]]);
    const dec = new Aedat2Decoder();
    const first = dec.write(b.subarray(0, b.length - 3));
    expect(toRows(first)).toEqual([[5, 126, 1, 0]]);
    const e = decodeErrorOf(() => dec.end());
    expect(e.code).toBe('TRUNCATED');
    expect(e.offset).toBe(b.length - 8);
    expect(decodeErrorOf(() => dec.write(new Uint8Array(1)))).toBe(e); // stays failed
  });

  it('rejects a header larger than the limit', () => {
    const dec = new Aedat2Decoder({ limits: { maxHeaderBytes: 100 } });
    expect(decodeErrorOf(() => dec.write(enc(`#!AER-DAT2.0\r\n#${'x'.repeat(200)}\r\n`))).code).toBe('TOO_LARGE');
  });

  it('never throws anything but a DecodeError on random bytes, with or without a valid header', () => {
    expectOnlyDecodeErrors({
      makeDecoder: () => new Aedat2Decoder(), header: enc('#!AER-DAT2.0\r\n# AEChip: DAVIS346B\r\n'), maxLength: 300, maxChunk: 64, maxChunks: 4,
      maxEvents: (_input, body) => Math.floor(body.length / 8),
    });
  });
});

describe('encodeAedat2', () => {
  const chunking = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 });

  function events(w: number, h: number) {
    return fc.array(fc.record({
      t: fc.integer({ min: 0, max: 0xffffffff }), x: fc.integer({ min: 0, max: w - 1 }), y: fc.integer({ min: 0, max: h - 1 }), p: fc.integer({ min: 0, max: 1 }),
    }), { maxLength: 50 }).map((evs) => batchFrom({ t: evs.map((e) => e.t), x: evs.map((e) => e.x), y: evs.map((e) => e.y), p: evs.map((e) => e.p) }));
  }

  for (const conv of ['jaer', 'inivation', 'tonic'] as Dvs128Convention[]) {
    it(`round-trips DVS128 events (${conv} convention) through any chunking`, () => {
      fc.assert(fc.property(events(128, 128), chunking, (b, sizes) => {
        const back = decodeChunked(new Aedat2Decoder({ dvs128Convention: conv }), encodeAedat2(b, { dvs128Convention: conv }), sizes);
        expect(toRows(back)).toEqual(toRows(b));
      }), { numRuns: 60 });
    });
  }

  for (const [chip, w, h] of [['DAVIS240', 240, 180], ['DAVIS346', 346, 260]] as Array<[Aedat2Chip, number, number]>) {
    it(`round-trips ${chip} events through any chunking`, () => {
      fc.assert(fc.property(events(w, h), chunking, (b, sizes) => {
        const dec = new Aedat2Decoder();
        const back = decodeChunked(dec, encodeAedat2(b, { chip }), sizes);
        expect(toRows(back)).toEqual(toRows(b));
        expect([dec.info.width, dec.info.height]).toEqual([w, h]);
      }), { numRuns: 60 });
    });
  }

  it('ends its header explicitly, so a first address byte of "#" is not read as a header line', () => {
    // DAVIS row 140..143 puts 0x23 ('#') in the first address byte.
    const b = batchFrom({ t: [1, 2], x: [0, 1], y: [140, 3], p: [1, 0] });
    const bytes = encodeAedat2(b, { chip: 'DAVIS240' });
    expect(bytes[bytes.length - 16]).toBe(0x23);
    expect(toRows(decodeChunked(new Aedat2Decoder(), bytes))).toEqual(toRows(b));
  });

  it('rejects events it cannot represent', () => {
    expect(() => encodeAedat2(batchFrom({ t: [0], x: [128], y: [0], p: [0] }))).toThrow(RangeError);
    expect(() => encodeAedat2(batchFrom({ t: [2 ** 32], x: [0], y: [0], p: [0] }))).toThrow(RangeError);
    expect(() => encodeAedat2(batchFrom({ t: [0], x: [0], y: [180], p: [0] }), { chip: 'DAVIS240' })).toThrow(RangeError);
  });
});

const AER = [
  'aer/DVS128-2014-09-16T15-49-51+0200-20000-0.aedat',
  'aer/DVS128-2014-10-21T17-41-53+0200-20000-0.aedat',
  'aer/Tmpdiff128StereoPair-2014-10-21T18-18-47+0200-0.aedat',
  'aer/chessboard.aedat',
];

function backwardSteps(b: EventBatch): number {
  let k = 0;
  for (let i = 1; i < b.t.length; i++) if (b.t[i] < b.t[i - 1]) k++;
  return k;
}

describeWithFixtures('Aedat2Decoder on the real jAER recordings', AER.map((f) => `events/${f}`), () => {
  const manifest = loadManifest();
  for (const rel of AER) {
    const m = manifest[rel];
    const bytes = new Uint8Array(readFileSync(sharedFixture(`events/${rel}`)));

    itMatchesManifest(() => new Aedat2Decoder(), bytes, m, {
      title: `${rel}: matches MANIFEST count, first/last events and column digests`,
      sizes: [65536],
      extra: ({ b, dec }) => {
        expect(dec.info.skippedWords).toBe(m.skipped_words ?? 0);
        expect(dec.info.events).toBe(b.t.length);
        expect(dec.info.bytes).toBe(bytes.length);
      },
    });

    itDecodesAnyChunking(() => new Aedat2Decoder(), bytes, {
      title: `${rel}: gives identical output for random chunk sizes`,
      // Tiny chunks of the 2.4 MB file cost seconds; one-byte feeding is tested on a small file below.
      sizes: (len) => uniformChunkSizes(len > 1_000_000 ? 256 : 1, len, 8),
      numRuns: 10,
    });
  }

  it('the stereo pair reports its 30,037 bit-15 words, and the stereo option decodes them', () => {
    const bytes = new Uint8Array(readFileSync(sharedFixture(`events/${AER[2]}`)));
    const dec = new Aedat2Decoder();
    expect(decodeChunked(dec, bytes).t.length).toBe(4217);
    expect(dec.info.skippedWords).toBe(30037);
    const both = decodeChunked(new Aedat2Decoder({ stereo: true }), bytes);
    expect(both.t.length).toBe(4217 + 30037);
    expect(Math.max(...both.x)).toBeGreaterThanOrEqual(128);
  });

  it('keeps backward time steps (101 and 737 of them, as the fixtures README counts)', () => {
    expect(backwardSteps(decodeChunked(new Aedat2Decoder(), new Uint8Array(readFileSync(sharedFixture(`events/${AER[0]}`)))))).toBe(101);
    expect(backwardSteps(decodeChunked(new Aedat2Decoder(), new Uint8Array(readFileSync(sharedFixture(`events/${AER[3]}`)))))).toBe(737);
  });

  it('feeding one byte at a time gives the same events', () => {
    const bytes = new Uint8Array(readFileSync(sharedFixture(`events/${AER[1]}`)));
    const dec = new Aedat2Decoder();
    const parts: EventBatch[] = [];
    for (let i = 0; i < bytes.length; i++) parts.push(dec.write(bytes.subarray(i, i + 1)));
    parts.push(dec.end());
    expect(columnDigests(concatBatches(parts))).toEqual(loadManifest()[AER[1]].column_sha256);
  });
});

describeWithFixtures('Aedat2Decoder on a header-only DAVIS346 file', ['events/tonic/sample_aedat_header.aedat'], () => {
  it('reads no events, the chip, the geometry and the header lines', () => {
    const bytes = new Uint8Array(readFileSync(sharedFixture('events/tonic/sample_aedat_header.aedat')));
    const dec = new Aedat2Decoder();
    expect(decodeChunked(dec, bytes, [7]).t.length).toBe(0);
    expect(dec.info.details.chipClass).toBe('eu.seebetter.ini.chips.davis.Davis346red');
    expect([dec.info.width, dec.info.height]).toEqual([346, 260]);
    expect(dec.info.headerLines[0]).toBe('!AER-DAT2.0');
    expect(dec.info.headerLines.length).toBeGreaterThan(5);
  });
});
