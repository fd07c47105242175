/**
 * Column storage for one session's decoded `events` messages, reused instead of allocated per
 * message.
 *
 * Why: every ArrayBuffer counts as V8 external memory, and V8 answers its growth with extra
 * scavenges and mark-compacts. At 8 streams of 1 M events/s sent as 1 ms messages, fresh columns
 * (13 bytes per event) made ~100 MB/s of it: a major GC every few hundred ms, whose pauses were
 * most of the server's latency tail (bench/serve.ts, BENCH_DEBUG=1 prints GC counts).
 *
 * Batches are carved one after another out of chunks (four columns of `chunkEvents` each, so a
 * chunk holds several messages). A chunk is recycled when all of these hold:
 * 1. it is no longer the chunk being carved;
 * 2. every batch queued from it has left the session queue (`queued` / `dequeued`);
 * 3. the pipeline holds no view on it: the caller checks, through `recycle(held)`, that no
 *    timestep waits to be stepped and that the binning's open windows reference none of its
 *    buffers (binner.ts `holds`). Timesteps are views on the batches they were binned from
 *    (stream/event-timestep.ts), so this is the whole of the pipeline's references.
 * A batch handed to an observer (a live view subscribed to session.events$) may be kept by it
 * for any time: `pin` marks its chunk, which is then never reused (the garbage collector takes it).
 * Batches larger than a chunk get fresh arrays and are not tracked at all.
 *
 * Idle chunks go to a ChunkCache: the server's, shared by all its sessions (chunk-cache.ts says
 * why), or a private one of `maxFree` chunks.
 *
 * Memory: the cache's idle chunks (bounded by it) beside those in use, which the session queue
 * bound (maxQueueEvents) already limits.
 */
import { allocBatch, type EventBatch } from '../events/batch.js';
import { ChunkCache } from './chunk-cache.js';

export interface EventPoolOptions {
  /** Events per chunk (default 8192: ~104 KiB, eight 1 ms messages at 1 M events/s). */
  readonly chunkEvents?: number;
  /** Where idle chunks go and come from (default: a private cache of `maxFree` chunks). */
  readonly cache?: ChunkCache;
  /** Idle chunks kept for reuse when there is no shared `cache` (default 4). */
  readonly maxFree?: number;
  /** Chunks tracked while in use (default 64); beyond, the oldest are forgotten (left to the GC). */
  readonly maxTracked?: number;
}

interface Chunk {
  readonly buf: ArrayBuffer;
  /** Events carved so far. */
  used: number;
  /** Batches of this chunk in the session queue. */
  queued: number;
  /** Handed to an observer: never reused. */
  pinned: boolean;
}

export class EventPool {
  readonly chunkEvents: number;
  private readonly maxTracked: number;
  private readonly cache: ChunkCache;
  /** Chunks carved and not yet recycled, oldest first; the last is the one being carved. */
  private readonly chunks: Chunk[] = [];
  /** Chunks allocated and reused so far (for tests and debugging). */
  allocated = 0;
  reused = 0;

  constructor(o: EventPoolOptions = {}) {
    this.chunkEvents = o.chunkEvents ?? 8192;
    this.maxTracked = o.maxTracked ?? 64;
    this.cache = o.cache ?? new ChunkCache(13 * this.chunkEvents, o.maxFree ?? 4);
    if (this.cache.chunkBytes !== 13 * this.chunkEvents) throw new RangeError(`the chunk cache holds ${this.cache.chunkBytes}-byte chunks, this pool needs ${13 * this.chunkEvents}`);
  }

  /** `take` as a function value (eventsMessageToBatch's `alloc`), bound once. */
  readonly alloc = (n: number): EventBatch => this.take(n);

  /** Columns for n events: pooled storage when they fit a chunk, fresh arrays otherwise. */
  take(n: number): EventBatch {
    const c = this.chunkEvents;
    if (n > c || n === 0) return allocBatch(n);
    let cur = this.chunks.at(-1);
    if (cur === undefined || cur.used + n > c) {
      const reused = this.cache.take();
      if (reused !== undefined) this.reused++;
      else this.allocated++;
      cur = { buf: reused ?? new ArrayBuffer(13 * c), used: 0, queued: 0, pinned: false };
      this.chunks.push(cur);
      if (this.chunks.length > this.maxTracked) this.chunks.shift();
    }
    const o = cur.used;
    cur.used += n;
    const b = cur.buf;
    return { t: new Float64Array(b, 8 * o, n), x: new Uint16Array(b, 8 * c + 2 * o, n), y: new Uint16Array(b, 10 * c + 2 * o, n), p: new Uint8Array(b, 12 * c + o, n) };
  }

  /** Whether the batch's columns are pooled storage (and so may be written in place by their owner). */
  owns(b: EventBatch): boolean {
    const c = this.find(b);
    return c !== undefined && !c.pinned;
  }

  /** The batch entered the session queue. */
  queued(b: EventBatch): void {
    const c = this.find(b);
    if (c !== undefined) c.queued++;
  }

  /** The batch left the session queue (taken whole, or dropped). */
  dequeued(b: EventBatch): void {
    const c = this.find(b);
    if (c !== undefined && c.queued > 0) c.queued--;
  }

  /** The batch was handed to code that may keep it: its chunk is never reused. */
  pin(b: EventBatch): void {
    const c = this.find(b);
    if (c !== undefined) c.pinned = true;
  }

  /**
   * Recycles every chunk but the current one that has no batch left in the queue, is not pinned
   * and that `held` says the pipeline no longer references (call it only when no timestep waits).
   */
  recycle(held: (buf: ArrayBufferLike) => boolean): void {
    const chunks = this.chunks;
    let k = 0;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i];
      const last = i === chunks.length - 1;
      if (!last && c.queued === 0 && (c.pinned || !held(c.buf))) {
        if (!c.pinned) this.cache.give(c.buf);
        continue;
      }
      chunks[k++] = c;
    }
    chunks.length = k;
  }

  /**
   * Forgets everything (the session closed). Chunks it still tracks are not given back: the
   * pipeline or an observer may hold views on them.
   */
  clear(): void {
    this.chunks.length = 0;
  }

  private find(b: EventBatch): Chunk | undefined {
    const buf = b.t.buffer;
    const chunks = this.chunks;
    for (let i = chunks.length - 1; i >= 0; i--) if (chunks[i].buf === buf) return chunks[i];
    return undefined;
  }
}
