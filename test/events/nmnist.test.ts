import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { NmnistDecoder, encodeNmnist } from '../../src/events/nmnist.js';
import { uniformChunkSizes } from '../helpers/chunk-sizes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { decodeChunked, toRows } from '../helpers/events.js';
import { describeManifestFixture } from '../helpers/manifest-fixture.js';

describe('NmnistDecoder', () => {
  it('decodes hand-made records, including a timestamp wrap marker', () => {
    // x=3 y=4 ON ts=0x012345; wrap marker; x=5 y=6 OFF ts=7
    const bytes = Uint8Array.from([3, 4, 0x80 | 0x01, 0x23, 0x45, 0, 240, 0, 0, 0, 5, 6, 0x00, 0x00, 0x07]);
    const b = decodeChunked(new NmnistDecoder(), bytes);
    expect(toRows(b)).toEqual([
      [0x012345, 3, 4, 1],
      [(1 << 23) + 7, 5, 6, 0],
    ]);
  });

  it('rejects input that ends inside a record, after delivering the complete ones', () => {
    const dec = new NmnistDecoder();
    const first = dec.write(Uint8Array.from([1, 2, 0, 0, 9, 7, 7]));
    expect(toRows(first)).toEqual([[9, 1, 2, 0]]);
    const e = decodeErrorOf(() => dec.end());
    expect(e.code).toBe('TRUNCATED');
    expect(e.offset).toBe(5);
    expect(decodeErrorOf(() => dec.end())).toBe(e);
  });

  it('round-trips encodeNmnist for any valid events and any chunking', () => {
    const ev = fc.record({ dt: fc.integer({ min: 0, max: 3_000_000 }), x: fc.integer({ min: 0, max: 255 }), y: fc.integer({ min: 0, max: 239 }), p: fc.integer({ min: 0, max: 1 }) });
    fc.assert(fc.property(fc.array(ev, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 5 }), (evs, sizes) => {
      let t = 0;
      const cols = { t: [] as number[], x: [] as number[], y: [] as number[], p: [] as number[] };
      for (const e of evs) {
        t += e.dt;
        cols.t.push(t); cols.x.push(e.x); cols.y.push(e.y); cols.p.push(e.p);
      }
      const b = batchFrom(cols);
      const back = decodeChunked(new NmnistDecoder(), encodeNmnist(b), sizes);
      expect(toRows(back)).toEqual(toRows(b));
    }));
  });
});

const REL = 'events/tonic/sample_nmnist.bin';
describeManifestFixture(REL, () => new NmnistDecoder(), {
  name: 'NmnistDecoder on the real N-MNIST sample',
  chunking: { sizes: (len) => uniformChunkSizes(1, len, 8), numRuns: 30, fixed: [[1]] },
});
