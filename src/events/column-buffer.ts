/**
 * Where a decoder's output columns come from: t, x, y and p for the events of one write().
 *
 * Two policies, chosen per decoder by `DecoderOptions.reuseOutput`:
 * - fresh (default): every batch a write returns is memory nobody else will ever write to, so
 *   consumers may keep it (binning keeps views on its input; see stream/batch-operator.ts);
 * - reuse (opt-in, "borrowed" batches): one set of columns is written by every call, so a batch is
 *   valid only until the decoder's next write()/end(). No allocation per call, for consumers that
 *   finish with a batch before asking for the next (counting, format conversion, benches).
 *
 * Both guarantee that no uninitialised byte is ever reachable from what they return, through the
 * views or their `.buffer`.
 *
 * Why fresh memory is expensive, and why not arenas: glibc hands memory freed by the garbage
 * collector back to the kernel (trim), so fresh output often comes as new pages, each a page
 * fault on first touch (EVT 3.0 sample at 64 KiB chunks: 330-560 faults per decode, ~25% of the
 * time; borrowed: ~30). Carving batches from larger arenas was measured and rejected: an arena
 * must be zero-filled (batches from it expose its unwritten part through `.buffer` before later
 * writes fill it), and zero-filling costs what the faults did: 0.2-3 MiB arenas were within
 * noise of per-write buffers, 13 MiB ones slower; and a batch kept long would pin its arena.
 * Uninitialised 13 MiB arenas were as fast as borrowed output, but expose stale heap bytes.
 */
import { emptyBatch, trimBatch, type EventBatch } from './batch.js';

/** Bytes of column storage per event: t (8) + x (2) + y (2) + p (1). */
export const BYTES_PER_EVENT = 13;

/**
 * Columns for `cap` events carved from one uninitialised buffer (contents undefined until
 * written). One allocation instead of four, and no zero-fill of slots the decoder overwrites:
 * measured ~25% faster than zeroed ArrayBuffers for the Prophesee decoders at 64 KiB chunks and a
 * sixth of the CSV decoder's time.
 */
export function allocColumns(cap: number): EventBatch {
  return carve(Buffer.allocUnsafeSlow(cap * BYTES_PER_EVENT).buffer, cap);
}

/** Columns for `cap` events, zero-filled. */
function allocZeroedColumns(cap: number): EventBatch {
  return carve(new ArrayBuffer(cap * BYTES_PER_EVENT), cap);
}

function carve(buf: ArrayBufferLike, cap: number): EventBatch {
  return {
    t: new Float64Array(buf, 0, cap),
    x: new Uint16Array(buf, cap * 8, cap),
    y: new Uint16Array(buf, cap * 10, cap),
    p: new Uint8Array(buf, cap * 12, cap),
  };
}

function copyInto(dst: EventBatch, src: EventBatch, n: number): void {
  dst.t.set(src.t.subarray(0, n));
  dst.x.set(src.x.subarray(0, n));
  dst.y.set(src.y.subarray(0, n));
  dst.p.set(src.p.subarray(0, n));
}

/** Columns for `cap` events (at least `n`) holding the first `n` events of `c`. */
export function growColumns(c: EventBatch, n: number, cap: number): EventBatch {
  const next = allocColumns(Math.max(cap, n));
  copyInto(next, c, n);
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

/**
 * A decoder's output for one call at a time: `start` gives columns to fill from slot 0, `grow`
 * enlarges them mid-call keeping what is written, `take` turns the first `n` slots into the
 * call's result. Hot loops write straight into the typed arrays `start`/`grow` return.
 */
export class OutputColumns {
  /** Reused columns (reuse mode only), zero-filled when allocated. */
  private kept: EventBatch | undefined;

  constructor(readonly reuse: boolean) {}

  /** Columns with room for at least `cap` events. */
  start(cap: number): EventBatch {
    if (!this.reuse) return allocColumns(cap);
    const k = this.kept;
    if (k !== undefined && k.t.length >= cap) return k;
    // Zeroed, so the slots never written hold zeros rather than stale heap bytes; allocated
    // rarely (the largest output so far is kept).
    return (this.kept = allocZeroedColumns(Math.max(cap, k ? k.t.length * 2 : 0)));
  }

  /** Columns with room for at least `cap` events holding the first `n` events of `c`. */
  grow(c: EventBatch, n: number, cap: number): EventBatch {
    if (!this.reuse) return growColumns(c, n, cap);
    const next = allocZeroedColumns(Math.max(cap, n, c.t.length * 2));
    copyInto(next, c, n);
    return (this.kept = next);
  }

  /** The first `n` events of `c` (the columns last returned by start/grow) as a batch. */
  take(c: EventBatch, n: number): EventBatch {
    if (!this.reuse) return takeColumns(c, n);
    if (n === 0) return emptyBatch();
    return { t: c.t.subarray(0, n), x: c.x.subarray(0, n), y: c.y.subarray(0, n), p: c.p.subarray(0, n) };
  }
}
