/** Up-down flip as tonic's FlipUD (p = 1): y' = height - 1 - y. Stateless. */
import type { OperatorFunction } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { mapBatches } from './batch-operator.js';
import type { ClockedBatch } from './clocked-batch.js';
import { requireSize, StreamError } from './stream-error.js';

export function flipUDEvents(b: EventBatch, options: { readonly height: number }): EventBatch {
  const h = requireSize('flipUD', 'height', options.height);
  const { y } = b;
  const oy = new Uint16Array(y.length);
  for (let i = 0; i < y.length; i++) {
    if (y[i] >= h) throw new StreamError('OUT_OF_RANGE', 'flipUD', `event y=${y[i]} t=${b.t[i]} is outside height ${h}`);
    oy[i] = h - 1 - y[i];
  }
  return { t: b.t, x: b.x, y: oy, p: b.p };
}

export function flipUD(options: { readonly height: number }): OperatorFunction<EventBatch, ClockedBatch> {
  requireSize('flipUD', 'height', options.height);
  return mapBatches((b) => flipUDEvents(b, options));
}
