/**
 * One session's inference, without any I/O: events -> binning -> sparse engine -> predictions.
 * The functional core of a session (session.ts adds the queue, the socket and the clock).
 *
 * Work is split in two so that it can be done in bounded slices: `push` bins a batch (cheap, linear
 * in its events) and appends the timesteps it completed to a work list; `run` steps the engine
 * through that list until a deadline. Control (end of sample, reset) goes through the same list,
 * so it always applies after the events that arrived before it.
 *
 * Modes (DESIGN.md section 7):
 * - sample: the engine runs over the sample's timesteps as they close; `flush` ends the sample
 *   (the binning's end-of-recording rules, as `spikestream run` applies them to a file), predicts
 *   from the engine's result and resets. So a recording sent in any split and flushed predicts
 *   exactly what `run` prints for it.
 * - stream: a prediction at every multiple of decisionUs of event time after the segment's first
 *   timestep, over the Output values of the timesteps that ended in the trailing windowUs
 *   (trailing-window.ts). A segment ends on `flush` or when event time jumps forward or back by
 *   more than idleResetUs between consecutive events (or a clock tick passes the last event by
 *   that much): its open bins are closed as at the end of a recording, a final prediction covers
 *   the steps since the last decision, and binning and neurons start afresh.
 */
import type { EventBatch } from '../events/batch.js';
import type { Engine } from '../snn/engine.js';
import { clockOf, type ClockedBatch } from '../stream/clocked-batch.js';
import { isStreamError } from '../stream/stream-error.js';
import { timestepEventCount, type Timestep } from '../stream/timestep.js';
import { createBinner, type Binner } from './binner.js';
import type { FilterChain } from './filter-chain.js';
import type { PredictionMessage, SessionMode } from './protocol.js';
import type { ServedModel } from './served-model.js';
import { ServeError } from './serve-error.js';
import { TrailingWindow } from './trailing-window.js';

export interface PipelineOptions {
  readonly mode: SessionMode;
  /** Geometry the binning sees (the declared sensor, or what the filters make of it). */
  readonly width: number;
  readonly height: number;
  /** Filters applied to events before binning (hello.filters); their state survives segments, not reset. */
  readonly filters?: FilterChain;
  readonly decisionUs: number;
  readonly windowUs: number;
  readonly idleResetUs: number;
  readonly maxGapWindows: number;
  readonly maxSampleEvents: number;
  readonly maxWindowSteps: number;
}

/** A prediction before the session numbers it and stamps its latency; `at` is when the message that completed it arrived. */
export type PipelinePrediction = Omit<PredictionMessage, 'type' | 'seq' | 'latencyMs'> & { readonly at: number };

type Work =
  | { readonly kind: 'step'; readonly ts: Timestep; readonly at: number }
  /** End of sample/segment: predict (always after a flush, when there is something new otherwise) and reset. */
  | { readonly kind: 'end'; readonly at: number; readonly always: boolean }
  | { readonly kind: 'reset' };

/** Placeholder for consumed work items (drops the reference to their timestep). */
const DONE: Work = Object.freeze({ kind: 'reset' });

export interface PipelineCounters {
  /** Events handed to binning. */
  eventsBinned: number;
  timesteps: number;
  /** Events that lay outside the model's input (ignored by the engine). */
  eventsOutOfRange: number;
  /** Events with timestamps before their window (put into the oldest open one). */
  eventsLate: number;
  /** Events in no emitted timestep (the binning's tail rules). */
  eventsUnbinned: number;
  segments: number;
  /** Events removed by the session's filters (denoise, refractory, crop). */
  eventsFiltered: number;
}

export class InferencePipeline {
  /** Called with each timestep's Output values (a copy) as the engine computes them: live views (the dashboard raster). */
  onStep: ((tStart: number, tEnd: number, output: Float32Array) => void) | undefined = undefined;
  readonly counters: PipelineCounters = { eventsBinned: 0, timesteps: 0, eventsOutOfRange: 0, eventsLate: 0, eventsUnbinned: 0, segments: 0, eventsFiltered: 0 };
  private binner: Binner;
  private work: Work[] = [];
  private workHead = 0;
  /** Last event's t on the binning side (stream mode gap detection). */
  private lastT: number | undefined;
  private readonly window: TrailingWindow | null;
  // Engine side of the current sample/segment.
  private steps = 0;
  private firstStart: number | undefined;
  private lastEnd: number | undefined;
  private segOrigin: number | undefined;
  private nextDecision = Infinity;
  private stepsSinceDecision = 0;
  private retired = { outOfRange: 0, late: 0, unbinned: 0 };

  constructor(readonly model: ServedModel, private engine: Engine, readonly o: PipelineOptions) {
    this.binner = this.newBinner();
    this.window = o.mode === 'stream'
      ? new TrailingWindow(model.outputs, model.binning.mode === 'time_window' ? Math.min(o.maxWindowSteps, Math.ceil(o.windowUs / model.stepUs) + 1) : o.maxWindowSteps, model.readout)
      : null;
    engine.reset();
  }

  /** Work is waiting for `run`. */
  get busy(): boolean {
    return this.workHead < this.work.length;
  }

  /**
   * Whether the pipeline still references `buf` (a timestep waiting to be stepped, or events the
   * binning holds in open windows): storage on it must not be reused yet (event-pool.ts).
   */
  holds(buf: ArrayBufferLike): boolean {
    return this.busy || this.binner.someHeld((b) => b.t.buffer === buf || b.x.buffer === buf || b.y.buffer === buf || b.p.buffer === buf);
  }

  /** Whether `pred` holds for a batch the binning still keeps views on (call only when not busy). */
  someHeld(pred: (b: EventBatch) => boolean): boolean {
    return this.binner.someHeld(pred);
  }

  /**
   * Bins a batch. Throws a ServeError (OUT_OF_RANGE for a time jump beyond maxGapWindows, TOO_LARGE
   * for a sample beyond maxSampleEvents) after discarding the current sample or segment.
   * `owned`: the caller owns the batch's storage and no one else reads it, so the filters may
   * rewrite its columns in place instead of allocating (see FilterChain.apply).
   */
  push(batch: ClockedBatch, at: number, owned = false): void {
    try {
      const f = this.o.filters;
      if (f !== undefined && f.length > 0 && batch.t.length > 0) {
        const clock = clockOf(batch);
        const kept = f.apply(batch, owned);
        this.counters.eventsFiltered += batch.t.length - kept.t.length;
        batch = clock === undefined ? kept : { ...kept, clockUs: clock };
        if (batch.t.length === 0 && clock === undefined) return;
      }
      if (this.o.mode === 'stream') this.pushStream(batch, at);
      else this.bin(batch, at);
    } catch (e) {
      if (!isStreamError(e)) throw e;
      this.discard();
      if (e.code === 'GAP_TOO_LARGE') throw new ServeError('OUT_OF_RANGE', `${e.reason}; the ${this.o.mode === 'sample' ? 'sample' : 'segment'} was discarded`);
      if (e.code === 'TOO_MANY_EVENTS') throw new ServeError('TOO_LARGE', `${e.reason}; the ${this.o.mode === 'sample' ? 'sample' : 'segment'} was discarded`);
      throw new ServeError('BAD_MESSAGE', `${e.message}; the ${this.o.mode === 'sample' ? 'sample' : 'segment'} was discarded`);
    }
  }

  /** End of a sample (sample mode) or segment (stream mode): one final prediction follows. */
  flush(at: number): void {
    try {
      this.endSegment(at, true);
    } catch (e) {
      if (!isStreamError(e)) throw e;
      this.discard();
      this.work.push({ kind: 'end', at, always: true });
      throw new ServeError('OUT_OF_RANGE', `${e.reason}; the ${this.o.mode === 'sample' ? 'sample' : 'segment'} was discarded`);
    }
  }

  /** Clears neuron state after the work queued so far; binning starts afresh now. */
  reset(): void {
    this.retire();
    this.o.filters?.reset();
    this.binner = this.newBinner();
    this.lastT = undefined;
    this.work.push({ kind: 'reset' });
  }

  /** Runs queued work until `deadline` (performance.now() ms) or until none is left. */
  run(deadline: number, emit: (p: PipelinePrediction) => void): void {
    while (this.workHead < this.work.length) {
      const w = this.work[this.workHead];
      this.work[this.workHead++] = DONE; // release the timestep
      if (w.kind === 'step') this.step(w.ts, w.at, emit);
      else if (w.kind === 'end') this.end(w.at, w.always, emit);
      else this.resetEngine();
      if (performance.now() >= deadline) break;
    }
    if (this.workHead === this.work.length) {
      this.work = [];
      this.workHead = 0;
    }
  }

  /** Drops all queued work (a running `run` returns after its current item). */
  stop(): void {
    this.work = [];
    this.workHead = 0;
  }

  /** Gives the engine back (the pipeline is unusable afterwards). */
  detach(): Engine {
    this.stop();
    return this.engine;
  }

  /** Events outside the model's input so far (ignored by the engine, counted). */
  eventsOutOfRange(): number {
    return this.counters.eventsOutOfRange + this.engine.result().eventsOutOfRange;
  }

  /** Binning counters of the live binner added to the retired ones. */
  binningCounts(): { late: number; unbinned: number } {
    return { late: this.retired.late + this.binner.stats.late, unbinned: this.retired.unbinned + this.binner.stats.dropped };
  }

  private newBinner(): Binner {
    const o = this.o;
    return createBinner(this.model.binning, { width: o.width, height: o.height, maxGapWindows: o.maxGapWindows, maxSampleEvents: o.maxSampleEvents });
  }

  private retire(): void {
    this.retired.late += this.binner.stats.late;
    this.retired.unbinned += this.binner.stats.dropped;
    this.counters.eventsLate = this.retired.late;
    this.counters.eventsUnbinned = this.retired.unbinned;
  }

  private discard(): void {
    this.retire();
    this.binner = this.newBinner();
    this.lastT = undefined;
    this.work.push({ kind: 'reset' });
  }

  private bin(batch: EventBatch, at: number): void {
    this.counters.eventsBinned += batch.t.length;
    const ts = this.binner.push(batch);
    for (let i = 0; i < ts.length; i++) this.work.push({ kind: 'step', ts: ts[i], at });
  }

  private endSegment(at: number, always: boolean): void {
    const ts = this.binner.end();
    for (let i = 0; i < ts.length; i++) this.work.push({ kind: 'step', ts: ts[i], at });
    this.work.push({ kind: 'end', at, always });
    this.retire();
    this.binner = this.newBinner();
    this.lastT = undefined;
  }

  /** Splits the batch where event time jumps by more than idleResetUs and ends the segment there. */
  private pushStream(batch: ClockedBatch, at: number): void {
    const gap = this.o.idleResetUs;
    const t = batch.t;
    const n = t.length;
    let start = 0;
    let prev = this.lastT;
    let i = 0;
    if (prev === undefined && n > 0) {
      prev = t[0];
      i = 1;
    }
    // Hot loop (every event): find jumps of event time beyond the idle gap.
    for (; i < n; i++) {
      const ti = t[i];
      const d = ti - (prev as number);
      if (d > gap || d < -gap) {
        if (i > start) this.bin(slice(batch, start, i), at);
        this.endSegment(at, false);
        start = i;
      }
      prev = ti;
    }
    this.lastT = prev;
    const clock = clockOf(batch);
    // A clock past the last event by more than the idle gap: a quiet period, the segment is over.
    const idle = clock !== undefined && prev !== undefined && clock - prev > gap;
    if (start === 0) {
      // No jump inside (the usual case): the batch as it came, clock included, without copies.
      if (!idle) {
        if (n > 0 || clock !== undefined) this.bin(batch, at);
        return;
      }
      if (n > 0) this.bin(slice(batch, 0, n), at); // events without the clock, which would close the idle windows
      this.endSegment(at, false);
      return;
    }
    const rest = slice(batch, start, n);
    if (idle) {
      this.bin(rest, at);
      this.endSegment(at, false);
      return;
    }
    const clocked: ClockedBatch = clock === undefined ? rest : { ...rest, clockUs: clock };
    this.bin(clocked, at);
  }

  private step(ts: Timestep, at: number, emit: (p: PipelinePrediction) => void): void {
    const out = this.engine.step(ts);
    this.onStep?.(ts.tStart, ts.tEnd, out.output);
    this.counters.timesteps++;
    this.steps++;
    if (this.firstStart === undefined) this.firstStart = ts.tStart;
    this.lastEnd = ts.tEnd;
    const w = this.window;
    if (w === null) return;
    if (this.segOrigin === undefined) {
      this.segOrigin = ts.tStart;
      this.nextDecision = ts.tStart + this.o.decisionUs;
    }
    w.push(ts.tStart, ts.tEnd, out.output, timestepEventCount(ts));
    this.stepsSinceDecision++;
    if (ts.tEnd >= this.nextDecision) {
      const d = this.o.decisionUs;
      const origin = this.segOrigin;
      const D = origin + Math.floor((ts.tEnd - origin) / d) * d;
      emit(this.predictStream(D, false, at));
      this.nextDecision = D + d;
      this.stepsSinceDecision = 0;
    }
  }

  private predictStream(D: number, final: boolean, at: number): PipelinePrediction {
    const s = (this.window as TrailingWindow).summarize(D, this.o.windowUs);
    const index = s.timesteps === 0 ? -1 : argmax(s.scores);
    const start = Math.max(D - this.o.windowUs, this.segOrigin ?? D);
    return {
      window: [start, D], label: index < 0 ? '' : (this.model.model.labels[index] ?? String(index)), index,
      scores: s.scores, counts: s.counts, events: s.events, timesteps: s.timesteps, final, at,
    };
  }

  private end(at: number, always: boolean, emit: (p: PipelinePrediction) => void): void {
    this.counters.segments++;
    if (this.o.mode === 'sample') {
      const r = this.engine.result();
      emit({
        window: [this.firstStart ?? 0, this.lastEnd ?? 0], label: r.label, index: r.index, scores: r.scores, counts: r.outputCounts,
        events: r.events + r.eventsOutOfRange, timesteps: r.timesteps, final: true, at,
      });
    } else if (always || this.stepsSinceDecision > 0) {
      emit(this.predictStream(this.lastEnd ?? this.segOrigin ?? 0, true, at));
    }
    this.resetEngine();
  }

  private resetEngine(): void {
    const r = this.engine.result();
    this.counters.eventsOutOfRange += r.eventsOutOfRange;
    this.engine.reset();
    this.window?.clear();
    this.steps = 0;
    this.firstStart = undefined;
    this.lastEnd = undefined;
    this.segOrigin = undefined;
    this.nextDecision = Infinity;
    this.stepsSinceDecision = 0;
  }
}

function slice(b: EventBatch, start: number, end: number): EventBatch {
  return { t: b.t.subarray(start, end), x: b.x.subarray(start, end), y: b.y.subarray(start, end), p: b.p.subarray(start, end) };
}

function argmax(v: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < v.length; i++) if (best < 0 || v[i] > v[best]) best = i;
  return best;
}
