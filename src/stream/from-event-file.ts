/**
 * Replays a recording file as an Observable of event batches: `openEventFile` (format detection,
 * streaming decode, bounded memory) feeding `fromBatches` (speed 'max' or the recorded pace on a
 * scheduler; see from-batches.ts for pacing, slicing, heartbeats and timestamps that step back).
 *
 * The file is opened on subscription and closed on completion, error or unsubscription, also when
 * the subscription ends before the file finished opening. Decode errors arrive as the DecodeError
 * (code, format, byte offset), after the events decoded before the fault.
 */
import { Observable, type Subscription } from 'rxjs';
import { openEventFile, type EventFileStream, type OpenEventFileOptions } from '../events/open-event-file.js';
import type { ClockedBatch } from './clocked-batch.js';
import { fromBatches, resolveReplayOptions, type ReplayOptions } from './from-batches.js';

/**
 * Default bytes per read for replay (openEventFile alone reads 1 MiB). A chunk's decoded columns
 * (13 bytes per event: ~3.3 bytes per EVT 2.0 input byte) should still be in the core's L2 cache
 * when binning and toDense read them back: at 1 MiB they are ~3.4 MB and spill, which measured
 * ~3-10% slower on the file-to-frames pipeline (bench/pipeline.ts) than 128-256 KiB, while
 * smaller reads start to cost more in read calls than they save.
 */
export const REPLAY_CHUNK_BYTES = 256 * 1024;

export interface FromEventFileOptions extends OpenEventFileOptions, ReplayOptions {
  /** Called with the opened stream (format, info, meta()) before its first batch. */
  readonly onOpen?: (stream: EventFileStream) => void;
}

export function fromEventFile(path: string, options: FromEventFileOptions = {}): Observable<ClockedBatch> {
  resolveReplayOptions(options);
  return new Observable<ClockedBatch>((subscriber) => {
    let stream: EventFileStream | undefined;
    let inner: Subscription | undefined;
    let ended = false;
    openEventFile(path, { ...options, chunkBytes: options.chunkBytes ?? REPLAY_CHUNK_BYTES }).then((s) => {
      if (ended) {
        void s.close();
        return;
      }
      stream = s;
      try {
        options.onOpen?.(s);
      } catch (e) {
        subscriber.error(e);
        return;
      }
      inner = fromBatches(s, options).subscribe(subscriber);
    }, (e: unknown) => subscriber.error(e));
    return () => {
      ended = true;
      inner?.unsubscribe();
      void stream?.close();
    };
  });
}
