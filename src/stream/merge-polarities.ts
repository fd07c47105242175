/**
 * Polarity merge as tonic's MergePolarities: every event gets p = 0, so dense frames count all
 * events in channel 0 (OFF) and channel 1 stays empty. Stateless.
 */
import type { OperatorFunction } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { mapBatches } from './batch-operator.js';
import type { ClockedBatch } from './clocked-batch.js';

export function mergePolaritiesEvents(b: EventBatch): EventBatch {
  return { t: b.t, x: b.x, y: b.y, p: new Uint8Array(b.p.length) };
}

export function mergePolarities(): OperatorFunction<EventBatch, ClockedBatch> {
  return mapBatches(mergePolaritiesEvents);
}
