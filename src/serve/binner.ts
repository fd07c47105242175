/**
 * A model's binning (BinningSpec) as one incremental interface over the stream module's pure
 * cores, so a session feeds events as they arrive and ends a sample or segment when it is told to.
 * time_window and event_count bin as events arrive; n_time_bins and n_event_bins need the whole
 * sample, so they keep its batches (up to maxSampleEvents) and bin at the end. The results equal
 * the stream operators' on the same events however they were split into batches.
 */
import { concatBatches, type EventBatch } from '../events/batch.js';
import type { BinningSpec } from '../model/model.js';
import { endCountBins, initCountBins, pushCountBins, type CountBinState } from '../stream/bin-by-count.js';
import { endTimeBins, initTimeBins, pushTimeBins, type TimeBinState } from '../stream/bin-by-time.js';
import { binEventsToNEventBins } from '../stream/bin-to-n-event-bins.js';
import { binEventsToNTimeBins } from '../stream/bin-to-n-time-bins.js';
import { createBinningStats, type BinningStats } from '../stream/binning-stats.js';
import { StreamError } from '../stream/stream-error.js';
import type { Timestep } from '../stream/timestep.js';

export interface Binner {
  readonly stats: BinningStats;
  /** Timesteps completed by this batch (its clock included). */
  push(batch: EventBatch): Timestep[];
  /** End of the sample or segment: the remaining timesteps; the binner is spent afterwards. */
  end(): Timestep[];
  /**
   * Whether `pred` holds for one of the batches whose events wait in open windows (the stream
   * module's binning keeps views on the batches it was fed, not copies): reused storage
   * (event-pool.ts, event-ring.ts) is written again only when no such view is on it.
   */
  someHeld(pred: (b: EventBatch) => boolean): boolean;
}

function partsHold(parts: readonly EventBatch[], pred: (b: EventBatch) => boolean): boolean {
  for (const b of parts) if (pred(b)) return true;
  return false;
}

export interface BinnerOptions {
  readonly width: number;
  readonly height: number;
  readonly maxGapWindows: number;
  readonly maxSampleEvents: number;
}

export function createBinner(spec: BinningSpec, o: BinnerOptions): Binner {
  const stats = createBinningStats();
  const limits = { maxGapWindows: o.maxGapWindows, maxWindowEvents: o.maxSampleEvents, maxRecordingEvents: o.maxSampleEvents };
  switch (spec.mode) {
    case 'time_window': {
      const s: TimeBinState = initTimeBins({
        windowUs: spec.windowUs, strideUs: spec.strideUs, includeIncomplete: spec.includeIncomplete,
        width: o.width, height: o.height, limits, stats,
      });
      return {
        stats, push: (b) => pushTimeBins(s, b).timesteps, end: () => endTimeBins(s).timesteps,
        someHeld: (pred) => s.windows.some((w) => partsHold(w.parts, pred)),
      };
    }
    case 'event_count': {
      const s: CountBinState = initCountBins({ count: spec.count, overlap: spec.overlap, includeIncomplete: spec.includeIncomplete, width: o.width, height: o.height, stats });
      return {
        stats, push: (b) => pushCountBins(s, b).timesteps, end: () => endCountBins(s).timesteps,
        someHeld: (pred) => s.windows.some((parts) => partsHold(parts, pred)),
      };
    }
    case 'n_time_bins':
    case 'n_event_bins': {
      const parts: EventBatch[] = [];
      let n = 0;
      const stage = spec.mode === 'n_time_bins' ? 'binToNTimeBins' : 'binToNEventBins';
      return {
        stats,
        push(b) {
          const m = b.t.length;
          if (m === 0) return [];
          if (n + m > o.maxSampleEvents) {
            throw new StreamError('TOO_MANY_EVENTS', stage, `the sample exceeds ${o.maxSampleEvents} events (limit maxSampleEvents); flush more often`);
          }
          parts.push(b);
          n += m;
          return [];
        },
        end() {
          const events = concatBatches(parts);
          parts.length = 0;
          n = 0;
          if (events.t.length === 0) return [];
          const bo = { overlap: spec.overlap, spikingjelly: spec.spikingjelly, width: o.width, height: o.height, limits, stats };
          return spec.mode === 'n_time_bins' ? binEventsToNTimeBins(events, spec.bins, bo).timesteps : binEventsToNEventBins(events, spec.bins, bo).timesteps;
        },
        someHeld: (pred) => partsHold(parts, pred),
      };
    }
  }
}
