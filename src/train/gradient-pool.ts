/**
 * Worker threads that compute chunks of a training batch (chunk-gradients.ts) while the main
 * thread computes its own, so one step uses several cores: tfjs's wasm backend runs one thread
 * under Node, and a step is mostly convolutions that keep one core busy.
 *
 * The step stays synchronous: the main thread posts each worker its chunks (a MessagePort, the
 * input transferred), computes its own chunks, then blocks on a shared control word
 * (Atomics.wait) until each worker has posted its results, which it takes off the port with
 * receiveMessageOnPort. A worker that does not answer within `timeoutMs` is an error, not a hang.
 *
 * Workers start once per process and are reused by every trainer (unref'd: they never keep the
 * process alive). They run the compiled gradient-worker.js; under a TypeScript loader (tests, tsx)
 * the .ts source through tsx's register API; where neither is possible there are no workers and
 * the trainer computes every chunk itself (same results).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { GradientJob, GradientReply } from './gradient-worker.js';
import type { ChunkResult } from './chunk-gradients.js';
import { TrainError } from './train-error.js';

/** Default wait for a worker's results: generous (a chunk on the cpu backend takes seconds), but bounded. */
export const DEFAULT_WORKER_TIMEOUT_MS = 300_000;

/** Most worker threads a pool starts. */
export const MAX_WORKERS = 15;

interface PoolWorker {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly ctl: Int32Array;
  seq: number;
  /** The graph key this worker has (graphs are re-sent only on change). */
  graphKey: number;
}

/** How to start a worker here, or null. */
function workerSource(): { url: URL; eval?: string } | null {
  const js = new URL('./gradient-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { url: js };
  const ts = new URL('./gradient-worker.ts', import.meta.url);
  if (!existsSync(fileURLToPath(ts))) return null;
  try {
    // tsx's ESM register API (its package exports map './esm/api' to dist/esm/api/index.mjs).
    const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
    const api = pathToFileURL(join(dirname(pkg), 'dist', 'esm', 'api', 'index.mjs'));
    if (!existsSync(fileURLToPath(api))) return null;
    return { url: ts, eval: `import(${JSON.stringify(api.href)}).then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); });` };
  } catch {
    return null;
  }
}

let source: ReturnType<typeof workerSource> | undefined;
const workers: PoolWorker[] = [];

function startWorker(): PoolWorker | null {
  if (source === undefined) source = workerSource();
  if (!source) return null;
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const { port1, port2 } = new MessageChannel();
  const init = { port: port2, ctl };
  const worker = source.eval
    ? new Worker(source.eval, { eval: true, workerData: init, transferList: [port2] })
    : new Worker(source.url, { workerData: init, transferList: [port2] });
  worker.unref();
  port1.unref();
  // Errors surface as missing replies (a timeout), and in the reply of the job that failed.
  worker.on('error', () => undefined);
  return { worker, port: port1, ctl, seq: 0, graphKey: -1 };
}

/** Up to `n` workers (fewer where they cannot start). */
export function gradientWorkers(n: number): number {
  const want = Math.max(0, Math.min(n, MAX_WORKERS));
  while (workers.length < want) {
    const w = startWorker();
    if (!w) break;
    workers.push(w);
  }
  return Math.min(want, workers.length);
}

/** Worker threads a trainer uses by default: one per further core. */
export function defaultWorkerCount(): number {
  return Math.max(0, availableParallelism() - 1);
}

const graphKeys = new WeakMap<object, number>();
let nextKey = 0;

/** A job handed to worker `i` (see GradientJob); returns a function that waits for its results. */
export function postChunks(i: number, owner: object, job: Omit<GradientJob, 'seq' | 'graphKey' | 'graph'> & { readonly graph: GradientJob['graph'] }, timeoutMs = DEFAULT_WORKER_TIMEOUT_MS): () => ChunkResult[] {
  const w = workers[i];
  if (!w) throw new TrainError('INVARIANT', `no gradient worker ${i}`);
  let key = graphKeys.get(owner);
  if (key === undefined) graphKeys.set(owner, (key = nextKey++));
  const seq = ++w.seq;
  const msg: GradientJob = { ...job, seq, graphKey: key, graph: w.graphKey === key ? null : job.graph };
  w.graphKey = key;
  w.port.postMessage(msg, job.chunks.flatMap((c) => [c.x.buffer, c.onehot.buffer]) as ArrayBuffer[]);
  return () => {
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(w.ctl, 0) !== seq) {
      const left = deadline - performance.now();
      const exited = Atomics.load(w.ctl, 1) === 1;
      if (left <= 0 || exited) {
        // The worker is lost (its state unknown): later jobs start a new one.
        void w.worker.terminate();
        const at = workers.indexOf(w);
        if (at >= 0) workers.splice(at, 1);
        throw new TrainError('INVARIANT', `gradient worker ${i} ${exited ? 'exited' : `did not answer within ${timeoutMs} ms`}`);
      }
      Atomics.wait(w.ctl, 0, Atomics.load(w.ctl, 0), Math.min(left, 1000));
    }
    // Replies to earlier jobs nobody waited for (their step failed) are dropped.
    let reply: GradientReply | undefined;
    for (let m = receiveMessageOnPort(w.port); m; m = receiveMessageOnPort(w.port)) {
      reply = m.message as GradientReply;
      if (reply.seq === seq) break;
    }
    if (!reply || reply.seq !== seq) throw new TrainError('INVARIANT', `gradient worker ${i}: no reply to job ${seq}`);
    if ('error' in reply) {
      w.graphKey = -1;
      throw new TrainError('INVARIANT', `gradient worker ${i}: ${reply.error}`);
    }
    return reply.results;
  };
}

/** Stops every worker (they are unref'd, so this is only needed to free them early). */
export async function closeGradientWorkers(): Promise<void> {
  const all = workers.splice(0);
  await Promise.all(all.map((w) => w.worker.terminate()));
}
