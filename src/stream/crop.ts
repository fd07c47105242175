/**
 * Crop to a box: keeps events with x0 <= x < x0 + width and y0 <= y < y0 + height and moves them
 * to the box's frame (x - x0, y - y0), like tonic's crop with a given corner. Stateless, so late
 * events are treated like any other.
 */
import type { OperatorFunction } from 'rxjs';
import { allocBatch, trimBatch, type EventBatch } from '../events/batch.js';
import { mapBatches } from './batch-operator.js';
import type { ClockedBatch } from './clocked-batch.js';
import { requireNonNegativeInt, requireSize } from './stream-error.js';

export interface CropOptions {
  /** Box corner (inclusive) and size, in pixels. The output sensor is width x height. */
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The general core: keep [xMin, xMax) x [yMin, yMax), then subtract (dx, dy) (which may be negative: padding). */
export function cropBox(b: EventBatch, xMin: number, yMin: number, xMax: number, yMax: number, dx: number, dy: number): EventBatch {
  const { t, x, y, p } = b;
  const n = t.length;
  const out = allocBatch(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (xi >= xMin && xi < xMax && yi >= yMin && yi < yMax) {
      out.t[m] = t[i];
      out.x[m] = xi - dx;
      out.y[m] = yi - dy;
      out.p[m] = p[i];
      m++;
    }
  }
  return trimBatch(out, m);
}

function resolve(o: CropOptions): CropOptions {
  const stage = 'crop';
  return {
    x: requireNonNegativeInt(stage, 'x', o.x), y: requireNonNegativeInt(stage, 'y', o.y),
    width: requireSize(stage, 'width', o.width), height: requireSize(stage, 'height', o.height),
  };
}

export function cropEvents(b: EventBatch, options: CropOptions): EventBatch {
  const o = resolve(options);
  return cropBox(b, o.x, o.y, o.x + o.width, o.y + o.height, o.x, o.y);
}

export function crop(options: CropOptions): OperatorFunction<EventBatch, ClockedBatch> {
  const o = resolve(options);
  return mapBatches((b) => cropBox(b, o.x, o.y, o.x + o.width, o.y + o.height, o.x, o.y));
}
