/**
 * Batches whose timestamps a decoder has checked never decrease, so that a consumer may find
 * time boundaries by binary search instead of reading every timestamp (binByTime: ~12% of
 * file-to-frames time at 10 ms windows, against ~1% for the decoder to check the order).
 *
 * A registry rather than a field on the batch: the mark belongs to one batch object exactly as its
 * producer returned it. Any derived batch (a spread `{ ...b, t: shifted }`, a slice, a filter's
 * output) is a new object and simply unmarked, so the hint can never outlive the property it states.
 * Only producers that looked at every timestamp mark; marked batches, like all decoder output,
 * must not be written to.
 */
import type { EventBatch } from './batch.js';

const ordered = new WeakSet<EventBatch>();

/** Records that `b.t` never decreases. For producers that checked every event; returns `b`. */
export function markOrdered(b: EventBatch): EventBatch {
  ordered.add(b);
  return b;
}

/** Whether `b`'s producer vouched that `b.t` never decreases (false when unknown). */
export function isOrdered(b: EventBatch): boolean {
  return ordered.has(b);
}
