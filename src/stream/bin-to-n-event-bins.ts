/**
 * A fixed number of event-count bins over a whole recording.
 *
 * tonic (default), tonic/slicers.py SliceByEventBins: with N events, per bin
 * c = int(floor(N / n) * (1 + overlap)) events, stride = int(c * (1 - overlap)), bin k =
 * events [k * stride, k * stride + c). The N - ((n - 1) * stride + c) tail events fall in no bin
 * (tonic drops them; counted here in `stats.dropped`).
 *
 * `spikingjelly: true` reproduces integrate_events_by_fixed_frames_number with split_by='number':
 * di = floor(N / n), frame i = events [i * di, (i + 1) * di) and the last frame takes everything
 * from (n - 1) * di to the end (the remainder). No overlap.
 *
 * Bins are by arrival index, so late events are binned like any other. tStart / tEnd of a bin are
 * its smallest t and largest t + 1; an empty bin starts and ends where the previous one ended.
 */
import type { OperatorFunction } from 'rxjs';
import { sliceBatch, type EventBatch } from '../events/batch.js';
import { countTimestep } from './bin-by-count.js';
import { createBinningStats, type BinningStats } from './binning-stats.js';
import type { Timestep } from './timestep.js';
import { resolveNBins, type NBinsOptions } from './n-bins-options.js';
import { wholeRecordingOperator } from './whole-recording.js';

export type BinToNEventBinsOptions = NBinsOptions;

const STAGE = 'binToNEventBins';


export function binEventsToNEventBins(events: EventBatch, n: number, options: BinToNEventBinsOptions): { timesteps: Timestep[]; stats: BinningStats } {
  const o = resolveNBins(STAGE, n, options);
  const stats = options.stats ?? createBinningStats();
  const N = events.t.length;
  stats.eventsIn += N;
  if (N === 0) return { timesteps: [], stats };
  const out: Timestep[] = [];
  let lastEnd = events.t[0];
  let covered = 0;
  for (let k = 0; k < o.n; k++) {
    let a: number;
    let b: number;
    if (o.sj) {
      const di = Math.floor(N / o.n);
      a = k * di;
      b = k === o.n - 1 ? N : a + di;
    } else {
      const c = Math.trunc(Math.floor(N / o.n) * (1 + o.overlap));
      const stride = Math.trunc(c * (1 - o.overlap));
      a = Math.min(k * stride, N);
      b = Math.min(k * stride + c, N);
    }
    const ts = countTimestep(k, sliceBatch(events, a, b), o.width, o.height, lastEnd);
    lastEnd = ts.tEnd;
    covered = Math.max(covered, b);
    out.push(ts);
  }
  // Bins start at 0 and never leave gaps (stride <= c), so what they miss is the tail.
  stats.dropped += N - covered;
  stats.timesteps += out.length;
  for (const t of out) if (t.events.t.length === 0) stats.emptyTimesteps++;
  return { timesteps: out, stats };
}

export function binToNEventBins(n: number, options: BinToNEventBinsOptions): OperatorFunction<EventBatch, Timestep> {
  const o = resolveNBins(STAGE, n, options);
  return wholeRecordingOperator(STAGE, o.limits.maxRecordingEvents, (events) => binEventsToNEventBins(events, n, options).timesteps);
}
