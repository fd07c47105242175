/**
 * Counters a binning stage updates while it runs, so nothing it does to events is silent.
 * Create one, pass it in the stage's options, read it whenever you like (it is updated in place).
 */
export interface BinningStats {
  /** Events seen. */
  eventsIn: number;
  /** Events that arrived with a timestamp before the oldest open window and were put into it. */
  late: number;
  /** Events that ended up in no emitted timestep (tonic's tail drop, stride gaps, unclosed windows). */
  dropped: number;
  /** Timesteps emitted, and how many of them were empty. */
  timesteps: number;
  emptyTimesteps: number;
}

export function createBinningStats(): BinningStats {
  return { eventsIn: 0, late: 0, dropped: 0, timesteps: 0, emptyTimesteps: 0 };
}
