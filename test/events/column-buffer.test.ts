import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutputColumns, allocColumns, growColumns, takeColumns } from '../../src/events/column-buffer.js';
import { toRows } from '../helpers/events.js';

/** Columns for `cap` events, every byte 0xAA (as uninitialised memory may be) but the first `n` events'. */
function dirty(cap: number, n: number) {
  const c = allocColumns(cap);
  new Uint8Array(c.t.buffer).fill(0xaa);
  for (let i = 0; i < n; i++) {
    c.t[i] = i * 10 + 1;
    c.x[i] = i + 2;
    c.y[i] = i + 3;
    c.p[i] = i & 1;
  }
  return c;
}

describe('column buffers', () => {
  it('return the first n events and expose no byte that was not written or zeroed', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 300 }).chain((cap) => fc.tuple(fc.constant(cap), fc.integer({ min: 0, max: cap }))), ([cap, n]) => {
      const b = takeColumns(dirty(cap, n), n);
      expect(toRows(b)).toEqual(Array.from({ length: n }, (_, i) => [i * 10 + 1, i + 2, i + 3, i & 1]));
      // Every byte of every underlying buffer outside the returned views must be zero.
      const views = [b.t, b.x, b.y, b.p];
      for (const buffer of new Set(views.map((v) => v.buffer))) {
        const bytes = new Uint8Array(buffer);
        const inView = (k: number) => views.some((v) => v.buffer === buffer && k >= v.byteOffset && k < v.byteOffset + v.byteLength);
        for (let k = 0; k < bytes.length; k++) if (!inView(k)) expect(bytes[k]).toBe(0);
      }
    }));
  });

  it('grow keeps the first n events in a larger buffer', () => {
    const c = growColumns(dirty(8, 5), 5, 20);
    expect(c.t.length).toBe(20);
    expect(toRows(takeColumns(c, 5))).toEqual([[1, 2, 3, 0], [11, 3, 4, 1], [21, 4, 5, 0], [31, 5, 6, 1], [41, 6, 7, 0]]);
  });

  it('fresh output never hands out the same memory twice; reuse output writes every call into the largest columns so far', () => {
    const fill = (c: ReturnType<typeof allocColumns>, n: number, t0: number) => {
      for (let i = 0; i < n; i++) {
        c.t[i] = t0 + i;
        c.x[i] = i;
        c.y[i] = i + 1;
        c.p[i] = i & 1;
      }
    };
    const fresh = new OutputColumns(false);
    const a = fresh.start(10);
    fill(a, 8, 100);
    const first = fresh.take(a, 8);
    const b = fresh.start(10);
    fill(b, 8, 200);
    fresh.take(b, 8);
    expect(first.t[0]).toBe(100);
    expect(b.t.buffer).not.toBe(a.t.buffer);

    const reuse = new OutputColumns(true);
    const c = reuse.start(10);
    fill(c, 10, 300);
    // Growing mid-call keeps what was written.
    const g = reuse.grow(c, 10, 40);
    expect(g.t.length).toBeGreaterThanOrEqual(40);
    expect(toRows(reuse.take(g, 10))).toEqual(Array.from({ length: 10 }, (_, i) => [300 + i, i, i + 1, i & 1]));
    // The grown columns serve the next calls that fit them.
    expect(reuse.start(30).t.buffer).toBe(g.t.buffer);
    expect(reuse.start(g.t.length + 1).t.length).toBeGreaterThan(g.t.length);
  });
});
