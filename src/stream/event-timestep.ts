/**
 * The Timestep implementation every binning stage emits.
 *
 * Ownership: a timestep's events are views (subarrays) on the batches the binning stage was fed,
 * never copies (until `events` joins several parts into one new batch). They read the source's
 * memory for as long as the timestep is referenced, so the source must leave that memory unchanged
 * until then (batch-operator.ts states the rule for sources); nothing here writes to it. A frame
 * passed as `out` to `toDense`/`toDenseInt16` stays the caller's: each call zeroes and overwrites
 * it whole and returns it as is (no copy), so a caller that keeps a frame across calls copies it.
 */
import { concatBatches, type EventBatch } from '../events/batch.js';
import { StreamError } from './stream-error.js';
import type { Timestep } from './timestep.js';

/**
 * Adds the events' counts to `out`, a (2, H, W) row-major frame (channel 0 = OFF, 1 = ON; any
 * non-zero polarity counts as ON, as SpikingJelly's `p == 0` mask does). Hand-written because it
 * is the dense half of every pipeline (one pass, no per-event objects). Coordinates outside the
 * frame are an OUT_OF_RANGE error rather than a silent skip or a write into the next row; the
 * events before the bad one have been counted when it is thrown.
 *
 * Two measured choices (bench/pipeline.ts, VGA frames): the channel is `(-p >>> 31) * hw` (1 for
 * any p in 1..255, 0 for p = 0) because ON and OFF events interleave unpredictably and the
 * mispredicted `p !== 0 ? hw : 0` cost about a third of the loop; and events go four at a time,
 * all coordinates loaded and checked before the four increments, which made the loop ~40% faster
 * under Node 20 than one event per iteration. A group with a bad coordinate falls through to the
 * one-at-a-time tail, which counts up to the bad event and throws with its index.
 */
export function accumulateCounts(events: EventBatch, width: number, height: number, out: Float32Array | Int32Array | Float64Array): void {
  const { x, y, p } = events;
  const hw = width * height;
  const n = x.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const x0 = x[i], y0 = y[i], x1 = x[i + 1], y1 = y[i + 1], x2 = x[i + 2], y2 = y[i + 2], x3 = x[i + 3], y3 = y[i + 3];
    if (x0 >= width || y0 >= height || x1 >= width || y1 >= height || x2 >= width || y2 >= height || x3 >= width || y3 >= height) break;
    const k0 = ((-p[i]) >>> 31) * hw + y0 * width + x0;
    const k1 = ((-p[i + 1]) >>> 31) * hw + y1 * width + x1;
    const k2 = ((-p[i + 2]) >>> 31) * hw + y2 * width + x2;
    const k3 = ((-p[i + 3]) >>> 31) * hw + y3 * width + x3;
    out[k0]++;
    out[k1]++;
    out[k2]++;
    out[k3]++;
  }
  for (; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (xi >= width || yi >= height) throw outOfRange(i, xi, yi, width, height);
    out[((-p[i]) >>> 31) * hw + yi * width + xi]++;
  }
}

/** Largest count an Int16 frame holds. */
export const INT16_COUNT_MAX = 32767;

/**
 * accumulateCounts into an Int16 frame: half the bytes of Float32, so a VGA frame (1.2 MB) and a
 * decoded chunk fit in a core's L2 together. Counts saturate at INT16_COUNT_MAX instead of
 * wrapping to negative values; returns the number of events that were not counted because their
 * cell was already full. Same structure as accumulateCounts (see there why), kept as a separate
 * loop so each stays monomorphic in its array type. Each increment reads its cell after the
 * previous one wrote, so two events on one cell in a group count twice.
 */
export function accumulateCountsInt16(events: EventBatch, width: number, height: number, out: Int16Array): number {
  const { x, y, p } = events;
  const hw = width * height;
  const n = x.length;
  const max = INT16_COUNT_MAX;
  let saturated = 0;
  let i = 0;
  // Near-copy of accumulateCounts' loop on purpose: one loop over both frame types goes polymorphic in V8.
  for (; i + 3 < n; i += 4) {
    const x0 = x[i], y0 = y[i], x1 = x[i + 1], y1 = y[i + 1], x2 = x[i + 2], y2 = y[i + 2], x3 = x[i + 3], y3 = y[i + 3];
    if (x0 >= width || y0 >= height || x1 >= width || y1 >= height || x2 >= width || y2 >= height || x3 >= width || y3 >= height) break;
    const k0 = ((-p[i]) >>> 31) * hw + y0 * width + x0;
    const k1 = ((-p[i + 1]) >>> 31) * hw + y1 * width + x1;
    const k2 = ((-p[i + 2]) >>> 31) * hw + y2 * width + x2;
    const k3 = ((-p[i + 3]) >>> 31) * hw + y3 * width + x3;
    let v = out[k0];
    if (v === max) saturated++;
    else out[k0] = v + 1;
    v = out[k1];
    if (v === max) saturated++;
    else out[k1] = v + 1;
    v = out[k2];
    if (v === max) saturated++;
    else out[k2] = v + 1;
    v = out[k3];
    if (v === max) saturated++;
    else out[k3] = v + 1;
  }
  for (; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (xi >= width || yi >= height) throw outOfRange(i, xi, yi, width, height);
    const k = ((-p[i]) >>> 31) * hw + yi * width + xi;
    const v = out[k];
    if (v === max) saturated++;
    else out[k] = v + 1;
  }
  return saturated;
}

function outOfRange(i: number, x: number, y: number, width: number, height: number): StreamError {
  return new StreamError('OUT_OF_RANGE', 'toDense', `event ${i} at (${x}, ${y}) is outside the ${width}x${height} frame`);
}

/** Counters a dense conversion updates in place. */
export interface DenseCounters {
  /** Events not counted because their Int16 cell was already at INT16_COUNT_MAX. */
  saturated: number;
}

/**
 * A timestep whose events may be held as several parts (views on consecutive input batches, when
 * a window spans decoder chunks): `toDense` counts the parts where they lie, and `events` joins them
 * only when first read (then keeps the joined batch). Dense-only consumers never pay for a copy.
 */
export class EventTimestep implements Timestep {
  private parts: readonly EventBatch[];
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
      this.parts = parts;
      this.joined = parts.length === 1 ? parts[0] : null;
      let n = 0;
      for (const b of parts) n += b.t.length;
      this.eventCount = n;
    } else {
      this.joined = events as EventBatch;
      this.parts = [this.joined];
      this.eventCount = this.joined.t.length;
    }
  }

  get events(): EventBatch {
    if (this.joined === null) {
      this.joined = concatBatches(this.parts);
      this.parts = [this.joined];
    }
    return this.joined;
  }

  /**
   * The events as held, without joining: one or more views in arrival order (see the module
   * comment for how long they stay valid). Do not write to them: other timesteps may share them.
   */
  get eventParts(): readonly EventBatch[] {
    return this.parts;
  }

  toDense(out?: Float32Array): Float32Array {
    const frame = out ? checkOut(out, this.width, this.height) : new Float32Array(2 * this.width * this.height);
    for (const b of this.parts) accumulateCounts(b, this.width, this.height, frame);
    return frame;
  }

  /**
   * toDense as Int16 counts (the dtype of the .npy frames `spikestream frames` writes), saturating
   * at INT16_COUNT_MAX; events lost to saturation are added to `counters.saturated`.
   */
  toDenseInt16(out?: Int16Array, counters?: DenseCounters): Int16Array {
    const frame = out ? checkOut(out, this.width, this.height) : new Int16Array(2 * this.width * this.height);
    let saturated = 0;
    for (const b of this.parts) saturated += accumulateCountsInt16(b, this.width, this.height, frame);
    if (counters) counters.saturated += saturated;
    return frame;
  }
}

/** Checks a caller's frame and zeroes it. */
function checkOut<A extends Float32Array | Int16Array>(out: A, width: number, height: number): A {
  const size = 2 * width * height;
  if (out.length !== size) {
    throw new StreamError('BAD_OPTION', 'toDense', `out has length ${out.length}, expected 2*${height}*${width} = ${size}`);
  }
  out.fill(0);
  return out;
}
