/**
 * Event-count binning with tonic's ToFrame(event_count, overlap, include_incomplete) semantics
 * (tonic/slicers.py SliceByEventCount), computed incrementally.
 *
 * Window k holds events [k * stride, k * stride + count) of the stream (by arrival index),
 * stride = count - overlap. A window is emitted as soon as its last event arrives. At the end of
 * the stream, with N events seen and c = min(count, N), tonic keeps
 * n = floor((N - c) / stride) + 1 windows (ceil with includeIncomplete): the still-open windows
 * with k < n are emitted (partial), the others' events are counted in `stats.dropped` (tonic's tail
 * drop). So, as in tonic, a stream shorter than `count` gives one short window even without
 * includeIncomplete. An empty stream gives no timesteps (tonic gives one empty frame).
 *
 * Time plays no part: late events are binned by arrival like any other, and batch clocks are
 * ignored. tStart / tEnd of a timestep are its smallest t and largest t + 1.
 */
import type { OperatorFunction } from 'rxjs';
import { sliceBatch, type EventBatch } from '../events/batch.js';
import { batchOperator } from './batch-operator.js';
import { createBinningStats, type BinningStats } from './binning-stats.js';
import { EventTimestep } from './event-timestep.js';
import { requireNonNegativeInt, requirePositiveInt, requireSize, StreamError } from './stream-error.js';
import type { Timestep } from './timestep.js';

export interface BinByCountOptions {
  /** Events per window (tonic's event_count). */
  readonly count: number;
  /** Events shared by consecutive windows, 0 <= overlap < count (default 0). */
  readonly overlap?: number;
  readonly includeIncomplete?: boolean;
  readonly width: number;
  readonly height: number;
  readonly stats?: BinningStats;
}

/** Consumed by each step (buffers updated in place): continue with the returned state. */
export interface CountBinState {
  readonly o: { readonly count: number; readonly stride: number; readonly includeIncomplete: boolean; readonly width: number; readonly height: number };
  readonly stats: BinningStats;
  /** Events seen. */
  seen: number;
  /** Oldest window not yet emitted; windows[i] is window first + i. */
  first: number;
  windows: EventBatch[][];
  /** Index one past the last event an emitted window covered. */
  deliveredEnd: number;
  /** tEnd of the last emitted timestep (start of an empty one). */
  lastEnd: number | undefined;
}

const STAGE = 'binByCount';

function resolveOptions(o: BinByCountOptions): CountBinState['o'] {
  const count = requirePositiveInt(STAGE, 'count', o.count);
  const overlap = requireNonNegativeInt(STAGE, 'overlap', o.overlap ?? 0);
  if (overlap >= count) throw new StreamError('BAD_OPTION', STAGE, `overlap (${overlap}) must be smaller than count (${count})`);
  return {
    count, stride: count - overlap, includeIncomplete: o.includeIncomplete ?? false,
    width: requireSize(STAGE, 'width', o.width), height: requireSize(STAGE, 'height', o.height),
  };
}

export function initCountBins(options: BinByCountOptions): CountBinState {
  return { o: resolveOptions(options), stats: options.stats ?? createBinningStats(), seen: 0, first: 0, windows: [], deliveredEnd: 0, lastEnd: undefined };
}

/** A timestep over `events` (one batch or parts) whose time span is their smallest t and largest t + 1. */
export function countTimestep(index: number, events: EventBatch | readonly EventBatch[], width: number, height: number, emptyAt: number): EventTimestep {
  const parts = Array.isArray(events) ? (events as readonly EventBatch[]) : [events as EventBatch];
  let lo = Infinity;
  let hi = -Infinity;
  for (const b of parts) {
    const t = b.t;
    for (let i = 0; i < t.length; i++) {
      const v = t[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? new EventTimestep(index, lo, hi + 1, width, height, events) : new EventTimestep(index, emptyAt, emptyAt, width, height, events);
}

function emitFirst(s: CountBinState, out: Timestep[]): void {
  const parts = s.windows.shift() ?? [];
  const k = s.first;
  const ts = countTimestep(k, parts, s.o.width, s.o.height, s.lastEnd ?? 0);
  out.push(ts);
  s.stats.timesteps++;
  if (ts.eventCount === 0) s.stats.emptyTimesteps++;
  s.deliveredEnd = Math.max(s.deliveredEnd, Math.min(s.seen, k * s.o.stride + s.o.count));
  s.lastEnd = ts.tEnd;
  s.first = k + 1;
}

export function pushCountBins(s: CountBinState, batch: EventBatch): { state: CountBinState; timesteps: Timestep[] } {
  const out: Timestep[] = [];
  const m = batch.t.length;
  if (m === 0) return { state: s, timesteps: out };
  const { count, stride } = s.o;
  const g = s.seen;
  const end = g + m;
  s.stats.eventsIn += m;
  // Windows that start before `end` get the part of [g, end) they cover: pure index arithmetic.
  const kLast = Math.floor((end - 1) / stride);
  while (s.first + s.windows.length <= kLast) s.windows.push([]);
  for (let k = s.first; k <= kLast; k++) {
    const a = Math.max(k * stride, g);
    const b = Math.min(k * stride + count, end);
    if (a < b) s.windows[k - s.first].push(sliceBatch(batch, a - g, b - g));
  }
  s.seen = end;
  while (s.windows.length > 0 && s.first * stride + count <= end) emitFirst(s, out);
  return { state: s, timesteps: out };
}

export function endCountBins(s: CountBinState): { state: CountBinState; timesteps: Timestep[] } {
  const out: Timestep[] = [];
  const N = s.seen;
  if (N > 0) {
    const c = Math.min(s.o.count, N);
    const r = (N - c) / s.o.stride;
    const n = (s.o.includeIncomplete ? Math.ceil(r) : Math.floor(r)) + 1;
    while (s.first < n && s.windows.length > 0) emitFirst(s, out);
  }
  s.stats.dropped += N - s.deliveredEnd;
  s.windows = [];
  return { state: s, timesteps: out };
}

export function binEventsByCount(events: EventBatch, options: BinByCountOptions): { timesteps: Timestep[]; stats: BinningStats } {
  const s = initCountBins(options);
  const a = pushCountBins(s, events).timesteps;
  return { timesteps: a.concat(endCountBins(s).timesteps), stats: s.stats };
}

export function binByCount(options: BinByCountOptions): OperatorFunction<EventBatch, Timestep> {
  resolveOptions(options);
  return batchOperator<CountBinState, EventBatch, Timestep>(
    () => initCountBins(options),
    (s, b) => {
      const r = pushCountBins(s, b);
      return { state: r.state, outputs: r.timesteps };
    },
    (s) => endCountBins(s).timesteps,
  );
}
