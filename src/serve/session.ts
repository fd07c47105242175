/**
 * A session: one client's queue, pipeline and counters, behind a transport-neutral sink (a
 * WebSocket connection, or an in-process source). Messages are applied in arrival order; events
 * wait in a bounded queue (session-queue.ts) and are processed in slices by the server's
 * SliceScheduler: on this thread (`process`), or, with a worker pool, handed to the session's
 * pipeline in a worker thread (`forward`, remote-pipeline.ts), whose predictions come back here.
 * Predictions go out as soon as they exist; when the client does not read, the sink drops them
 * (counted in stats) rather than buffering without bound.
 */
import { randomUUID } from 'node:crypto';
import { Subject } from 'rxjs';
import type { EventBatch } from '../events/batch.js';
import { clockOf, type ClockedBatch } from '../stream/clocked-batch.js';
import type { Logger } from './logger.js';
import { createFilterChain } from './filter-chain.js';
import { InferencePipeline, type PipelinePrediction } from './inference-pipeline.js';
import { clientLimits, type ServeLimits } from './limits.js';
import type { ServeMetrics } from './metrics.js';
import { PROTOCOL_VERSION, type ErrorMessage, type ReadyMessage, type ServerMessage, type StatsMessage } from './protocol.js';
import type { ServedModel } from './served-model.js';
import { closeCodeFor, isServeError, ServeError } from './serve-error.js';
import type { SessionSettings } from './session-options.js';
import type { ChunkCache } from './chunk-cache.js';
import { EventPool } from './event-pool.js';
import { RemotePipeline } from './remote-pipeline.js';
import { SessionQueue, type ControlKind } from './session-queue.js';
import type { SliceScheduler, SliceWorker } from './slice-scheduler.js';
import type { WorkerPool } from './worker-pool.js';
import type { RemoteCounters } from './worker-protocol.js';

/** One engine timestep of a session: its event-time span [tStart, tEnd) in us and the Output node's values. */
export interface SessionStep {
  readonly tStart: number;
  readonly tEnd: number;
  readonly output: Float32Array;
}

export interface SessionSink {
  /** Sends a message; false when it was dropped because the peer is not reading. */
  send(msg: ServerMessage, droppable: boolean): boolean;
  /** Closes the transport (the session is already closed). */
  close(code: number, reason: string): void;
  /** Bytes waiting in the transport's send buffer. */
  bufferedAmount?(): number;
  /** Stop and resume reading input ('backpressure' overflow). */
  pauseInput?(): void;
  resumeInput?(): void;
}

export interface SessionContext {
  readonly limits: ServeLimits;
  readonly metrics: ServeMetrics;
  readonly logger: Logger;
  readonly scheduler: SliceScheduler;
  /** Where pipelines run: worker threads (worker-pool.ts), or this thread when undefined. */
  readonly workers: WorkerPool | undefined;
  /** Idle decode-pool chunks shared by all sessions (chunk-cache.ts); a private one when absent. */
  readonly chunkCache?: ChunkCache;
  readonly onClosed: (s: Session) => void;
}

export type SessionState = 'open' | 'draining' | 'closed';

export class Session implements SliceWorker {
  readonly id = randomUUID();
  readonly startedAt = Date.now();
  /** Batches as they enter binning (for live views of the session). */
  readonly events$ = new Subject<EventBatch>();
  /** Every message sent to the client. */
  readonly messages$ = new Subject<ServerMessage>();
  /** Output values of each engine timestep, emitted only while observed (live views: the dashboard's raster). */
  readonly steps$ = new Subject<SessionStep>();
  scheduled = false;
  state: SessionState = 'open';
  eventsIn = 0;
  /** Decoded raw events outside the declared sensor (dropped before the filters). */
  eventsOutsideSensor = 0;
  predictions = 0;
  predictionsDropped = 0;
  badMessages = 0;
  /** Storage the connection decodes `events` messages into (reused; see event-pool.ts). */
  readonly pool: EventPool;
  private readonly queue: SessionQueue;
  /** In-process pipeline (no worker pool), or null. */
  private readonly pipeline: InferencePipeline | null = null;
  /** The pipeline in a worker thread, or null. */
  private readonly remote: RemotePipeline | null = null;
  private paused = false;
  private byeReceived = false;
  private lastStatsAt = 0;
  private statsDirty = false;
  private readonly log: Logger;

  constructor(
    readonly model: ServedModel,
    readonly settings: SessionSettings,
    private readonly sink: SessionSink,
    private readonly ctx: SessionContext,
    /** Who is on the other end, for logs and listings. */
    readonly peer: string,
  ) {
    const l = ctx.limits;
    this.pool = new EventPool({ chunkEvents: l.poolChunkEvents, ...(ctx.chunkCache ? { cache: ctx.chunkCache } : {}) });
    this.queue = new SessionQueue(l.maxQueueEvents, l.maxQueueMessages, (b) => this.pool.dequeued(b));
    this.log = ctx.logger.child({ session: this.id });
    const opts = {
      mode: settings.mode, width: settings.filtered.width, height: settings.filtered.height,
      decisionUs: settings.decisionUs, windowUs: settings.windowUs, idleResetUs: settings.idleResetUs,
      maxGapWindows: l.maxGapWindows, maxSampleEvents: l.maxSampleEvents, maxWindowSteps: l.maxWindowSteps,
    };
    if (ctx.workers !== undefined) {
      const spec = { ...opts, model: model.name, filters: settings.filters, sensor: settings.sensor, maxFilterPixels: l.maxFilterPixels, poolChunkEvents: l.poolChunkEvents };
      this.remote = new RemotePipeline(ctx.workers, model, spec, l.ringEvents, {
        prediction: (p) => this.emitPrediction(p),
        step: (tStart, tEnd, output) => {
          if (this.steps$.observed) this.steps$.next({ tStart, tEnd, output });
        },
        progress: () => this.onRemoteProgress(),
        error: (code, message, fatal) => this.reportError(new ServeError(code, message, fatal)),
        fail: (message) => {
          this.log.error({ reason: message }, 'session processing failed');
          this.reportError(new ServeError('INTERNAL', `internal error while processing: ${message}`, true));
        },
      });
    } else {
      const filters = settings.filters.length > 0 ? createFilterChain(settings.filters, settings.sensor, l.maxFilterPixels) : undefined;
      const pipeline = new InferencePipeline(model, model.acquireEngine(), { ...opts, filters });
      pipeline.onStep = (tStart, tEnd, output) => {
        if (this.steps$.observed) this.steps$.next({ tStart, tEnd, output });
      };
      this.pipeline = pipeline;
    }
  }

  readyMessage(): ReadyMessage {
    const s = this.settings;
    return {
      type: 'ready', session: this.id, protocol: PROTOCOL_VERSION, model: this.model.summary, mode: s.mode, sensor: s.sensor,
      filters: s.filters, filtered: s.filtered,
      ...(s.mode === 'stream' ? { decisionUs: s.decisionUs, windowUs: s.windowUs, idleResetUs: s.idleResetUs } : {}),
      overflow: s.overflow, limits: clientLimits(this.ctx.limits),
    };
  }

  get queueDepth(): number {
    return this.queue.events;
  }

  /** Bytes waiting in the send buffer (0 for in-process sessions). */
  get sendBuffered(): number {
    return this.sink.bufferedAmount?.() ?? 0;
  }

  /** Engine timesteps run so far. */
  get timesteps(): number {
    return this.pipeline?.counters.timesteps ?? (this.remote as RemotePipeline).counters.timesteps;
  }

  get eventsDropped(): number {
    return this.queue.dropped;
  }

  /** Accepting input: open and no bye yet. */
  get accepting(): boolean {
    return this.state === 'open' && !this.byeReceived;
  }

  /** Queues a batch (events or clock tick). */
  pushEvents(batch: ClockedBatch, at: number): void {
    if (!this.accepting) return;
    const n = batch.t.length;
    this.pool.queued(batch); // first: making room may drop this very batch
    const r = this.queue.pushEvents(batch, at);
    if (r === false) {
      this.pool.dequeued(batch);
      this.queue.dropped += n;
      this.ctx.metrics.eventsDropped.inc(n);
      this.eventsIn += n;
      this.ctx.metrics.hot.eventsIn += n;
      this.refuse(`an events message with ${n} events`);
      return;
    }
    this.eventsIn += n;
    this.ctx.metrics.hot.eventsIn += n;
    if (r > 0) this.onDrop(r);
    if (this.settings.overflow === 'backpressure' && !this.paused && this.queue.events >= this.ctx.limits.maxQueueEvents / 2) {
      this.paused = true;
      this.sink.pauseInput?.();
    }
    this.ctx.scheduler.schedule(this);
  }

  pushControl(kind: ControlKind, at: number): void {
    if (!this.accepting) return;
    if (!this.queue.pushControl(kind, at)) {
      this.refuse(kind);
      return;
    }
    if (kind === 'bye') this.byeReceived = true;
    this.ctx.scheduler.schedule(this);
  }

  /** Sends an error; fatal ones close the session. */
  reportError(e: ServeError, closeCode = closeCodeFor(e.code)): void {
    if (this.state === 'closed') return;
    const msg: ErrorMessage = { type: 'error', code: e.code, message: e.message, fatal: e.fatal };
    this.ctx.metrics.errors.inc({ code: e.code });
    if (!e.fatal && e.code !== 'RATE_LIMITED') this.badMessages++;
    this.send(msg, !e.fatal);
    if (e.fatal) this.close(closeCode, `${e.code}: ${e.message}`);
  }

  runSlice(deadline: number): boolean {
    if (this.state === 'closed') return false;
    const more = this.remote !== null ? this.forward(this.remote, deadline) : this.process(this.pipeline as InferencePipeline, deadline);
    if (more === undefined) return false; // closed during the slice
    if (this.paused && this.queue.events <= this.ctx.limits.maxQueueEvents / 4) {
      this.paused = false;
      this.sink.resumeInput?.();
    }
    const busy = this.pipeline?.busy ?? (this.remote as RemotePipeline).busy;
    if (!busy && this.queue.empty && (this.byeReceived || this.state === 'draining')) {
      if (this.remote !== null && !this.synced) {
        // The last stats need the worker's final counters: ask, and close when they are in.
        this.synced = true;
        this.remote.sync();
        this.remote.send();
        return false;
      }
      this.sendStats(true);
      this.close(this.byeReceived ? 1000 : 1001, this.byeReceived ? 'bye' : 'server shutting down');
      return false;
    }
    return more;
  }

  /** Takes the next events from the queue (counted, shown to live views). */
  private take(max: number): ClockedBatch {
    const b = this.queue.takeEvents(max);
    if (b.t.length > 0) {
      this.ctx.metrics.hot.eventsProcessed += b.t.length;
      if (this.events$.observed) {
        this.pool.pin(b);
        this.events$.next(b);
      }
    }
    return b;
  }

  /** In-process: queue -> pipeline until the deadline. Returns whether work remains, undefined once closed. */
  private process(pipeline: InferencePipeline, deadline: number): boolean | undefined {
    const l = this.ctx.limits;
    const emit = this.emit;
    const stepsBefore = pipeline.counters.timesteps;
    this.running = true;
    try {
      while (true) {
        if (pipeline.busy) {
          pipeline.run(deadline, emit);
        } else {
          const it = this.queue.peek();
          if (it === undefined) break;
          if (it.kind === 'events') {
            const b = this.take(l.sliceEvents);
            const owned = this.pool.owns(b);
            try {
              pipeline.push(b, it.at, owned);
            } catch (e) {
              this.reportServeError(e);
            }
          } else {
            this.queue.shift();
            if (it.kind === 'flush') {
              try {
                pipeline.flush(it.at);
              } catch (e) {
                this.reportServeError(e);
              }
            }
            else if (it.kind === 'reset') pipeline.reset();
          }
        }
        if ((this.state as SessionState) === 'closed') return undefined;
        if (performance.now() >= deadline) break;
      }
    } catch (e) {
      this.log.error({ err: e }, 'session processing failed');
      this.reportError(new ServeError('INTERNAL', `internal error while processing: ${(e as Error).message}`, true));
      return undefined;
    } finally {
      this.running = false;
      // A close during the slice (e.g. a stalled client) leaves the engine to be released here.
      if ((this.state as SessionState) === 'closed') this.releaseEngine();
    }
    this.ctx.metrics.hot.timesteps += pipeline.counters.timesteps - stepsBefore;
    if (!pipeline.busy) this.pool.recycle((buf) => pipeline.holds(buf));
    return pipeline.busy || !this.queue.empty;
  }

  /**
   * Worker pipeline: queue -> ring -> one message to the worker, while the ring has room. Returns
   * whether more could be sent now (false while waiting for the worker: its ack reschedules).
   */
  private forward(remote: RemotePipeline, deadline: number): boolean {
    const l = this.ctx.limits;
    remote.observeSteps(this.steps$.observed);
    let blocked = false;
    while (true) {
      const it = this.queue.peek();
      if (it === undefined) break;
      // Input waiting in the worker is bounded like the queue (a flood of flushes stays here).
      if (remote.itemsOut >= l.maxQueueMessages) {
        blocked = true;
        break;
      }
      if (it.kind === 'events') {
        const left = it.batch.t.length - it.off;
        // Items of at most a quarter ring, so the worker works on some while the rest is written.
        const n = left === 0 ? 0 : remote.room(Math.min(left, l.sliceEvents, Math.max(1, l.ringEvents >> 2)));
        if (left > 0 && n === 0) {
          blocked = true;
          break;
        }
        const b = this.take(Math.max(n, 1));
        remote.events(b, clockOf(b), it.at);
      } else {
        this.queue.shift();
        if (it.kind === 'flush') remote.flush(it.at);
        else if (it.kind === 'reset') remote.reset();
      }
      if (performance.now() >= deadline) break;
    }
    remote.send();
    // The ring has its own copy: the queue's storage is free (unless a live view keeps it).
    this.pool.recycle(() => false);
    return !blocked && !this.queue.empty;
  }

  /** The worker took input in or finished: send more, or finish a bye or drain. */
  private onRemoteProgress(): void {
    if (this.state === 'closed') return;
    const remote = this.remote as RemotePipeline;
    const c = remote.counters;
    this.ctx.metrics.hot.timesteps += c.timesteps - this.timestepsCounted;
    this.timestepsCounted = c.timesteps;
    if (!this.queue.empty || (!remote.busy && (this.byeReceived || this.state === 'draining'))) this.ctx.scheduler.schedule(this);
  }

  /** Graceful shutdown: take no more input, finish what is queued, then close with 1001. */
  drain(): void {
    if (this.state !== 'open') return;
    this.state = 'draining';
    this.ctx.scheduler.schedule(this);
  }

  stats(): StatsMessage {
    return {
      type: 'stats', eventsIn: this.eventsIn, eventsDropped: this.queue.dropped, predictions: this.predictions, queueDepth: this.queue.events,
      predictionsDropped: this.predictionsDropped, eventsOutOfRange: this.eventsOutsideSensor + (this.pipeline?.eventsOutOfRange() ?? this.remoteCounters.eventsOutOfRange),
      eventsFiltered: this.pipeline?.counters.eventsFiltered ?? this.remoteCounters.eventsFiltered,
      eventsLate: this.pipeline?.binningCounts().late ?? this.remoteCounters.eventsLate, badMessages: this.badMessages,
    };
  }

  /** Periodic stats (server timer): sent when something changed since the last. */
  tick(now: number): void {
    if (this.state === 'closed') return;
    if (this.statsDirty || now - this.lastStatsAt >= this.ctx.limits.statsIntervalMs) this.sendStats(false);
  }

  /** Closes the session and its transport; idempotent. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const dropped = this.queue.clear();
    this.pool.clear();
    if (dropped > 0) this.log.debug({ dropped }, 'queued events discarded at close');
    this.pipeline?.stop();
    this.remote?.close();
    if (!this.running) this.releaseEngine();
    this.events$.complete();
    this.messages$.complete();
    this.steps$.complete();
    try {
      this.sink.close(code, reason);
    } finally {
      this.ctx.onClosed(this);
    }
  }

  private lastSentStats: string | undefined;
  private running = false;
  private engineReleased = false;

  private timestepsCounted = 0;
  private synced = false;

  private get remoteCounters(): RemoteCounters {
    return (this.remote as RemotePipeline).counters;
  }

  private releaseEngine(): void {
    if (this.engineReleased || this.pipeline === null) return;
    this.engineReleased = true;
    this.model.releaseEngine(this.pipeline.detach());
  }

  private sendStats(force: boolean): void {
    const s = this.stats();
    const key = `${s.eventsIn},${s.eventsDropped},${s.predictions},${s.queueDepth},${s.predictionsDropped},${s.badMessages}`;
    this.lastStatsAt = performance.now();
    this.statsDirty = false;
    if (!force && key === this.lastSentStats) return;
    this.lastSentStats = key;
    this.send(s, true);
  }

  private refusedSinceNotice = 0;
  private lastRefusalNotice = -Infinity;

  /**
   * A message refused because the queue holds maxQueueMessages: RATE_LIMITED, at most one
   * notice per statsIntervalMs (a flooding client must not make the server flood back).
   */
  private refuse(what: string): void {
    this.refusedSinceNotice++;
    const now = performance.now();
    if (now - this.lastRefusalNotice < this.ctx.limits.statsIntervalMs) return;
    this.lastRefusalNotice = now;
    const n = this.refusedSinceNotice;
    this.refusedSinceNotice = 0;
    this.reportError(new ServeError('RATE_LIMITED', `${n} message(s) refused (the last: ${what}): more than ${this.ctx.limits.maxQueueMessages} messages are waiting (limit maxQueueMessages)`));
  }

  private onDrop(n: number): void {
    this.ctx.metrics.eventsDropped.inc(n);
    if (performance.now() - this.lastStatsAt >= this.ctx.limits.statsIntervalMs) this.sendStats(true);
    else this.statsDirty = true;
  }

  /** A ServeError of the pipeline (bad input) goes to the client; anything else is rethrown. */
  private reportServeError(e: unknown): void {
    if (isServeError(e)) this.reportError(e);
    else throw e;
  }

  /** emitPrediction bound once (the pipeline's callback; no closure per slice). */
  private readonly emit = (p: PipelinePrediction): void => this.emitPrediction(p);

  private emitPrediction(p: PipelinePrediction): void {
    if (this.state === 'closed') return;
    const now = performance.now();
    const latencyMs = now - p.at;
    const msg = {
      type: 'prediction' as const, seq: this.predictions, window: p.window, label: p.label, index: p.index, scores: p.scores,
      counts: p.counts, events: p.events, timesteps: p.timesteps, final: p.final, latencyMs,
    };
    this.predictions++;
    if (this.send(msg, true)) {
      this.ctx.metrics.predictions.inc();
      this.ctx.metrics.latency.observe(latencyMs / 1000);
    } else {
      this.predictionsDropped++;
      this.ctx.metrics.predictionsDropped.inc();
      this.statsDirty = true;
    }
  }

  private send(msg: ServerMessage, droppable: boolean): boolean {
    if (this.messages$.observed) this.messages$.next(msg);
    return this.sink.send(msg, droppable);
  }
}
