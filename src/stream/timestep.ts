import type { EventBatch } from '../events/batch.js';

/**
 * One bin of events: the unit the SNN engines consume (one neuron update per timestep).
 * Events stay sparse; `toDense()` materialises the (2, H, W) count frame only when asked.
 */
export interface Timestep {
  /** 0-based position of this bin in its stream. */
  readonly index: number;
  /** Window start in microseconds (inclusive). */
  readonly tStart: number;
  /** Window end in microseconds (exclusive); for event-count bins, last event's t + 1. */
  readonly tEnd: number;
  /** Sensor size the events live in. */
  readonly width: number;
  readonly height: number;
  /** The bin's events, in arrival order. */
  readonly events: EventBatch;
  /**
   * Optional: the events as one or more views in arrival order, when the bin holds them as parts
   * (EventTimestep); reading `events` would join them into a fresh copy. See timestepParts.
   */
  readonly eventParts?: readonly EventBatch[];
  /** Optional: the number of events, known without joining parts. See timestepEventCount. */
  readonly eventCount?: number;
  /**
   * Dense counts as a (2, H, W) row-major array, channel 0 = OFF, 1 = ON (tonic/SpikingJelly
   * layout). Allocated per call unless `out` (length 2*H*W, zeroed by this call) is given; `out`
   * is returned as is and stays the caller's (the next call with it overwrites it).
   */
  toDense(out?: Float32Array): Float32Array;
}

/**
 * The events of a timestep as views, without the copy that reading `events` makes when a bin
 * spans several input batches (a 1 ms window fed by 0.25 ms slices holds four). Consumers that
 * only read events (the engines' input map, counters) use this; at a server's rate the copies were
 * a large part of its external memory churn, and so of its major GCs.
 */
export function timestepParts(ts: Timestep): readonly EventBatch[] {
  return ts.eventParts ?? [ts.events];
}

/** The number of events of a timestep, without joining its parts. */
export function timestepEventCount(ts: Timestep): number {
  return ts.eventCount ?? ts.events.t.length;
}
