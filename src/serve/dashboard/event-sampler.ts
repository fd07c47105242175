/**
 * Keeps an even spread of a frame's events in a fixed number of slots, whatever the rate.
 *
 * Systematic sampling with a doubling stride: events whose index within the frame is a multiple
 * of `stride` are kept; when the slots are full, every other kept event is dropped and the stride
 * doubles, so the kept events are still exactly the multiples of the (new) stride. Memory is
 * 5 bytes per slot; work is O(events / stride) per batch plus O(capacity) per doubling, so a
 * session at millions of events per second costs its viewers little. Deterministic (no random
 * draws), hence testable.
 */
import type { EventBatch } from '../../events/batch.js';

export class EventSampler {
  readonly x: Uint16Array;
  readonly y: Uint16Array;
  readonly p: Uint8Array;
  /** Events kept (the first `kept` entries of x, y, p). */
  kept = 0;
  /** Events offered since the last clear. */
  seen = 0;
  /** Index (within the frame) distance between kept events. */
  stride = 1;
  /** Offset in the next batch of the next event to keep. */
  private phase = 0;

  /** `capacity` must be even (the halving keeps every other slot). */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2 || capacity % 2 !== 0) throw new RangeError(`EventSampler capacity must be an even integer >= 2, got ${capacity}`);
    this.x = new Uint16Array(capacity);
    this.y = new Uint16Array(capacity);
    this.p = new Uint8Array(capacity);
  }

  add(b: EventBatch): void {
    const n = b.t.length;
    const { x, y, p } = this;
    const bx = b.x;
    const by = b.y;
    const bp = b.p;
    // Hot loop (every stride-th event of every batch a watched session processes).
    let i = this.phase;
    while (i < n) {
      if (this.kept === this.capacity) this.halve();
      const k = this.kept++;
      x[k] = bx[i];
      y[k] = by[i];
      p[k] = bp[i];
      i += this.stride;
    }
    this.phase = i - n;
    this.seen += n;
  }

  /** Starts a new frame. */
  clear(): void {
    this.kept = 0;
    this.seen = 0;
    this.stride = 1;
    this.phase = 0;
  }

  /** x (u16 LE) * kept, y (u16 LE) * kept, p (u8) * kept, as the feed sends them. */
  encode(): Buffer {
    const k = this.kept;
    const out = Buffer.allocUnsafe(5 * k);
    for (let i = 0; i < k; i++) {
      out.writeUInt16LE(this.x[i], 2 * i);
      out.writeUInt16LE(this.y[i], 2 * (k + i));
      out[4 * k + i] = this.p[i];
    }
    return out;
  }

  private halve(): void {
    const { x, y, p } = this;
    const half = this.kept >> 1;
    for (let j = 1; j < half; j++) {
      x[j] = x[2 * j];
      y[j] = y[2 * j];
      p[j] = p[2 * j];
    }
    this.kept = half;
    // The next candidate index, capacity * stride, is a multiple of the doubled stride too
    // (capacity is even), so the pending phase stays valid.
    this.stride *= 2;
  }
}
