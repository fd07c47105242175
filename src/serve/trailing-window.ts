/**
 * Stream mode's readout: the Output node's values of the recent timesteps in a ring, summarised
 * over a trailing window of event time with the model's readout (sum, last or max over time, as
 * the engine's RunCounters does over a whole recording).
 *
 * The ring holds the newest `capacity` timesteps. Windows always end at or just before the newest
 * step, so for time bins a capacity of the window divided by the bin stride, plus one, keeps every
 * step a window can cover; when event-count bins make more steps than `capacity` within one
 * window, the oldest leave early and the prediction covers fewer steps (its `timesteps` says how
 * many).
 */
import type { Readout } from '../snn/graph.js';

export interface WindowSummary {
  readonly scores: number[];
  readonly counts: number[];
  readonly events: number;
  readonly timesteps: number;
  /** Earliest tStart among the summarised steps (undefined when none). */
  readonly tStart: number | undefined;
}

export class TrailingWindow {
  private readonly values: Float32Array;
  private readonly tStart: Float64Array;
  private readonly tEnd: Float64Array;
  private readonly events: Float64Array;
  private head = 0;
  private size = 0;

  constructor(readonly outputs: number, readonly capacity: number, readonly readout: Readout) {
    this.values = new Float32Array(outputs * capacity);
    this.tStart = new Float64Array(capacity);
    this.tEnd = new Float64Array(capacity);
    this.events = new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  push(tStart: number, tEnd: number, output: Float32Array, events: number): void {
    const slot = (this.head + this.size) % this.capacity;
    if (this.size === this.capacity) this.head = (this.head + 1) % this.capacity;
    else this.size++;
    this.values.set(output.subarray(0, this.outputs), slot * this.outputs);
    this.tStart[slot] = tStart;
    this.tEnd[slot] = tEnd;
    this.events[slot] = events;
  }

  /** The steps with end - windowUs < tEnd <= end. */
  summarize(end: number, windowUs: number): WindowSummary {
    const n = this.outputs;
    const sum = new Float64Array(n);
    const max = new Float64Array(n).fill(-Infinity);
    const last = new Float64Array(n);
    let events = 0;
    let steps = 0;
    let tStart: number | undefined;
    const lo = end - windowUs;
    for (let k = 0; k < this.size; k++) {
      const slot = (this.head + k) % this.capacity;
      const te = this.tEnd[slot];
      if (te <= lo || te > end) continue;
      const base = slot * n;
      for (let i = 0; i < n; i++) {
        const v = this.values[base + i];
        sum[i] += v;
        if (v > max[i]) max[i] = v;
        last[i] = v;
      }
      events += this.events[slot];
      steps++;
      if (tStart === undefined || this.tStart[slot] < tStart) tStart = this.tStart[slot];
    }
    const counts = Array.from(sum);
    const scores = steps === 0 ? counts.map(() => 0) : Array.from(this.readout === 'sum' ? sum : this.readout === 'last' ? last : max);
    return { scores, counts, events, timesteps: steps, tStart };
  }
}
