/**
 * EventSampler: bounded, an even spread of the frame's events (exactly the indices that are
 * multiples of the final stride), independent of how the frame was split into batches.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventBatch } from '../../../src/events/batch.js';
import { EventSampler } from '../../../src/serve/dashboard/event-sampler.js';

function batchOf(xs: readonly number[]): EventBatch {
  return {
    t: Float64Array.from(xs, (_, i) => i), x: Uint16Array.from(xs), y: Uint16Array.from(xs, (v) => (v * 7) & 0xffff),
    p: Uint8Array.from(xs, (v) => v & 1),
  };
}

function split(b: EventBatch, cuts: readonly number[]): EventBatch[] {
  const out: EventBatch[] = [];
  let prev = 0;
  for (const c of [...[...cuts].sort((a, z) => a - z), b.t.length]) {
    const e = Math.min(Math.max(c, prev), b.t.length);
    out.push({ t: b.t.subarray(prev, e), x: b.x.subarray(prev, e), y: b.y.subarray(prev, e), p: b.p.subarray(prev, e) });
    prev = e;
  }
  return out;
}

const kept = (s: EventSampler): number[][] => Array.from({ length: s.kept }, (_, i) => [s.x[i], s.y[i], s.p[i]]);

describe('EventSampler', () => {
  it('keeps every event while there is room, then the multiples of a doubling stride, for any split', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 16 }).map((h) => 2 * h),
      fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 600 }),
      fc.array(fc.nat(600), { maxLength: 12 }),
      (capacity, xs, cuts) => {
        const s = new EventSampler(capacity);
        const all = batchOf(xs);
        for (const b of split(all, cuts)) s.add(b);
        expect(s.seen).toBe(xs.length);
        expect(s.kept).toBeLessThanOrEqual(capacity);
        // The stride is the smallest power of two that fits the frame into the slots.
        let stride = 1;
        while (Math.ceil(xs.length / stride) > capacity) stride *= 2;
        expect(s.stride).toBe(stride);
        const expected: number[][] = [];
        for (let i = 0; i < xs.length; i += stride) expected.push([all.x[i], all.y[i], all.p[i]]);
        expect(kept(s)).toEqual(expected);
        // An even spread never leaves the slots less than half used once they were filled.
        if (xs.length >= capacity) expect(s.kept).toBeGreaterThan(capacity / 2);
      },
    ));
  });

  it('starts over after clear', () => {
    const s = new EventSampler(4);
    s.add(batchOf([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    s.clear();
    s.add(batchOf([10, 11]));
    expect(kept(s).map((r) => r[0])).toEqual([10, 11]);
    expect(s.seen).toBe(2);
    expect(s.stride).toBe(1);
  });

  it('encodes x, y as u16 LE and p as u8, column after column', () => {
    const s = new EventSampler(4);
    s.add({ t: new Float64Array(2), x: Uint16Array.of(0x0102, 3), y: Uint16Array.of(4, 0xfffe), p: Uint8Array.of(1, 0) });
    expect([...s.encode()]).toEqual([0x02, 0x01, 3, 0, 4, 0, 0xfe, 0xff, 1, 0]);
  });

  it('refuses a capacity it cannot halve', () => {
    expect(() => new EventSampler(3)).toThrow(/even integer/);
    expect(() => new EventSampler(0)).toThrow(/even integer/);
  });
});
