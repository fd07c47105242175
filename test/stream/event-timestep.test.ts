/** EventTimestep dense conversion: Float32 and Int16 counts, parts counted in place, saturation. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom, type EventBatch } from '../../src/events/batch.js';
import { EventTimestep, INT16_COUNT_MAX, type DenseCounters } from '../../src/stream/event-timestep.js';
import { splitAt } from './helpers.js';

const W = 5;
const H = 3;

function ev(rows: readonly (readonly number[])[]): EventBatch {
  return batchFrom({ t: rows.map((r) => r[0]), x: rows.map((r) => r[1]), y: rows.map((r) => r[2]), p: rows.map((r) => r[3]) });
}

/** The obvious count: channel 0 for p = 0, channel 1 for any other p. */
function oracle(rows: readonly (readonly number[])[], w: number, h: number): number[] {
  const out = new Array<number>(2 * w * h).fill(0);
  for (const [, x, y, p] of rows) out[(p === 0 ? 0 : 1) * w * h + y * w + x]++;
  return out;
}

// Polarities across the whole Uint8 range: every non-zero value must count as ON.
const rowsArb = fc.array(fc.tuple(fc.nat(1000), fc.nat(W - 1), fc.nat(H - 1), fc.oneof(fc.constantFrom(0, 1), fc.nat(255))), { maxLength: 200 });
const cutsArb = fc.array(fc.nat(200), { maxLength: 5 });

describe('EventTimestep.toDense / toDenseInt16', () => {
  it('count each event once, OFF in channel 0 and every non-zero polarity in channel 1, however the events are split into parts', () => {
    fc.assert(fc.property(rowsArb, cutsArb, (rows, cuts) => {
      const parts = splitAt(ev(rows), cuts);
      const ts = new EventTimestep(0, 0, 1, W, H, parts);
      const want = oracle(rows, W, H);
      expect(Array.from(ts.toDense())).toEqual(want);
      expect(Array.from(ts.toDenseInt16())).toEqual(want);
      // A reused frame holding stale counts is overwritten, not added to.
      const f32 = new Float32Array(2 * W * H).fill(9);
      const i16 = new Int16Array(2 * W * H).fill(-9);
      expect(ts.toDense(f32)).toBe(f32);
      expect(ts.toDenseInt16(i16)).toBe(i16);
      expect(Array.from(f32)).toEqual(want);
      expect(Array.from(i16)).toEqual(want);
    }), { numRuns: 150 });
  });

  it('Int16 counts saturate at 32767 instead of wrapping, and the lost events are counted', () => {
    const n = INT16_COUNT_MAX + 1234;
    const hot = batchFrom({ t: new Array(n).fill(5), x: new Array(n).fill(2), y: new Array(n).fill(1), p: new Array(n).fill(1) });
    const ts = new EventTimestep(0, 0, 10, W, H, [hot, ev([[6, 0, 0, 0], [7, 2, 1, 0]])]);
    const counters: DenseCounters = { saturated: 0 };
    const d16 = ts.toDenseInt16(undefined, counters);
    const hotCell = W * H + 1 * W + 2;
    expect(d16[hotCell]).toBe(INT16_COUNT_MAX);
    expect(counters.saturated).toBe(1234);
    expect(d16[0]).toBe(1);
    expect(d16[1 * W + 2]).toBe(1);
    expect(ts.toDense()[hotCell]).toBe(n);
    ts.toDenseInt16(undefined, counters);
    expect(counters.saturated).toBe(2 * 1234);
  });

  it('on a coordinate outside the frame, names that event and has counted exactly the events before it', () => {
    fc.assert(fc.property(rowsArb.filter((r) => r.length > 0), fc.nat(), fc.boolean(), (rows, at, badX) => {
      const k = at % rows.length;
      const bad = rows.map((r, i) => (i === k ? [r[0], badX ? W + r[1] : r[1], badX ? r[2] : H + r[2], r[3]] : r));
      const ts = new EventTimestep(0, 0, 1, W, H, ev(bad));
      const want = oracle(rows.slice(0, k), W, H);
      const f32 = new Float32Array(2 * W * H);
      const i16 = new Int16Array(2 * W * H);
      expect(() => ts.toDense(f32)).toThrowError(new RegExp(`: event ${k} at `));
      expect(() => ts.toDenseInt16(i16)).toThrowError(new RegExp(`: event ${k} at `));
      expect(Array.from(f32)).toEqual(want);
      expect(Array.from(i16)).toEqual(want);
    }), { numRuns: 100 });
  });

  it('rejects a frame of the wrong length and coordinates outside the frame, in both dtypes', () => {
    const ts = new EventTimestep(0, 0, 1, W, H, ev([[0, 1, 1, 1]]));
    expect(() => ts.toDenseInt16(new Int16Array(7))).toThrowError(/out has length 7/);
    const bad = new EventTimestep(0, 0, 1, W, H, ev([[0, 1, 1, 1], [0, 1, H, 0]]));
    expect(() => bad.toDense()).toThrowError(/event 1 at \(1, 3\) is outside the 5x3 frame/);
    expect(() => bad.toDenseInt16()).toThrowError(/outside the 5x3 frame/);
  });

  it('eventParts are the input views as given, until `events` joins them', () => {
    const a = ev([[0, 1, 1, 1], [1, 2, 2, 0]]);
    const b = ev([[2, 3, 0, 1]]);
    const ts = new EventTimestep(0, 0, 5, W, H, [a, b]);
    expect(ts.eventParts.length).toBe(2);
    expect(ts.eventParts[0].t.buffer).toBe(a.t.buffer);
    expect(ts.eventParts[1].x.buffer).toBe(b.x.buffer);
    expect(ts.eventCount).toBe(3);
    const joined = ts.events;
    expect(Array.from(joined.t)).toEqual([0, 1, 2]);
    expect(ts.eventParts).toEqual([joined]);
    expect(new EventTimestep(0, 0, 5, W, H, a).eventParts[0]).toBe(a);
    expect(new EventTimestep(0, 0, 5, W, H, []).eventParts).toEqual([]);
  });
});
