/**
 * One WebSocket connection speaking protocol v1: waits for a valid `hello` (protocol, token, model,
 * settings), then turns frames into session input in arrival order and session output into
 * frames. Frame decoding and `events`/`raw` conversion are the stream module's
 * (protocol-events.ts), so the server and `fromWebSocket` read the same protocol.
 *
 * (The server does not subscribe `fromWebSocket` itself: that source hands batches over on a
 * scheduler after the socket callback, while control messages arrive synchronously, so a `flush`
 * could overtake the events sent before it. Here every message is queued in order.)
 *
 * Replies use the encoding of the client's hello (msgpack for a binary frame, JSON for text).
 * A peer that stops reading cannot make the server buffer without bound: above
 * maxBufferedBytes, predictions and stats are dropped (counted), and a buffer that stays full for
 * stalledTimeoutMs closes the connection.
 */
import type { IncomingMessage } from 'node:http';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import type { EventBatch } from '../events/batch.js';
import { DecodeError } from '../events/decode-error.js';
import { ProtocolError } from '../stream/protocol-error.js';
import {
  decodeFrame, eventsMessageToBatch, initRawDecode, parseEventsMessage, parseRawMessage, rawMessageToBatch, type AnyMessage,
  type EventsToBatchOptions, type RawDecodeState,
} from '../stream/protocol-events.js';
import type { Logger } from './logger.js';
import type { ServeLimits } from './limits.js';
import type { ServeMetrics } from './metrics.js';
import {
  byeSchema, CLIENT_MESSAGE_TYPES, clockSchema, describeIssues, flushSchema, helloSchema, PROTOCOL_VERSION, resetSchema,
  type ErrorMessage, type ServerMessage,
} from './protocol.js';
import { tokenMatches } from './security.js';
import type { ServedModel } from './served-model.js';
import { closeCodeFor, isServeError, ServeError } from './serve-error.js';
import { resolveSessionSettings } from './session-options.js';
import { Session, type SessionContext, type SessionSink } from './session.js';

export interface ConnectionContext {
  readonly limits: ServeLimits;
  readonly metrics: ServeMetrics;
  readonly logger: Logger;
  readonly models: ReadonlyMap<string, ServedModel>;
  readonly defaultModel: ServedModel;
  readonly token: string | undefined;
  readonly session: SessionContext;
  /** Called once when the connection is gone. */
  readonly onGone: (c: Connection) => void;
  /** Called when a session starts (after ready). */
  readonly onSession: (s: Session) => void;
  /** Throws (RATE_LIMITED) when the model's engine does not fit the memory budget. */
  readonly admit: (m: ServedModel) => void;
}

type Encoding = 'msgpack' | 'json';

const packr = new Packr({ useRecords: false });
/** Time given to a closing peer to answer the close frame before the socket is cut (ms). */
const CLOSE_GRACE_MS = 1000;

function frameBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

/** Close reasons are limited to 123 bytes by the protocol. */
function closeReason(s: string): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= 123 ? s : `${b.subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, '')}...`;
}

export class Connection implements SessionSink {
  /** Heartbeat: a pong (or any message) arrived since the last ping. */
  alive = true;
  session: Session | undefined;
  private encoding: Encoding = 'msgpack';
  /**
   * Borrowed decoder output (valid until the next raw message): each message's events are copied
   * straight into the session's pooled storage, so decoding allocates nothing per message.
   */
  private raw: RawDecodeState = initRawDecode({ reuseOutput: true });
  /** The session's options for eventsMessageToBatch (built once). */
  private toBatch: EventsToBatchOptions | undefined;
  private readonly helloTimer: NodeJS.Timeout;
  private readonly idleTimer: NodeJS.Timeout;
  private stalledSince: number | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private gone = false;
  private readonly log: Logger;

  constructor(readonly ws: WebSocket, req: IncomingMessage, private readonly ctx: ConnectionContext) {
    this.peer = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    this.log = ctx.logger.child({ peer: this.peer });
    const l = ctx.limits;
    this.helloTimer = setTimeout(() => this.fail(new ServeError('BAD_MESSAGE', `no valid hello within ${l.helloTimeoutMs} ms (limit helloTimeoutMs)`, true)), l.helloTimeoutMs);
    this.idleTimer = setTimeout(() => this.onIdle(), l.idleTimeoutMs);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
    ws.on('error', (e) => {
      this.log.debug({ err: e }, 'websocket error');
      if ((e as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') ctx.metrics.errors.inc({ code: 'TOO_LARGE' });
    });
  }

  readonly peer: string;

  /** Heartbeat tick: terminates a peer that did not answer the previous ping. */
  heartbeat(): void {
    if (this.gone || this.ws.readyState !== WebSocket.OPEN) return; // closing: the kill timer ends it
    if (!this.alive) {
      this.log.info('peer did not answer ping: terminating');
      this.ctx.metrics.sessionsClosed.inc({ reason: 'heartbeat' });
      this.terminate();
      return;
    }
    this.alive = false;
    try {
      this.ws.ping();
    } catch {
      this.terminate();
    }
  }

  /**
   * Periodic check: a send buffer that stayed full too long closes the connection. Not once the
   * close has begun: a peer that does not read never answers the close frame either, and the
   * kill timer ends it (counting it as stalled a second time made the metrics say 2).
   */
  checkStall(now: number): void {
    if (this.gone || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount <= this.ctx.limits.maxBufferedBytes) {
      this.stalledSince = undefined;
      return;
    }
    if (this.stalledSince === undefined) this.stalledSince = now;
    else if (now - this.stalledSince >= this.ctx.limits.stalledTimeoutMs) this.onStalled();
  }

  // SessionSink

  send(msg: ServerMessage, droppable: boolean): boolean {
    if (this.gone || this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.ws.bufferedAmount > this.ctx.limits.maxBufferedBytes) {
      const now = performance.now();
      if (this.stalledSince === undefined) this.stalledSince = now;
      else if (now - this.stalledSince >= this.ctx.limits.stalledTimeoutMs) {
        this.onStalled();
        return false;
      }
      if (droppable) return false;
    } else {
      this.stalledSince = undefined;
    }
    this.write(msg);
    return true;
  }

  close(code: number, reason: string): void {
    this.clearTimers();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, closeReason(reason));
      // A peer that does not read never answers the close frame.
      this.killTimer = setTimeout(() => this.terminate(), CLOSE_GRACE_MS);
      this.killTimer.unref();
    }
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  pauseInput(): void {
    this.ws.pause();
  }

  resumeInput(): void {
    this.ws.resume();
  }

  /** Error before or outside a session: sent in the connection's encoding; fatal closes. */
  fail(e: ServeError, closeCode = closeCodeFor(e.code)): void {
    if (this.session) {
      this.session.reportError(e, closeCode);
      return;
    }
    this.ctx.metrics.errors.inc({ code: e.code });
    const msg: ErrorMessage = { type: 'error', code: e.code, message: e.message, fatal: e.fatal };
    if (this.ws.readyState === WebSocket.OPEN) this.write(msg);
    if (e.fatal) {
      this.ctx.metrics.sessionsClosed.inc({ reason: e.code });
      this.close(closeCode, `${e.code}: ${e.message}`);
    }
  }

  /** Cuts the connection without a close handshake. */
  terminate(): void {
    this.clearTimers();
    this.ws.terminate();
  }

  private write(msg: ServerMessage): void {
    if (this.encoding === 'json') this.ws.send(JSON.stringify(msg), { binary: false });
    else this.ws.send(packr.pack(msg), { binary: true });
  }

  private onStalled(): void {
    const l = this.ctx.limits;
    const reason = `client is not reading: send buffer above ${l.maxBufferedBytes} bytes for ${l.stalledTimeoutMs} ms`;
    this.log.warn({ buffered: this.ws.bufferedAmount }, reason);
    this.ctx.metrics.sessionsClosed.inc({ reason: 'stalled' });
    if (this.session) this.session.close(1008, reason);
    else this.close(1008, reason);
  }

  private onIdle(): void {
    const reason = `idle: no message for ${this.ctx.limits.idleTimeoutMs} ms (limit idleTimeoutMs)`;
    this.ctx.metrics.sessionsClosed.inc({ reason: 'idle' });
    if (this.session) this.session.close(1000, reason);
    else this.close(1000, reason);
  }

  private onClose(code: number, reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.clearTimers();
    if (this.killTimer) clearTimeout(this.killTimer);
    this.log.debug({ code, reason }, 'connection closed');
    // The session may still be open when the peer went away first.
    this.session?.close(code, reason || 'peer closed');
    this.ctx.onGone(this);
  }

  private clearTimers(): void {
    clearTimeout(this.helloTimer);
    clearTimeout(this.idleTimer);
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.gone) return;
    this.alive = true;
    this.idleTimer.refresh();
    const at = performance.now();
    const bytes = frameBytes(data);
    if (this.session === undefined) this.encodingOfFrame(isBinary);
    const l = this.ctx.limits;
    if (bytes.length > l.maxMessageBytes) {
      this.countMessage('oversize');
      this.fail(new ServeError('TOO_LARGE', `message of ${bytes.length} bytes exceeds the limit maxMessageBytes (${l.maxMessageBytes}); it was discarded`));
      return;
    }
    let m: AnyMessage;
    try {
      m = decodeFrame(bytes, isBinary);
    } catch (e) {
      this.countMessage('undecodable');
      this.fail(toServeError(e));
      return;
    }
    const type = (CLIENT_MESSAGE_TYPES as readonly string[]).includes(m.type) ? m.type : 'unknown';
    this.countMessage(type);
    try {
      if (this.session === undefined) {
        if (m.type !== 'hello') throw new ServeError('BAD_MESSAGE', `expected hello first, got "${m.type}"`);
        this.hello(m, isBinary);
      } else {
        this.dispatch(this.session, m, at);
      }
    } catch (e) {
      this.fail(toServeError(e));
    }
  }

  private countMessage(type: string): void {
    const m = this.ctx.metrics.hot.messages;
    m.set(type, (m.get(type) ?? 0) + 1);
  }

  private encodingOfFrame(isBinary: boolean): void {
    this.encoding = isBinary ? 'msgpack' : 'json';
  }

  private hello(m: AnyMessage, isBinary: boolean): void {
    const ctx = this.ctx;
    if (typeof m.protocol === 'number' && m.protocol !== PROTOCOL_VERSION) {
      throw new ServeError('UNSUPPORTED_PROTOCOL', `hello.protocol: this server speaks protocol ${PROTOCOL_VERSION}, got ${m.protocol}`, true);
    }
    if (ctx.token !== undefined && !tokenMatches(ctx.token, m.token)) {
      throw new ServeError('AUTH_REQUIRED', m.token === undefined ? 'hello.token: this server requires a token' : 'hello.token: wrong token', true);
    }
    const r = helloSchema.safeParse(m);
    if (!r.success) throw new ServeError('BAD_MESSAGE', describeIssues('hello', r.error.issues));
    const hello = r.data;
    const model = hello.model === undefined ? ctx.defaultModel : ctx.models.get(hello.model);
    if (model === undefined) {
      throw new ServeError('UNKNOWN_MODEL', `hello.model: no model "${hello.model}" (available: ${[...ctx.models.keys()].join(', ')})`);
    }
    const settings = resolveSessionSettings(hello, model, ctx.limits);
    this.encoding = isBinary ? 'msgpack' : 'json';
    ctx.admit(model);
    const session = new Session(model, settings, this, ctx.session, this.peer);
    this.session = session;
    clearTimeout(this.helloTimer);
    ctx.metrics.sessionsOpened.inc();
    this.write(session.readyMessage());
    this.log.info({ session: session.id, model: model.name, mode: settings.mode }, 'session started');
    ctx.onSession(session);
  }

  /**
   * Decoded raw events must lie inside the declared sensor like `events` messages: those outside
   * are dropped here and counted in the session's eventsOutOfRange (a raw stream cannot be
   * refused per event). The rest is copied into the session's storage (the decoder's output is
   * borrowed).
   */
  private keepInsideSensor(s: Session, b: EventBatch): EventBatch {
    const { width, height } = s.settings.sensor;
    const { x, y } = b;
    const n = x.length;
    let bad = 0;
    for (let i = 0; i < n; i++) if (x[i] >= width || y[i] >= height) bad++;
    s.eventsOutsideSensor += bad;
    const out = s.pool.take(n - bad);
    if (bad === 0) {
      out.t.set(b.t);
      out.x.set(x);
      out.y.set(y);
      out.p.set(b.p);
      return out;
    }
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (x[i] >= width || y[i] >= height) continue;
      out.t[m] = b.t[i];
      out.x[m] = x[i];
      out.y[m] = y[i];
      out.p[m] = b.p[i];
      m++;
    }
    return out;
  }

  private dispatch(s: Session, m: AnyMessage, at: number): void {
    switch (m.type) {
      case 'events': {
        // Every message goes through the schemas (they name what is wrong); a hand-written fast path
        // accepting a proven subset saved about a tenth of the per-message cost, but the protocol's
        // validation stays in one declarative place.
        const msg = parseEventsMessage(m);
        let clock: number | undefined;
        if (m.clock !== undefined) {
          const r = clockSchema.safeParse(m.clock);
          if (!r.success) throw new ServeError('BAD_MESSAGE', describeIssues('events.clock', r.error.issues));
          clock = r.data;
        }
        this.toBatch ??= { width: s.settings.sensor.width, height: s.settings.sensor.height, limits: { maxEventsPerMessage: this.ctx.limits.maxEventsPerMessage }, alloc: s.pool.alloc };
        const batch = eventsMessageToBatch(msg, this.toBatch);
        s.pushEvents(clock === undefined ? batch : { t: batch.t, x: batch.x, y: batch.y, p: batch.p, clockUs: clock }, at);
        return;
      }
      case 'raw': {
        const msg = parseRawMessage(m);
        let events: EventBatch;
        try {
          const r = rawMessageToBatch(this.raw, msg);
          this.raw = r.state;
          events = r.events;
        } catch (e) {
          if (e instanceof DecodeError && e.events.t.length > 0) s.pushEvents(this.keepInsideSensor(s, e.events), at);
          throw e;
        }
        if (events.t.length > 0) {
          const kept = this.keepInsideSensor(s, events);
          if (kept.t.length > 0) s.pushEvents(kept, at);
        }
        return;
      }
      case 'flush':
      case 'reset':
      case 'bye': {
        const schema = m.type === 'flush' ? flushSchema : m.type === 'reset' ? resetSchema : byeSchema;
        const r = schema.safeParse(m);
        if (!r.success) throw new ServeError('BAD_MESSAGE', describeIssues(m.type, r.error.issues));
        s.pushControl(m.type, at);
        return;
      }
      case 'hello':
        throw new ServeError('BAD_MESSAGE', 'hello: this connection already has a session');
      default:
        throw new ServeError('BAD_MESSAGE', `unknown message type "${m.type}" (expected one of ${CLIENT_MESSAGE_TYPES.join(', ')})`);
    }
  }
}

function toServeError(e: unknown): ServeError {
  if (isServeError(e)) return e;
  if (e instanceof ProtocolError) return new ServeError(e.code, e.message);
  if (e instanceof DecodeError) {
    return new ServeError('BAD_MESSAGE', `raw: ${e.message} [${e.code}]; the raw decoder has failed and refuses further raw messages on this connection`);
  }
  return new ServeError('INTERNAL', `internal error: ${(e as Error).message}`, true);
}
