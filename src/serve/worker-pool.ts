/**
 * Sessions' pipelines in worker threads. The main thread keeps the sockets, the protocol, the
 * queues, limits, stats and metrics (everything in session.ts and connection.ts); binning, the
 * engine and predictions run in a pool of workers, each owning the pipelines of the sessions
 * placed on it (pipeline-worker.ts).
 *
 * Why: the main thread then only reads sockets, decodes messages and writes predictions, while
 * the pipelines of different sessions run on other cores: throughput grows with the cores, and a
 * busy or pausing (GC) pipeline delays only its own worker's sessions. The hand-offs cost CPU
 * (about half again as much per event as in-process, measured on two cores), so on a two-core
 * machine the default keeps the pipelines on the main thread (server.ts, defaultWorkers).
 *
 * Placement: a new session goes to the worker with the fewest sessions, preferring workers that
 * keep an idle engine of its model (so the engine memory budget, which counts idle engines as
 * reusable, stays exact). The pool mirrors each worker's idle engines per model (a worker applies
 * the same keep/drop rules in the same order) and reports them through the ServedModel's
 * accounting, so activeEngines, pooledEngines and maxEngineBytes mean what they mean in-process.
 *
 * A worker that dies fails its sessions (INTERNAL, close 1011) and is replaced.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from './logger.js';
import type { PipelinePrediction } from './inference-pipeline.js';
import type { ErrorCode } from './protocol.js';
import type { ServedModel } from './served-model.js';
import { ServeConfigError } from './serve-config-error.js';
import type { FromWorker, RemoteCounters, RemoteSessionSpec, ToWorker, WorkBatch, WorkerInit, WorkItem } from './worker-protocol.js';

/** What the pool tells a session (remote-pipeline.ts implements it). */
export interface RemoteClient {
  onPrediction(p: PipelinePrediction): void;
  onStep(tStart: number, tEnd: number, output: Float32Array): void;
  onAck(done: number, idle: boolean, free: number, counters: RemoteCounters | undefined): void;
  onError(code: ErrorCode, message: string, fatal: boolean): void;
  /** The session's pipeline failed or its worker died: it cannot go on. */
  onFail(message: string): void;
}

/** A session's place in the pool. */
export interface RemoteHandle {
  /** Queues input for the worker: everything queued during a scheduler round goes in one message. */
  work(items: readonly WorkItem[]): void;
  steps(on: boolean): void;
  /** Ends the session in its worker (its engine goes back to the worker's idle engines). */
  close(): void;
}

interface Slot {
  worker: Worker;
  sessions: number;
  /** Idle engines the worker keeps, by model name (mirrors the worker's ServedModel pools). */
  readonly pooled: Map<string, number>;
  readonly clients: Map<number, { client: RemoteClient; model: ServedModel }>;
  /** Input queued for the worker this round. */
  outbox: WorkBatch[];
}

/** Starting a worker (loading modules, rebuilding models) must not take longer than this. */
const START_TIMEOUT_MS = 30_000;

/**
 * How to start a worker: the compiled pipeline-worker.js next to this file, or, when running from
 * the TypeScript sources (tests, tsx), a small module that registers tsx's loader in the worker and
 * then imports pipeline-worker.ts (a worker's execArgv `--import` does not reach its module loader).
 */
function workerEntry(): { readonly entry: URL | string; readonly eval: boolean } {
  const js = new URL('./pipeline-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { entry: js, eval: false };
  const ts = new URL('./pipeline-worker.ts', import.meta.url);
  if (!existsSync(fileURLToPath(ts))) throw new ServeConfigError(`the pipeline worker is missing next to ${fileURLToPath(import.meta.url)}`);
  const tsx = import.meta.resolve('tsx/esm/api');
  return { entry: `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(ts.href)}); });`, eval: true };
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextSession = 1;
  private stopped = false;

  private constructor(
    private readonly models: readonly ServedModel[],
    private readonly init: WorkerInit,
    private readonly logger: Logger,
  ) {}

  /** Starts `size` workers with the models; resolves when all are ready. */
  static async start(models: readonly ServedModel[], size: number, sliceMs: number, logger: Logger): Promise<WorkerPool> {
    const init: WorkerInit = {
      models: models.map((m) => ({ name: m.name, model: m.model, engineBytes: m.engineBytes, maxPooledEngines: m.maxPooledEngines })),
      sliceMs,
    };
    const pool = new WorkerPool(models, init, logger);
    try {
      for (let i = 0; i < size; i++) pool.slots.push(await pool.spawn());
    } catch (e) {
      await pool.close();
      throw e;
    }
    for (const m of models) {
      // Engines now live in the workers: free the one loading built here, and have drops reach the workers.
      m.dropPooled();
      m.onDropPooled = () => pool.dropPooled(m.name);
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Sessions on each worker. */
  load(): number[] {
    return this.slots.map((s) => s.sessions);
  }

  /** Ends worker `i` abruptly, as a crash would (tests use it; its sessions fail, a new worker replaces it). */
  async terminateWorker(i: number): Promise<void> {
    await this.slots[i]?.worker.terminate();
  }

  /** Places a session: builds its pipeline in a worker, with `ring` (event-ring.ts) as its input. */
  open(client: RemoteClient, model: ServedModel, spec: RemoteSessionSpec, ring: SharedArrayBuffer, capacity: number): RemoteHandle {
    const slot = this.choose(model.name);
    const idle = slot.pooled.get(model.name) ?? 0;
    if (idle > 0) slot.pooled.set(model.name, idle - 1);
    model.countRemoteAcquire(idle > 0);
    const s = this.nextSession++;
    slot.sessions++;
    slot.clients.set(s, { client, model });
    this.post(slot, { k: 'open', s, spec, ring, capacity });
    let closed = false;
    return {
      work: (items) => {
        if (closed) return;
        if (slot.outbox.length === 0) queueMicrotask(() => this.flush(slot));
        slot.outbox.push({ s, items });
      },
      steps: (on) => {
        if (!closed) this.post(slot, { k: 'steps', s, on });
      },
      close: () => {
        if (closed) return;
        closed = true;
        if (!slot.clients.delete(s)) return; // its worker died: nothing left there
        slot.sessions--;
        const kept = (slot.pooled.get(model.name) ?? 0) < model.maxPooledEngines;
        if (kept) slot.pooled.set(model.name, (slot.pooled.get(model.name) ?? 0) + 1);
        model.countRemoteRelease(kept);
        this.flush(slot); // its last input first
        this.post(slot, { k: 'close', s });
      },
    };
  }

  /** Stops the workers (sessions should be closed first). */
  async close(): Promise<void> {
    this.stopped = true;
    for (const m of this.models) if (m.onDropPooled !== undefined) m.onDropPooled = undefined;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private choose(model: string): Slot {
    let best: Slot | undefined;
    for (const preferPooled of [true, false]) {
      for (const s of this.slots) {
        if (preferPooled && (s.pooled.get(model) ?? 0) === 0) continue;
        if (best === undefined || s.sessions < best.sessions) best = s;
      }
      if (best !== undefined) return best;
    }
    throw new ServeConfigError('the worker pool has no workers');
  }

  private dropPooled(model: string): void {
    for (const s of this.slots) {
      if ((s.pooled.get(model) ?? 0) === 0) continue;
      s.pooled.set(model, 0);
      this.post(s, { k: 'drop', model });
    }
  }

  private post(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  private flush(slot: Slot): void {
    if (slot.outbox.length === 0) return;
    const batch = slot.outbox;
    slot.outbox = [];
    this.post(slot, { k: 'work', batch });
  }

  private spawn(): Promise<Slot> {
    const { entry, eval: isEval } = workerEntry();
    const worker = new Worker(entry, { workerData: this.init, eval: isEval });
    const slot: Slot = { worker, sessions: 0, pooled: new Map(), clients: new Map(), outbox: [] };
    return new Promise<Slot>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new ServeConfigError(`a pipeline worker did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const onStartError = (e: Error): void => {
        clearTimeout(timer);
        reject(new ServeConfigError(`a pipeline worker failed to start: ${e.message}`));
      };
      const onStartExit = (code: number): void => onStartError(new Error(`it exited with code ${code}`));
      worker.once('error', onStartError);
      worker.once('exit', onStartExit);
      worker.on('message', (m: FromWorker) => {
        if (m.k === 'ready') {
          clearTimeout(timer);
          worker.off('error', onStartError);
          worker.off('exit', onStartExit);
          worker.on('error', (e: Error) => this.onDeath(slot, `pipeline worker failed: ${e.message}`));
          worker.on('exit', (code: number) => this.onDeath(slot, `pipeline worker exited (${code})`));
          resolve(slot);
          return;
        }
        this.route(slot, m);
      });
    });
  }

  private route(slot: Slot, m: Exclude<FromWorker, { k: 'ready' }>): void {
    if (m.k === 'acks') {
      for (const a of m.acks) slot.clients.get(a.s)?.client.onAck(a.done, a.idle, a.free, a.counters);
      return;
    }
    const c = slot.clients.get(m.s)?.client;
    if (c === undefined) return; // closed meanwhile
    switch (m.k) {
      case 'pred': c.onPrediction(m.p); return;
      case 'step': c.onStep(m.tStart, m.tEnd, m.output); return;
      case 'err': c.onError(m.code, m.message, m.fatal); return;
      case 'fail': c.onFail(m.message); return;
    }
  }

  private onDeath(slot: Slot, reason: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return; // already handled (error and exit both fire)
    this.slots.splice(i, 1);
    if (this.stopped) return;
    this.logger.error({ reason }, 'pipeline worker died');
    // Its idle engines are gone: take them out of the accounting.
    for (const m of this.models) {
      for (let k = slot.pooled.get(m.name) ?? 0; k > 0; k--) {
        m.countRemoteAcquire(true);
        m.countRemoteRelease(false);
      }
    }
    const clients = [...slot.clients.values()];
    slot.clients.clear();
    for (const { client, model } of clients) {
      model.countRemoteRelease(false);
      client.onFail(reason);
    }
    this.spawn().then((s) => {
      if (this.stopped) void s.worker.terminate();
      else this.slots.push(s);
    }, (e: unknown) => this.logger.error({ err: e as Error }, 'could not replace a pipeline worker'));
  }
}
