import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { Evt2Decoder, encodeEvt2 } from '../../src/events/evt2.js';
import { isOrdered } from '../../src/events/ordered-batches.js';
import { chunkCycles } from '../helpers/chunk-sizes.js';
import { concatBytes } from '../helpers/concat-bytes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { columnDigests, decodeChunked, toRows } from '../helpers/events.js';
import { expectOnlyDecodeErrors } from '../helpers/expect-only-decode-errors.js';
import { describeManifestFixture } from '../helpers/manifest-fixture.js';
import { withPropheseeHeader } from '../helpers/with-prophesee-header.js';

const TH = (v: number) => (0x80000000 | v) >>> 0;
const CD = (p: number, ts: number, x: number, y: number) => ((p << 28) | (ts << 22) | (x << 11) | y) >>> 0;

function words(...ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4);
  const v = new DataView(b.buffer);
  ws.forEach((w, i) => v.setUint32(i * 4, w, true));
  return b;
}

const withHeader = (body: Uint8Array, lines = ['evt 2.0']): Uint8Array => withPropheseeHeader(body, lines);

/** Events with mostly increasing time, same-t runs, small backward steps and rare 2^34 us loop jumps. */
const evt2Batch = fc.array(fc.record({
  step: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 2, arbitrary: fc.integer({ min: -5000, max: 0 }) },
    { weight: 1, arbitrary: fc.integer({ min: 2 ** 33, max: 2 ** 35 }) },
  ),
  x: fc.integer({ min: 0, max: 639 }), y: fc.integer({ min: 0, max: 479 }), p: fc.integer({ min: 0, max: 1 }),
}), { maxLength: 80 }).map((evs) => {
  const cols = { t: [] as number[], x: [] as number[], y: [] as number[], p: [] as number[] };
  let t = 0;
  let floor = 0;
  for (const e of evs) {
    // Never step back into an earlier 2^34 us loop (the format cannot say that).
    t = Math.max(floor, t + e.step);
    floor = Math.max(floor, Math.floor(t / 2 ** 34) * 2 ** 34);
    cols.t.push(t); cols.x.push(e.x); cols.y.push(e.y); cols.p.push(e.p);
  }
  return batchFrom(cols);
});

describe('Evt2Decoder', () => {
  it('decodes CD words against the current TIME_HIGH and skips other words', () => {
    const bytes = withHeader(words(
      TH(100), CD(1, 5, 10, 20), CD(0, 63, 2047, 0), 0xa0000000, 0xe0000000, TH(101), CD(1, 0, 1, 2),
    ));
    const dec = new Evt2Decoder();
    const b = decodeChunked(dec, bytes);
    expect(toRows(b)).toEqual([[6405, 10, 20, 1], [6463, 2047, 0, 0], [6464, 1, 2, 1]]);
    expect(dec.info.skippedWords).toBe(2);
    expect(dec.info.details.evt).toBe('2.0');
  });

  it('drops words before the first TIME_HIGH, as OpenEB does, and counts them', () => {
    const dec = new Evt2Decoder();
    const b = decodeChunked(dec, words(CD(1, 1, 1, 1), CD(0, 2, 2, 2), TH(1), CD(1, 3, 3, 3)));
    expect(toRows(b)).toEqual([[67, 3, 3, 1]]);
    expect(dec.info.details.wordsBeforeTimeHigh).toBe(2);
    expect(dec.info.skippedWords).toBe(2);
  });

  it('detects a 2^34 us time loop only for a large backward TIME_HIGH', () => {
    const max = 2 ** 28 - 1;
    const dec = new Evt2Decoder();
    const b = decodeChunked(dec, words(TH(max), CD(1, 1, 0, 0), TH(0), CD(1, 2, 0, 0), TH(10), TH(5), CD(0, 0, 0, 0)));
    expect(b.t[0]).toBe(max * 64 + 1);
    expect(b.t[1]).toBe(2 ** 34 + 2);
    // 10 -> 5 is a small step back: time goes back, no new loop.
    expect(b.t[2]).toBe(2 ** 34 + 5 * 64);
    expect(dec.info.details.timeLoops).toBe(1);
  });

  it('reports input ending inside a word as TRUNCATED after delivering the complete ones', () => {
    const dec = new Evt2Decoder();
    const bytes = words(TH(0), CD(1, 1, 1, 1));
    const first = dec.write(bytes.subarray(0, 8));
    expect(toRows(first)).toEqual([[1, 1, 1, 1]]);
    dec.write(Uint8Array.of(1, 2));
    const e = decodeErrorOf(() => dec.end());
    expect(e.code).toBe('TRUNCATED');
    expect(e.offset).toBe(8);
    expect(decodeErrorOf(() => dec.write(new Uint8Array(4)))).toBe(e);
  });

  it('in strict mode rejects reserved word types as CORRUPT, keeping the events before the fault', () => {
    const bytes = withHeader(words(TH(0), CD(1, 1, 1, 1), 0x30000000, CD(1, 2, 2, 2)));
    const lenient = new Evt2Decoder();
    expect(decodeChunked(lenient, bytes).t.length).toBe(2);
    expect(lenient.info.skippedWords).toBe(1);
    const strict = new Evt2Decoder({ strict: true });
    const e = decodeErrorOf(() => strict.write(bytes));
    expect(e.code).toBe('CORRUPT');
    expect(e.offset).toBe(bytes.length - 8);
    expect(toRows(e.events)).toEqual([[1, 1, 1, 1]]);
    expect(() => strict.end()).toThrow(e);
  });

  it('rejects a header that declares another encoding', () => {
    expect(decodeErrorOf(() => new Evt2Decoder().write(withHeader(words(TH(0)), ['evt 3.0']))).code).toBe('BAD_MAGIC');
    expect(decodeErrorOf(() => new Evt2Decoder().write(withHeader(words(TH(0)), ['format EVT4;width=1;height=1']))).code).toBe('UNSUPPORTED');
  });

  it('decodes garbage after a valid header without crashing (skipping what is not a CD word)', () => {
    const garbage = new Uint8Array(4000).map((_, i) => (i * 7919 + 13) & 0xff);
    const dec = new Evt2Decoder();
    const all = decodeChunked(dec, withHeader(concatBytes(words(TH(0)), garbage)), [3]);
    const dv = new DataView(garbage.buffer);
    let timeHighs = 0;
    for (let i = 0; i < 1000; i++) if (dv.getUint32(i * 4, true) >>> 28 === 8) timeHighs++;
    // Every word is an event, a TIME_HIGH or a counted skip.
    expect(all.t.length + dec.info.skippedWords + timeHighs).toBe(1000);
    expect(decodeErrorOf(() => decodeChunked(new Evt2Decoder({ strict: true }), withHeader(concatBytes(words(TH(0)), garbage)))).code).toBe('CORRUPT');
  });

  it('round-trips encodeEvt2 for any valid events and any chunking', () => {
    fc.assert(fc.property(evt2Batch, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }), (b, sizes) => {
      const back = decodeChunked(new Evt2Decoder(), encodeEvt2(b, { width: 640, height: 480 }), sizes);
      expect(toRows(back)).toEqual(toRows(b));
    }), { numRuns: 200 });
  });

  it('marks exactly the batches whose timestamps never decrease as ordered, under any chunking', () => {
    fc.assert(fc.property(evt2Batch, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }), (b, sizes) => {
      const bytes = encodeEvt2(b, { width: 640, height: 480 });
      const dec = new Evt2Decoder();
      let off = 0;
      for (let k = 0; off < bytes.length; k++) {
        const size = sizes[k % sizes.length];
        const out = dec.write(bytes.subarray(off, off + size));
        off += size;
        let sorted = true;
        for (let i = 1; i < out.t.length; i++) if (out.t[i] < out.t[i - 1]) sorted = false;
        expect(isOrdered(out)).toBe(sorted && out.t.length > 1);
      }
      expect(isOrdered(dec.end())).toBe(false);
    }), { numRuns: 200 });
  });

  it('does not mark a batch whose time steps back, nor a copy of an ordered one', () => {
    const dec = new Evt2Decoder();
    expect(isOrdered(dec.write(words(TH(10), CD(1, 1, 0, 0), CD(1, 5, 0, 0), TH(11), CD(0, 0, 0, 0))))).toBe(true);
    const back = new Evt2Decoder();
    const b = back.write(words(TH(10), CD(1, 9, 0, 0), TH(9), CD(1, 1, 0, 0)));
    expect(b.t.length).toBe(2);
    expect(isOrdered(b)).toBe(false);
    const ordered = new Evt2Decoder().write(words(TH(1), CD(1, 1, 0, 0), CD(1, 2, 0, 0)));
    expect(isOrdered({ ...ordered })).toBe(false);
  });

  it('writes a header the decoder reads back', () => {
    const dec = new Evt2Decoder();
    decodeChunked(dec, encodeEvt2(batchFrom({ t: [5], x: [1], y: [2], p: [1] }), { width: 320, height: 240 }));
    expect(dec.info.width).toBe(320);
    expect(dec.info.height).toBe(240);
    expect(dec.info.details.geometrySource).toBe('geometry');
    expect(dec.info.details.headerEnd).toBe(true);
  });

  it('refuses batches the format cannot express', () => {
    const enc = (cols: { t: number[]; x: number[]; y: number[]; p: number[] }) => () => encodeEvt2(batchFrom(cols), { width: 640, height: 480 });
    expect(enc({ t: [0], x: [640], y: [0], p: [0] })).toThrow(RangeError);
    expect(enc({ t: [0.5], x: [0], y: [0], p: [0] })).toThrow(RangeError);
    expect(enc({ t: [0], x: [0], y: [0], p: [2] })).toThrow(RangeError);
    expect(enc({ t: [2 ** 34 + 1, 5], x: [0, 0], y: [0, 0], p: [0, 0] })).toThrow(/earlier/);
    expect(enc({ t: [2 ** 34 - 64, 0], x: [0, 0], y: [0, 0], p: [0, 0] })).toThrow(/time loop/);
    expect(() => encodeEvt2(batchFrom({ t: [], x: [], y: [], p: [] }), { width: 4096, height: 10 })).toThrow(RangeError);
  });

  it('never throws anything but a DecodeError on random bytes', () => {
    expectOnlyDecodeErrors({
      makeDecoder: (strict) => new Evt2Decoder({ strict }), header: withHeader(new Uint8Array(0)), maxLength: 300, maxChunk: 50,
      maxEvents: (input) => input.length / 4,
    });
  });

  it('decodes the same from chunks that start at odd memory addresses', () => {
    const b = encodeEvt2(batchFrom({ t: [1, 70, 70, 200], x: [1, 2, 3, 4], y: [5, 6, 7, 8], p: [1, 0, 1, 0] }), { width: 640, height: 480 });
    const shifted = new Uint8Array(b.length + 1).subarray(1);
    shifted.set(b);
    expect(toRows(decodeChunked(new Evt2Decoder(), shifted, [5]))).toEqual(toRows(decodeChunked(new Evt2Decoder(), b)));
  });
});

const REL = 'events/expelliarmus/evt2_sample.raw';
describeManifestFixture(REL, () => new Evt2Decoder(), {
  name: 'Evt2Decoder on the real EVT 2.0 sample',
  manifest: {
    title: 'matches MANIFEST count, first/last events and column digests, with the Gen3 geometry',
    sizes: [65536],
    extra: ({ dec, m }) => {
      expect([dec.info.width, dec.info.height]).toEqual([640, 480]);
      expect(dec.info.details.geometrySource).toBe('plugin');
      expect(dec.info.headerLines).toEqual(m.header?.map((l) => l.replace(/^% /, '')));
    },
  },
  chunking: {
    title: 'gives identical output for random chunk sizes and misaligned chunks',
    sizes: (len) => chunkCycles(len, 8), numRuns: 20, fixed: [[1, 2, 3, 4093]], misaligned: { skew: 1, sizes: [65536] },
  },
  more: ({ bytes }) => {
    it('re-encodes to a file that decodes to the same events', () => {
      const b = decodeChunked(new Evt2Decoder(), bytes);
      const again = decodeChunked(new Evt2Decoder(), encodeEvt2(b, { width: 640, height: 480 }), [65536]);
      expect(columnDigests(again)).toEqual(columnDigests(b));
    });
  },
});
