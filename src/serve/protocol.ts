/**
 * Wire protocol v1 (DESIGN.md section 7), the server's half: the control messages a client sends
 * (hello, flush, reset, bye; `events` and `raw` are src/stream/protocol-events.ts) as zod schemas,
 * and the messages the server sends (ready, prediction, stats, error).
 *
 * Additions to DESIGN.md, all optional and backwards compatible:
 * - hello: `decisionUs`, `windowUs`, `idleResetUs` (stream mode, see stream-readout.ts) and
 *   `overflow`: 'drop-oldest' (default: a live camera cannot wait, the oldest queued events are
 *   dropped and counted) or 'backpressure' (the server stops reading the socket while the queue is
 *   full, so TCP slows the sender down and nothing is dropped: recordings replayed at max speed).
 * - prediction: `final` (true for the prediction a flush or the end of a stream segment produced)
 *   and `timesteps` (engine steps the prediction covers). `seq` numbers the session's predictions.
 * - events: `clock` (integer microseconds): the sender vouches that every event with t < clock
 *   has been sent, as a separate clock tick would, so a paced source needs one message per slice
 *   instead of two. A message without events and with a clock is a tick at the clock.
 * - hello: `filters`, a list of per-session event filters applied before binning (tonic
 *   semantics): center_crop, downsample (both to a width x height), denoise (filterUs),
 *   refractory (refractoryUs), flip_lr, flip_ud; the geometry after them is what the model sees.
 * - stats: `predictionsDropped`, `eventsOutOfRange`, `eventsLate`, `eventsFiltered`, `badMessages`.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
export const STREAM_PATH = '/v1/stream';

export type ErrorCode =
  | 'BAD_MESSAGE' | 'UNSUPPORTED_PROTOCOL' | 'UNKNOWN_MODEL' | 'AUTH_REQUIRED' | 'OUT_OF_RANGE' | 'TOO_LARGE' | 'RATE_LIMITED' | 'INTERNAL';

export const ERROR_CODES: readonly ErrorCode[] = [
  'BAD_MESSAGE', 'UNSUPPORTED_PROTOCOL', 'UNKNOWN_MODEL', 'AUTH_REQUIRED', 'OUT_OF_RANGE', 'TOO_LARGE', 'RATE_LIMITED', 'INTERNAL',
];

export type SessionMode = 'stream' | 'sample';
export type OverflowPolicy = 'drop-oldest' | 'backpressure';

/** Microsecond durations in hello: positive integers up to about 35 minutes. */
const durationUs = z.number().int().positive().max(2 ** 31);
const sensorSide = z.number().int().min(1).max(65536);

/** events.clock: an integer number of microseconds, in the range t0 may take. */
export const clockSchema = z.number().int().min(-(2 ** 53) + 2 ** 31).max(2 ** 53 - 2 ** 31);

/** Per-session filters, applied in order before binning (filter-chain.ts). */
export const filterSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('center_crop'), width: sensorSide, height: sensorSide }),
  z.object({ op: z.literal('downsample'), width: sensorSide, height: sensorSide }),
  z.object({ op: z.literal('denoise'), filterUs: durationUs, neighbourhood: z.union([z.literal(4), z.literal(8)]).optional() }),
  z.object({ op: z.literal('refractory'), refractoryUs: z.number().int().min(0).max(2 ** 31) }),
  z.object({ op: z.literal('flip_lr') }),
  z.object({ op: z.literal('flip_ud') }),
]);

export type FilterSpec = z.infer<typeof filterSchema>;

export const helloSchema = z.object({
  type: z.literal('hello'),
  protocol: z.literal(PROTOCOL_VERSION),
  sensor: z.object({ width: sensorSide, height: sensorSide }),
  model: z.string().min(1).max(256).optional(),
  token: z.string().max(4096).optional(),
  mode: z.enum(['stream', 'sample']).optional(),
  decisionUs: durationUs.optional(),
  windowUs: durationUs.optional(),
  idleResetUs: durationUs.optional(),
  overflow: z.enum(['drop-oldest', 'backpressure']).optional(),
  filters: z.array(filterSchema).max(8).optional(),
});

export type HelloMessage = z.infer<typeof helloSchema>;
/** What a client states in hello, without the envelope. */
export type HelloOptions = Omit<HelloMessage, 'type' | 'protocol'>;

export const flushSchema = z.object({ type: z.literal('flush') });
export const resetSchema = z.object({ type: z.literal('reset') });
export const byeSchema = z.object({ type: z.literal('bye') });

export const CLIENT_MESSAGE_TYPES = ['hello', 'events', 'raw', 'flush', 'reset', 'bye'] as const;

export interface ModelSummary {
  readonly name: string;
  readonly labels: readonly string[];
  readonly input: { readonly width: number; readonly height: number; readonly channels: number; readonly binning: unknown };
  /** Connection density over all weighted layers (existing / possible connections). */
  readonly density: number;
}

export interface ReadyMessage {
  readonly type: 'ready';
  readonly session: string;
  readonly protocol: number;
  readonly model: ModelSummary;
  readonly mode: SessionMode;
  readonly sensor: { readonly width: number; readonly height: number };
  /** Filters in force, and the geometry after them (what binning and the model see). */
  readonly filters: readonly FilterSpec[];
  readonly filtered: { readonly width: number; readonly height: number };
  /** Stream mode: prediction period, trailing window and idle gap that resets state, in event-time us. */
  readonly decisionUs?: number;
  readonly windowUs?: number;
  readonly idleResetUs?: number;
  readonly overflow: OverflowPolicy;
  readonly limits: Record<string, number>;
}

export interface PredictionMessage {
  readonly type: 'prediction';
  /** Number of this prediction within the session, from 0. */
  readonly seq: number;
  /** Event time covered, [start, end) in microseconds. */
  readonly window: readonly [number, number];
  readonly label: string;
  /** Argmax of scores (ties: lowest index); -1 when no timestep was processed. */
  readonly index: number;
  /** Class scores by the model's readout (sum/last/max of the Output node over the window). */
  readonly scores: readonly number[];
  /** Output values summed over the window (output spike counts for a spiking output layer). */
  readonly counts: readonly number[];
  /** Input events in the window. */
  readonly events: number;
  /** Engine timesteps in the window. */
  readonly timesteps: number;
  /** True when a flush or the end of a stream segment (idle gap) produced this prediction. */
  readonly final: boolean;
  /** Server time from receiving the message that completed the window to sending this. */
  readonly latencyMs: number;
}

export interface StatsMessage {
  readonly type: 'stats';
  readonly eventsIn: number;
  readonly eventsDropped: number;
  readonly predictions: number;
  readonly queueDepth: number;
  readonly predictionsDropped: number;
  readonly eventsOutOfRange: number;
  readonly eventsLate: number;
  /** Events removed by the session's filters. */
  readonly eventsFiltered: number;
  readonly badMessages: number;
}

export interface ErrorMessage {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  /** The session is closed after a fatal error. */
  readonly fatal: boolean;
}

export type ServerMessage = ReadyMessage | PredictionMessage | StatsMessage | ErrorMessage;

/** zod issues as one line naming each field: `hello.sensor.width: Too small: expected ...`. */
export function describeIssues(kind: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${kind}${i.path.length ? `.${i.path.map(String).join('.')}` : ''}: ${i.message}`).join('; ');
}
