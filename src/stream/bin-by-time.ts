/**
 * Time-window binning with tonic's ToFrame(time_window, overlap, include_incomplete) semantics
 * (tonic/slicers.py SliceByTime), computed incrementally so it serves whole recordings and live
 * streams alike.
 *
 * Windows: window k covers [s_k, s_k + windowUs) with s_k = origin + k * strideUs; the origin is
 * the first event's t (tonic) unless `originUs` is given. tonic's `overlap` is
 * windowUs - strideUs. An event belongs to every window that contains its timestamp.
 *
 * When windows are emitted:
 * - while streaming, window k is emitted as soon as an event at or past its end arrives, or a
 *   batch's `clockUs` (see clocked-batch.ts) reaches its end; windows without events in between
 *   are emitted empty, so quiet periods produce timesteps when the source signals its clock;
 * - at the end of the stream, tonic's count decides which of the still-open windows are emitted:
 *   with tLast the last event's t (in arrival order, as tonic reads t[-1]),
 *   n = floor((tLast - origin - windowUs) / strideUs) + 1 (ceil with includeIncomplete), at least
 *   1, and windows k < n are emitted. Without includeIncomplete that is exactly the windows an
 *   event at or past their end closed; with it, the partial windows tonic keeps. As in tonic, a
 *   last event exactly on a window boundary ends up in no window even with includeIncomplete.
 *
 * Late events (t before the start of the oldest open window, i.e. inside an already emitted window
 * or before the origin): put into the oldest open window (only that one) and counted in
 * `stats.late`. Never dropped, never reordered. Events that fall in no window (a gap when
 * strideUs > windowUs, or tonic's tail drop at the end) are counted in `stats.dropped`.
 *
 * For timestamps that never step back this equals tonic on the concatenated recording, however
 * the stream is split into batches.
 *
 * No event is copied: a window's events are views on the input batches (one per run of events in
 * that window), so a window spanning several batches is held as parts (see event-timestep.ts for
 * how long the views stay valid and what may not write to them).
 */
import type { OperatorFunction } from 'rxjs';
import { sliceBatch, type EventBatch } from '../events/batch.js';
import { isOrdered } from '../events/ordered-batches.js';
import { batchOperator } from './batch-operator.js';
import { createBinningStats, type BinningStats } from './binning-stats.js';
import { resolveBinningLimits, type BinningLimits } from './binning-limits.js';
import { clockOf } from './clocked-batch.js';
import { EventTimestep } from './event-timestep.js';
import { requireFiniteNumber, requirePositiveNumber, requireSize, StreamError } from './stream-error.js';
import type { Timestep } from './timestep.js';

export interface BinByTimeOptions {
  /** Window length in microseconds (tonic's time_window). */
  readonly windowUs: number;
  /** Distance between window starts in microseconds; default windowUs (tonic: time_window - overlap). */
  readonly strideUs?: number;
  /** Emit the partial windows tonic's include_incomplete keeps at the end of the stream. */
  readonly includeIncomplete?: boolean;
  /** Frame geometry of the emitted timesteps. */
  readonly width: number;
  readonly height: number;
  /** Start of window 0; default the first event's t (tonic). Set it (e.g. 0) to align live windows. */
  readonly originUs?: number;
  readonly limits?: Partial<BinningLimits>;
  /** Counters updated in place (late, dropped, timesteps...). */
  readonly stats?: BinningStats;
}

interface OpenWindow {
  parts: EventBatch[];
  n: number;
  /** Events whose lowest window this is: if it is never emitted, they are dropped. */
  owned: number;
}

/** Consumed by each step (its buffers are updated in place): always continue with the returned state. */
export interface TimeBinState {
  readonly o: {
    readonly windowUs: number; readonly strideUs: number; readonly includeIncomplete: boolean;
    readonly width: number; readonly height: number; readonly originUs: number | undefined; readonly limits: BinningLimits;
  };
  readonly stats: BinningStats;
  /** Window origin; undefined until the first event unless originUs was given. */
  origin: number | undefined;
  /** Index of the oldest window not yet emitted; windows[i] is window first + i. */
  first: number;
  windows: OpenWindow[];
  /** End of the last emitted window (or the origin): events before it and before s_first are late. */
  closedEnd: number;
  /** Last event's t in arrival order. */
  tLast: number | undefined;
}

const STAGE = 'binByTime';

function resolveOptions(o: BinByTimeOptions): TimeBinState['o'] {
  const windowUs = requirePositiveNumber(STAGE, 'windowUs', o.windowUs);
  const strideUs = requirePositiveNumber(STAGE, 'strideUs', o.strideUs ?? windowUs);
  const limits = resolveBinningLimits(o.limits);
  if (Math.ceil(windowUs / strideUs) > limits.maxOpenWindows) {
    throw new StreamError('BAD_OPTION', STAGE, `windowUs / strideUs = ${windowUs / strideUs} windows would be open at once (limit maxOpenWindows = ${limits.maxOpenWindows})`);
  }
  return {
    windowUs, strideUs, includeIncomplete: o.includeIncomplete ?? false,
    width: requireSize(STAGE, 'width', o.width), height: requireSize(STAGE, 'height', o.height),
    originUs: o.originUs === undefined ? undefined : requireFiniteNumber(STAGE, 'originUs', o.originUs), limits,
  };
}

export function initTimeBins(options: BinByTimeOptions): TimeBinState {
  const o = resolveOptions(options);
  return {
    o, stats: options.stats ?? createBinningStats(), origin: o.originUs, first: 0, windows: [],
    closedEnd: o.originUs ?? -Infinity, tLast: undefined,
  };
}

const start = (s: TimeBinState, k: number): number => (s.origin as number) + k * s.o.strideUs;

function emitWindow(s: TimeBinState, out: Timestep[]): void {
  const w = s.windows.shift() ?? { parts: [], n: 0, owned: 0 };
  const k = s.first;
  const ts = start(s, k);
  out.push(new EventTimestep(k, ts, ts + s.o.windowUs, s.o.width, s.o.height, w.parts));
  s.stats.timesteps++;
  if (w.n === 0) s.stats.emptyTimesteps++;
  s.first = k + 1;
  s.closedEnd = ts + s.o.windowUs;
}

/** Emits every window that ends at or before `t`. */
function closeUpTo(s: TimeBinState, t: number, out: Timestep[]): void {
  const { windowUs, strideUs, limits } = s.o;
  if (start(s, s.first) + windowUs > t) return;
  const closing = Math.floor((t - windowUs - start(s, s.first)) / strideUs) + 1;
  if (closing > limits.maxGapWindows) {
    throw new StreamError('GAP_TOO_LARGE', STAGE, `time jumps from ${start(s, s.first)} to ${t} us, which would close ${closing} windows (limit maxGapWindows = ${limits.maxGapWindows})`);
  }
  while (start(s, s.first) + windowUs <= t) emitWindow(s, out);
}

function ensureWindows(s: TimeBinState, k: number): void {
  while (s.first + s.windows.length <= k) s.windows.push({ parts: [], n: 0, owned: 0 });
}

/** First index in [lo, hi) with T[index] >= v, or hi; T[lo..hi) must never decrease. */
function firstAtOrAbove(T: Float64Array, v: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (T[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Pure core: feeds one batch (events, then its clock) and returns the timesteps it completed. */
export function pushTimeBins(s: TimeBinState, batch: EventBatch): { state: TimeBinState; timesteps: Timestep[] } {
  const out: Timestep[] = [];
  const T = batch.t;
  const n = T.length;
  const ordered = n > 1 && isOrdered(batch);
  const { windowUs, strideUs, limits } = s.o;
  if (n > 0) {
    s.stats.eventsIn += n;
    if (s.origin === undefined) {
      s.origin = T[0];
      s.closedEnd = T[0];
    }
    const origin = s.origin;
    let i = 0;
    while (i < n) {
      let t = T[i];
      if (t >= start(s, s.first) + windowUs) closeUpTo(s, t, out);
      const sFirst = start(s, s.first);
      // Membership of the run starting at i: windows [lo, hi] (hi < lo: none), valid for t in [bLo, bHi).
      const lo = s.first;
      let hi: number;
      let bLo: number;
      let bHi: number;
      if (t < sFirst) {
        if (t < s.closedEnd) {
          hi = lo; // late: oldest open window only
          bLo = -Infinity;
          bHi = Math.min(s.closedEnd, sFirst);
          ensureWindows(s, lo);
        } else {
          hi = lo - 1; // in a stride gap: no window
          bLo = s.closedEnd;
          bHi = sFirst;
        }
      } else {
        let k = Math.floor((t - origin) / strideUs);
        // Guard the division's rounding so that s_k <= t < s_k+1 holds exactly.
        while (origin + k * strideUs > t) k--;
        while (origin + (k + 1) * strideUs <= t) k++;
        hi = k;
        bLo = origin + k * strideUs;
        bHi = Math.min(origin + (k + 1) * strideUs, sFirst + windowUs);
        ensureWindows(s, k);
      }
      // Hot loop: extend the run while the timestamp keeps the same membership. In a batch whose
      // producer vouched for the order (ordered-batches.ts), every t from i on is >= T[i] >= bLo,
      // so the run ends at the first t >= bHi: a binary search instead of a read of every t.
      let j: number;
      if (ordered) {
        j = firstAtOrAbove(T, bHi, i + 1, n);
      } else {
        j = i + 1;
        while (j < n) {
          t = T[j];
          if (t < bLo || t >= bHi) break;
          j++;
        }
      }
      const len = j - i;
      if (hi < lo) {
        s.stats.dropped += len;
      } else {
        if (bLo === -Infinity) s.stats.late += len;
        const part = sliceBatch(batch, i, j);
        for (let k = lo; k <= hi; k++) {
          const w = s.windows[k - s.first];
          w.parts.push(part);
          w.n += len;
          if (w.n > limits.maxWindowEvents) {
            throw new StreamError('TOO_MANY_EVENTS', STAGE, `window ${k} holds more than ${limits.maxWindowEvents} events (limit maxWindowEvents)`);
          }
        }
        s.windows[0].owned += len;
      }
      i = j;
    }
    s.tLast = T[n - 1];
  }
  const clock = clockOf(batch);
  if (clock !== undefined && s.origin !== undefined) closeUpTo(s, clock, out);
  return { state: s, timesteps: out };
}

/** End of stream: emits the windows tonic keeps (see the module comment) and counts the rest as dropped. */
export function endTimeBins(s: TimeBinState): { state: TimeBinState; timesteps: Timestep[] } {
  const out: Timestep[] = [];
  if (s.origin !== undefined && s.tLast !== undefined) {
    const { windowUs, strideUs, includeIncomplete } = s.o;
    const r = (s.tLast - s.origin - windowUs) / strideUs;
    const count = Math.max((includeIncomplete ? Math.ceil(r) : Math.floor(r)) + 1, 1);
    if (count - s.first > s.o.limits.maxGapWindows) {
      throw new StreamError('GAP_TOO_LARGE', STAGE, `the end of the stream would emit ${count - s.first} windows (limit maxGapWindows = ${s.o.limits.maxGapWindows})`);
    }
    while (s.first < count) emitWindow(s, out);
  }
  for (const w of s.windows) s.stats.dropped += w.owned;
  s.windows = [];
  return { state: s, timesteps: out };
}

/** Whole recording in one call (tonic's to_frame with time_window). */
export function binEventsByTime(events: EventBatch, options: BinByTimeOptions): { timesteps: Timestep[]; stats: BinningStats } {
  const s = initTimeBins(options);
  const a = pushTimeBins(s, events).timesteps;
  const b = endTimeBins(s).timesteps;
  return { timesteps: a.concat(b), stats: s.stats };
}

export function binByTime(options: BinByTimeOptions): OperatorFunction<EventBatch, Timestep> {
  resolveOptions(options);
  return batchOperator<TimeBinState, EventBatch, Timestep>(
    () => initTimeBins(options),
    (s, b) => {
      const r = pushTimeBins(s, b);
      return { state: r.state, outputs: r.timesteps };
    },
    (s) => endTimeBins(s).timesteps,
  );
}
