/**
 * A session's inbox: event batches and control messages in arrival order, bounded in events and
 * in messages. When events would exceed the bound the oldest queued events are dropped, down to
 * half the bound (a dropped batch's clock survives as a clock tick), and counted, never silently;
 * control messages are never dropped, and a message beyond the message bound is refused (the
 * caller reports RATE_LIMITED).
 */
import { emptyBatch } from '../events/batch.js';
import { clockOf, heartbeat, type ClockedBatch } from '../stream/clocked-batch.js';

export type ControlKind = 'flush' | 'reset' | 'bye';

export interface EventsItem {
  readonly kind: 'events';
  batch: ClockedBatch;
  /** Events of `batch` already taken. */
  off: number;
  /** performance.now() at arrival. */
  readonly at: number;
}

export interface ControlItem {
  readonly kind: ControlKind;
  readonly at: number;
}

export type QueueItem = EventsItem | ControlItem;

/** Placeholder for consumed items (drops the reference to their batch). */
const SPENT: QueueItem = Object.freeze({ kind: 'reset', at: 0 });

const isSpent = (it: QueueItem): boolean => it.kind === 'events' && it.off >= it.batch.t.length && clockOf(it.batch) === undefined;

export class SessionQueue {
  /** Events waiting. */
  events = 0;
  /** Events dropped so far (oldest first). */
  dropped = 0;
  private items: QueueItem[] = [];
  private head = 0;
  /** Items before this index hold no events left to drop (so a full queue does not rescan them). */
  private dropFrom = 0;

  /**
   * An overflow drops down to this many events (half the bound), not just below the bound: under
   * sustained overload the session then skips ahead in a few large steps, each followed by a
   * stretch of contiguous events long enough for stream-mode decisions, instead of losing a
   * little before every batch it processes (an event-time jump each time, and no prediction).
   */
  readonly lowWater: number;

  constructor(
    readonly maxEvents: number,
    readonly maxMessages: number,
    /** Called with each queued batch once it has left the queue (taken whole or dropped): pooled storage accounting. */
    private readonly onLeave?: (b: ClockedBatch) => void,
  ) {
    this.lowWater = Math.floor(maxEvents / 2);
  }

  /** Messages waiting (dropped batches included until they reach the head). */
  get messages(): number {
    return this.items.length - this.head;
  }

  get empty(): boolean {
    return this.peek() === undefined;
  }

  /** False when the message bound is reached (nothing queued). Returns the events dropped to make room otherwise. */
  pushEvents(batch: ClockedBatch, at: number): number | false {
    if (this.messages >= this.maxMessages) return false;
    this.items.push({ kind: 'events', batch, off: 0, at });
    this.events += batch.t.length;
    return this.events > this.maxEvents ? this.dropOldest(this.events - this.lowWater) : 0;
  }

  pushControl(kind: ControlKind, at: number): boolean {
    if (this.messages >= this.maxMessages) return false;
    this.items.push({ kind, at });
    return true;
  }

  /** The oldest item not yet consumed. */
  peek(): QueueItem | undefined {
    while (this.head < this.items.length && isSpent(this.items[this.head])) this.advance();
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /**
   * Takes up to `max` events from the head item, which must be an events item. A batch's clock
   * goes with its last events (or alone, for a clock tick).
   */
  takeEvents(max: number): ClockedBatch {
    const it = this.peek() as EventsItem;
    const b = it.batch;
    const n = b.t.length;
    const start = it.off;
    const end = Math.min(n, start + max);
    it.off = end;
    this.events -= end - start;
    const clock = clockOf(b);
    if (end >= n) {
      this.advance();
      this.onLeave?.(b);
    }
    if (start === 0 && end === n) return b;
    const part = { t: b.t.subarray(start, end), x: b.x.subarray(start, end), y: b.y.subarray(start, end), p: b.p.subarray(start, end) };
    return end >= n && clock !== undefined ? { ...part, clockUs: clock } : part;
  }

  /** Removes the head item (a control message). */
  shift(): void {
    this.advance();
  }

  /** Discards every queued item; returns the events discarded. */
  clear(): number {
    const n = this.events;
    this.items = [];
    this.head = 0;
    this.dropFrom = 0;
    this.events = 0;
    return n;
  }

  private advance(): void {
    // The consumed item is let go at once: kept in the array until the next compaction, each
    // batch lived long enough to be promoted to V8's old generation, whose growth then set off
    // the mark-compacts that made the server's latency tail.
    this.items[this.head++] = SPENT;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.dropFrom = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.dropFrom = Math.max(0, this.dropFrom - this.head);
      this.head = 0;
    }
  }

  private dropOldest(excess: number): number {
    let dropped = 0;
    let i = Math.max(this.head, this.dropFrom);
    for (; i < this.items.length && excess > 0; i++) {
      const it = this.items[i];
      if (it.kind !== 'events') continue;
      const left = it.batch.t.length - it.off;
      if (left <= 0) continue;
      const d = Math.min(left, excess);
      if (d === left) {
        this.onLeave?.(it.batch);
        const c = clockOf(it.batch);
        it.batch = c === undefined ? emptyBatch() : heartbeat(c);
        it.off = 0;
      } else {
        it.off += d;
      }
      dropped += d;
      excess -= d;
      if (d < left) break; // this item still holds events: the next drop starts here
    }
    this.dropFrom = i;
    this.events -= dropped;
    this.dropped += dropped;
    return dropped;
  }
}
