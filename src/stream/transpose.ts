/**
 * Transpose: swaps x and y, so a W x H sensor becomes H x W (frames come out transposed). The
 * columns are swapped, not copied. Stateless.
 */
import type { OperatorFunction } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { mapBatches } from './batch-operator.js';
import type { ClockedBatch } from './clocked-batch.js';

export function transposeEvents(b: EventBatch): EventBatch {
  return { t: b.t, x: b.y, y: b.x, p: b.p };
}

export function transpose(): OperatorFunction<EventBatch, ClockedBatch> {
  return mapBatches(transposeEvents);
}
