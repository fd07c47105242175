/** Options shared by the whole-recording binnings into a fixed number of bins (by time or by event count). */
import { resolveBinningLimits, type BinningLimits } from './binning-limits.js';
import type { BinningStats } from './binning-stats.js';
import { requirePositiveInt, requireSize, StreamError } from './stream-error.js';

export interface NBinsOptions {
  /** Fraction of a bin by which bins are enlarged, 0 <= overlap < 1 (tonic); not with spikingjelly. */
  readonly overlap?: number;
  readonly spikingjelly?: boolean;
  readonly width: number;
  readonly height: number;
  readonly limits?: Partial<BinningLimits>;
  readonly stats?: BinningStats;
}

export interface ResolvedNBins {
  readonly n: number;
  readonly overlap: number;
  readonly sj: boolean;
  readonly width: number;
  readonly height: number;
  readonly limits: BinningLimits;
}

/** Validates n and the options, naming `stage` in errors. */
export function resolveNBins(stage: string, n: number, o: NBinsOptions): ResolvedNBins {
  requirePositiveInt(stage, 'n', n);
  const overlap = o.overlap ?? 0;
  if (typeof overlap !== 'number' || !(overlap >= 0 && overlap < 1)) {
    throw new StreamError('BAD_OPTION', stage, `overlap must be a fraction in [0, 1), got ${String(overlap)}`);
  }
  const sj = o.spikingjelly ?? false;
  if (sj && overlap !== 0) throw new StreamError('BAD_OPTION', stage, 'spikingjelly binning has no overlap');
  return { n, overlap, sj, width: requireSize(stage, 'width', o.width), height: requireSize(stage, 'height', o.height), limits: resolveBinningLimits(o.limits) };
}
