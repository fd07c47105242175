/**
 * How a source tells downstream stages that time has passed without events.
 *
 * A batch may carry `clockUs`: the source vouches that it has delivered every event it will
 * deliver on time with t < clockUs. An empty batch with a clock is a heartbeat. Live time binning
 * closes every window that ends at or before the clock, so quiet periods still produce (empty)
 * timesteps. Events that arrive later with t < clockUs are late, and each stage states what it
 * does with late events.
 *
 * The clock rides on the batch, not on a separate observable, so it stays ordered with the events
 * through any chain of filters: every stage in src/stream passes `clockUs` on to its output batch.
 * Plain EventBatches (no clock) are valid everywhere.
 */
import { emptyBatch, type EventBatch } from '../events/batch.js';

export interface ClockedBatch extends EventBatch {
  /** Source clock in microseconds (same time base as `t`), when the source signals one. */
  readonly clockUs?: number;
}

/** An empty batch that only advances the clock. */
export function heartbeat(clockUs: number): ClockedBatch {
  return { ...emptyBatch(), clockUs };
}

export function clockOf(b: EventBatch): number | undefined {
  return (b as ClockedBatch).clockUs;
}

/** `out` with the clock of `from` (if any); returns `out` itself when there is none. */
export function withClock(out: EventBatch, from: EventBatch): ClockedBatch {
  const c = (from as ClockedBatch).clockUs;
  if (c === undefined) return out;
  return { t: out.t, x: out.x, y: out.y, p: out.p, clockUs: c };
}
