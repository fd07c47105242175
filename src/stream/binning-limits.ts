/**
 * Limits of the binning stages, in one place. Each is checked where the count grows and fails
 * with a StreamError naming the limit, rather than exhausting memory or hanging.
 */
export interface BinningLimits {
  /** Most windows one forward time jump (or clock tick) may close at once, empty ones included. */
  readonly maxGapWindows: number;
  /** Most windows open at the same time (windowUs / strideUs, rounded up). */
  readonly maxOpenWindows: number;
  /** Most events one window may hold. */
  readonly maxWindowEvents: number;
  /** Most events a whole-recording stage (n_time_bins, n_event_bins) buffers. */
  readonly maxRecordingEvents: number;
}

export const DEFAULT_BINNING_LIMITS: BinningLimits = Object.freeze({
  maxGapWindows: 1_000_000,
  maxOpenWindows: 4096,
  maxWindowEvents: 50_000_000,
  maxRecordingEvents: 50_000_000,
});

export function resolveBinningLimits(l?: Partial<BinningLimits>): BinningLimits {
  return { ...DEFAULT_BINNING_LIMITS, ...(l ?? {}) };
}
