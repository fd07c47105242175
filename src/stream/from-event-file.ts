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
    openEventFile(path, options).then((s) => {
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
