/**
 * TypeScript client of protocol v1 (`spikestream/client`): connect and say hello, send event
 * batches or a camera's raw bytes, receive predictions as an Observable, reconnect after a lost
 * connection.
 *
 * Sending never blocks and never buffers without bound on this side: batches are cut to the
 * server's message limits (from `ready`) and int32 time offsets; while disconnected, sends are
 * dropped and counted (`stats.droppedWhileDisconnected`), as a live camera cannot wait. Use
 * `drained()` to pace a sender that can wait (a recording replayed at max speed).
 *
 * Reconnect: after an abnormal close (network, server restart 1001, 1006, 1011, 1013) the client
 * reconnects with exponential backoff and sends the same hello; the new session starts from
 * fresh state (neurons, binning, raw decoder), so a raw byte stream must restart at a unit
 * boundary (`status$` says when). A normal close (1000: bye, idle timeout), a fatal error
 * (AUTH_REQUIRED, UNSUPPORTED_PROTOCOL, ...) or exhausted retries end the client: observables
 * complete, or error with a ClientError carrying the protocol code.
 */
import { BehaviorSubject, filter, firstValueFrom, Subject, type Observable } from 'rxjs';
import WebSocket, { type ClientOptions as WsOptions } from 'ws';
import { Packr } from 'msgpackr';
import type { EventBatch, EventFormat } from '../events/batch.js';
import { clockOf, type ClockedBatch } from '../stream/clocked-batch.js';
import { decodeFrame, encodeEventsMessage, encodeRawMessage } from '../stream/protocol-events.js';
import type { ErrorCode, HelloOptions, PredictionMessage, ReadyMessage, ServerMessage, StatsMessage } from '../serve/protocol.js';

export type { ErrorCode, HelloOptions, PredictionMessage, ReadyMessage, ServerMessage, StatsMessage } from '../serve/protocol.js';

export type ClientStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface ReconnectOptions {
  /** Attempts after a lost connection before giving up (default 5). */
  readonly retries?: number;
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
}

export interface ClientOptions {
  /** ws://host:port/v1/stream */
  readonly url: string;
  readonly hello: HelloOptions;
  /** false: no reconnect. Default: 5 retries, 200 ms doubling up to 5 s. */
  readonly reconnect?: false | ReconnectOptions;
  /** Time allowed for connect + hello -> ready (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Time `close()` waits for the server to finish queued work after bye (default 10 s). */
  readonly closeTimeoutMs?: number;
  /** Options for the `ws` WebSocket (headers, TLS, maxPayload...). */
  readonly ws?: WsOptions;
}

/** A failure with the server's error code when there is one. */
export class ClientError extends Error {
  override readonly name = 'ClientError';

  constructor(readonly code: ErrorCode | 'CONNECTION', message: string) {
    super(message);
  }
}

export interface ClientStats {
  messagesSent: number;
  eventsSent: number;
  bytesSent: number;
  droppedWhileDisconnected: number;
  reconnects: number;
}

/** Message bytes of an events message beyond its 9 bytes per event. */
const EVENTS_OVERHEAD = 96;
const INT32_MAX = 2147483647;
const NO_RECONNECT_CODES = new Set<string>(['AUTH_REQUIRED', 'UNSUPPORTED_PROTOCOL', 'UNKNOWN_MODEL', 'BAD_MESSAGE', 'OUT_OF_RANGE']);
const packr = new Packr({ useRecords: false });

export class SpikestreamClient {
  /** Every message from the server, across reconnects. */
  readonly messages$: Observable<ServerMessage>;
  readonly predictions$: Observable<PredictionMessage>;
  readonly status$ = new BehaviorSubject<ClientStatus>('connecting');
  readonly stats: ClientStats = { messagesSent: 0, eventsSent: 0, bytesSent: 0, droppedWhileDisconnected: 0, reconnects: 0 };
  /** The latest `ready` (model, settings, limits). */
  ready: ReadyMessage | undefined;
  private readonly subject = new Subject<ServerMessage>();
  private ws: WebSocket | undefined;
  private closing = false;
  private ended = false;
  private lastStats: StatsMessage | undefined;

  private constructor(private readonly o: ClientOptions) {
    this.messages$ = this.subject.asObservable();
    this.predictions$ = this.messages$.pipe(filter((m): m is PredictionMessage => m.type === 'prediction'));
  }

  /** Connects, sends hello and resolves once the server is ready. */
  static async connect(o: ClientOptions): Promise<SpikestreamClient> {
    const c = new SpikestreamClient(o);
    await c.open();
    return c;
  }

  get status(): ClientStatus {
    return this.status$.value;
  }

  /** Bytes waiting in this side's send buffer. */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** The latest stats message from the server. */
  get serverStats(): StatsMessage | undefined {
    return this.lastStats;
  }

  /**
   * Sends a batch as one or more `events` messages (cut to the server's limits and to int32
   * offsets); a ClockedBatch's clock follows as a clock tick. False when dropped (disconnected).
   */
  sendEvents(batch: EventBatch | ClockedBatch, seq?: number): boolean {
    const ws = this.openSocket(batch.t.length);
    if (!ws) return false;
    const maxEvents = this.maxEventsPerMessage();
    const t = batch.t;
    const n = t.length;
    let i = 0;
    while (i < n) {
      const t0 = t[i];
      let j = i + 1;
      const end = Math.min(n, i + maxEvents);
      while (j < end && Math.abs(t[j] - t0) <= INT32_MAX) j++;
      const part = i === 0 && j === n ? batch : { t: t.subarray(i, j), x: batch.x.subarray(i, j), y: batch.y.subarray(i, j), p: batch.p.subarray(i, j) };
      this.write(ws, encodeEventsMessage(part, { t0, ...(seq !== undefined ? { seq } : {}) }), j - i);
      i = j;
    }
    const clock = clockOf(batch);
    if (clock !== undefined) this.sendClock(clock);
    return true;
  }

  /** A clock tick: every event with t < clockUs has been sent (lets the server close quiet windows). */
  sendClock(clockUs: number): boolean {
    const ws = this.openSocket(0);
    if (!ws) return false;
    this.write(ws, encodeEventsMessage({ t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0) }, { t0: clockUs }), 0);
    return true;
  }

  /** A camera's native bytes, in chunks within the server's message limit. */
  sendRaw(format: EventFormat, data: Uint8Array): boolean {
    const ws = this.openSocket(0);
    if (!ws) return false;
    const chunk = Math.max(1, (this.ready?.limits.maxMessageBytes ?? 1 << 20) - 64);
    for (let i = 0; i < data.length; i += chunk) this.write(ws, encodeRawMessage(format, data.subarray(i, i + chunk)), 0);
    return true;
  }

  /** Ends the current sample (or stream segment); resolves with its final prediction. */
  flush(): Promise<PredictionMessage> {
    const next = firstValueFrom(this.predictions$.pipe(filter((p) => p.final)));
    const ws = this.openSocket(0);
    if (!ws) return Promise.reject(new ClientError('CONNECTION', 'not connected'));
    this.write(ws, packr.pack({ type: 'flush' }), 0);
    return next;
  }

  /** Clears the session's neuron state. */
  reset(): boolean {
    const ws = this.openSocket(0);
    if (!ws) return false;
    this.write(ws, packr.pack({ type: 'reset' }), 0);
    return true;
  }

  /** Resolves when this side's send buffer is at or below `lowWaterBytes`. */
  async drained(lowWaterBytes = 1 << 20): Promise<void> {
    while (this.ws && this.ws.readyState === WebSocket.OPEN && this.ws.bufferedAmount > lowWaterBytes) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Sends bye, waits for the server to finish what it has queued and close, then ends the client. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.closing = true;
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      const closed = new Promise<void>((r) => ws.once('close', () => r()));
      ws.send(packr.pack({ type: 'bye' }));
      const timer = setTimeout(() => ws.terminate(), this.o.closeTimeoutMs ?? 10_000);
      await closed;
      clearTimeout(timer);
    } else {
      ws?.terminate();
    }
    this.end();
  }

  private maxEventsPerMessage(): number {
    const l = this.ready?.limits;
    const byBytes = Math.floor(((l?.maxMessageBytes ?? 1 << 20) - EVENTS_OVERHEAD) / 9);
    return Math.max(1, Math.min(l?.maxEventsPerMessage ?? Infinity, byBytes));
  }

  private openSocket(events: number): WebSocket | undefined {
    if (this.ended || this.closing) throw new ClientError('CONNECTION', 'the client is closed');
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN && this.status$.value === 'ready') return ws;
    this.stats.droppedWhileDisconnected += events;
    return undefined;
  }

  private write(ws: WebSocket, bytes: Uint8Array, events: number): void {
    ws.send(bytes, { binary: true });
    this.stats.messagesSent++;
    this.stats.eventsSent += events;
    this.stats.bytesSent += bytes.length;
  }

  /** One connection attempt: socket, hello, ready. */
  private open(): Promise<void> {
    return new Promise<void>((resolveOpen, rejectOpen) => {
      const ws = new WebSocket(this.o.url, { ...this.o.ws });
      this.ws = ws;
      let settled = false;
      const timer = setTimeout(() => fail(new ClientError('CONNECTION', `no ready from ${this.o.url} within ${this.o.connectTimeoutMs ?? 10_000} ms`)), this.o.connectTimeoutMs ?? 10_000);
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        rejectOpen(e);
      };
      ws.on('error', (e) => {
        if (!settled) fail(new ClientError('CONNECTION', `${this.o.url}: ${e.message}`));
      });
      ws.on('open', () => ws.send(packr.pack({ type: 'hello', protocol: 1, ...this.o.hello })));
      ws.on('message', (data, isBinary) => {
        let m: ServerMessage;
        try {
          m = decodeFrame(Array.isArray(data) ? Buffer.concat(data) : (data as Buffer), isBinary) as unknown as ServerMessage;
        } catch {
          return; // not a protocol message: ignore
        }
        if (!settled) {
          if (m.type === 'ready') {
            settled = true;
            clearTimeout(timer);
            this.ready = m;
            this.status$.next('ready');
            resolveOpen();
          } else if (m.type === 'error') {
            fail(new ClientError(m.code, `${m.code}: ${m.message}`));
            return;
          }
        }
        if (m.type === 'stats') this.lastStats = m;
        this.subject.next(m);
        if (m.type === 'error' && m.fatal) this.fatal = new ClientError(m.code, `${m.code}: ${m.message}`);
      });
      ws.on('close', (code, reason) => {
        if (!settled) {
          fail(new ClientError('CONNECTION', `connection closed before ready (${code}${reason.length ? ` ${reason.toString('utf8')}` : ''})`));
          return;
        }
        void this.onLost(code, reason.toString('utf8'));
      });
    });
  }

  private fatal: ClientError | undefined;

  private async onLost(code: number, reason: string): Promise<void> {
    if (this.ended) return;
    if (this.closing) return; // close() ends the client
    const r = this.o.reconnect === false ? undefined : { retries: 5, minDelayMs: 200, maxDelayMs: 5000, ...(this.o.reconnect ?? {}) };
    const fatal = this.fatal;
    if (code === 1000 && !fatal) {
      this.end();
      return;
    }
    if (!r || (fatal && NO_RECONNECT_CODES.has(fatal.code))) {
      this.end(fatal ?? new ClientError('CONNECTION', `connection closed (${code}${reason ? ` ${reason}` : ''})`));
      return;
    }
    this.status$.next('reconnecting');
    let delay = r.minDelayMs;
    for (let attempt = 0; attempt < r.retries; attempt++) {
      await new Promise((res) => setTimeout(res, delay));
      if (this.closing || this.ended) return;
      try {
        this.fatal = undefined;
        await this.open();
        this.stats.reconnects++;
        return;
      } catch (e) {
        if (e instanceof ClientError && NO_RECONNECT_CODES.has(e.code)) {
          this.end(e);
          return;
        }
        delay = Math.min(r.maxDelayMs, delay * 2);
      }
    }
    this.end(new ClientError('CONNECTION', `connection lost (${code}${reason ? ` ${reason}` : ''}) and ${r.retries} reconnect attempts failed`));
  }

  private end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.status$.next('closed');
    this.status$.complete();
    if (error) this.subject.error(error);
    else this.subject.complete();
  }
}
