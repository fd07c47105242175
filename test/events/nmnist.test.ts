import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { DecodeError } from '../../src/events/decode-error.js';
import { NmnistDecoder, encodeNmnist } from '../../src/events/nmnist.js';
import { columnDigests, decodeChunked, eventAt, toRows } from '../helpers/events.js';
import { describeWithFixtures, loadManifest, sharedFixture } from '../helpers/fixtures.js';

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
    expect(() => dec.end()).toThrowError(DecodeError);
    try {
      dec.end();
    } catch (e) {
      expect((e as DecodeError).code).toBe('TRUNCATED');
      expect((e as DecodeError).offset).toBe(5);
    }
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
describeWithFixtures('NmnistDecoder on the real N-MNIST sample', [REL], () => {
  const m = loadManifest()['tonic/sample_nmnist.bin'];
  const bytes = new Uint8Array(readFileSync(sharedFixture(REL)));

  it('matches MANIFEST count, first/last events and column digests', () => {
    const b = decodeChunked(new NmnistDecoder(), bytes);
    expect(b.t.length).toBe(m.n_events);
    expect([0, 1, 2, 3, 4].map((i) => eventAt(b, i))).toEqual(m.first5);
    const n = b.t.length;
    expect([n - 3, n - 2, n - 1].map((i) => eventAt(b, i))).toEqual(m.last3);
    expect(columnDigests(b)).toEqual(m.column_sha256);
  });

  it('gives identical output for random chunk sizes', () => {
    const whole = columnDigests(decodeChunked(new NmnistDecoder(), bytes));
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: bytes.length }), { minLength: 1, maxLength: 8 }), (sizes) => {
      expect(columnDigests(decodeChunked(new NmnistDecoder(), bytes, sizes))).toEqual(whole);
    }), { numRuns: 30 });
    expect(columnDigests(decodeChunked(new NmnistDecoder(), bytes, [1]))).toEqual(whole);
  });
});
