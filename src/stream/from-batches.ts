/**
 * An Observable of event batches from any iterable or async iterable of them, as fast as the
 * consumer takes them or at the recorded pace.
 *
 * speed 'max' (default): one notification per input batch, unchanged. The next batch is pulled
 * only after the previous one was delivered (`subscriber.next` returned), so a source that
 * decodes chunk by chunk holds one chunk at a time: a slow synchronous consumer slows the reads
 * instead of growing memory.
 *
 * speed s > 0: replay at s times the recorded pace on `scheduler` (virtual time in tests). Batches
 * are cut into slices of at most `sliceUs` of recorded time (on a grid starting at the first
 * event) so a large chunk is not delivered as one lump, and each slice is emitted when the replay
 * clock reaches its last event's timestamp: at `start + (tLast - tFirst) / s` (scheduler time is
 * in milliseconds, event time in microseconds). Only one input batch is held at a time.
 *
 * Timestamps that step back (real DVS128 files): replay time follows the running maximum of the
 * timestamps seen, so it never goes back. Events after a backward step are emitted, in their
 * recorded order, as soon as their slice is due, which is right away until the recording catches
 * up with its earlier maximum. Nothing is reordered or dropped.
 *
 * `heartbeatUs` (timed replay only): during gaps without events, emit heartbeats (empty batches
 * with `clockUs`, see clocked-batch.ts) every heartbeatUs of recorded time, as a live camera
 * driver would, so live time binning emits the quiet windows on time. Input batches that are
 * heartbeats themselves are emitted at their clock time.
 */
import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { clockOf, heartbeat, type ClockedBatch } from './clocked-batch.js';
import { requirePositiveNumber, StreamError } from './stream-error.js';

export interface ReplayOptions {
  /** 'max' (default) or a positive multiple of the recorded pace (1 = real time, 2 = twice as fast). */
  readonly speed?: 'max' | number;
  /** Scheduler for timed replay (default asyncScheduler). */
  readonly scheduler?: SchedulerLike;
  /** Longest stretch of recorded time in one emitted batch during timed replay (default 1000 us). */
  readonly sliceUs?: number;
  /** Heartbeat period in recorded microseconds during timed replay (default: none). */
  readonly heartbeatUs?: number;
}

const STAGE = 'fromBatches';

export type BatchSource = Iterable<EventBatch> | AsyncIterable<EventBatch>;

function iteratorOf(src: BatchSource): Iterator<EventBatch> | AsyncIterator<EventBatch> {
  const a = (src as AsyncIterable<EventBatch>)[Symbol.asyncIterator];
  if (typeof a === 'function') return a.call(src);
  const s = (src as Iterable<EventBatch>)[Symbol.iterator];
  if (typeof s === 'function') return s.call(src);
  throw new StreamError('BAD_OPTION', STAGE, 'source is neither iterable nor async iterable');
}

function isPromiseLike<T>(v: unknown): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T> | null)?.then === 'function';
}

export function resolveReplayOptions(o: ReplayOptions): { speed: number | 'max'; sliceUs: number; heartbeatUs: number | undefined } {
  const speed = o.speed ?? 'max';
  if (speed !== 'max') requirePositiveNumber(STAGE, 'speed', speed);
  const sliceUs = requirePositiveNumber(STAGE, 'sliceUs', o.sliceUs ?? 1000);
  const heartbeatUs = o.heartbeatUs === undefined ? undefined : requirePositiveNumber(STAGE, 'heartbeatUs', o.heartbeatUs);
  return { speed, sliceUs, heartbeatUs };
}

/**
 * Pulls results one at a time, synchronously while the iterator is synchronous, and calls
 * `onValue` for each; `onValue` returns false to pause (resume with the returned `pull`).
 */
function puller(
  it: Iterator<EventBatch> | AsyncIterator<EventBatch>,
  closed: () => boolean,
  onValue: (b: EventBatch) => boolean,
  onDone: () => void,
  onError: (e: unknown) => void,
): () => void {
  const handle = (r: IteratorResult<EventBatch>): boolean => {
    if (closed()) return false;
    if (r.done) {
      onDone();
      return false;
    }
    return onValue(r.value);
  };
  const pull = (): void => {
    try {
      while (!closed()) {
        const r = it.next();
        if (isPromiseLike<IteratorResult<EventBatch>>(r)) {
          r.then((res) => {
            if (handle(res)) pull();
          }, (e: unknown) => {
            if (!closed()) onError(e);
          });
          return;
        }
        if (!handle(r)) return;
      }
    } catch (e) {
      onError(e);
    }
  };
  return pull;
}

export function fromBatches(source: BatchSource, options: ReplayOptions = {}): Observable<ClockedBatch> {
  const o = resolveReplayOptions(options);
  const scheduler = options.scheduler ?? asyncScheduler;
  return new Observable<ClockedBatch>((subscriber) => {
    const it = iteratorOf(source);
    // At most one emission is scheduled at a time; keep only that one (not every past one).
    let pending: Subscription | null = null;
    const later = (work: () => void, delay: number): void => {
      pending = scheduler.schedule(() => {
        pending = null;
        work();
      }, delay);
    };
    const closed = () => subscriber.closed;
    const fail = (e: unknown) => subscriber.error(e);
    const done = () => subscriber.complete();

    let pull: () => void;
    if (o.speed === 'max') {
      pull = puller(it, closed, (b) => {
        subscriber.next(b);
        return true;
      }, done, fail);
    } else {
      const speed = o.speed;
      const { sliceUs, heartbeatUs } = o;
      const wallStart = scheduler.now();
      let r0: number | undefined; // recorded time of the first event or clock
      let maxT = -Infinity; // running maximum of recorded time
      let lastEmitted = -Infinity; // recorded time of the last emission
      let sliceEnd = -Infinity; // end of the current slice on the grid
      const queue: { due: number; batch: ClockedBatch }[] = [];

      const due = (tau: number): number => Math.max(0, wallStart + (tau - (r0 as number)) / (speed * 1000) - scheduler.now());

      // Cuts a batch into slices; their due times follow the running maximum.
      const enqueue = (b: EventBatch): void => {
        const t = b.t;
        const n = t.length;
        if (n === 0) {
          const c = clockOf(b);
          if (c !== undefined) {
            if (r0 === undefined) r0 = c;
            maxT = Math.max(maxT, c);
            queue.push({ due: maxT, batch: b });
          }
          return;
        }
        if (r0 === undefined) {
          r0 = t[0];
          sliceEnd = r0 + sliceUs;
        }
        let start = 0;
        for (let i = 0; i < n; i++) {
          const ti = t[i];
          if (ti >= sliceEnd && i > start) {
            queue.push({ due: maxT, batch: slice(b, start, i) });
            start = i;
          }
          if (ti > maxT) maxT = ti;
          if (maxT >= sliceEnd) sliceEnd = r0 + (Math.floor((maxT - r0) / sliceUs) + 1) * sliceUs;
        }
        queue.push({ due: maxT, batch: slice(b, start, n) });
      };

      let ended = false;
      const emitNext = (): void => {
        if (subscriber.closed) return;
        const item = queue[0];
        if (!item) {
          if (ended) done();
          else pull();
          return;
        }
        // A heartbeat is due first when the next events start after the next grid point.
        if (heartbeatUs !== undefined && r0 !== undefined && item.batch.t.length > 0) {
          const nextFirst = minOf(item.batch.t);
          const h = r0 + (Math.floor((Math.max(lastEmitted, r0) - r0) / heartbeatUs) + 1) * heartbeatUs;
          if (h <= nextFirst && h > lastEmitted) {
            lastEmitted = h;
            later(() => {
              subscriber.next(heartbeat(h));
              emitNext();
            }, due(h));
            return;
          }
        }
        queue.shift();
        later(() => {
          lastEmitted = Math.max(lastEmitted, item.due);
          subscriber.next(item.batch);
          emitNext();
        }, due(item.due));
      };

      pull = puller(it, closed, (b) => {
        enqueue(b);
        if (queue.length === 0) return true; // nothing to emit: keep pulling
        emitNext();
        return false;
      }, () => {
        ended = true;
        emitNext();
      }, fail);
    }

    pull();
    return () => {
      (pending as Subscription | null)?.unsubscribe();
      try {
        const r = it.return?.();
        if (isPromiseLike(r)) r.then(undefined, () => undefined);
      } catch {
        // The iterator's own cleanup failed; nothing left to deliver it to.
      }
    };
  });
}

function minOf(t: Float64Array): number {
  let m = Infinity;
  for (let i = 0; i < t.length; i++) if (t[i] < m) m = t[i];
  return m;
}

function slice(b: EventBatch, start: number, end: number): EventBatch {
  if (start === 0 && end === b.t.length) return b;
  return { t: b.t.subarray(start, end), x: b.x.subarray(start, end), y: b.y.subarray(start, end), p: b.p.subarray(start, end) };
}
