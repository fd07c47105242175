/**
 * Event batches from a WebSocket speaking protocol v1 (DESIGN.md section 7): `events` messages and
 * `raw` chunks (decoded by one decoder per connection), see protocol-events.ts. An `events`
 * message's `clock` becomes its batch's clockUs (a message without events is a heartbeat).
 *
 * Backpressure and drops: a socket pushes messages whenever they arrive, so converted batches go
 * into a queue that is drained on `scheduler` (default asapScheduler: right after the current I/O
 * callback). The queue holds at most `maxQueuedEvents` events; when a message would exceed it, the
 * oldest queued events are dropped (a heartbeat's clock is kept), counted in
 * `stats.eventsDropped` and reported to `onDrop`. Adjacent queued heartbeats merge into one with
 * the latest clock (a later clock promises everything an earlier one did), and at most
 * `maxQueuedMessages` control messages wait (beyond, each is a TOO_LARGE bad message). Never
 * silent, and memory stays bounded however slowly the queue is drained. (A synchronous consumer also slows the socket reads themselves:
 * while it runs, nothing is read and TCP pushes back on the sender.)
 *
 * `scheduler` may be synchronous (queueScheduler, or immediate in effect): the batch is then handed
 * over inside the socket callback.
 *
 * Ordering: other message types (hello, flush, reset, bye, ...) go to `onMessage` through the same
 * queue, so `onMessage` sees a message only after every batch of the messages that arrived before
 * it has been delivered (a `flush` never overtakes the events sent before it). Queued control
 * messages are never dropped. Without `onMessage` such a message is a BAD_MESSAGE.
 *
 * Bad messages: a ProtocolError (or DecodeError for `raw`) naming what is wrong. With `onBadMessage`
 * they are reported there as they arrive (possibly before earlier batches are delivered), counted
 * in `stats.badMessages` and skipped; without it the stream delivers what is queued, then errors
 * with them.
 *
 * Given a URL, the socket is opened on subscription and closed (1000) on unsubscription. Given an
 * open socket (e.g. from a server's 'connection' event), it is left open on unsubscription; attach
 * by subscribing right away, since messages that arrive earlier are not seen. A close with code
 * 1000, 1001 or 1005 completes the stream after the queued batches (and what a raw decoder still
 * holds); any other code is a CONNECTION_CLOSED StreamError.
 */
import { asapScheduler, Observable, type SchedulerLike, type Subscription } from 'rxjs';
import WebSocket from 'ws';

import type { AnyDecoderOptions } from '../events/create-decoder.js';
import { DecodeError } from '../events/decode-error.js';
import { clockOf, heartbeat, type ClockedBatch } from './clocked-batch.js';
import { ProtocolError } from './protocol-error.js';
import {
  decodeFrame, endRawDecode, eventsMessageToBatch, initRawDecode, parseEventsClock, parseEventsMessage, parseRawMessage, rawMessageToBatch,
  type AnyMessage, type ProtocolLimits, type RawDecodeState,
} from './protocol-events.js';
import { requirePositiveInt, StreamError } from './stream-error.js';

export interface LiveSourceStats {
  messages: number;
  eventsIn: number;
  eventsDropped: number;
  badMessages: number;
  /** Events waiting in the queue right now. */
  queuedEvents: number;
  /** `events` messages whose seq was not the previous seq + 1. */
  seqGaps: number;
}

export function createLiveSourceStats(): LiveSourceStats {
  return { messages: 0, eventsIn: 0, eventsDropped: 0, badMessages: 0, queuedEvents: 0, seqGaps: 0 };
}

export interface FromWebSocketOptions {
  /** Declared sensor size: coordinates outside it are OUT_OF_RANGE. */
  readonly width?: number;
  readonly height?: number;
  /** Most events waiting for the consumer before the oldest are dropped (default 1 000 000). */
  readonly maxQueuedEvents?: number;
  /** Most control messages waiting for `onMessage` (default 10 000). */
  readonly maxQueuedMessages?: number;
  /** Where the queue is drained (default asapScheduler). */
  readonly scheduler?: SchedulerLike;
  readonly stats?: LiveSourceStats;
  readonly onDrop?: (events: number) => void;
  readonly onBadMessage?: (e: ProtocolError | DecodeError) => void;
  readonly onMessage?: (m: AnyMessage) => void;
  /** Options for the decoder of `raw` messages. */
  readonly decoder?: AnyDecoderOptions;
  readonly limits?: Partial<ProtocolLimits>;
  /** Largest incoming message in bytes when connecting to a URL (ws maxPayload; default 16 MiB). */
  readonly maxPayload?: number;
}

/** A control message waiting in the queue behind the batches that arrived before it. */
interface QueuedMessage {
  readonly message: AnyMessage;
}
type Queued = ClockedBatch | QueuedMessage;
const isMessage = (q: Queued): q is QueuedMessage => 'message' in q;
const isHeartbeat = (q: Queued | undefined): q is ClockedBatch => q !== undefined && !isMessage(q) && q.t.length === 0;
/** One heartbeat standing for two: the later (larger) clock promises all the earlier one did. */
const mergedHeartbeat = (a: ClockedBatch, b: number): ClockedBatch => heartbeat(Math.max(clockOf(a) as number, b));

const STAGE = 'fromWebSocket';
const NORMAL_CLOSE = new Set([1000, 1001, 1005]);

function frameBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

export function fromWebSocket(target: string | WebSocket, options: FromWebSocketOptions = {}): Observable<ClockedBatch> {
  const maxQueued = requirePositiveInt(STAGE, 'maxQueuedEvents', options.maxQueuedEvents ?? 1_000_000);
  const maxMessages = requirePositiveInt(STAGE, 'maxQueuedMessages', options.maxQueuedMessages ?? 10_000);
  const scheduler = options.scheduler ?? asapScheduler;
  return new Observable<ClockedBatch>((subscriber) => {
    const stats = options.stats ?? createLiveSourceStats();
    const own = typeof target === 'string';
    const ws = typeof target === 'string' ? new WebSocket(target, { maxPayload: options.maxPayload ?? 16 << 20 }) : target;
    const queue: Queued[] = [];
    let queuedMessages = 0;
    // `drainPending` is set before scheduling: a synchronous scheduler runs the drain inside
    // schedule(), before its Subscription could be stored.
    let drainPending = false;
    let drainJob: Subscription | null = null;
    let raw: RawDecodeState = initRawDecode(options.decoder);
    let lastSeq: number | undefined;

    const drain = (): void => {
      drainPending = false;
      drainJob = null;
      while (queue.length > 0 && !subscriber.closed) {
        const q = queue.shift() as Queued;
        if (isMessage(q)) {
          queuedMessages--;
          try {
            options.onMessage?.(q.message);
          } catch (e) {
            subscriber.error(e);
          }
          continue;
        }
        stats.queuedEvents -= q.t.length;
        subscriber.next(q);
      }
    };

    const scheduleDrain = (): void => {
      if (drainPending) return;
      drainPending = true;
      const job = scheduler.schedule(drain);
      if (drainPending) drainJob = job;
    };

    const drainNow = (): void => {
      drainJob?.unsubscribe();
      drain();
    };

    // Drops `excess` events from the front of the queue; batches that lose all their events but
    // carry a clock stay as heartbeats (the clock is still true), others leave the queue.
    // Heartbeats left adjacent merge, so a flood of small clocked messages cannot grow the queue.
    const dropOldest = (excess: number): void => {
      let dropped = 0;
      let i = 0;
      // Puts a heartbeat at i (merged into i - 1 when that is one); returns the next index.
      const keepClock = (c: number): number => {
        const prev = i > 0 ? queue[i - 1] : undefined;
        if (isHeartbeat(prev)) {
          queue[i - 1] = mergedHeartbeat(prev, c);
          queue.splice(i, 1);
          return i;
        }
        queue[i] = heartbeat(c);
        return i + 1;
      };
      while (excess > 0 && i < queue.length) {
        const b = queue[i];
        if (isMessage(b)) {
          i++;
          continue;
        }
        const n = b.t.length;
        const c = clockOf(b);
        if (n === 0) {
          i = keepClock(c as number);
        } else if (n <= excess) {
          if (c !== undefined) {
            i = keepClock(c);
          } else {
            queue.splice(i, 1);
            const prev = queue[i - 1];
            const next = queue[i];
            if (isHeartbeat(prev) && isHeartbeat(next)) {
              queue[i - 1] = mergedHeartbeat(prev, clockOf(next) as number);
              queue.splice(i, 1);
            }
          }
          dropped += n;
          excess -= n;
        } else {
          queue[i] = { t: b.t.subarray(excess), x: b.x.subarray(excess), y: b.y.subarray(excess), p: b.p.subarray(excess), ...(c !== undefined ? { clockUs: c } : {}) };
          dropped += excess;
          excess = 0;
        }
      }
      stats.queuedEvents -= dropped;
      stats.eventsDropped += dropped;
      if (dropped > 0) options.onDrop?.(dropped);
    };

    const enqueue = (b: ClockedBatch): void => {
      const n = b.t.length;
      const c = clockOf(b);
      if (n === 0 && c === undefined) return;
      const last = queue.at(-1);
      if (n === 0 && isHeartbeat(last)) {
        queue[queue.length - 1] = mergedHeartbeat(last, c as number);
        scheduleDrain();
        return;
      }
      stats.eventsIn += n;
      queue.push(b);
      stats.queuedEvents += n;
      if (stats.queuedEvents > maxQueued) dropOldest(stats.queuedEvents - maxQueued);
      scheduleDrain();
    };

    const bad = (e: ProtocolError | DecodeError): void => {
      stats.badMessages++;
      if (options.onBadMessage) {
        options.onBadMessage(e);
      } else {
        drainNow();
        subscriber.error(e);
      }
    };

    const onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
      if (subscriber.closed) return;
      stats.messages++;
      let batch: ClockedBatch;
      try {
        const m = decodeFrame(frameBytes(data), isBinary);
        if (m.type === 'events') {
          const msg = parseEventsMessage(m);
          const clock = parseEventsClock(m);
          if (msg.seq !== undefined) {
            if (lastSeq !== undefined && msg.seq !== lastSeq + 1) stats.seqGaps++;
            lastSeq = msg.seq;
          }
          const b = eventsMessageToBatch(msg, options);
          batch = clock === undefined ? b : { t: b.t, x: b.x, y: b.y, p: b.p, clockUs: clock };
        } else if (m.type === 'raw') {
          const r = rawMessageToBatch(raw, parseRawMessage(m));
          raw = r.state;
          batch = r.events;
        } else {
          if (!options.onMessage) throw new ProtocolError('BAD_MESSAGE', `unexpected message type "${m.type}"`);
          if (queuedMessages >= maxMessages) throw new ProtocolError('TOO_LARGE', `"${m.type}": ${queuedMessages} control messages already wait for the consumer (maxQueuedMessages ${maxMessages})`);
          queuedMessages++;
          queue.push({ message: m });
          scheduleDrain();
          return;
        }
      } catch (e) {
        if (e instanceof DecodeError && e.events.t.length > 0) enqueue(e.events);
        if (e instanceof ProtocolError || e instanceof DecodeError) bad(e);
        else subscriber.error(e);
        return;
      }
      enqueue(batch);
    };

    const onClose = (code: number, reason: Buffer): void => {
      if (subscriber.closed) return;
      try {
        const rest = endRawDecode(raw);
        if (rest) enqueue(rest);
      } catch (e) {
        drainNow();
        subscriber.error(e);
        return;
      }
      drainNow();
      if (NORMAL_CLOSE.has(code)) subscriber.complete();
      else subscriber.error(new StreamError('CONNECTION_CLOSED', STAGE, `connection closed with code ${code}${reason.length ? ` (${reason.toString('utf8')})` : ''}`));
    };

    const onError = (e: Error): void => subscriber.error(e);

    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
    return () => {
      drainJob?.unsubscribe();
      ws.off('message', onMessage);
      ws.off('close', onClose);
      ws.off('error', onError);
      if (own) {
        // Keep a listener so a late socket error after unsubscription is not an uncaught exception.
        ws.on('error', () => undefined);
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      }
      queue.length = 0;
      queuedMessages = 0;
      stats.queuedEvents = 0;
    };
  });
}

