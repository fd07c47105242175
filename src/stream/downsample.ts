/**
 * Spatial downsampling to a target size with tonic's `Downsample` semantics (sensor_size +
 * target_size): factor = target / sensor per axis, x' = floor(x * factorX), y' = floor(y * factorY)
 * (tonic multiplies and stores into an integer field, which truncates). No event is dropped or
 * merged: several input pixels map onto one output pixel and their counts add up in frames.
 * This is not tonic's EventDownsampling (an integrate-and-fire neuron per output pixel).
 * Stateless; late events are treated like any other. Time is not scaled.
 */
import type { OperatorFunction } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { mapBatches } from './batch-operator.js';
import type { ClockedBatch } from './clocked-batch.js';
import { requireSize, StreamError } from './stream-error.js';

export interface DownsampleOptions {
  readonly sensorWidth: number;
  readonly sensorHeight: number;
  /** Target size (output sensor). */
  readonly width: number;
  readonly height: number;
}

const STAGE = 'downsample';

function factors(o: DownsampleOptions): { fx: number; fy: number; sw: number; sh: number } {
  const sw = requireSize(STAGE, 'sensorWidth', o.sensorWidth);
  const sh = requireSize(STAGE, 'sensorHeight', o.sensorHeight);
  const w = requireSize(STAGE, 'width', o.width);
  const h = requireSize(STAGE, 'height', o.height);
  return { fx: w / sw, fy: h / sh, sw, sh };
}

function apply(b: EventBatch, fx: number, fy: number, sw: number, sh: number): EventBatch {
  const { x, y } = b;
  const n = x.length;
  const ox = new Uint16Array(n);
  const oy = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (xi >= sw || yi >= sh) {
      throw new StreamError('OUT_OF_RANGE', STAGE, `event at (${xi}, ${yi}) t=${b.t[i]} is outside the ${sw}x${sh} sensor`);
    }
    ox[i] = Math.floor(xi * fx);
    oy[i] = Math.floor(yi * fy);
  }
  return { t: b.t, x: ox, y: oy, p: b.p };
}

export function downsampleEvents(b: EventBatch, options: DownsampleOptions): EventBatch {
  const f = factors(options);
  return apply(b, f.fx, f.fy, f.sw, f.sh);
}

export function downsample(options: DownsampleOptions): OperatorFunction<EventBatch, ClockedBatch> {
  const f = factors(options);
  return mapBatches((b) => apply(b, f.fx, f.fy, f.sw, f.sh));
}
