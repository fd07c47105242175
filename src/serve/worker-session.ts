/**
 * The worker-thread half of a session (pipeline-worker.ts): its pipeline, fed from the session's
 * ring in the order the main thread queued the input, and processed in slices among the worker's
 * other sessions exactly as the main thread's Session does in-process. Results go back as
 * messages: predictions and step outputs as they are computed, and after each slice an ack saying
 * how much input was taken, whether the session is idle and how much of the ring is free again.
 *
 * Events are copied out of the ring (into this thread's EventPool) as they are taken: the binning
 * keeps views on its input for as long as a window is open, which can be a whole sample for
 * n_time_bins, far more than the ring holds. So the ring is free as soon as an item is taken, and
 * retention is the pool's business (reused when no view is left, as in-process).
 */
import type { EventBatch } from '../events/batch.js';
import type { Engine } from '../snn/engine.js';
import type { ClockedBatch } from '../stream/clocked-batch.js';
import { EventPool } from './event-pool.js';
import { ringBatch, ringColumns, type RingColumns } from './event-ring.js';
import { createFilterChain } from './filter-chain.js';
import { InferencePipeline, type PipelinePrediction } from './inference-pipeline.js';
import type { ServedModel } from './served-model.js';
import { isServeError } from './serve-error.js';
import type { SliceWorker } from './slice-scheduler.js';
import { COUNTERS_MS, type Ack, type FromWorker, type RemoteCounters, type RemoteSessionSpec, type WorkItem } from './worker-protocol.js';

export class WorkerSession implements SliceWorker {
  scheduled = false;
  closed = false;
  private readonly pipeline: InferencePipeline;
  private readonly ring: RingColumns;
  private readonly pool: EventPool;
  private readonly inbox: WorkItem[] = [];
  private head = 0;
  /** End of the last events item received: the ring is free up to here once all is taken. */
  private received = 0;
  private done = 0;
  private countersAt = -Infinity;
  private sync = false;
  private readonly emit = (p: PipelinePrediction): void => this.post({ k: 'pred', s: this.s, p });

  constructor(
    readonly s: number,
    private readonly served: ServedModel,
    spec: RemoteSessionSpec,
    ring: SharedArrayBuffer,
    capacity: number,
    private readonly post: (m: FromWorker) => void,
    /** Queues an ack (sent with the others of the round). */
    private readonly ack: (a: Ack) => void,
  ) {
    this.ring = ringColumns(ring, capacity);
    this.pool = new EventPool({ chunkEvents: spec.poolChunkEvents });
    const filters = spec.filters.length > 0 ? createFilterChain(spec.filters, spec.sensor, spec.maxFilterPixels) : undefined;
    this.pipeline = new InferencePipeline(served, served.acquireEngine(), {
      mode: spec.mode, width: spec.width, height: spec.height, filters, decisionUs: spec.decisionUs, windowUs: spec.windowUs,
      idleResetUs: spec.idleResetUs, maxGapWindows: spec.maxGapWindows, maxSampleEvents: spec.maxSampleEvents, maxWindowSteps: spec.maxWindowSteps,
    });
  }

  add(items: readonly WorkItem[]): void {
    for (const it of items) {
      this.inbox.push(it);
      if (it.k === 'ev' && it.n > 0) this.received = it.pos + it.n;
    }
  }

  observeSteps(on: boolean): void {
    this.pipeline.onStep = on ? (tStart, tEnd, output) => this.post({ k: 'step', s: this.s, tStart, tEnd, output: output.slice() }) : undefined;
  }

  runSlice(deadline: number): boolean {
    if (this.closed) return false;
    const pipe = this.pipeline;
    try {
      while (true) {
        if (pipe.busy) {
          pipe.run(deadline, this.emit);
        } else {
          if (this.head >= this.inbox.length) break;
          const it = this.inbox[this.head];
          this.inbox[this.head++] = TAKEN; // let it go now (see session-queue.ts advance)
          this.done++;
          if (it.k === 'ev') {
            let b: ClockedBatch = EMPTY;
            if (it.n > 0) {
              b = this.pool.take(it.n);
              copyInto(ringBatch(this.ring, it.pos, it.n), b);
            }
            if (it.clock !== undefined) b = { t: b.t, x: b.x, y: b.y, p: b.p, clockUs: it.clock };
            // The copy is this pipeline's alone: filters may rewrite it in place.
            this.guard(() => pipe.push(b, it.at, true));
          } else if (it.k === 'flush') {
            this.guard(() => pipe.flush(it.at));
          } else if (it.k === 'reset') {
            pipe.reset();
          } else {
            this.sync = true;
          }
        }
        if (this.closed) return false;
        if (performance.now() >= deadline) break;
      }
    } catch (e) {
      this.post({ k: 'fail', s: this.s, message: (e as Error).message });
      this.close();
      return false;
    }
    if (this.head >= this.inbox.length) {
      this.inbox.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.inbox.splice(0, this.head);
      this.head = 0;
    }
    const idle = !pipe.busy && this.head >= this.inbox.length;
    if (!pipe.busy) this.pool.recycle((buf) => pipe.holds(buf));
    const now = performance.now();
    let counters: RemoteCounters | undefined;
    if (this.sync || now - this.countersAt >= COUNTERS_MS) {
      counters = { timesteps: pipe.counters.timesteps, eventsFiltered: pipe.counters.eventsFiltered, eventsOutOfRange: pipe.eventsOutOfRange(), eventsLate: pipe.binningCounts().late };
      this.countersAt = now;
      this.sync = false;
    }
    this.ack({ s: this.s, done: this.done, idle, free: this.freeUpTo(), counters });
    this.done = 0;
    return !idle;
  }

  /** Frees the engine (back to the worker's idle engines); later input is ignored. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox.length = 0;
    this.head = 0;
    const engine: Engine = this.pipeline.detach();
    this.served.releaseEngine(engine);
  }

  /** The ring position before which everything has been taken (copied out). */
  private freeUpTo(): number {
    for (let i = this.head; i < this.inbox.length; i++) {
      const it = this.inbox[i];
      if (it.k === 'ev' && it.n > 0) return it.pos;
    }
    return this.received;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!isServeError(e)) throw e;
      this.post({ k: 'err', s: this.s, code: e.code, message: e.message, fatal: e.fatal });
    }
  }
}

const TAKEN: WorkItem = Object.freeze({ k: 'reset' });

const EMPTY: EventBatch = Object.freeze({ t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0) });

function copyInto(from: EventBatch, to: EventBatch): void {
  to.t.set(from.t);
  to.x.set(from.x);
  to.y.set(from.y);
  to.p.set(from.p);
}
