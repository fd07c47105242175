import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { Evt21Decoder, encodeEvt21, type Evt21Endianness } from '../../src/events/evt21.js';
import { Evt3Decoder } from '../../src/events/evt3.js';
import { chunkCycles } from '../helpers/chunk-sizes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { columnDigests, decodeChunked, toRows } from '../helpers/events.js';
import { expectOnlyDecodeErrors } from '../helpers/expect-only-decode-errors.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { expectChunkingInvariant } from '../helpers/manifest-fixture.js';
import { withPropheseeHeader } from '../helpers/with-prophesee-header.js';

type Word = [head: number, other: number];
const TH = (v: number): Word => [(0x80000000 | v) >>> 0, 0];
const CD = (p: number, ts: number, x: number, y: number, mask: number): Word => [((p << 28) | (ts << 22) | (x << 11) | y) >>> 0, mask >>> 0];

/** 64-bit words in the given byte order: little = mask half first in the file, legacy = head first. */
function words(endianness: Evt21Endianness, ...ws: Word[]): Uint8Array {
  const b = new Uint8Array(ws.length * 8);
  const v = new DataView(b.buffer);
  ws.forEach(([head, other], i) => {
    v.setUint32(i * 8 + (endianness === 'legacy' ? 0 : 4), head, true);
    v.setUint32(i * 8 + (endianness === 'legacy' ? 4 : 0), other, true);
  });
  return b;
}

const withHeader = withPropheseeHeader;

const SAMPLE: Word[] = [
  TH(2), CD(1, 3, 100, 7, 0b1001), CD(0, 4, 2040, 8, 0x80000001), [0xa0000000, 0], TH(3), CD(1, 0, 0, 0, 1),
];

const expected = [
  [131, 100, 7, 1], [131, 103, 7, 1], [132, 2040, 8, 0], [132, 2071, 8, 0], [192, 0, 0, 1],
];

describe('Evt21Decoder', () => {
  it('expands validity masks in ascending x for both byte orders, chosen from the header', () => {
    for (const e of ['little', 'legacy'] as const) {
      const fmt = e === 'legacy' ? 'format EVT21;height=720;width=1280;endianness=legacy' : 'format EVT21;height=720;width=1280';
      const dec = new Evt21Decoder();
      expect(toRows(decodeChunked(dec, withHeader(words(e, ...SAMPLE), ['evt 2.1', fmt]), [3]))).toEqual(expected);
      expect(dec.info.details.endianness).toBe(e);
      expect(dec.info.details.endiannessSource).toBe(e === 'legacy' ? 'header' : 'default');
      expect(dec.info.skippedWords).toBe(1);
    }
  });

  it('defaults to little endian without an endianness key, and the option overrides the header', () => {
    const dec = new Evt21Decoder();
    expect(toRows(decodeChunked(dec, withHeader(words('little', ...SAMPLE), ['evt 2.1'])))).toEqual(expected);
    expect(dec.info.details.endiannessSource).toBe('default');
    const forced = new Evt21Decoder({ endianness: 'legacy' });
    const legacyBody = withHeader(words('legacy', ...SAMPLE), ['format EVT21;endianness=little']);
    expect(toRows(decodeChunked(forced, legacyBody))).toEqual(expected);
    expect(forced.info.details.endiannessSource).toBe('option');
    // Read in the wrong order the same bytes give something else.
    expect(toRows(decodeChunked(new Evt21Decoder(), legacyBody))).not.toEqual(expected);
  });

  it('counts a loop only for a TIME_HIGH dropping from the last slot to 0; other drops go back in time', () => {
    const max = 2 ** 28 - 1;
    const dec = new Evt21Decoder();
    const b = decodeChunked(dec, words('little', TH(max), CD(1, 1, 0, 0, 1), TH(0), CD(1, 2, 0, 0, 1), TH(10), TH(5), CD(0, 0, 0, 0, 1)));
    expect(Array.from(b.t)).toEqual([max * 64 + 1, 2 ** 34 + 2, 2 ** 34 + 5 * 64]);
    expect(dec.info.details.timeLoops).toBe(1);
    expect(dec.info.details.timeHighDiscrepancies).toBe(1);
  });

  it('drops words before the first TIME_HIGH and reports a trailing partial word as TRUNCATED', () => {
    const dec = new Evt21Decoder();
    const bytes = words('little', CD(1, 1, 1, 1, 1), TH(0), CD(1, 1, 1, 1, 1));
    expect(toRows(dec.write(bytes))).toEqual([[1, 1, 1, 1]]);
    expect(dec.info.details.wordsBeforeTimeHigh).toBe(1);
    dec.write(new Uint8Array(5));
    const e = decodeErrorOf(() => dec.end());
    expect(e.code).toBe('TRUNCATED');
    expect(e.offset).toBe(bytes.length);
  });

  it('rejects an unknown endianness value, a header for another encoding, and reserved words in strict mode', () => {
    expect(decodeErrorOf(() => new Evt21Decoder().write(withHeader(words('little', TH(0)), ['format EVT21;endianness=big']))).code).toBe('UNSUPPORTED');
    expect(decodeErrorOf(() => new Evt21Decoder().write(withHeader(words('little', TH(0)), ['evt 3.0']))).code).toBe('BAD_MAGIC');
    const e = decodeErrorOf(() => new Evt21Decoder({ strict: true }).write(words('little', TH(0), CD(1, 0, 0, 0, 1), [0x30000000, 0])));
    expect(e.code).toBe('CORRUPT');
    expect(e.offset).toBe(16);
    expect(e.events.t.length).toBe(1);
  });

  it('round-trips encodeEvt21 in both byte orders for any valid events and any chunking', () => {
    const ev = fc.record({
      kind: fc.constantFrom('run', 'run', 'same-t', 'step', 'back', 'jump'),
      dx: fc.integer({ min: 1, max: 5 }), step: fc.integer({ min: 1, max: 500 }), back: fc.integer({ min: 0, max: 5000 }),
      jump: fc.integer({ min: 2 ** 33, max: 2 ** 35 }), x: fc.integer({ min: 0, max: 639 }), y: fc.integer({ min: 0, max: 479 }), p: fc.integer({ min: 0, max: 1 }),
    });
    fc.assert(fc.property(fc.constantFrom('little', 'legacy') as fc.Arbitrary<Evt21Endianness>, fc.array(ev, { maxLength: 120 }),
      fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 5 }), (endianness, evs, sizes) => {
        const cols = { t: [] as number[], x: [] as number[], y: [] as number[], p: [] as number[] };
        let t = 0;
        let floor = 0;
        let x = 0;
        let y = 0;
        let p = 0;
        for (const e of evs) {
          if (e.kind === 'run' && x + e.dx < 640) {
            x += e.dx;
          } else {
            x = e.x;
            y = e.y;
            p = e.p;
            if (e.kind === 'step') t += e.step;
            else if (e.kind === 'back') t = Math.max(floor, t - e.back);
            else if (e.kind === 'jump') t += e.jump;
          }
          floor = Math.max(floor, Math.floor(t / 2 ** 34) * 2 ** 34);
          cols.t.push(t); cols.x.push(x); cols.y.push(y); cols.p.push(p);
        }
        const b = batchFrom(cols);
        const dec = new Evt21Decoder();
        const back = decodeChunked(dec, encodeEvt21(b, { width: 640, height: 480, endianness }), sizes);
        expect(toRows(back)).toEqual(toRows(b));
        expect(dec.info.details.endianness).toBe(endianness);
      }), { numRuns: 200 });
  });

  it('refuses batches the format cannot express', () => {
    const enc = (t: number[]) => () => encodeEvt21(batchFrom({ t, x: t.map(() => 0), y: t.map(() => 0), p: t.map(() => 0) }), { width: 10, height: 10 });
    expect(enc([2 ** 34 + 64, 64])).toThrow(/earlier/);
    expect(enc([2 ** 34 - 64, 0])).toThrow(/loop/);
    expect(enc([2 ** 34 - 128, 0])).not.toThrow();
    expect(() => encodeEvt21(batchFrom({ t: [0], x: [10], y: [0], p: [0] }), { width: 10, height: 10 })).toThrow(RangeError);
  });

  it('never throws anything but a DecodeError on random bytes', () => {
    expectOnlyDecodeErrors({
      makeDecoder: (strict) => new Evt21Decoder({ strict }), header: withHeader(new Uint8Array(0), ['evt 2.1']), maxLength: 400, maxChunk: 50,
    });
  });
});

// There is no real EVT 2.1 recording among the shared fixtures: re-encode the real EVT 3.0 one.

const REL = 'events/expelliarmus/evt3_sample.raw';
describeWithFixtures('Evt21Decoder on the real EVT 3.0 sample re-encoded as EVT 2.1', [REL], () => {
  const events = decodeChunked(new Evt3Decoder(), new Uint8Array(readFileSync(sharedFixture(REL))));

  it('decodes both byte orders identically for random chunk sizes', () => {
    const want = columnDigests(events);
    for (const endianness of ['little', 'legacy'] as const) {
      const bytes = encodeEvt21(events, { width: 1280, height: 720, endianness });
      expectChunkingInvariant(() => new Evt21Decoder(), bytes, want, { sizes: (len) => chunkCycles(len, 6), numRuns: 10, fixed: [[1, 2, 3, 4093]] });
    }
  });
});
