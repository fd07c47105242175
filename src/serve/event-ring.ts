/**
 * A session's events on their way to its pipeline in a worker thread (worker-pool.ts): columns
 * (t, x, y, p) in one SharedArrayBuffer that the main thread writes and the worker reads, so a
 * message between them carries only a position and a count.
 *
 * Why not post the batches: a posted typed array is copied, or (transferred, or on shared memory)
 * arrives as a new ArrayBuffer object per message, and per-message ArrayBuffers were what made the
 * server's GC pauses (see event-pool.ts). Views on one long-lived buffer cost nothing of that.
 *
 * Positions count events written since the start (they only grow); position p lives at index
 * p % capacity. A batch never wraps: when it does not fit before the end, the tail is skipped.
 * The worker reports `free`: it has copied everything before it out of the ring (into its own
 * pool, worker-session.ts), so the writer may overwrite it.
 */
import type { EventBatch } from '../events/batch.js';

/** Bytes per event of the four columns. */
const EVENT_BYTES = 13;

export interface RingColumns {
  readonly t: Float64Array;
  readonly x: Uint16Array;
  readonly y: Uint16Array;
  readonly p: Uint8Array;
}

/** The column views of a ring's buffer (either side). */
export function ringColumns(buffer: SharedArrayBuffer, capacity: number): RingColumns {
  return {
    t: new Float64Array(buffer, 0, capacity),
    x: new Uint16Array(buffer, 8 * capacity, capacity),
    y: new Uint16Array(buffer, 10 * capacity, capacity),
    p: new Uint8Array(buffer, 12 * capacity, capacity),
  };
}

/** Events [pos, pos + n) of the ring as a batch of views (worker side). */
export function ringBatch(c: RingColumns, pos: number, n: number): EventBatch {
  const i = pos % c.t.length;
  return { t: c.t.subarray(i, i + n), x: c.x.subarray(i, i + n), y: c.y.subarray(i, i + n), p: c.p.subarray(i, i + n) };
}

/** The writing side (main thread). */
export class EventRing {
  readonly buffer: SharedArrayBuffer;
  private readonly c: RingColumns;
  /** Next position to write. */
  private w = 0;
  /** Positions before this may be overwritten. */
  private f = 0;

  constructor(readonly capacity: number) {
    this.buffer = new SharedArrayBuffer(EVENT_BYTES * capacity);
    this.c = ringColumns(this.buffer, capacity);
  }

  /** The largest batch, up to `want` events, that can be written now (0 when full). */
  room(want: number): number {
    const cap = this.capacity;
    const free = cap - (this.w - this.f);
    const toEnd = cap - (this.w % cap);
    // Either up to the end of the buffer, or from its start after skipping the tail.
    const n = Math.max(Math.min(toEnd, free), free - toEnd);
    return Math.max(0, Math.min(want, n));
  }

  /** Copies the batch in (at most `room(n)` events); returns its position. */
  write(b: EventBatch): number {
    const n = b.t.length;
    let i = this.w % this.capacity;
    if (i + n > this.capacity) {
      this.w += this.capacity - i;
      i = 0;
    }
    const pos = this.w;
    this.c.t.set(b.t, i);
    this.c.x.set(b.x, i);
    this.c.y.set(b.y, i);
    this.c.p.set(b.p, i);
    this.w += n;
    return pos;
  }

  /** The reader no longer needs anything before `pos`. */
  release(pos: number): void {
    if (pos > this.f) this.f = Math.min(pos, this.w);
  }
}
