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
   * Dense counts as a (2, H, W) row-major array, channel 0 = OFF, 1 = ON (tonic/SpikingJelly
   * layout). Allocated per call unless `out` (length 2*H*W, zeroed by this call) is given; `out`
   * is returned as is and stays the caller's (the next call with it overwrites it).
   */
  toDense(out?: Float32Array): Float32Array;
}
