/**
 * Columnar event batches: one typed array per field, one entry per event, in arrival order.
 *
 * Struct-of-arrays rather than an array of `{t,x,y,p}` objects because every hot loop downstream
 * (filters, binning, the sparse engine) streams one or two columns at a time, and typed arrays
 * cost 13 bytes per event instead of ~80 for an object.
 */

/** Event formats spikestream reads. Ids double as the `raw.format` values of the wire protocol. */
export type EventFormat =
  | 'nmnist' // N-MNIST / N-Caltech101 ATIS 40-bit .bin
  | 'aedat2' // jAER AEDAT 2.0 (DVS128, DAVIS240/346)
  | 'aedat3' // AEDAT 3.1
  | 'aedat4' // AEDAT 4.0
  | 'evt2' // Prophesee EVT 2.0
  | 'evt21' // Prophesee EVT 2.1
  | 'evt3' // Prophesee EVT 3.0
  | 'dat' // Prophesee DAT (td, v1/v2)
  | 'csv'; // text: t,x,y,p (comma, space or tab separated)

export const EVENT_FORMATS: readonly EventFormat[] = [
  'nmnist', 'aedat2', 'aedat3', 'aedat4', 'evt2', 'evt21', 'evt3', 'dat', 'csv',
];

export interface EventBatch {
  /** Timestamps in microseconds, integer-valued, exactly as recorded (never re-based). */
  readonly t: Float64Array;
  readonly x: Uint16Array;
  readonly y: Uint16Array;
  /** Polarity: 1 = ON (brightness increase), 0 = OFF. */
  readonly p: Uint8Array;
}

/** Where a stream's sensor size came from. `inferred` means max coordinate + 1: a lower bound. */
export type GeometrySource = 'header' | 'option' | 'format' | 'inferred';

export interface StreamMeta {
  readonly width: number;
  readonly height: number;
  readonly format: EventFormat;
  /** File path, URL or other human-readable origin of the stream. */
  readonly origin: string;
  readonly geometry: GeometrySource;
}

export function batchLength(b: EventBatch): number {
  return b.t.length;
}

export function emptyBatch(): EventBatch {
  return { t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0) };
}

/** Allocates columns for `n` events (zero-filled). */
export function allocBatch(n: number): EventBatch {
  return { t: new Float64Array(n), x: new Uint16Array(n), y: new Uint16Array(n), p: new Uint8Array(n) };
}

/**
 * Returns the first `n` events of columns allocated for more. Views share memory; when the
 * batch used less than half its capacity we copy so a small batch does not pin a big buffer.
 */
export function trimBatch(b: EventBatch, n: number): EventBatch {
  const cap = b.t.length;
  if (n === cap) return b;
  if (n === 0) return emptyBatch();
  if (n * 2 >= cap) {
    return { t: b.t.subarray(0, n), x: b.x.subarray(0, n), y: b.y.subarray(0, n), p: b.p.subarray(0, n) };
  }
  return { t: b.t.slice(0, n), x: b.x.slice(0, n), y: b.y.slice(0, n), p: b.p.slice(0, n) };
}

/** Events [start, end) as views on the same memory. */
export function sliceBatch(b: EventBatch, start: number, end: number = b.t.length): EventBatch {
  return { t: b.t.subarray(start, end), x: b.x.subarray(start, end), y: b.y.subarray(start, end), p: b.p.subarray(start, end) };
}

export function concatBatches(batches: readonly EventBatch[]): EventBatch {
  if (batches.length === 1) return batches[0];
  let n = 0;
  for (const b of batches) n += b.t.length;
  const out = allocBatch(n);
  let o = 0;
  for (const b of batches) {
    out.t.set(b.t, o);
    out.x.set(b.x, o);
    out.y.set(b.y, o);
    out.p.set(b.p, o);
    o += b.t.length;
  }
  return out;
}

/** Builds a batch from plain arrays (tests, small inputs). Values are range-checked by the typed arrays' conversion rules, so pass valid ones. */
export function batchFrom(cols: { t: ArrayLike<number>; x: ArrayLike<number>; y: ArrayLike<number>; p: ArrayLike<number> }): EventBatch {
  const n = cols.t.length;
  if (cols.x.length !== n || cols.y.length !== n || cols.p.length !== n) {
    throw new RangeError(`batchFrom: column lengths differ (t=${n}, x=${cols.x.length}, y=${cols.y.length}, p=${cols.p.length})`);
  }
  return { t: Float64Array.from(cols.t), x: Uint16Array.from(cols.x), y: Uint16Array.from(cols.y), p: Uint8Array.from(cols.p) };
}

/** Growable column builder for code paths where the event count is not bounded up front (text, packets). */
export class BatchBuilder {
  private cols: EventBatch;
  private n = 0;

  constructor(initialCapacity = 1024) {
    this.cols = allocBatch(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.n;
  }

  push(t: number, x: number, y: number, p: number): void {
    if (this.n === this.cols.t.length) this.grow(this.n + 1);
    const i = this.n++;
    this.cols.t[i] = t;
    this.cols.x[i] = x;
    this.cols.y[i] = y;
    this.cols.p[i] = p;
  }

  append(b: EventBatch): void {
    const m = b.t.length;
    if (this.n + m > this.cols.t.length) this.grow(this.n + m);
    this.cols.t.set(b.t, this.n);
    this.cols.x.set(b.x, this.n);
    this.cols.y.set(b.y, this.n);
    this.cols.p.set(b.p, this.n);
    this.n += m;
  }

  /** Returns the events so far and starts a fresh buffer. */
  take(): EventBatch {
    if (this.n === 0) return emptyBatch();
    const out = trimBatch(this.cols, this.n);
    this.cols = allocBatch(this.cols.t.length);
    this.n = 0;
    return out;
  }

  private grow(min: number): void {
    let cap = this.cols.t.length * 2;
    while (cap < min) cap *= 2;
    const next = allocBatch(cap);
    next.t.set(this.cols.t.subarray(0, this.n));
    next.x.set(this.cols.x.subarray(0, this.n));
    next.y.set(this.cols.y.subarray(0, this.n));
    next.p.set(this.cols.p.subarray(0, this.n));
    this.cols = next;
  }
}
