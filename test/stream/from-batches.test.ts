/** fromBatches: pull-based delivery at 'max', recorded pace on virtual time. */
import { take, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchFrom, type EventBatch } from '../../src/events/batch.js';
import { heartbeat, type ClockedBatch } from '../../src/stream/clocked-batch.js';
import { fromBatches } from '../../src/stream/from-batches.js';
import { collect } from './helpers.js';

const at = (ts: number[]): EventBatch => batchFrom({ t: ts, x: ts.map(() => 1), y: ts.map(() => 2), p: ts.map(() => 1) });

/** Subscribes on a TestScheduler and records [virtual ms, batch] per emission. */
function timed(make: (s: TestScheduler) => Observable<ClockedBatch>): { at: number; t: number[]; clockUs?: number }[] {
  const sched = new TestScheduler((a, b) => expect(a).toEqual(b));
  const seen: { at: number; t: number[]; clockUs?: number }[] = [];
  sched.run(() => {
    make(sched).subscribe((b) => seen.push({ at: sched.now(), t: Array.from(b.t), ...(b.clockUs !== undefined ? { clockUs: b.clockUs } : {}) }));
  });
  return seen;
}

describe('fromBatches at speed max', () => {
  it('emits the batches unchanged, in order, synchronously for a sync iterable', () => {
    const bs = [at([1, 2]), at([]), at([3])];
    const got: EventBatch[] = [];
    let completed = false;
    fromBatches(bs).subscribe({ next: (b) => got.push(b), complete: () => (completed = true) });
    expect(completed).toBe(true);
    expect(got).toEqual(bs);
    expect(got[0]).toBe(bs[0]);
  });

  it('pulls the next batch from an async iterable only after the previous one was delivered', async () => {
    let produced = 0;
    const deliveredAt: number[] = [];
    async function* gen() {
      for (let i = 0; i < 5; i++) {
        produced++;
        yield at([i]);
      }
    }
    await collect(fromBatches(gen())).then((bs) => expect(bs.length).toBe(5));
    produced = 0;
    fromBatches(gen()).subscribe(() => deliveredAt.push(produced));
    await new Promise((r) => setTimeout(r, 20));
    expect(deliveredAt).toEqual([1, 2, 3, 4, 5]);
  });

  it('delivers what came before an iterator error, then the error', async () => {
    function* gen() {
      yield at([1]);
      throw new Error('read failed');
    }
    const got: number[][] = [];
    const err = await new Promise((resolve) => fromBatches(gen()).subscribe({ next: (b) => got.push(Array.from(b.t)), error: resolve }));
    expect(got).toEqual([[1]]);
    expect((err as Error).message).toBe('read failed');
  });

  it('returns the iterator (its finally runs) when the subscriber unsubscribes', async () => {
    let cleaned = false;
    async function* gen() {
      try {
        for (let i = 0; ; i++) yield at([i]);
      } finally {
        cleaned = true;
      }
    }
    const got = await collect(fromBatches(gen()).pipe(take(3)));
    expect(got.length).toBe(3);
    await new Promise((r) => setTimeout(r, 10));
    expect(cleaned).toBe(true);
  });

  it('rejects a bad speed where the pipeline is built', () => {
    expect(() => fromBatches([], { speed: 0 })).toThrowError(/speed/);
    expect(() => fromBatches([], { speed: -1 })).toThrowError(/speed/);
  });
});

describe('fromBatches at a recorded pace (virtual time)', () => {
  it('emits each slice when the replay clock reaches its last event, at 1x and 2x', () => {
    const bs = () => [at([1000, 1500, 2500]), at([3000, 10000])];
    expect(timed((s) => fromBatches(bs(), { speed: 1, scheduler: s }))).toEqual([
      { at: 0.5, t: [1000, 1500] },
      { at: 1.5, t: [2500] },
      { at: 2, t: [3000] },
      { at: 9, t: [10000] },
    ]);
    expect(timed((s) => fromBatches(bs(), { speed: 2, scheduler: s })).map((e) => e.at)).toEqual([0.25, 0.75, 1, 4.5]);
  });

  it('follows the running maximum when timestamps step back: no reordering, no waiting', () => {
    expect(timed((s) => fromBatches([at([1000, 5000, 3000, 4000, 6000])], { speed: 1, scheduler: s }))).toEqual([
      { at: 0, t: [1000] },
      { at: 4, t: [5000, 3000, 4000] },
      { at: 5, t: [6000] },
    ]);
  });

  it('emits heartbeats through quiet periods when asked, and input heartbeats at their clock', () => {
    expect(timed((s) => fromBatches([at([1000]), at([4500]), heartbeat(7000)], { speed: 1, scheduler: s, heartbeatUs: 1000 }))).toEqual([
      { at: 0, t: [1000] },
      { at: 1, t: [], clockUs: 2000 },
      { at: 2, t: [], clockUs: 3000 },
      { at: 3, t: [], clockUs: 4000 },
      { at: 3.5, t: [4500] },
      { at: 6, t: [], clockUs: 7000 },
    ]);
  });

  it('cancels the pending emission and returns the iterator when unsubscribed mid-replay', () => {
    let returned = false;
    function* gen() {
      try {
        yield at([1000, 2000]);
        yield at([5000]);
      } finally {
        returned = true;
      }
    }
    const seen = timed((s) => fromBatches(gen(), { speed: 1, scheduler: s }).pipe(take(1)));
    expect(seen).toEqual([{ at: 0, t: [1000] }]);
    expect(returned).toBe(true);
  });

  it('cuts large batches into slices of at most sliceUs of recorded time', () => {
    const ts = Array.from({ length: 100 }, (_, i) => 10_000 + i * 97);
    const got = timed((s) => fromBatches([at(ts)], { speed: 1, scheduler: s, sliceUs: 2000 }));
    expect(got.flatMap((e) => e.t)).toEqual(ts);
    for (const e of got) {
      expect(Math.max(...e.t) - Math.min(...e.t)).toBeLessThan(2000);
      expect(e.at).toBeCloseTo((Math.max(...e.t) - 10_000) / 1000, 9);
    }
  });
});

