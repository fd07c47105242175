/**
 * Center crop with tonic's `CenterCrop` semantics: offset = floor((sensor - size) / 2) per axis;
 * events inside [max(offset, 0), max(offset, 0) + size) are kept and moved by -offset. When the
 * crop is larger than the sensor the offset is negative and events are moved inwards (padding),
 * none dropped. Output sensor: width x height.
 */
import type { OperatorFunction } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { mapBatches } from './batch-operator.js';
import type { ClockedBatch } from './clocked-batch.js';
import { cropBox } from './crop.js';
import { requireSize } from './stream-error.js';

export interface CenterCropOptions {
  readonly sensorWidth: number;
  readonly sensorHeight: number;
  /** Output size. */
  readonly width: number;
  readonly height: number;
}

function box(o: CenterCropOptions): [number, number, number, number, number, number] {
  const s = 'centerCrop';
  const sw = requireSize(s, 'sensorWidth', o.sensorWidth);
  const sh = requireSize(s, 'sensorHeight', o.sensorHeight);
  const w = requireSize(s, 'width', o.width);
  const h = requireSize(s, 'height', o.height);
  const ox = Math.floor((sw - w) / 2);
  const oy = Math.floor((sh - h) / 2);
  const x0 = Math.max(ox, 0);
  const y0 = Math.max(oy, 0);
  return [x0, y0, x0 + w, y0 + h, ox, oy];
}

export function centerCropEvents(b: EventBatch, options: CenterCropOptions): EventBatch {
  return cropBox(b, ...box(options));
}

export function centerCrop(options: CenterCropOptions): OperatorFunction<EventBatch, ClockedBatch> {
  const bx = box(options);
  return mapBatches((b) => cropBox(b, ...bx));
}
