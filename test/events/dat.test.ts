import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { DatDecoder, encodeDat } from '../../src/events/dat.js';
import { chunkCycles } from '../helpers/chunk-sizes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { columnDigests, decodeChunked, toRows } from '../helpers/events.js';
import { expectOnlyDecodeErrors } from '../helpers/expect-only-decode-errors.js';
import { describeManifestFixture } from '../helpers/manifest-fixture.js';

/** A DAT stream: header lines, then [type, size] when given, then (ts, word) records. */
function dat(lines: string[], preamble: number[] | null, records: Array<[number, number]>): Uint8Array {
  const h = new TextEncoder().encode(lines.map((l) => `% ${l}\n`).join(''));
  const pre = preamble ?? [];
  const out = new Uint8Array(h.length + pre.length + records.length * 8);
  out.set(h);
  out.set(pre, h.length);
  const v = new DataView(out.buffer, h.length + pre.length);
  records.forEach(([ts, w], i) => {
    v.setUint32(i * 8, ts, true);
    v.setUint32(i * 8 + 4, w >>> 0, true);
  });
  return out;
}

const v2 = (x: number, y: number, p: number) => x | (y << 14) | (p << 28);
const v1 = (x: number, y: number, p: number) => x | (y << 9) | (p << 17);

describe('DatDecoder', () => {
  it('decodes version 2 addresses (14-bit x and y, polarity bit 28) and reads Width/Height', () => {
    const dec = new DatDecoder();
    const b = decodeChunked(dec, dat(['Data file containing CD events', 'Version 2', 'Width 640', 'Height 480'], [0x0c, 8],
      [[10, v2(639, 479, 1)], [11, v2(0, 1, 0)], [12, v2(16383, 16383, 1)]]), [5]);
    expect(toRows(b)).toEqual([[10, 639, 479, 1], [11, 0, 1, 0], [12, 16383, 16383, 1]]);
    expect([dec.info.width, dec.info.height]).toEqual([640, 480]);
    expect(dec.info.details.geometrySource).toBe('width-height');
    expect(dec.info.details.datVersion).toBe(2);
  });

  it('decodes version 1 addresses (9-bit x, 8-bit y, polarity bit 17) for Version 1 or no version', () => {
    const recs: Array<[number, number]> = [[5, v1(300, 200, 1)], [6, v1(511, 255, 0)]];
    const want = [[5, 300, 200, 1], [6, 511, 255, 0]];
    expect(toRows(decodeChunked(new DatDecoder(), dat(['Data file containing TD events', 'Version 1'], [0, 8], recs)))).toEqual(want);
    const noVersion = new DatDecoder();
    expect(toRows(decodeChunked(noVersion, dat(['Date 2015-01-01 00:00:00'], [0, 8], recs)))).toEqual(want);
    expect(noVersion.info.details.versionSource).toBe('default');
    // The option overrides the header.
    expect(toRows(decodeChunked(new DatDecoder({ version: 2 }), dat(['Version 1'], [0, 8], [[5, v2(300, 200, 1)]])))).toEqual([[5, 300, 200, 1]]);
  });

  it('undoes 32-bit timestamp wraps, keeping ordinary backward steps', () => {
    const recs: Array<[number, number]> = [[2 ** 32 - 10, 0], [2 ** 32 - 20, 0], [5, 0], [3, 0]];
    const dec = new DatDecoder();
    expect(Array.from(decodeChunked(dec, dat(['Version 2'], [0x0c, 8], recs)).t)).toEqual([2 ** 32 - 10, 2 ** 32 - 20, 2 ** 32 + 5, 2 ** 32 + 3]);
    expect(dec.info.details.timestampWraps).toBe(1);
    expect(Array.from(decodeChunked(new DatDecoder({ unwrapTimestamps: false }), dat(['Version 2'], [0x0c, 8], recs)).t)).toEqual([2 ** 32 - 10, 2 ** 32 - 20, 5, 3]);
  });

  it('rejects non-CD event types and sizes other than 8 at the preamble offset', () => {
    const lines = ['Version 2'];
    const head = 12;
    const trig = decodeErrorOf(() => decodeChunked(new DatDecoder(), dat(lines, [0x0e, 8], [])));
    expect(trig.code).toBe('UNSUPPORTED');
    expect(trig.offset).toBe(head);
    expect(decodeErrorOf(() => decodeChunked(new DatDecoder(), dat(lines, [0x05, 8], []))).code).toBe('UNSUPPORTED');
    const size = decodeErrorOf(() => decodeChunked(new DatDecoder(), dat(lines, [0x00, 4], [])));
    expect(size.code).toBe('BAD_HEADER');
    expect(size.offset).toBe(head + 1);
  });

  it('requires a header unless told otherwise; a headerless stream has no type/size bytes', () => {
    const body = dat([], null, [[1, v2(1, 2, 1)]]);
    const e = decodeErrorOf(() => decodeChunked(new DatDecoder(), body));
    expect(e.code).toBe('BAD_MAGIC');
    expect(e.offset).toBe(0);
    expect(toRows(decodeChunked(new DatDecoder({ requireHeader: false, version: 2 }), body))).toEqual([[1, 1, 2, 1]]);
    expect(decodeErrorOf(() => new DatDecoder().end()).code).toBe('TRUNCATED');
  });

  it('reports truncation inside a record, inside the preamble and inside the header', () => {
    const full = dat(['Version 2'], [0, 8], [[1, v2(1, 1, 1)], [2, v2(2, 2, 0)]]);
    const dec = new DatDecoder();
    expect(dec.write(full.subarray(0, full.length - 3)).t.length).toBe(1);
    const e = decodeErrorOf(() => dec.end());
    expect(e.code).toBe('TRUNCATED');
    expect(e.offset).toBe(full.length - 8);
    expect(decodeErrorOf(() => decodeChunked(new DatDecoder(), full.subarray(0, 13))).code).toBe('TRUNCATED');
    expect(decodeErrorOf(() => decodeChunked(new DatDecoder(), full.subarray(0, 12))).code).toBe('TRUNCATED');
    const mid = decodeErrorOf(() => decodeChunked(new DatDecoder(), full.subarray(0, 5)));
    expect(mid.code).toBe('TRUNCATED');
    expect(mid.offset).toBe(0);
  });

  it('rejects a RAW header', () => {
    expect(decodeErrorOf(() => decodeChunked(new DatDecoder(), dat(['evt 3.0'], [0, 8], []))).code).toBe('BAD_MAGIC');
  });

  it('round-trips encodeDat in both layouts, across timestamp wraps, for any chunking', () => {
    const ev = fc.record({ step: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: -1000, max: 0 }), fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 })),
      x: fc.nat(), y: fc.nat(), p: fc.integer({ min: 0, max: 1 }) });
    fc.assert(fc.property(fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>, fc.array(ev, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 4 }),
      (version, evs, sizes) => {
        const [w, h] = version === 2 ? [16384, 16384] : [512, 256];
        const cols = { t: [] as number[], x: [] as number[], y: [] as number[], p: [] as number[] };
        let t = 0;
        let floor = 0;
        for (const e of evs) {
          t = Math.max(floor, t + e.step);
          floor = Math.max(floor, Math.floor(t / 2 ** 32) * 2 ** 32);
          cols.t.push(t); cols.x.push(e.x % w); cols.y.push(e.y % h); cols.p.push(e.p);
        }
        const b = batchFrom(cols);
        expect(toRows(decodeChunked(new DatDecoder(), encodeDat(b, { version }), sizes))).toEqual(toRows(b));
      }), { numRuns: 200 });
  });

  it('refuses batches the format cannot express', () => {
    const one = (t: number[], x = 0, version: 1 | 2 = 2) => () => encodeDat(batchFrom({ t, x: t.map(() => x), y: t.map(() => 0), p: t.map(() => 0) }), { version });
    expect(one([2 ** 32 + 5, 2 ** 32 - 5])).toThrow(/read back/);
    expect(one([10, 2 ** 32 + 2 ** 31 + 20])).toThrow(/read back/);
    expect(one([0], 512, 1)).toThrow(RangeError);
    expect(one([0], 511, 1)).not.toThrow();
    expect(() => encodeDat(batchFrom({ t: [0], x: [640], y: [0], p: [0] }), { width: 640, height: 480 })).toThrow(RangeError);
  });

  it('never throws anything but a DecodeError on random bytes', () => {
    expectOnlyDecodeErrors({
      makeDecoder: (requireHeader) => new DatDecoder({ requireHeader }), header: dat(['Version 2'], null, []), maxLength: 200, maxChunk: 40,
    });
  });
});


const REL = 'events/tonic/sample_ncars.dat';
describeManifestFixture(REL, () => new DatDecoder(), {
  name: 'DatDecoder on the real N-CARS sample',
  manifest: {
    // MANIFEST lists no column digests for this file.
    title: 'matches MANIFEST count and first/last events; the header has no geometry',
    digests: false,
    extra: ({ dec, m }) => {
      expect(dec.info.width).toBeUndefined();
      expect(dec.info.details.geometrySource).toBe('none');
      expect(dec.info.headerLines).toEqual(m.header?.map((l) => l.replace(/^% /, '')));
    },
  },
  chunking: {
    title: 'gives identical output for any chunk sizes, including 1 byte, and misaligned chunks',
    sizes: (len) => chunkCycles(len, 8), numRuns: 50, fixed: [[1]], misaligned: { skew: 3, sizes: [1000] },
  },
  more: ({ bytes }) => {
    it('re-encodes to a file that decodes to the same events', () => {
      const b = decodeChunked(new DatDecoder(), bytes);
      expect(columnDigests(decodeChunked(new DatDecoder(), encodeDat(b)))).toEqual(columnDigests(b));
    });
  },
});
