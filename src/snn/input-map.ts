/**
 * Maps a timestep's events onto the Input node's [C, H, W]: each event adds 1 to the count of its
 * pixel. C = 2: channel = polarity (0 = OFF, 1 = ON, the layout of tonic/SpikingJelly frames and of
 * Timestep.toDense); C = 1: both polarities in the one channel.
 *
 * Events outside [0, W) x [0, H) (a sensor larger than the model's input) follow `OutOfRangePolicy`:
 * 'ignore' (default) drops them and counts them in the engine's stats, 'error' throws an
 * InputRangeError naming the first such event and changes no state.
 */
import type { EventBatch } from '../events/batch.js';
import { timestepParts, type Timestep } from '../stream/timestep.js';
import { formatShape } from './tensor.js';

export type OutOfRangePolicy = 'ignore' | 'error';

export class InputRangeError extends Error {
  override readonly name = 'InputRangeError';
  readonly code = 'OUT_OF_RANGE';

  constructor(readonly eventIndex: number, readonly x: number, readonly y: number, readonly width: number, readonly height: number) {
    super(`event ${eventIndex} at (x=${x}, y=${y}) is outside the model input of ${width}x${height}`);
  }
}

export interface EventInputShape {
  readonly channels: 1 | 2;
  readonly height: number;
  readonly width: number;
}

/** The event layout of an Input node shape, or an Error saying why events cannot feed it. */
export function eventInputShape(shape: readonly number[]): EventInputShape | Error {
  if (shape.length !== 3 || (shape[0] !== 1 && shape[0] !== 2)) {
    return new Error(`the Input node's shape ${formatShape(shape)} is not an event input [C, H, W] with C = 1 or 2; feed it with stepValues()`);
  }
  return { channels: shape[0] as 1 | 2, height: shape[1], width: shape[2] };
}

/** Per-call tallies, written into a caller-owned record so the hot path allocates nothing. */
export interface AccumulateResult {
  /** Events that landed on a pixel. */
  inRange: number;
  outOfRange: number;
}

/**
 * Adds the events of `ts` into `counts` (length C*H*W, float32 counts). When `bits` is given, the
 * bit of every pixel that received an event is set in it (bit k & 31 of bits[k >> 5]), and when
 * `summary` is given too, the bit of that word in it (bit (k >> 5) & 31 of summary[k >> 10]).
 */
export function accumulateEvents(
  ts: Timestep,
  shape: EventInputShape,
  policy: OutOfRangePolicy,
  counts: Float32Array,
  bits: Int32Array | null,
  out: AccumulateResult,
  summary: Int32Array | null = null,
): void {
  const parts = timestepParts(ts);
  const { width, height, channels } = shape;
  if (policy === 'error') {
    let base = 0;
    for (const { x, y } of parts) {
      for (let i = 0; i < x.length; i++) {
        if (x[i] >= width || y[i] >= height) throw new InputRangeError(base + i, x[i], y[i], width, height);
      }
      base += x.length;
    }
  }
  let n = 0;
  let bad = 0;
  for (const b of parts) {
    n += b.x.length;
    bad += accumulatePart(b, width, height, channels, counts, bits, summary);
  }
  out.inRange = n - bad;
  out.outOfRange = bad;
}

/** accumulateEvents' loop over one batch; returns the number of events outside the frame. */
function accumulatePart(b: EventBatch, width: number, height: number, channels: number, counts: Float32Array, bits: Int32Array | null, summary: Int32Array | null): number {
  const { x, y, p } = b;
  const n = x.length;
  const plane = width * height;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (xi >= width || yi >= height) {
      bad++;
      continue;
    }
    const k = (channels === 2 && p[i] !== 0 ? plane : 0) + yi * width + xi;
    counts[k] += 1;
    if (bits !== null) bits[k >>> 5] |= 1 << (k & 31);
    if (summary !== null) summary[k >>> 10] |= 1 << ((k >>> 5) & 31);
  }
  return bad;
}
