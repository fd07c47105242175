/** Left-right flip as tonic's FlipLR (p = 1): x' = width - 1 - x. Stateless. */
import type { OperatorFunction } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { mapBatches } from './batch-operator.js';
import type { ClockedBatch } from './clocked-batch.js';
import { requireSize, StreamError } from './stream-error.js';

export function flipLREvents(b: EventBatch, options: { readonly width: number }): EventBatch {
  const w = requireSize('flipLR', 'width', options.width);
  const { x } = b;
  const ox = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] >= w) throw new StreamError('OUT_OF_RANGE', 'flipLR', `event x=${x[i]} t=${b.t[i]} is outside width ${w}`);
    ox[i] = w - 1 - x[i];
  }
  return { t: b.t, x: ox, y: b.y, p: b.p };
}

export function flipLR(options: { readonly width: number }): OperatorFunction<EventBatch, ClockedBatch> {
  requireSize('flipLR', 'width', options.width);
  return mapBatches((b) => flipLREvents(b, options));
}
