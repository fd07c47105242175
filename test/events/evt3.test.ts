import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { Evt3Decoder, Evt3Encoder, encodeEvt3 } from '../../src/events/evt3.js';
import { chunkCycles } from '../helpers/chunk-sizes.js';
import { concatBytes } from '../helpers/concat-bytes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { columnDigests, decodeChunked, toRows } from '../helpers/events.js';
import { expectOnlyDecodeErrors } from '../helpers/expect-only-decode-errors.js';
import { describeManifestFixture } from '../helpers/manifest-fixture.js';
import { withPropheseeHeader } from '../helpers/with-prophesee-header.js';

const Y = (y: number) => y;
const EM = (y: number) => 0x1000 | y;
const X = (x: number, p: number) => 0x2000 | (p << 11) | x;
const VB = (x: number, p: number) => 0x3000 | (p << 11) | x;
const V12 = (m: number) => 0x4000 | m;
const V8 = (m: number) => 0x5000 | m;
const TL = (v: number) => 0x6000 | v;
const TH = (v: number) => 0x8000 | v;

function words(...ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 2);
  const v = new DataView(b.buffer);
  ws.forEach((w, i) => v.setUint16(i * 2, w, true));
  return b;
}

const withHeader = (body: Uint8Array, lines = ['evt 3.0']): Uint8Array => withPropheseeHeader(body, lines);

const rows = (...ws: number[]) => toRows(decodeChunked(new Evt3Decoder(), words(...ws)));

describe('Evt3Decoder', () => {
  it('decodes single events from the y, time and x state', () => {
    expect(rows(TH(1), TL(5), Y(10), X(3, 1), X(4, 0), Y(11), X(2047, 1)))
      .toEqual([[4101, 3, 10, 1], [4101, 4, 10, 0], [4101, 2047, 11, 1]]);
  });

  it('follows OpenEB for TIME_LOW: a new TIME_HIGH resets it, a repeated one keeps it', () => {
    expect(rows(TH(1), TL(100), Y(0), X(0, 1), TH(1), X(1, 1), TH(2), X(2, 1), TL(7), X(3, 1))).toEqual([
      [4196, 0, 0, 1], [4196, 1, 0, 1], [8192, 2, 0, 1], [8199, 3, 0, 1],
    ]);
  });

  it('counts a 2^24 us loop when TIME_HIGH drops by 2048 or more, and nothing for smaller drops', () => {
    const dec = new Evt3Decoder();
    const b = decodeChunked(dec, words(TH(4095), TL(1), Y(0), X(0, 0), TH(0), X(1, 0), TH(10), TH(5), X(2, 0), TH(3000), TH(900), X(3, 0)));
    expect(Array.from(b.t)).toEqual([4095 * 4096 + 1, 2 ** 24, 2 ** 24 + 5 * 4096, 2 * 2 ** 24 + 900 * 4096]);
    expect(dec.info.details.timeLoops).toBe(2);
  });

  it('expands VECT_12/VECT_12/VECT_8 units in ascending x and advances the base by 32', () => {
    expect(rows(TH(0), Y(5), VB(100, 1), V12(0b101), V12(1), V8(0x80), V12(1), V12(0), V8(0))).toEqual([
      [0, 100, 5, 1], [0, 102, 5, 1], [0, 112, 5, 1], [0, 131, 5, 1], [0, 132, 5, 1],
    ]);
  });

  it('drops vectors that do not fit the sensor width until the next VECT_BASE_X, as OpenEB does', () => {
    const dec = new Evt3Decoder();
    const b = decodeChunked(dec, withHeader(words(
      TH(0), Y(1), VB(100, 0), V12(1), V12(0), V8(0), V12(1), V12(0), V8(0), VB(0, 0), V12(3), V12(0), V8(0),
    ), ['evt 3.0', 'format EVT3;height=64;width=128']));
    expect(toRows(b)).toEqual([[0, 0, 1, 0], [0, 1, 1, 0]]);
  });

  it('drops CD events after an EVT_ADDR_Y beyond the height or an EM type marker, counting them', () => {
    const dec = new Evt3Decoder();
    const b = decodeChunked(dec, withHeader(words(TH(0), Y(64), X(1, 0), Y(3), X(2, 0), EM(3), X(3, 0), VB(0, 0), V12(1), V12(0), V8(0), Y(3), X(4, 1)),
      ['evt 3.0', 'geometry 128x64']));
    expect(toRows(b)).toEqual([[0, 2, 3, 0], [0, 4, 3, 1]]);
    expect(dec.info.skippedWords).toBe(6);
  });

  it('keeps y with all 12 bits when the height is unknown', () => {
    expect(rows(TH(0), Y(0x800 | 7), X(1, 0))).toEqual([[0, 1, 0x807, 0]]);
  });

  it('skips ERC counter units (OTHERS + 3 CONTINUED) even when split across chunks', () => {
    const bytes = words(TH(0), Y(1), 0xe014, 0xf001, 0xf002, 0x7003, X(5, 1), 0xa000, 0xe123, X(6, 0));
    const whole = new Evt3Decoder();
    expect(toRows(decodeChunked(whole, bytes))).toEqual([[0, 5, 1, 1], [0, 6, 1, 0]]);
    expect(whole.info.skippedWords).toBe(6);
    expect(toRows(decodeChunked(new Evt3Decoder(), bytes, [1]))).toEqual([[0, 5, 1, 1], [0, 6, 1, 0]]);
  });

  it('drops words before the first TIME_HIGH', () => {
    const dec = new Evt3Decoder();
    expect(toRows(decodeChunked(dec, words(Y(1), X(1, 1), TH(2), Y(3), X(4, 0))))).toEqual([[8192, 4, 3, 0]]);
    expect(dec.info.details.wordsBeforeTimeHigh).toBe(2);
  });

  it('reports input ending inside a vector unit as TRUNCATED at the unit start', () => {
    const dec = new Evt3Decoder();
    const first = dec.write(words(TH(0), Y(0), X(9, 1), VB(0, 0), V12(1), V12(0)));
    expect(toRows(first)).toEqual([[0, 9, 0, 1]]);
    const e = decodeErrorOf(() => dec.end());
    expect(e.code).toBe('TRUNCATED');
    expect(e.offset).toBe(8);
    expect(e.reason).toMatch(/vector/);
  });

  it('in strict mode rejects reserved word types, delivering the events decoded before', () => {
    const e = decodeErrorOf(() => new Evt3Decoder({ strict: true }).write(words(TH(0), Y(0), X(1, 0), 0x9000, X(2, 0))));
    expect(e.code).toBe('CORRUPT');
    expect(e.offset).toBe(6);
    expect(toRows(e.events)).toEqual([[0, 1, 0, 0]]);
    expect(rows(TH(0), Y(0), X(1, 0), 0x9000, X(2, 0))).toHaveLength(2);
  });

  it('rejects a header that declares another encoding', () => {
    expect(decodeErrorOf(() => new Evt3Decoder().write(withHeader(words(TH(0)), ['evt 2.0']))).code).toBe('BAD_MAGIC');
    expect(decodeErrorOf(() => new Evt3Decoder().write(withHeader(words(TH(0)), ['Data file containing CD events', 'Version 2']))).code).toBe('BAD_MAGIC');
  });

  it('round-trips encodeEvt3 for any valid events, any geometry and any chunking', () => {
    const geometry = fc.constantFrom([1280, 720], [40, 30], [16, 16]);
    const ev = fc.record({
      kind: fc.constantFrom('run', 'run', 'run', 'same-t', 'step', 'back', 'jump'),
      dx: fc.integer({ min: 1, max: 4 }), step: fc.integer({ min: 1, max: 9000 }), back: fc.integer({ min: 0, max: 200_000 }),
      jump: fc.integer({ min: 2 ** 22, max: 2 ** 26 }), x: fc.nat(), y: fc.nat(), p: fc.integer({ min: 0, max: 1 }),
    });
    fc.assert(fc.property(geometry, fc.array(ev, { maxLength: 150 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }), ([w, h], evs, sizes) => {
      const cols = { t: [] as number[], x: [] as number[], y: [] as number[], p: [] as number[] };
      let t = 0;
      let floor = 0;
      let x = 0;
      let y = 0;
      let p = 0;
      for (const e of evs) {
        if (e.kind === 'run' && x + e.dx < w) {
          x += e.dx;
        } else {
          x = e.x % w;
          y = e.y % h;
          p = e.p;
          if (e.kind === 'step') t += e.step;
          else if (e.kind === 'back') t = Math.max(floor, t - e.back);
          else if (e.kind === 'jump') t += e.jump;
        }
        floor = Math.max(floor, Math.floor(t / 2 ** 24) * 2 ** 24);
        cols.t.push(t); cols.x.push(x); cols.y.push(y); cols.p.push(p);
      }
      const b = batchFrom(cols);
      const back = decodeChunked(new Evt3Decoder(), encodeEvt3(b, { width: w, height: h }), sizes);
      expect(toRows(back)).toEqual(toRows(b));
    }), { numRuns: 300 });
  });

  it('encodes runs of neighbouring events as vector units', () => {
    const n = 32;
    const b = batchFrom({ t: Array(n).fill(7), x: Array.from({ length: n }, (_, i) => 200 + i), y: Array(n).fill(9), p: Array(n).fill(1) });
    const enc = new Evt3Encoder({ width: 1280, height: 720 });
    const header = enc.end().length;
    const body = new Evt3Encoder({ width: 1280, height: 720 }).write(b).length - header;
    // TIME_HIGH, TIME_LOW, EVT_ADDR_Y, VECT_BASE_X, VECT_12, VECT_12, VECT_8.
    expect(body).toBe(7 * 2);
    expect(toRows(decodeChunked(new Evt3Decoder(), encodeEvt3(b, { width: 1280, height: 720 })))).toEqual(toRows(b));
  });

  it('keeps time state across write() calls of the streaming encoder', () => {
    const a = batchFrom({ t: [10, 5000], x: [1, 2], y: [3, 4], p: [0, 1] });
    const b = batchFrom({ t: [5000, 2 ** 24 + 3], x: [5, 6], y: [4, 4], p: [1, 0] });
    const enc = new Evt3Encoder({ width: 64, height: 64 });
    const all = concatBytes(enc.write(a), enc.write(b), enc.end());
    expect(toRows(decodeChunked(new Evt3Decoder(), all))).toEqual([...toRows(a), ...toRows(b)]);
  });

  it('refuses batches the format cannot express', () => {
    const enc = (cols: { t: number[]; x: number[]; y: number[]; p: number[] }) => () => encodeEvt3(batchFrom(cols), { width: 100, height: 100 });
    expect(enc({ t: [0], x: [100], y: [0], p: [0] })).toThrow(RangeError);
    expect(enc({ t: [0], x: [0], y: [100], p: [0] })).toThrow(RangeError);
    expect(enc({ t: [-1], x: [0], y: [0], p: [0] })).toThrow(RangeError);
    expect(enc({ t: [2 ** 24 + 5, 2 ** 24 - 5], x: [0, 0], y: [0, 0], p: [0, 0] })).toThrow(/earlier/);
    expect(enc({ t: [3000 * 4096, 900 * 4096], x: [0, 0], y: [0, 0], p: [0, 0] })).toThrow(/time loop/);
    expect(enc({ t: [3000 * 4096, 1000 * 4096], x: [0, 0], y: [0, 0], p: [0, 0] })).not.toThrow();
  });

  it('never throws anything but a DecodeError on random bytes', () => {
    expectOnlyDecodeErrors({
      makeDecoder: (strict) => new Evt3Decoder({ strict }), header: withHeader(new Uint8Array(0), ['evt 3.0', 'geometry 64x32']), maxLength: 300, maxChunk: 50,
    });
  });
});


/**
 * An obviously-correct EVT 3.0 reader for the differential tests below: one word at a time, one
 * switch, the semantics listed in src/events/evt3.ts (OpenEB's). Input must end on a unit boundary.
 */
function referenceEvt3(ws: readonly number[], width = 65536, height = 65536): { rows: number[][]; skipped: number } {
  const rows: number[][] = [];
  let skipped = 0;
  let started = false;
  let loops = 0;
  let high = 0;
  let low = 0;
  let y = 0;
  let valid = false;
  let vectBase = 0;
  let hasVectBase = false;
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i];
    const type = w >>> 12;
    const v = w & 0xfff;
    if (!started) {
      if (type === 0x8) {
        started = true;
        high = v;
      } else {
        skipped++;
      }
      continue;
    }
    const t = loops * 2 ** 24 + high * 4096 + low;
    switch (type) {
      case 0x0: y = v; valid = y < height; break;
      case 0x1: valid = false; skipped++; break;
      case 0x2:
        if (valid) rows.push([t, w & 0x7ff, y, (w >>> 11) & 1]);
        else skipped++;
        break;
      case 0x3: vectBase = v; hasVectBase = true; break;
      case 0x4: {
        if (!valid) {
          skipped += 3;
        } else {
          const bx = vectBase & 0xf7ff;
          if (hasVectBase && bx + 32 <= width) {
            const mask = (v | ((ws[i + 1] & 0xfff) << 12) | ((ws[i + 2] & 0xff) << 24)) >>> 0;
            for (let b = 0; b < 32; b++) if ((mask >>> b) & 1) rows.push([t, bx + b, y, (vectBase >>> 11) & 1]);
          } else {
            hasVectBase = false;
          }
          vectBase = (vectBase + 32) & 0xffff;
        }
        i += 2;
        break;
      }
      case 0x6: low = v; break;
      case 0x8:
        if (high >= v + 2048) loops++;
        if (high !== v) {
          low = 0;
          high = v;
        }
        break;
      case 0xe:
        if (v === 0x014 || v === 0x016) {
          skipped += 4;
          i += 3;
        } else {
          skipped++;
        }
        break;
      default: skipped++;
    }
  }
  return { rows, skipped };
}

/**
 * Random EVT 3.0 streams made of whole units, weighted like real recordings (runs of X/Y words
 * between TIME_LOW and VECT_BASE_X + vector units) plus everything rarer: EM markers, y beyond the
 * height, vectors past the width, lone VECT_8, ERC units, reserved and skipped types, time loops,
 * long sparse stretches (few events per byte) followed by dense ones (the output estimate runs
 * short and has to grow mid-call).
 */
const evt3Units = (width: number, height: number): fc.Arbitrary<number[]> => fc.oneof(
  { weight: 30, arbitrary: fc.array(fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: Math.min(width, 2048) - 1 }).chain((x) => fc.integer({ min: 0, max: 1 }).map((p) => X(x, p))) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: Math.min(height, 4096) - 1 }).map(Y) },
  ), { minLength: 1, maxLength: 40 }) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 0xfff }).map((v) => [TL(v)]) },
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0x7ff }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([bx, p, m]) => [VB(bx % Math.max(1, width), p), V12(m & 0xfff), V12((m >>> 12) & 0xfff), V8((m >>> 24) & 0xff)]) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }).map((m) => [V12(m & 0xfff), V12((m >>> 12) & 0xfff), V8((m >>> 24) & 0xff)]) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xfff }).map((v) => [TH(v)]) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xfff }).map((v) => [Y(v)]) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7ff }).map((v) => [EM(v)]) },
  { weight: 1, arbitrary: fc.constantFrom<number[]>([0xe014, 0xf001, 0xf002, 0x7003], [0xe016, 0x7000, 0x7000, 0x7000], [0xe123], [0x5042], [0xa001], [0xd000], [0x9000], [0xb000], [0xc000], [0x7000]) },
  { weight: 1, arbitrary: fc.integer({ min: 20, max: 2500 }).map((k) => Array(k).fill(TL(7))) },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 40 }).map((k) => [VB(0, 1), ...Array.from({ length: k }, () => [V12(0xfff), V12(0xfff), V8(0xff)]).flat()]) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 300 }).map((k) => Array.from({ length: k }, (_, j) => X(j % Math.min(width, 2048), j & 1))) },
);

describe('Evt3Decoder against a word-at-a-time reference', () => {
  // Byte-sized chunks (units split everywhere) next to ones past 4 KiB, which set the output
  // estimate from a sparse stretch so that a dense one overflows it mid-call.
  const chunkings = fc.tuple(fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 3 }), fc.integer({ min: 4096, max: 12000 }))
    .map(([small, big]) => [...small, big]);

  it('gives the reference events and skip counts for any stream and any chunking', () => {
    const geometry = fc.constantFrom([65536, 65536], [1280, 720], [64, 48], [40, 30]);
    fc.assert(fc.property(geometry.chain(([w, h]) => fc.tuple(fc.constant([w, h]), fc.array(evt3Units(w, h), { maxLength: 60 }))), chunkings, fc.boolean(),
      ([[w, h], units], sizes, beforeTimeHigh) => {
        const ws = [...(beforeTimeHigh ? [X(1, 1), Y(2)] : []), TH(3), ...units.flat()];
        const body = words(...ws);
        const bytes = w === 65536 ? body : withHeader(body, ['evt 3.0', `geometry ${w}x${h}`]);
        const want = referenceEvt3(ws, w, h);
        const dec = new Evt3Decoder();
        expect(toRows(decodeChunked(dec, bytes, sizes))).toEqual(want.rows);
        expect(dec.info.skippedWords).toBe(want.skipped);
        expect(dec.info.details.wordsBeforeTimeHigh).toBe(beforeTimeHigh ? 2 : 0);
      }), { numRuns: 400 });
  });

  it('keeps the events decoded before a reserved word in strict mode, wherever the chunks end', () => {
    fc.assert(fc.property(fc.array(evt3Units(1280, 720), { maxLength: 30 }), fc.array(evt3Units(1280, 720), { maxLength: 5 }), chunkings, (before, after, sizes) => {
      const head = [TH(3), ...before.flat().filter((w) => ![0x9, 0xb, 0xc].includes(w >>> 12))];
      const ws = [...head, 0xb000, ...after.flat()];
      const dec = new Evt3Decoder({ strict: true });
      const got: number[][] = [];
      const bytes = words(...ws);
      const e = decodeErrorOf(() => {
        let i = 0;
        let k = 0;
        while (i < bytes.length) {
          const n = sizes[k++ % sizes.length];
          got.push(...toRows(dec.write(bytes.subarray(i, i + n))));
          i += n;
        }
        dec.end();
      });
      got.push(...toRows(e.events));
      expect(e.code).toBe('CORRUPT');
      expect(e.offset).toBe(head.length * 2);
      expect(got).toEqual(referenceEvt3(head).rows);
    }), { numRuns: 200 });
  });
});

const REL = 'events/expelliarmus/evt3_sample.raw';
describeManifestFixture(REL, () => new Evt3Decoder(), {
  name: 'Evt3Decoder on the real EVT 3.0 sample',
  manifest: {
    title: 'matches MANIFEST count, first/last events, column digests and the true time span',
    sizes: [65536],
    extra: ({ b, dec }) => {
      expect([b.t[0], b.t[b.t.length - 1]]).toEqual([11_718_656, 11_727_457]);
      // No geometry line: the size comes from the Gen4.1 plugin name.
      expect([dec.info.width, dec.info.height]).toEqual([1280, 720]);
      expect(dec.info.details.geometrySource).toBe('plugin');
    },
  },
  chunking: {
    title: 'gives identical output for random chunk sizes and misaligned chunks',
    sizes: (len) => chunkCycles(len, 8), numRuns: 20, fixed: [[1, 2, 3, 4093]], misaligned: { skew: 1, sizes: [65536] },
  },
  more: ({ bytes }) => {
    it('re-encodes to a smaller file that decodes to the same events', () => {
      const b = decodeChunked(new Evt3Decoder(), bytes);
      const enc = encodeEvt3(b, { width: 1280, height: 720 });
      expect(enc.length).toBeLessThan(bytes.length);
      expect(columnDigests(decodeChunked(new Evt3Decoder(), enc, [65536]))).toEqual(columnDigests(b));
    });
  },
});
