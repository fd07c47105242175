/**
 * The main thread's end of a session whose pipeline runs in a worker (worker-pool.ts): it writes
 * the events the session takes from its queue into the session's ring, sends the items in one
 * message per slice, and keeps what the worker reports (items done, idle, counters, free ring).
 *
 * Flow control: the ring holds what is on its way to the worker or still viewed there; when it is
 * full, the session leaves the rest in its queue (where the overflow policy applies, as
 * in-process) until an ack frees space.
 */
import type { EventBatch } from '../events/batch.js';
import { EventRing } from './event-ring.js';
import type { PipelinePrediction } from './inference-pipeline.js';
import type { ErrorCode } from './protocol.js';
import type { RemoteClient, RemoteHandle, WorkerPool } from './worker-pool.js';
import type { RemoteCounters, RemoteSessionSpec, WorkItem } from './worker-protocol.js';
import type { ServedModel } from './served-model.js';

/** What the session does with the worker's reports. */
export interface RemoteEvents {
  prediction(p: PipelinePrediction): void;
  step(tStart: number, tEnd: number, output: Float32Array): void;
  /** An ack arrived (the session may have more to send, or may be done). */
  progress(): void;
  error(code: ErrorCode, message: string, fatal: boolean): void;
  fail(message: string): void;
}

export class RemotePipeline implements RemoteClient {
  readonly ring: EventRing;
  counters: RemoteCounters = { timesteps: 0, eventsFiltered: 0, eventsOutOfRange: 0, eventsLate: 0 };
  /** Items sent and not yet taken in by the worker. */
  private inFlight = 0;
  /** The worker's last ack said it had nothing left (and nothing was sent since). */
  private idle = true;
  private items: WorkItem[] = [];
  private stepsOn = false;
  private readonly handle: RemoteHandle;

  constructor(pool: WorkerPool, model: ServedModel, spec: RemoteSessionSpec, ringEvents: number, private readonly on: RemoteEvents) {
    this.ring = new EventRing(ringEvents);
    this.handle = pool.open(this, model, spec, this.ring.buffer, ringEvents);
  }

  /** Items sent and not yet taken in by the worker, and those waiting to be sent. */
  get itemsOut(): number {
    return this.inFlight + this.items.length;
  }

  /** Work sent or being done in the worker. */
  get busy(): boolean {
    return this.inFlight > 0 || !this.idle || this.items.length > 0;
  }

  /** Most events, up to `want`, one item may carry now (0 when the ring is full). */
  room(want: number): number {
    return this.ring.room(want);
  }

  /** Queues events (copied into the ring) with their clock; `room` must allow them. */
  events(b: EventBatch, clock: number | undefined, at: number): void {
    const n = b.t.length;
    const pos = n > 0 ? this.ring.write(b) : 0;
    this.items.push({ k: 'ev', pos, n, clock, at });
  }

  flush(at: number): void {
    this.items.push({ k: 'flush', at });
  }

  reset(): void {
    this.items.push({ k: 'reset' });
  }

  /** Asks for up-to-date counters (they come with the ack of this item). */
  sync(): void {
    this.items.push({ k: 'sync' });
  }

  /** Step outputs are sent back only while someone watches them. */
  observeSteps(on: boolean): void {
    if (on === this.stepsOn) return;
    this.stepsOn = on;
    this.handle.steps(on);
  }

  /** Sends the items queued since the last call (one message). */
  send(): void {
    if (this.items.length === 0) return;
    this.inFlight += this.items.length;
    this.idle = false;
    this.handle.work(this.items);
    this.items = [];
  }

  close(): void {
    this.items = [];
    this.handle.close();
  }

  // RemoteClient (from the pool)

  onPrediction(p: PipelinePrediction): void {
    this.on.prediction(p);
  }

  onStep(tStart: number, tEnd: number, output: Float32Array): void {
    this.on.step(tStart, tEnd, output);
  }

  onAck(done: number, idle: boolean, free: number, counters: RemoteCounters | undefined): void {
    this.inFlight -= done;
    this.idle = idle && this.inFlight === 0;
    if (counters !== undefined) this.counters = counters;
    this.ring.release(free);
    this.on.progress();
  }

  onError(code: ErrorCode, message: string, fatal: boolean): void {
    this.on.error(code, message, fatal);
  }

  onFail(message: string): void {
    this.on.fail(message);
  }
}
