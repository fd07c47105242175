/** Binning operators and cores: tonic formulas on random data, split invariance, live clocks, late events. */
import fc from 'fast-check';
import { from, map, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchFrom, concatBatches, type EventBatch } from '../../src/events/batch.js';
import { isOrdered, markOrdered } from '../../src/events/ordered-batches.js';
import { binByCount, binEventsByCount, endCountBins, initCountBins, pushCountBins } from '../../src/stream/bin-by-count.js';
import { binByTime, binEventsByTime, endTimeBins, initTimeBins, pushTimeBins, type BinByTimeOptions } from '../../src/stream/bin-by-time.js';
import { binEventsToNEventBins, binToNEventBins } from '../../src/stream/bin-to-n-event-bins.js';
import { binEventsToNTimeBins, binToNTimeBins } from '../../src/stream/bin-to-n-time-bins.js';
import { createBinningStats } from '../../src/stream/binning-stats.js';
import { heartbeat } from '../../src/stream/clocked-batch.js';
import type { EventTimestep } from '../../src/stream/event-timestep.js';
import { StreamError } from '../../src/stream/stream-error.js';
import type { Timestep } from '../../src/stream/timestep.js';
import { toRows } from '../helpers/events.js';
import { collect, plain, splitAt } from './helpers.js';

const W = 4;
const H = 3;

function ev(rows: number[][]): EventBatch {
  return batchFrom({ t: rows.map((r) => r[0]), x: rows.map((r) => r[1]), y: rows.map((r) => r[2]), p: rows.map((r) => r[3]) });
}
const at = (ts: number[]) => ev(ts.map((t, i) => [t, i % W, i % H, i % 2]));

/** Random recordings: sorted (dt >= 0) or with backward steps. */
const recording = (sorted: boolean) =>
  fc.array(fc.tuple(fc.integer({ min: sorted ? 0 : -40, max: 60 }), fc.nat(W - 1), fc.nat(H - 1), fc.nat(1)), { minLength: 1, maxLength: 120 })
    .map((rows) => {
      let t = 1000;
      return ev(rows.map(([dt, x, y, p]) => [(t += dt), x, y, p]));
    });

// --- An oracle transcribed from tonic/slicers.py (numpy searchsorted on sorted times) ------------
function searchsorted(t: Float64Array, v: number): number {
  let i = 0;
  while (i < t.length && t[i] < v) i++;
  return i;
}
function tonicTimeSlices(t: Float64Array, window: number, overlap: number, incl: boolean): [number, number][] {
  const stride = window - overlap;
  const r = (t[t.length - 1] - t[0] - window) / stride;
  const n = Math.max((incl ? Math.ceil(r) : Math.floor(r)) + 1, 1);
  return Array.from({ length: n }, (_, k) => [searchsorted(t, k * stride + t[0]), searchsorted(t, k * stride + t[0] + window)]);
}
function tonicCountSlices(n: number, count: number, overlap: number, incl: boolean): [number, number][] {
  const c = Math.min(count, n);
  const stride = count - overlap;
  const r = (n - c) / stride;
  const k = (incl ? Math.ceil(r) : Math.floor(r)) + 1;
  return Array.from({ length: k }, (_, i) => [i * stride, Math.min(i * stride + c, n)]);
}
describe('binByTime matches tonic SliceByTime on sorted recordings', () => {
  it('same slices for random windows, overlaps and include_incomplete', () => {
    fc.assert(fc.property(recording(true), fc.integer({ min: 1, max: 80 }), fc.integer({ min: 0, max: 79 }), fc.boolean(), (b, window, ov, incl) => {
      const overlap = ov % window;
      const ts = binEventsByTime(b, { windowUs: window, strideUs: window - overlap, includeIncomplete: incl, width: W, height: H }).timesteps;
      const want = tonicTimeSlices(b.t, window, overlap, incl);
      expect(ts.length).toBe(want.length);
      ts.forEach((s, k) => {
        expect(toRows(s.events)).toEqual(toRows(b).slice(want[k][0], want[k][1]));
        expect(s.index).toBe(k);
        expect(s.tStart).toBe(b.t[0] + k * (window - overlap));
        expect(s.tEnd).toBe(s.tStart + window);
      });
    }), { numRuns: 300 });
  });

  it('counts tonic\'s tail drop instead of hiding it, and a boundary-exact last event is dropped even with include_incomplete', () => {
    const stats = createBinningStats();
    const ts = binEventsByTime(at([0, 3, 10, 25]), { windowUs: 10, width: W, height: H, stats }).timesteps;
    expect(ts.map((s) => Array.from(s.events.t))).toEqual([[0, 3], [10]]);
    expect(stats).toMatchObject({ eventsIn: 4, dropped: 1, late: 0, timesteps: 2 });
    const incl = binEventsByTime(at([0, 3, 10, 25]), { windowUs: 10, includeIncomplete: true, width: W, height: H }).timesteps;
    expect(incl.map((s) => Array.from(s.events.t))).toEqual([[0, 3], [10], [25]]);
    const s2 = createBinningStats();
    const exact = binEventsByTime(at([0, 3, 20]), { windowUs: 10, includeIncomplete: true, width: W, height: H, stats: s2 }).timesteps;
    expect(exact.map((s) => Array.from(s.events.t))).toEqual([[0, 3], []]);
    expect(s2.dropped).toBe(1);
  });

  it('gives one window when the recording is shorter than the window, as tonic does', () => {
    expect(binEventsByTime(at([5, 6, 7]), { windowUs: 100, width: W, height: H }).timesteps.map((s) => s.events.t.length)).toEqual([3]);
  });

  it('counts events that fall in stride gaps as dropped', () => {
    const stats = createBinningStats();
    const ts = binEventsByTime(at([0, 5, 12, 21, 27]), { windowUs: 10, strideUs: 20, width: W, height: H, stats }).timesteps;
    expect(ts.map((s) => Array.from(s.events.t))).toEqual([[0, 5]]);
    expect(stats.dropped).toBe(3); // 12 in the gap; 21 and 27 in window 1, which tonic's count (1) does not keep
  });
});

describe('binByCount matches tonic SliceByEventCount', () => {
  it('same slices for random counts, overlaps and include_incomplete', () => {
    fc.assert(fc.property(recording(false), fc.integer({ min: 1, max: 40 }), fc.nat(39), fc.boolean(), (b, count, ov, incl) => {
      const overlap = ov % count;
      const stats = createBinningStats();
      const ts = binEventsByCount(b, { count, overlap, includeIncomplete: incl, width: W, height: H, stats }).timesteps;
      const want = tonicCountSlices(b.t.length, count, overlap, incl);
      expect(ts.map((s) => toRows(s.events))).toEqual(want.map(([a, e]) => toRows(b).slice(a, e)));
      const covered = want.length ? Math.max(...want.map((w) => w[1])) : 0;
      expect(stats.dropped).toBe(b.t.length - covered);
    }), { numRuns: 300 });
  });

  it('spans each timestep from its smallest t to its largest t + 1', () => {
    const ts = binEventsByCount(at([10, 30, 20, 40]), { count: 3, includeIncomplete: true, width: W, height: H }).timesteps;
    expect(ts.map((s) => [s.tStart, s.tEnd])).toEqual([[10, 31], [40, 41]]);
  });
});

describe('whole-recording bins', () => {
  it('n_time_bins: tonic floors the window and drops the tail; spikingjelly gives the last frame the remainder', () => {
    const b = at([0, 1, 2, 3, 4, 5, 6, 7, 8, 10]); // tL - t0 = 10, n = 3: window 3
    const stats = createBinningStats();
    const tonic = binEventsToNTimeBins(b, 3, { width: W, height: H, stats }).timesteps;
    expect(tonic.map((s) => Array.from(s.events.t))).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
    expect(stats.dropped).toBe(1);
    const sj = binEventsToNTimeBins(b, 3, { spikingjelly: true, width: W, height: H }).timesteps;
    expect(sj.map((s) => Array.from(s.events.t))).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8, 10]]);
    expect(sj[2].tEnd).toBe(11);
  });

  it('n_time_bins with spikingjelly: an empty window gives an empty frame instead of SpikingJelly\'s IndexError', () => {
    const sj = binEventsToNTimeBins(at([0, 1, 9, 10]), 3, { spikingjelly: true, width: W, height: H }).timesteps;
    expect(sj.map((s) => Array.from(s.events.t))).toEqual([[0, 1], [], [9, 10]]);
  });

  it('n_event_bins: tonic int(N // n * (1 + overlap)) events per bin; spikingjelly keeps the remainder', () => {
    const b = at([0, 1, 2, 3, 4, 5, 6]);
    const stats = createBinningStats();
    expect(binEventsToNEventBins(b, 3, { width: W, height: H, stats }).timesteps.map((s) => Array.from(s.events.t))).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(stats.dropped).toBe(1);
    expect(binEventsToNEventBins(b, 3, { overlap: 0.5, width: W, height: H }).timesteps.map((s) => Array.from(s.events.t))).toEqual([[0, 1, 2], [1, 2, 3], [2, 3, 4]]);
    expect(binEventsToNEventBins(b, 3, { spikingjelly: true, width: W, height: H }).timesteps.map((s) => Array.from(s.events.t))).toEqual([[0, 1], [2, 3], [4, 5, 6]]);
  });

  it('rejects overlap with spikingjelly and overlaps outside [0, 1)', () => {
    expect(() => binToNTimeBins(3, { spikingjelly: true, overlap: 0.5, width: W, height: H })).toThrowError(StreamError);
    expect(() => binToNEventBins(3, { overlap: 1, width: W, height: H })).toThrowError(/overlap/);
  });

  it('emit nothing for an empty recording', () => {
    expect(binEventsToNTimeBins(at([]), 4, { width: W, height: H }).timesteps).toEqual([]);
    expect(binEventsByTime(at([]), { windowUs: 4, width: W, height: H }).timesteps).toEqual([]);
    expect(binEventsByCount(at([]), { count: 4, width: W, height: H }).timesteps).toEqual([]);
  });
});

describe('binning one batch or any split of it gives identical timesteps', () => {
  const modes: Record<string, (bs: EventBatch[]) => Promise<Timestep[]>> = {
    time: (bs) => collect(fromList(bs).pipe(binByTime({ windowUs: 37, width: W, height: H }))),
    timeOverlapIncl: (bs) => collect(fromList(bs).pipe(binByTime({ windowUs: 50, strideUs: 15, includeIncomplete: true, width: W, height: H }))),
    timeGaps: (bs) => collect(fromList(bs).pipe(binByTime({ windowUs: 10, strideUs: 25, width: W, height: H }))),
    count: (bs) => collect(fromList(bs).pipe(binByCount({ count: 7, overlap: 3, includeIncomplete: true, width: W, height: H }))),
    nTime: (bs) => collect(fromList(bs).pipe(binToNTimeBins(5, { overlap: 0.3, width: W, height: H }))),
    nTimeSj: (bs) => collect(fromList(bs).pipe(binToNTimeBins(4, { spikingjelly: true, width: W, height: H }))),
    nEvent: (bs) => collect(fromList(bs).pipe(binToNEventBins(3, { width: W, height: H }))),
  };
  for (const [name, run] of Object.entries(modes)) {
    for (const sorted of [true, false]) {
      it(`${name}, ${sorted ? 'sorted' : 'with backward steps'}`, async () => {
        await fc.assert(fc.asyncProperty(recording(sorted), fc.array(fc.nat(120), { maxLength: 8 }), async (b, cuts) => {
          const whole = plain(await run([b]));
          expect(plain(await run(splitAt(b, cuts)))).toEqual(whole);
          const dense = (ts: Timestep[]) => ts.map((s) => Array.from(s.toDense()));
          expect(dense(await run(splitAt(b, cuts)))).toEqual(dense(await run([b])));
        }), { numRuns: 60 });
      });
    }
  }
});

describe('binByTime on batches marked ordered (binary-search path)', () => {
  it('gives the timesteps of the unmarked batches for any windows, overlaps, gaps and splits', async () => {
    const opts = fc.record({ window: fc.integer({ min: 1, max: 80 }), stride: fc.integer({ min: 1, max: 90 }), incl: fc.boolean() });
    await fc.assert(fc.asyncProperty(recording(true), fc.array(fc.nat(120), { maxLength: 8 }), opts, async (b, cuts, o) => {
      const run = (bs: EventBatch[]) => collect(from(bs).pipe(binByTime({ windowUs: o.window, strideUs: o.stride, includeIncomplete: o.incl, width: W, height: H })));
      const parts = splitAt(b, cuts);
      const marked = parts.map((p) => markOrdered({ t: p.t, x: p.x, y: p.y, p: p.p }));
      expect(marked.every((p) => isOrdered(p))).toBe(true);
      expect(parts.some((p) => isOrdered(p))).toBe(false);
      expect(plain(await run(marked))).toEqual(plain(await run(parts)));
    }), { numRuns: 200 });
  });

  it('still handles late events in a marked batch (ordered within the batch, behind the open window)', async () => {
    const run = (bs: EventBatch[]) => collect(from(bs).pipe(binByTime({ windowUs: 10, width: W, height: H })));
    const first = at([0, 5, 12, 25]);
    const late = markOrdered(at([3, 4, 21, 22, 40]));
    expect(plain(await run([first, late]))).toEqual(plain(await run([first, at([3, 4, 21, 22, 40])])));
  });
});

const fromList = (bs: EventBatch[]): Observable<EventBatch> => from(bs);

describe('live time binning', () => {
  const scheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
  const view = map((s: Timestep) => ({ k: s.index, t: Array.from(s.events.t) }));
  const opts: BinByTimeOptions = { windowUs: 10, width: W, height: H };

  it('emits a window when an event at or past its end arrives, with empty windows for skipped time', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<EventBatch>('a-b-c------|', { a: at([100, 104]), b: at([109, 110]), c: at([135]) });
      // (135 opens window 3, which tonic's count at the end does not keep.)
      expectObservable(src.pipe(binByTime(opts), view)).toBe('--b-(cd)---|', {
        b: { k: 0, t: [100, 104, 109] },
        c: { k: 1, t: [110] },
        d: { k: 2, t: [] },
      });
    });
  });

  it('closes windows when a heartbeat carries the source clock past them (quiet periods)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<EventBatch>('a-h-i-----b|', { a: at([100, 104]), h: heartbeat(109), i: heartbeat(131), b: at([133]) });
      expectObservable(src.pipe(binByTime(opts), view)).toBe('----(xyz)--|', {
        x: { k: 0, t: [100, 104] },
        y: { k: 1, t: [] },
        z: { k: 2, t: [] },
      });
    });
  });

  it('aligns windows to originUs and can emit empty windows before any event', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<EventBatch>('h----a|', { h: heartbeat(20), a: at([25]) });
      expectObservable(src.pipe(binByTime({ ...opts, originUs: 0, includeIncomplete: true }), view)).toBe('(xy)--(z|)', {
        x: { k: 0, t: [] },
        y: { k: 1, t: [] },
        z: { k: 2, t: [25] },
      });
    });
  });

  it('puts late events into the oldest open window and counts them', () => {
    const stats = createBinningStats();
    scheduler().run(({ cold, expectObservable }) => {
      // 5 arrives after window [0, 10) was closed by 15: it goes into [10, 20).
      const src = cold<EventBatch>('a-b-c|', { a: at([0, 15]), b: at([5, 3]), c: at([25]) });
      expectObservable(src.pipe(binByTime({ ...opts, stats }), view)).toBe('a---c|', {
        a: { k: 0, t: [0] },
        c: { k: 1, t: [15, 5, 3] },
      });
    });
    expect(stats).toMatchObject({ eventsIn: 5, late: 2, dropped: 1, timesteps: 2 });
  });

  it('fails with GAP_TOO_LARGE instead of emitting millions of empty windows', () => {
    const s = initTimeBins({ windowUs: 1, width: W, height: H, limits: { maxGapWindows: 1000 } });
    pushTimeBins(s, at([0]));
    expect(() => pushTimeBins(s, at([5000]))).toThrowError(/maxGapWindows/);
  });

  it('rejects more open windows than maxOpenWindows and bad options', () => {
    expect(() => binByTime({ windowUs: 1e6, strideUs: 1, width: W, height: H })).toThrowError(/maxOpenWindows/);
    expect(() => binByTime({ windowUs: 0, width: W, height: H })).toThrowError(/windowUs/);
    expect(() => binByCount({ count: 5, overlap: 5, width: W, height: H })).toThrowError(/overlap/);
  });

  it('errors the stream when a window exceeds maxWindowEvents', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<EventBatch>('a-b|', { a: at([0, 1]), b: at([2, 3]) });
      const err = new StreamError('TOO_MANY_EVENTS', 'binByTime', 'window 0 holds more than 3 events (limit maxWindowEvents)');
      expectObservable(src.pipe(binByTime({ ...opts, limits: { maxWindowEvents: 3 } }), view)).toBe('--#', {}, err);
    });
  });
});

describe('count binning streams', () => {
  it('emits each window as its last event arrives, whatever the batch sizes', () => {
    const s = initCountBins({ count: 3, overlap: 1, width: W, height: H });
    const got: number[][] = [];
    for (const b of [at([1, 2]), at([3, 4, 5, 6]), at([7])]) got.push(...pushCountBins(s, b).timesteps.map((t) => Array.from(t.events.t)));
    expect(got).toEqual([[1, 2, 3], [3, 4, 5], [5, 6, 7]]);
    expect(endCountBins(s).timesteps.map((t) => Array.from(t.events.t))).toEqual([]);
  });

  it('keeps one short window for a stream shorter than the count, as tonic does', () => {
    const s = initCountBins({ count: 10, width: W, height: H });
    pushCountBins(s, at([1, 2, 3]));
    expect(endCountBins(s).timesteps.map((t) => Array.from(t.events.t))).toEqual([[1, 2, 3]]);
  });
});

describe('timesteps', () => {
  it('toDense counts OFF in channel 0 and ON in channel 1, reuses `out` and rejects coordinates outside the frame', () => {
    const ts = binEventsByTime(ev([[0, 1, 2, 1], [1, 1, 2, 1], [2, 3, 0, 0]]), { windowUs: 10, width: W, height: H }).timesteps[0];
    const d = ts.toDense();
    expect(d.length).toBe(2 * H * W);
    expect(d[W * H + 2 * W + 1]).toBe(2);
    expect(d[0 * W + 3]).toBe(1);
    expect(d.reduce((a, b) => a + b, 0)).toBe(3);
    const out = new Float32Array(2 * H * W).fill(7);
    expect(ts.toDense(out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(d));
    expect(() => ts.toDense(new Float32Array(5))).toThrowError(/out has length 5/);
    const bad = binEventsByTime(ev([[0, W, 0, 1]]), { windowUs: 10, width: W, height: H }).timesteps[0];
    expect(() => bad.toDense()).toThrowError(/outside the 4x3 frame/);
  });

  it('events are views on the input batches, not copies, for single-part windows', () => {
    const b = at([0, 1, 2, 30]);
    const ts = binEventsByTime(b, { windowUs: 10, width: W, height: H }).timesteps;
    expect(ts[0].events.t.buffer).toBe(b.t.buffer);
    expect(concatBatches([ts[0].events]).t.length).toBe(3);
  });

  it('a window spanning several input batches counts its parts in place and joins them only when read', () => {
    const s = initTimeBins({ windowUs: 100, width: W, height: H });
    pushTimeBins(s, ev([[0, 1, 1, 1], [10, 2, 1, 0]]));
    pushTimeBins(s, ev([[20, 1, 1, 1]]));
    const [ts] = pushTimeBins(s, ev([[30, 3, 2, 1], [150, 0, 0, 0]])).timesteps as EventTimestep[];
    expect(ts.eventCount).toBe(4);
    const d = ts.toDense();
    expect(d[W * H + 1 * W + 1]).toBe(2);
    expect(d[1 * W + 2]).toBe(1);
    expect(toRows(ts.events)).toEqual([[0, 1, 1, 1], [10, 2, 1, 0], [20, 1, 1, 1], [30, 3, 2, 1]]);
    expect(Array.from(ts.toDense())).toEqual(Array.from(d));
  });

  it('endTimeBins on a state with no events emits nothing', () => {
    expect(endTimeBins(initTimeBins({ windowUs: 5, width: W, height: H })).timesteps).toEqual([]);
  });
});
