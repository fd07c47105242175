/**
 * Messages between the server's main thread and its pipeline workers (worker-pool.ts,
 * pipeline-worker.ts). Everything here survives structured cloning: plain objects, numbers,
 * strings, typed arrays and SharedArrayBuffers. Events never travel in messages: they are in the
 * session's ring (event-ring.ts) and an item carries their position.
 */
import type { Model } from '../model/model.js';
import type { PipelinePrediction } from './inference-pipeline.js';
import type { ErrorCode, FilterSpec, SessionMode } from './protocol.js';

/** What a worker is started with (workerData). */
export interface WorkerInit {
  readonly models: readonly { readonly name: string; readonly model: Model; readonly engineBytes: number; readonly maxPooledEngines: number }[];
  /** The server's sliceMs: a worker shares its time between sessions in slices as the main thread did. */
  readonly sliceMs: number;
}

/** One session's pipeline settings (InferencePipeline's options, filters as specs). */
export interface RemoteSessionSpec {
  readonly model: string;
  readonly mode: SessionMode;
  readonly width: number;
  readonly height: number;
  readonly filters: readonly FilterSpec[];
  readonly sensor: { readonly width: number; readonly height: number };
  readonly maxFilterPixels: number;
  readonly decisionUs: number;
  readonly windowUs: number;
  readonly idleResetUs: number;
  readonly maxGapWindows: number;
  readonly maxSampleEvents: number;
  readonly maxWindowSteps: number;
  /** Chunk size of the worker's EventPool (limits.poolChunkEvents). */
  readonly poolChunkEvents: number;
}

/**
 * A session's input, in arrival order: events [pos, pos + n) of the ring with an optional clock,
 * end of sample/segment, reset. `at` is the main thread's performance.now() when the message
 * arrived; the worker only passes it on (predictions carry it back).
 */
export type WorkItem =
  | { readonly k: 'ev'; readonly pos: number; readonly n: number; readonly clock: number | undefined; readonly at: number }
  | { readonly k: 'flush'; readonly at: number }
  | { readonly k: 'reset' }
  /** Send the counters with the next ack (the session is about to close and sends its last stats). */
  | { readonly k: 'sync' };

/** Input for several sessions, sent together: one message per worker per scheduler round. */
export interface WorkBatch {
  readonly s: number;
  readonly items: readonly WorkItem[];
}

export type ToWorker =
  | { readonly k: 'open'; readonly s: number; readonly spec: RemoteSessionSpec; readonly ring: SharedArrayBuffer; readonly capacity: number }
  | { readonly k: 'work'; readonly batch: readonly WorkBatch[] }
  /** Send each timestep's Output values back (while a live view watches the session). */
  | { readonly k: 'steps'; readonly s: number; readonly on: boolean }
  | { readonly k: 'close'; readonly s: number }
  /** Free the idle engines of a model (the main thread's dropPooled). */
  | { readonly k: 'drop'; readonly model: string };

/** Counters of a session's pipeline, as its stats need them. */
export interface RemoteCounters {
  readonly timesteps: number;
  readonly eventsFiltered: number;
  readonly eventsOutOfRange: number;
  readonly eventsLate: number;
}

/**
 * After a session's slice: `done` items were taken in since its last ack; `idle` when nothing is
 * left to do; the ring before `free` may be overwritten.
 */
export interface Ack {
  readonly s: number;
  readonly done: number;
  readonly idle: boolean;
  readonly free: number;
  /** Sent at most every COUNTERS_MS (reading them costs), and after a `sync`. */
  readonly counters: RemoteCounters | undefined;
}

/** Least time between two counter updates of a session (ms). */
export const COUNTERS_MS = 100;

export type FromWorker =
  | { readonly k: 'ready' }
  | { readonly k: 'pred'; readonly s: number; readonly p: PipelinePrediction }
  | { readonly k: 'step'; readonly s: number; readonly tStart: number; readonly tEnd: number; readonly output: Float32Array }
  /** The acks of one scheduler round (one message per round, not per session). */
  | { readonly k: 'acks'; readonly acks: readonly Ack[] }
  /** A ServeError of the pipeline (bad input). */
  | { readonly k: 'err'; readonly s: number; readonly code: ErrorCode; readonly message: string; readonly fatal: boolean }
  /** Anything else thrown while processing: the session cannot go on. */
  | { readonly k: 'fail'; readonly s: number; readonly message: string };
