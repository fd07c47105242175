/**
 * Shared plumbing of the stages that need the whole recording before they can emit anything
 * (n_time_bins needs the last timestamp, n_event_bins the event count): batches are kept by
 * reference up to `maxRecordingEvents`, then handed to a pure function on completion. Clocks are
 * ignored: these stages are for recordings, not live streams.
 */
import type { OperatorFunction } from 'rxjs';
import { concatBatches, type EventBatch } from '../events/batch.js';
import { batchOperator } from './batch-operator.js';
import { StreamError } from './stream-error.js';
import type { Timestep } from './timestep.js';

export function wholeRecordingOperator(stage: string, maxRecordingEvents: number, compute: (events: EventBatch) => Timestep[]): OperatorFunction<EventBatch, Timestep> {
  return batchOperator<{ parts: EventBatch[]; n: number }, EventBatch, Timestep>(
    () => ({ parts: [], n: 0 }),
    (s, b) => {
      const m = b.t.length;
      if (m > 0) {
        if (s.n + m > maxRecordingEvents) {
          throw new StreamError('TOO_MANY_EVENTS', stage, `the recording exceeds ${maxRecordingEvents} events (limit maxRecordingEvents); bin it by time or count instead`);
        }
        s.parts.push(b);
        s.n += m;
      }
      return { state: s, outputs: [] };
    },
    (s) => {
      const events = concatBatches(s.parts);
      s.parts = [];
      return compute(events);
    },
  );
}

/** First index i with t[i] >= v in a non-decreasing array (numpy searchsorted, side='left'). */
export function lowerBound(t: Float64Array, v: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function isNonDecreasing(t: Float64Array): boolean {
  for (let i = 1; i < t.length; i++) if (t[i] < t[i - 1]) return false;
  return true;
}
