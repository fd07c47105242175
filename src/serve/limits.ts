/**
 * The server's limits, with their defaults in one place. Each is enforced where the count grows
 * (see the comment of each field for where); test/serve exercises each of them. Together they bound a
 * session's memory: queue (maxQueueEvents * 13 bytes) + one message being read (maxPayloadBytes)
 * + send buffer (maxBufferedBytes) + the ring to its worker (ringEvents * 13 bytes) + its engine's
 * state; with the defaults about 10 MB per session times maxSessions, plus at most maxEngineBytes
 * for all engines and poolCacheChunks idle decode chunks (poolChunkEvents * 13 bytes each) shared
 * by all sessions.
 */
import { ServeConfigError } from './serve-config-error.js';

export interface ServeLimits {
  /**
   * Largest WebSocket message the server reads at all, in bytes (ws `maxPayload`, checked on the
   * frame header before buffering). A larger one closes the connection with 1009.
   */
  readonly maxPayloadBytes: number;
  /**
   * Largest message the server accepts, in bytes. One between this and maxPayloadBytes is refused
   * with a TOO_LARGE error and the session goes on.
   */
  readonly maxMessageBytes: number;
  /** Most events one `events` message may carry (TOO_LARGE beyond). */
  readonly maxEventsPerMessage: number;
  /** Open connections, sessions awaiting `hello` included. The next one gets RATE_LIMITED and close 1013. */
  readonly maxSessions: number;
  /** Events waiting for processing per session; beyond, the oldest are dropped (down to half of it) and counted. */
  readonly maxQueueEvents: number;
  /** Messages (event batches, clock ticks, flush/reset) waiting per session; beyond, RATE_LIMITED. */
  readonly maxQueueMessages: number;
  /** Events one sample may hold when the model bins whole samples (n_time_bins, n_event_bins), and events one time window may hold. */
  readonly maxSampleEvents: number;
  /** Most timesteps one forward jump in event time may close at once (binning maxGapWindows). */
  readonly maxGapWindows: number;
  /** Most timesteps kept for the trailing window of stream mode (event-count binning can make many). */
  readonly maxWindowSteps: number;
  /** A connection must send a valid `hello` within this time (ms). */
  readonly helloTimeoutMs: number;
  /** A session that sends nothing for this long (ms) is closed. */
  readonly idleTimeoutMs: number;
  /** Ping period (ms); a peer that has not answered the previous ping is terminated. */
  readonly heartbeatIntervalMs: number;
  /** Bytes the server lets queue up in a session's send buffer; above it predictions and stats are dropped (counted). */
  readonly maxBufferedBytes: number;
  /** A send buffer that stays above maxBufferedBytes this long (ms) closes the session (1008, client not reading). */
  readonly stalledTimeoutMs: number;
  /** Longest stretch (ms) one session processes before yielding to the others and to I/O. */
  readonly sliceMs: number;
  /** Most events handed to binning in one step of a slice. */
  readonly sliceEvents: number;
  /** Period (ms) of `stats` messages while a session is active. */
  readonly statsIntervalMs: number;
  /** Graceful shutdown: time (ms) to drain queues and send pending predictions before sessions are cut. */
  readonly shutdownTimeoutMs: number;
  /** Pixels a stateful filter (denoise, refractory) may cover: it keeps 8 bytes per pixel. */
  readonly maxFilterPixels: number;
  /**
   * Memory all engines together may hold (bytes; each model's engine size is measured at load).
   * A session whose engine would exceed it is refused with RATE_LIMITED: a model with a large
   * input can cost tens of MB per session, so maxSessions alone does not bound memory.
   */
  readonly maxEngineBytes: number;
  /** Idle engines kept per model for the next session (connectivity is built once per engine). */
  readonly maxPooledEngines: number;
  /**
   * Events per chunk of a session's decode pool (event-pool.ts): `events` messages up to this size
   * are decoded into reused storage (13 bytes per event).
   */
  readonly poolChunkEvents: number;
  /** Idle decode-pool chunks kept for reuse, shared by all sessions (chunk-cache.ts). */
  readonly poolCacheChunks: number;
  /**
   * With worker threads: events on their way from a session's queue to its pipeline (the ring in
   * shared memory, 13 bytes per event; event-ring.ts). Beyond, input waits in the session queue.
   */
  readonly ringEvents: number;
}

export const DEFAULT_SERVE_LIMITS: ServeLimits = Object.freeze({
  maxPayloadBytes: 4 << 20,
  maxMessageBytes: 1 << 20,
  maxEventsPerMessage: 1 << 20,
  maxSessions: 64,
  maxQueueEvents: 1 << 18,
  maxQueueMessages: 4096,
  maxSampleEvents: 4_000_000,
  maxGapWindows: 100_000,
  maxWindowSteps: 100_000,
  helloTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
  heartbeatIntervalMs: 30_000,
  maxBufferedBytes: 1 << 20,
  stalledTimeoutMs: 10_000,
  sliceMs: 2,
  sliceEvents: 1 << 16,
  statsIntervalMs: 1000,
  shutdownTimeoutMs: 5000,
  maxFilterPixels: 1 << 22,
  maxEngineBytes: 2 ** 30,
  maxPooledEngines: 4,
  poolChunkEvents: 8192,
  poolCacheChunks: 64,
  ringEvents: 1 << 15,
});

/** Defaults overridden by `l`; every value must be a positive number (integers where they count things). */
export function resolveServeLimits(l: Partial<ServeLimits> = {}): ServeLimits {
  const out = { ...DEFAULT_SERVE_LIMITS, ...l };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ServeConfigError(`limit ${k} must be a positive number, got ${String(v)}`);
    if (!k.endsWith('Ms') && !Number.isInteger(v)) throw new ServeConfigError(`limit ${k} must be an integer, got ${v}`);
  }
  if (out.maxMessageBytes > out.maxPayloadBytes) {
    throw new ServeConfigError(`limit maxMessageBytes (${out.maxMessageBytes}) must not exceed maxPayloadBytes (${out.maxPayloadBytes})`);
  }
  return Object.freeze(out);
}

/** The limits a client needs to know, sent in `ready`. */
export function clientLimits(l: ServeLimits): Record<string, number> {
  return {
    maxPayloadBytes: l.maxPayloadBytes,
    maxMessageBytes: l.maxMessageBytes,
    maxEventsPerMessage: l.maxEventsPerMessage,
    maxQueueEvents: l.maxQueueEvents,
    maxQueueMessages: l.maxQueueMessages,
    maxSampleEvents: l.maxSampleEvents,
    idleTimeoutMs: l.idleTimeoutMs,
    heartbeatIntervalMs: l.heartbeatIntervalMs,
  };
}
