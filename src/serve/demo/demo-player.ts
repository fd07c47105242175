/**
 * The demo's clock, without timers or sessions: given the wall time, what to send now.
 *
 * Recordings play one after another at `speed` (event time per wall time), each followed by a
 * flush (its final prediction) and a pause of pauseMs, in a loop. Timestamps are shifted so event
 * time keeps increasing across recordings and loops, as a camera's would; the pause shows up as a
 * gap of pauseMs * speed in event time. While playing, every batch carries the clock (the
 * shifted event time now), so the server closes time windows in quiet stretches exactly as it
 * would for a live camera.
 */
import type { ClockedBatch } from '../../stream/clocked-batch.js';
import type { DemoRecording } from './demo-recordings.js';

export interface DemoPlayerOptions {
  /** Event time per wall time (1: as recorded). */
  readonly speed: number;
  /** Wall time between the end of one recording and the start of the next (ms). */
  readonly pauseMs: number;
  /** Attach the clock to batches (stream-mode sessions); sample-mode sessions do not need it. */
  readonly clock: boolean;
}

export type DemoAction =
  | { readonly kind: 'events'; readonly batch: ClockedBatch }
  | { readonly kind: 'flush' };

/** A recording as played: its place in the list and its span in shifted event time. */
export interface DemoPlaying {
  readonly index: number;
  readonly file: string;
  readonly label?: string;
  readonly tStart: number;
  readonly tEnd: number;
}

export class DemoPlayer {
  private index = -1;
  private cursor = 0;
  /** Added to the recording's timestamps. */
  private shift = 0;
  private wallStart = 0;
  private pausedUntil: number | undefined;
  /** End of the previous recording in shifted event time. */
  private lastEnd: number | undefined;
  private current: DemoPlaying | undefined;

  constructor(private readonly recordings: readonly DemoRecording[], private readonly o: DemoPlayerOptions) {
    if (recordings.length === 0) throw new RangeError('DemoPlayer needs at least one recording');
    if (!(o.speed > 0) || !Number.isFinite(o.speed)) throw new RangeError(`demo speed must be a positive number, got ${o.speed}`);
    if (!(o.pauseMs >= 0) || !Number.isFinite(o.pauseMs)) throw new RangeError(`demo pause must be a non-negative number of ms, got ${o.pauseMs}`);
  }

  /** The recording being played (or that just ended, during the pause). */
  playing(): DemoPlaying | undefined {
    return this.current;
  }

  /** What to send at wall time `now` (ms, non-decreasing between calls). */
  advance(now: number): DemoAction[] {
    const out: DemoAction[] = [];
    if (this.current === undefined || (this.pausedUntil !== undefined && now >= this.pausedUntil)) this.next(now);
    if (this.pausedUntil !== undefined) return out;
    const r = this.recordings[this.index];
    const t = r.events.t;
    const n = t.length;
    const target = r.tMin + (now - this.wallStart) * 1000 * this.o.speed;
    let j = this.cursor;
    while (j < n && t[j] <= target) j++;
    const done = j === n;
    const clock = Math.min(target, r.tMax) + this.shift;
    if (j > this.cursor) out.push({ kind: 'events', batch: this.slice(r, this.cursor, j, clock) });
    else if (this.o.clock && !done) out.push({ kind: 'events', batch: this.slice(r, j, j, clock) });
    this.cursor = j;
    if (done) {
      out.push({ kind: 'flush' });
      this.lastEnd = r.tMax + this.shift;
      this.pausedUntil = now + this.o.pauseMs;
    }
    return out;
  }

  private next(now: number): void {
    this.index = (this.index + 1) % this.recordings.length;
    const r = this.recordings[this.index];
    const start = this.lastEnd === undefined ? r.tMin : this.lastEnd + this.o.pauseMs * 1000 * this.o.speed;
    // Integer microseconds, as recorded timestamps are.
    this.shift = Math.round(start - r.tMin);
    this.cursor = 0;
    this.wallStart = now;
    this.pausedUntil = undefined;
    this.current = {
      index: this.index, file: r.file, ...(r.label !== undefined ? { label: r.label } : {}),
      tStart: r.tMin + this.shift, tEnd: r.tMax + this.shift,
    };
  }

  private slice(r: DemoRecording, from: number, to: number, clock: number): ClockedBatch {
    const e = r.events;
    const t = new Float64Array(to - from);
    for (let i = 0; i < t.length; i++) t[i] = e.t[from + i] + this.shift;
    const b = { t, x: e.x.subarray(from, to), y: e.y.subarray(from, to), p: e.p.subarray(from, to) };
    return this.o.clock ? { ...b, clockUs: clock } : b;
  }
}
