/** Running summary of an event stream (what `spikestream info` prints), mergeable across batches. */
import type { EventBatch } from './batch.js';

export interface EventStats {
  readonly count: number;
  /** First and last timestamps in arrival order (us); NaN when empty. */
  readonly tFirst: number;
  readonly tLast: number;
  readonly tMin: number;
  readonly tMax: number;
  /** Events whose timestamp is smaller than the previous event's. */
  readonly backwardSteps: number;
  /** Most negative step seen (us, <= 0). */
  readonly largestBackwardStep: number;
  readonly on: number;
  readonly maxX: number;
  readonly maxY: number;
}

export const EMPTY_STATS: EventStats = Object.freeze({
  count: 0, tFirst: NaN, tLast: NaN, tMin: Infinity, tMax: -Infinity, backwardSteps: 0,
  largestBackwardStep: 0, on: 0, maxX: -1, maxY: -1,
});

/** Pure: the stats of `prev` followed by `b`. */
export function accumulateStats(prev: EventStats, b: EventBatch): EventStats {
  const n = b.t.length;
  if (n === 0) return prev;
  const { t, x, y, p } = b;
  let last = prev.count > 0 ? prev.tLast : t[0];
  let tMin = prev.tMin;
  let tMax = prev.tMax;
  let back = prev.backwardSteps;
  let worst = prev.largestBackwardStep;
  let on = prev.on;
  let mx = prev.maxX;
  let my = prev.maxY;
  for (let i = 0; i < n; i++) {
    const ti = t[i];
    const d = ti - last;
    if (d < 0) {
      back++;
      if (d < worst) worst = d;
    }
    last = ti;
    if (ti < tMin) tMin = ti;
    if (ti > tMax) tMax = ti;
    on += p[i];
    if (x[i] > mx) mx = x[i];
    if (y[i] > my) my = y[i];
  }
  return {
    count: prev.count + n, tFirst: prev.count > 0 ? prev.tFirst : t[0], tLast: last, tMin, tMax,
    backwardSteps: back, largestBackwardStep: worst, on, maxX: mx, maxY: my,
  };
}
