/**
 * A fixed number of time bins over a whole recording.
 *
 * tonic (default), tonic/slicers.py SliceByTimeBins: with t0 = t[0] and tL = t[-1] (first and
 * last in arrival order), window = floor((tL - t0) / n) * (1 + overlap), stride =
 * window * (1 - overlap), bin k = [t0 + k * stride, t0 + k * stride + window). Because the window
 * is floored, events at the very end (t >= t0 + n * stride when overlap = 0, e.g. the last event)
 * fall in no bin: tonic drops them; here they are counted in `stats.dropped`.
 *
 * `spikingjelly: true` reproduces SpikingJelly's integrate_events_by_fixed_frames_number with
 * split_by='time': dt = floor((tL - t0) / n), window i = [t0 + dt * i, t0 + dt * (i + 1)); frame i
 * is the index span from the first to the last event (in arrival order) inside window i, and the
 * last frame extends to the end of the recording, so it takes the remainder. Where SpikingJelly
 * raises (a window without events, e.g. when tL - t0 < n), the frame is empty here and starts
 * where the previous one ended. No overlap.
 *
 * Late events (timestamps that step back): tonic's searchsorted assumes sorted times; here a tonic
 * bin holds exactly the events whose t lies in it, in arrival order (identical for sorted input).
 */
import type { OperatorFunction } from 'rxjs';
import { sliceBatch, type EventBatch } from '../events/batch.js';
import { createBinningStats, type BinningStats } from './binning-stats.js';
import { EventTimestep } from './event-timestep.js';
import type { Timestep } from './timestep.js';
import { resolveNBins, type NBinsOptions } from './n-bins-options.js';
import { isNonDecreasing, lowerBound, wholeRecordingOperator } from './whole-recording.js';

export type BinToNTimeBinsOptions = NBinsOptions;

const STAGE = 'binToNTimeBins';


/** Events with lo <= t < hi, in arrival order (a view when `sorted`). */
function inWindow(events: EventBatch, lo: number, hi: number, sorted: boolean): EventBatch {
  if (sorted) return sliceBatch(events, lowerBound(events.t, lo), lowerBound(events.t, hi));
  const { t } = events;
  const keep = new Uint8Array(t.length);
  let m = 0;
  for (let i = 0; i < t.length; i++) if (t[i] >= lo && t[i] < hi) { keep[i] = 1; m++; }
  const out = { t: new Float64Array(m), x: new Uint16Array(m), y: new Uint16Array(m), p: new Uint8Array(m) };
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    if (keep[i]) {
      out.t[j] = t[i]; out.x[j] = events.x[i]; out.y[j] = events.y[i]; out.p[j] = events.p[i];
      j++;
    }
  }
  return out;
}

function tonicBins(events: EventBatch, n: number, overlap: number, w: number, h: number, stats: BinningStats): Timestep[] {
  const T = events.t;
  const N = T.length;
  const t0 = T[0];
  const window = Math.floor((T[N - 1] - t0) / n) * (1 + overlap);
  const stride = window * (1 - overlap);
  const sorted = isNonDecreasing(T);
  const out: Timestep[] = [];
  for (let k = 0; k < n; k++) {
    const s = k * stride + t0;
    const e = s + window;
    out.push(new EventTimestep(k, s, e, w, h, inWindow(events, s, e, sorted)));
  }
  // Bins tile [t0, t0 + (n-1) * stride + window) without gaps (stride <= window).
  const lo = t0;
  const hi = (n - 1) * stride + t0 + window;
  let outside = 0;
  for (let i = 0; i < N; i++) if (T[i] < lo || T[i] >= hi) outside++;
  stats.dropped += outside;
  return out;
}

function spikingJellyTimeBins(events: EventBatch, n: number, w: number, h: number, stats: BinningStats): Timestep[] {
  const T = events.t;
  const N = T.length;
  const t0 = T[0];
  const dt = Math.floor((T[N - 1] - t0) / n);
  const firstIdx = new Float64Array(n).fill(-1);
  const lastIdx = new Float64Array(n).fill(-1);
  if (dt > 0) {
    for (let i = 0; i < N; i++) {
      const t = T[i];
      if (t < t0) continue;
      let k = Math.floor((t - t0) / dt);
      while (k > 0 && t0 + k * dt > t) k--;
      while (t0 + (k + 1) * dt <= t) k++;
      if (k >= n) continue;
      if (firstIdx[k] < 0) firstIdx[k] = i;
      lastIdx[k] = i;
    }
  }
  const out: Timestep[] = [];
  const covered = new Uint8Array(N);
  let prevR = 0;
  for (let k = 0; k < n; k++) {
    let l = firstIdx[k] >= 0 ? firstIdx[k] : prevR;
    let r = firstIdx[k] >= 0 ? lastIdx[k] + 1 : prevR;
    if (k === n - 1) {
      r = N;
      l = Math.min(l, N);
    }
    const ev = sliceBatch(events, l, r);
    let tEnd = t0 + dt * (k + 1);
    if (k === n - 1) for (let i = l; i < r; i++) if (T[i] + 1 > tEnd) tEnd = T[i] + 1;
    out.push(new EventTimestep(k, t0 + dt * k, tEnd, w, h, ev));
    covered.fill(1, l, r);
    prevR = r;
  }
  let missed = 0;
  for (let i = 0; i < N; i++) if (!covered[i]) missed++;
  stats.dropped += missed;
  return out;
}

/** Pure core on a whole recording. An empty recording gives no timesteps. */
export function binEventsToNTimeBins(events: EventBatch, n: number, options: BinToNTimeBinsOptions): { timesteps: Timestep[]; stats: BinningStats } {
  const o = resolveNBins(STAGE, n, options);
  const stats = options.stats ?? createBinningStats();
  const N = events.t.length;
  stats.eventsIn += N;
  if (N === 0) return { timesteps: [], stats };
  const ts = o.sj ? spikingJellyTimeBins(events, o.n, o.width, o.height, stats) : tonicBins(events, o.n, o.overlap, o.width, o.height, stats);
  stats.timesteps += ts.length;
  for (const t of ts) if (t.events.t.length === 0) stats.emptyTimesteps++;
  return { timesteps: ts, stats };
}

export function binToNTimeBins(n: number, options: BinToNTimeBinsOptions): OperatorFunction<EventBatch, Timestep> {
  const o = resolveNBins(STAGE, n, options);
  return wholeRecordingOperator(STAGE, o.limits.maxRecordingEvents, (events) => binEventsToNTimeBins(events, n, options).timesteps);
}
