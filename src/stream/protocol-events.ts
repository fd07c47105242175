/**
 * Wire protocol v1 (DESIGN.md section 7) <-> EventBatch, as pure functions shared by
 * `fromWebSocket` and the server (issue 8):
 *
 *   events { type: 'events', seq?, t0, t: bin int32 LE offsets from t0, x: bin u16 LE,
 *            y: bin u16 LE, p: bin u8 (0 = OFF, 1 = ON), clock? }
 *   raw    { type: 'raw', format, data: bin }   (a camera's native bytes; decoder state persists)
 *
 * Binary frames are msgpack maps (plain maps and `bin`, so any language's msgpack reads them);
 * text frames are JSON and can carry only messages without binary fields.
 *
 * An `events` message without events is a clock tick: the sender vouches that it has sent every
 * event with t < t0 (see clocked-batch.ts); it becomes a heartbeat batch with clockUs = t0.
 * The optional `clock` (integer microseconds, an addition the server documents in
 * src/serve/protocol.ts) makes the same promise for t < clock, so one message carries a slice's
 * events and its clock; in a message without events it is the tick, in place of t0.
 *
 * Every check fails with a ProtocolError naming the field: BAD_MESSAGE (undecodable, wrong types,
 * missing fields, unknown type, column lengths that disagree, polarity not 0/1, t0 not an
 * integer), OUT_OF_RANGE (coordinates outside the declared sensor), TOO_LARGE (more events than
 * `maxEventsPerMessage`). Columns are copied out of the message buffer (msgpack decoders hand out
 * views of pooled buffers).
 */
import { Packr, Unpackr } from 'msgpackr';
import { z } from 'zod';
import { EVENT_FORMATS, type EventBatch, type EventFormat } from '../events/batch.js';
import type { AnyDecoderOptions } from '../events/create-decoder.js';
import { createDecoder } from '../events/create-decoder.js';
import type { EventDecoder } from '../events/decoder.js';
import { heartbeat, type ClockedBatch } from './clocked-batch.js';
import { ProtocolError } from './protocol-error.js';

/** Limits on one message, defaults in one place. */
export interface ProtocolLimits {
  readonly maxEventsPerMessage: number;
}

export const DEFAULT_PROTOCOL_LIMITS: ProtocolLimits = Object.freeze({ maxEventsPerMessage: 1 << 22 });

const bin = z.instanceof(Uint8Array);

export const eventsMessageSchema = z.object({
  type: z.literal('events'),
  seq: z.number().int().nonnegative().optional(),
  t0: z.number().finite(),
  t: bin,
  x: bin,
  y: bin,
  p: bin,
});

export const rawMessageSchema = z.object({
  type: z.literal('raw'),
  format: z.enum(EVENT_FORMATS as [EventFormat, ...EventFormat[]]),
  data: bin,
});

export type EventsMessage = z.infer<typeof eventsMessageSchema>;
export type RawMessage = z.infer<typeof rawMessageSchema>;

// Bound on |t0| and |clock|, us: (2^53 - 1) - 2^31, so any int32 offset from such a t0 is still an
// exact integer. One constant for both, since an empty batch's clock is sent as its t0.
const MAX_T0 = 9007199254740991 - 2147483648;

/**
 * The `clock` of an `events` message (undefined when absent). The schema above leaves it out so
 * callers that ignore clocks keep working; BAD_MESSAGE when present but not an integer in range.
 */
export function parseEventsClock(m: AnyMessage): number | undefined {
  const c = m.clock;
  if (c === undefined) return undefined;
  if (typeof c !== 'number' || !Number.isInteger(c) || Math.abs(c) > MAX_T0) {
    throw new ProtocolError('BAD_MESSAGE', `events.clock: expected an integer number of microseconds within +-(2^53 - 1 - 2^31), got ${String(c)}`);
  }
  return c;
}

/** Any decoded frame: an object with a string `type` (other fields unchecked until dispatched). */
export interface AnyMessage {
  readonly type: string;
  readonly [k: string]: unknown;
}

// Python's msgpack writes integers >= 2^32 (any real t0) as uint64: read them as numbers, not BigInt.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const packr = new Packr({ useRecords: false });

function describeIssues(kind: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${kind}${i.path.length ? `.${i.path.map(String).join('.')}` : ''}: ${i.message}`).join('; ');
}

/** Decodes one WebSocket frame (msgpack if binary, JSON if text) into a message with a type. */
export function decodeFrame(data: Uint8Array | string, isBinary: boolean): AnyMessage {
  let v: unknown;
  try {
    v = isBinary && typeof data !== 'string' ? unpackr.unpack(data) : JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch (e) {
    throw new ProtocolError('BAD_MESSAGE', `${isBinary ? 'msgpack' : 'JSON'} frame does not decode: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof (v as { type?: unknown }).type !== 'string') {
    throw new ProtocolError('BAD_MESSAGE', 'a message must be a map with a string "type"');
  }
  return v as AnyMessage;
}

export function parseEventsMessage(m: unknown): EventsMessage {
  const r = eventsMessageSchema.safeParse(m);
  if (!r.success) throw new ProtocolError('BAD_MESSAGE', describeIssues('events', r.error.issues));
  return r.data;
}

export function parseRawMessage(m: unknown): RawMessage {
  const r = rawMessageSchema.safeParse(m);
  if (!r.success) throw new ProtocolError('BAD_MESSAGE', describeIssues('raw', r.error.issues));
  return r.data;
}

export interface EventsToBatchOptions {
  /** Declared sensor size; coordinates must lie inside it when given. */
  readonly width?: number;
  readonly height?: number;
  readonly limits?: Partial<ProtocolLimits>;
  /**
   * Storage for the batch's n events (columns of length n that nothing else uses), in place of
   * fresh arrays: the server decodes into a per-session pool (src/serve/event-pool.ts).
   */
  readonly alloc?: (n: number) => EventBatch;
}

// Typed arrays use the platform's byte order; the wire is little-endian. Every platform Node runs
// on is little-endian, but a big-endian one still gets correct (slower) DataView reads.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Largest message whose columns share one allocation (13 bytes per event: ~52 KiB).
const SHARED_BUFFER_MAX_EVENTS = 4096;

/**
 * `events` message -> batch (or heartbeat when it has no events).
 *
 * Hand-written hot path (the largest cost in the server's per-message latency): columns are read
 * through typed arrays, never per-event DataView calls. Up to SHARED_BUFFER_MAX_EVENTS, the four
 * output columns share one ArrayBuffer (t | x | y | p): for small messages, allocating four typed
 * arrays cost more than converting them (measured ~3x; beyond that size one big buffer measured
 * slower than four). The int32 offsets are copied once into the upper half of t's own bytes
 * (aligned, whatever the source's byte offset) and widened in place. u16 and u8 columns are copied with one byte-level `set`, whatever their
 * alignment (the copy is needed anyway: msgpack decoders hand out views of pooled buffers).
 * Validation is one branch-light pass (max x, max y, OR of p); only when it finds a fault does a
 * second pass name the first bad event.
 */
export function eventsMessageToBatch(msg: EventsMessage, options: EventsToBatchOptions = {}): ClockedBatch {
  const maxEvents = options.limits?.maxEventsPerMessage ?? DEFAULT_PROTOCOL_LIMITS.maxEventsPerMessage;
  const n = msg.p.length;
  if (msg.t.length !== 4 * n || msg.x.length !== 2 * n || msg.y.length !== 2 * n) {
    throw new ProtocolError('BAD_MESSAGE', `events: column lengths disagree (p has ${n} events, so t needs ${4 * n} bytes, x and y ${2 * n}; got t=${msg.t.length}, x=${msg.x.length}, y=${msg.y.length})`);
  }
  if (!Number.isInteger(msg.t0) || Math.abs(msg.t0) > MAX_T0) {
    throw new ProtocolError('BAD_MESSAGE', `events.t0: expected an integer number of microseconds within +-(2^53 - 1 - 2^31), got ${msg.t0}`);
  }
  if (n > maxEvents) {
    throw new ProtocolError('TOO_LARGE', `events: ${n} events in one message (limit ${maxEvents})`);
  }
  if (n === 0) return heartbeat(msg.t0);
  let t: Float64Array, x: Uint16Array, y: Uint16Array, p: Uint8Array;
  if (options.alloc !== undefined) {
    ({ t, x, y, p } = options.alloc(n));
  } else if (n <= SHARED_BUFFER_MAX_EVENTS) {
    const buf = new ArrayBuffer(13 * n);
    t = new Float64Array(buf, 0, n);
    x = new Uint16Array(buf, 8 * n, n);
    y = new Uint16Array(buf, 10 * n, n);
    p = new Uint8Array(buf, 12 * n, n);
  } else {
    t = new Float64Array(n);
    x = new Uint16Array(n);
    y = new Uint16Array(n);
    p = new Uint8Array(n);
  }
  widenOffsets(msg.t, msg.t0, t);
  readUint16s(msg.x, x);
  readUint16s(msg.y, y);
  p.set(msg.p);
  const w = options.width ?? 65536;
  const h = options.height ?? 65536;
  let xMax = 0;
  let yMax = 0;
  let pOr = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    xMax = xi > xMax ? xi : xMax;
    yMax = yi > yMax ? yi : yMax;
    pOr |= p[i];
  }
  if (pOr > 1 || xMax >= w || yMax >= h) {
    for (let i = 0; i < n; i++) {
      if (p[i] > 1) throw new ProtocolError('BAD_MESSAGE', `events.p[${i}]: polarity must be 0 or 1, got ${p[i]}`);
      if (x[i] >= w || y[i] >= h) throw new ProtocolError('OUT_OF_RANGE', `events[${i}]: (${x[i]}, ${y[i]}) is outside the declared ${w}x${h} sensor`);
    }
  }
  return { t, x, y, p };
}

/** t[i] = t0 + (little-endian int32 i of `src`). */
function widenOffsets(src: Uint8Array, t0: number, t: Float64Array): void {
  const n = t.length;
  if (!LITTLE_ENDIAN) {
    const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    for (let i = 0; i < n; i++) t[i] = t0 + dv.getInt32(i * 4, true);
    return;
  }
  // Staged in the upper half of t's bytes, whatever the source alignment: writing t[i] (bytes
  // 8i..8i+7) never reaches an int32 not yet read (bytes >= 4n + 4i + 4), so the front-to-back
  // loop below is safe. (Reading an aligned source in place measured slower for large messages.)
  const dt = new Int32Array(t.buffer, t.byteOffset + 4 * n, n);
  new Uint8Array(t.buffer, t.byteOffset + 4 * n, 4 * n).set(src);
  for (let i = 0; i < n; i++) t[i] = t0 + dt[i];
}

/** Little-endian uint16s of `src` into `out` (one byte copy on little-endian platforms). */
function readUint16s(src: Uint8Array, out: Uint16Array): void {
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(src);
    return;
  }
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(i * 2, true);
}

export interface EncodeEventsOptions {
  /** Time base of the offsets, us (default: the first event's t; when empty, the clock or 0). */
  readonly t0?: number;
  readonly seq?: number;
  /** Clock to send with the events, us: every event with t < clock has been sent (omitted when undefined). */
  readonly clock?: number;
}

/**
 * Batch -> `events` message bytes (msgpack). t0 defaults to the first event's t (0 when empty:
 * pass t0, or clock, to send a clock tick). Offsets must fit int32: split longer batches.
 */
export function encodeEventsMessage(b: EventBatch, options: EncodeEventsOptions = {}): Uint8Array {
  const n = b.t.length;
  // An empty batch's t0 defaults to the clock: a reader that ignores `clock` sees the same tick.
  const t0 = options.t0 ?? (n > 0 ? b.t[0] : (options.clock ?? 0));
  const t = new Uint8Array(4 * n);
  const dv = new DataView(t.buffer);
  for (let i = 0; i < n; i++) {
    const off = b.t[i] - t0;
    if (!Number.isInteger(off) || off < -2147483648 || off > 2147483647) {
      throw new RangeError(`encodeEventsMessage: event ${i} is ${off} us from t0, beyond int32: split the batch`);
    }
    dv.setInt32(i * 4, off, true);
  }
  const x = new Uint8Array(Uint16Array.from(b.x).buffer);
  const y = new Uint8Array(Uint16Array.from(b.y).buffer);
  const p = Uint8Array.from(b.p, (v) => (v ? 1 : 0));
  const msg: Record<string, unknown> = { type: 'events', t0, t, x, y, p };
  if (options.seq !== undefined) msg.seq = options.seq;
  if (options.clock !== undefined) {
    const c = options.clock;
    if (!Number.isInteger(c) || Math.abs(c) > MAX_T0) throw new RangeError(`encodeEventsMessage: clock ${c} is not an integer within +-(2^53 - 1 - 2^31) us`);
    msg.clock = c;
  }
  return Uint8Array.from(packr.pack(msg));
}

/** `raw` message bytes (msgpack). */
export function encodeRawMessage(format: EventFormat, data: Uint8Array): Uint8Array {
  return Uint8Array.from(packr.pack({ type: 'raw', format, data }));
}

/** Per-connection state of `raw` decoding: one decoder, created by the first raw message. */
export interface RawDecodeState {
  readonly format: EventFormat | undefined;
  readonly decoder: EventDecoder | undefined;
  readonly decoderOptions: AnyDecoderOptions;
}

export function initRawDecode(decoderOptions: AnyDecoderOptions = {}): RawDecodeState {
  return { format: undefined, decoder: undefined, decoderOptions };
}

/**
 * `raw` message -> the events its bytes complete (the decoder keeps partial units across
 * messages). A format other than the connection's first is BAD_MESSAGE; a decode fault is the
 * decoder's DecodeError (its `events` holds what the message decoded before the fault), and the
 * decoder stays failed.
 */
export function rawMessageToBatch(state: RawDecodeState, msg: RawMessage): { state: RawDecodeState; events: EventBatch } {
  let s = state;
  if (s.decoder === undefined) {
    s = { ...s, format: msg.format, decoder: createDecoder(msg.format, s.decoderOptions) };
  } else if (msg.format !== s.format) {
    throw new ProtocolError('BAD_MESSAGE', `raw.format: this connection sends "${s.format}", got "${msg.format}"`);
  }
  return { state: s, events: (s.decoder as EventDecoder).write(msg.data) };
}

/** End of the connection's raw stream: what the decoder still holds (TRUNCATED if it ended inside a unit). */
export function endRawDecode(state: RawDecodeState): EventBatch | undefined {
  return state.decoder?.end();
}

