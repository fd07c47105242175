/** The Timestep implementation every binning stage emits. */
import { concatBatches, type EventBatch } from '../events/batch.js';
import { StreamError } from './stream-error.js';
import type { Timestep } from './timestep.js';

/**
 * Adds the events' counts to `out`, a (2, H, W) row-major frame (channel 0 = OFF, 1 = ON; any
 * non-zero polarity counts as ON, as SpikingJelly's `p == 0` mask does). Hand-written because it
 * is the dense half of every pipeline (one pass, no per-event objects). Coordinates outside the
 * frame are an OUT_OF_RANGE error rather than a silent skip or a write into the next row.
 */
export function accumulateCounts(events: EventBatch, width: number, height: number, out: Float32Array | Int32Array | Float64Array): void {
  const { x, y, p } = events;
  const hw = width * height;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (xi >= width || yi >= height) {
      throw new StreamError('OUT_OF_RANGE', 'toDense', `event ${i} at (${xi}, ${yi}) is outside the ${width}x${height} frame`);
    }
    out[(p[i] !== 0 ? hw : 0) + yi * width + xi]++;
  }
}

/**
 * A timestep whose events may be held as several parts (views on consecutive input batches, when
 * a window spans decoder chunks): `toDense` counts the parts where they lie, and `events` joins them
 * only when first read (then keeps the joined batch). Dense-only consumers never pay for a copy.
 */
export class EventTimestep implements Timestep {
  private parts: readonly EventBatch[] | null;
  private joined: EventBatch | null;
  /** Number of events, without joining parts. */
  readonly eventCount: number;

  constructor(
    readonly index: number,
    readonly tStart: number,
    readonly tEnd: number,
    readonly width: number,
    readonly height: number,
    events: EventBatch | readonly EventBatch[],
  ) {
    if (Array.isArray(events)) {
      const parts = events as readonly EventBatch[];
      this.parts = parts.length === 1 ? null : parts;
      this.joined = parts.length === 1 ? parts[0] : null;
      let n = 0;
      for (const b of parts) n += b.t.length;
      this.eventCount = n;
    } else {
      this.parts = null;
      this.joined = events as EventBatch;
      this.eventCount = this.joined.t.length;
    }
  }

  get events(): EventBatch {
    if (this.joined === null) {
      this.joined = concatBatches(this.parts as EventBatch[]);
      this.parts = null;
    }
    return this.joined;
  }

  toDense(out?: Float32Array): Float32Array {
    const size = 2 * this.width * this.height;
    let frame: Float32Array;
    if (out) {
      if (out.length !== size) {
        throw new StreamError('BAD_OPTION', 'toDense', `out has length ${out.length}, expected 2*${this.height}*${this.width} = ${size}`);
      }
      out.fill(0);
      frame = out;
    } else {
      frame = new Float32Array(size);
    }
    if (this.joined !== null) accumulateCounts(this.joined, this.width, this.height, frame);
    else for (const b of this.parts as EventBatch[]) accumulateCounts(b, this.width, this.height, frame);
    return frame;
  }
}
