/**
 * Output columns for one decoder call: t, x, y and p carved from a single uninitialised buffer.
 *
 * A write() must return fresh memory (callers keep batches), so a decoder allocates its output on
 * every call. One allocation instead of four, and no zero-fill of slots the decoder overwrites
 * anyway, measured a sixth of the CSV decoder's time at 64 KiB chunks (allocation and the
 * external-memory scavenges it triggers); the Prophesee decoders do the same in their base class.
 * `takeColumns` guarantees that no uninitialised byte is ever reachable from what it returns.
 */
import { emptyBatch, trimBatch, type EventBatch } from './batch.js';

/** Columns for `cap` events, contents undefined until written. */
export function allocColumns(cap: number): EventBatch {
  const buf = Buffer.allocUnsafeSlow(cap * 13).buffer;
  return {
    t: new Float64Array(buf, 0, cap),
    x: new Uint16Array(buf, cap * 8, cap),
    y: new Uint16Array(buf, cap * 10, cap),
    p: new Uint8Array(buf, cap * 12, cap),
  };
}

/** Columns for `cap` events (at least `n`) holding the first `n` events of `c`. */
export function growColumns(c: EventBatch, n: number, cap: number): EventBatch {
  const next = allocColumns(Math.max(cap, n));
  next.t.set(c.t.subarray(0, n));
  next.x.set(c.x.subarray(0, n));
  next.y.set(c.y.subarray(0, n));
  next.p.set(c.p.subarray(0, n));
  return next;
}

/**
 * The first `n` events of columns from allocColumns. trimBatch returns views when they fill at
 * least half the capacity: the slots past `n` are zeroed first, so the views' shared `.buffer`
 * exposes no uninitialised memory. (Smaller results are copied, so nothing is exposed.)
 */
export function takeColumns(c: EventBatch, n: number): EventBatch {
  if (n === 0) return emptyBatch();
  if (n * 2 >= c.t.length && n < c.t.length) {
    c.t.fill(0, n);
    c.x.fill(0, n);
    c.y.fill(0, n);
    c.p.fill(0, n);
  }
  return trimBatch(c, n);
}
