/**
 * Limits of the dashboard feed, with their defaults in one place. Together they bound what one
 * viewer costs, whatever the watched session's event rate: a sampler of maxFrameEvents events
 * (5 bytes each), maxFrameSteps raster columns of at most maxRasterOutputs values, a few final
 * predictions, and at most maxViewerBufferedBytes waiting in its socket; times maxViewers.
 */
import { ServeConfigError } from '../serve-config-error.js';

export interface DashboardLimits {
  /** Pages watching at the same time; the next one gets 503. */
  readonly maxViewers: number;
  /** Shortest time between two frames to one viewer (ms): 20 frames a second by default. */
  readonly frameIntervalMs: number;
  /** Longest time between two frames when nothing happens (ms), so counters stay fresh. */
  readonly idleFrameIntervalMs: number;
  /** Events per frame for the event view (an even spread of the frame's events beyond). Must be even. */
  readonly maxFrameEvents: number;
  /** Raster columns per frame (consecutive timesteps are summed beyond). Must be even. */
  readonly maxFrameSteps: number;
  /** Output neurons shown in the raster (the first ones). */
  readonly maxRasterOutputs: number;
  /** Final predictions listed per frame. */
  readonly maxFrameFinals: number;
  /** Bytes waiting in a viewer's socket above which frames are skipped (counted) until it drains. */
  readonly maxViewerBufferedBytes: number;
  /** A viewer whose socket stays above maxViewerBufferedBytes this long (ms) is disconnected. */
  readonly stalledTimeoutMs: number;
  /** Period of the session list (ms). */
  readonly sessionsIntervalMs: number;
}

export const DEFAULT_DASHBOARD_LIMITS: DashboardLimits = Object.freeze({
  maxViewers: 16,
  frameIntervalMs: 50,
  idleFrameIntervalMs: 500,
  maxFrameEvents: 2048,
  maxFrameSteps: 64,
  maxRasterOutputs: 64,
  maxFrameFinals: 4,
  maxViewerBufferedBytes: 512 * 1024,
  stalledTimeoutMs: 30_000,
  sessionsIntervalMs: 1000,
});

/** Defaults overridden by `l`; every value a positive integer, the two capacities even. */
export function resolveDashboardLimits(l: Partial<DashboardLimits> = {}): DashboardLimits {
  const out = { ...DEFAULT_DASHBOARD_LIMITS, ...l };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ServeConfigError(`dashboard limit ${k} must be a positive integer, got ${String(v)}`);
  }
  for (const k of ['maxFrameEvents', 'maxFrameSteps'] as const) {
    if (out[k] % 2 !== 0) throw new ServeConfigError(`dashboard limit ${k} must be even, got ${out[k]}`);
  }
  return Object.freeze(out);
}
