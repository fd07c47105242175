/**
 * Dense float32 tensors as the graph IR stores them: a shape plus row-major data. Float32 because
 * every engine (dense, sparse, tfjs) computes in float32, so parameters are stored at the precision
 * they are used at and a model file round-trips bit for bit.
 */

export interface Tensor {
  /** Row-major dimensions, outermost first; [] is a scalar. */
  readonly shape: readonly number[];
  /** numel(shape) values, row-major. */
  readonly data: Float32Array;
}

/** A parameter that is either one value for every neuron or a tensor broadcast to the node's shape. */
export type ParamValue = number | Tensor;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function tensor(shape: readonly number[], data: ArrayLike<number>): Tensor {
  const n = numel(shape);
  if (data.length !== n) throw new RangeError(`tensor: shape ${formatShape(shape)} needs ${n} values, got ${data.length}`);
  return { shape: [...shape], data: Float32Array.from(data) };
}

export function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && (v as Tensor).data instanceof Float32Array && Array.isArray((v as Tensor).shape);
}

/**
 * Whether `from` broadcasts to `to` under numpy rules (dimensions aligned right, each either equal
 * or 1). Lets per-channel parameters be stored as [C,1,1] and scalars as [] or [1].
 */
export function broadcastable(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) {
    // Leading 1s beyond the target rank are harmless ([1,C,H,W] onto [C,H,W]).
    for (let i = 0; i < from.length - to.length; i++) if (from[i] !== 1) return false;
  }
  for (let i = 1; i <= Math.min(from.length, to.length); i++) {
    const f = from[from.length - i];
    if (f !== 1 && f !== to[to.length - i]) return false;
  }
  return true;
}

/**
 * Expands a parameter to one float32 value per element of `shape` (row-major). Callers check
 * `broadcastable` first (graph validation does); this throws on a mismatch.
 */
export function expandParam(p: ParamValue, shape: readonly number[]): Float32Array {
  const n = numel(shape);
  const out = new Float32Array(n);
  if (typeof p === 'number') {
    out.fill(p);
    return out;
  }
  if (!broadcastable(p.shape, shape)) {
    throw new RangeError(`expandParam: ${formatShape(p.shape)} does not broadcast to ${formatShape(shape)}`);
  }
  if (p.data.length === n) {
    out.set(p.data);
    return out;
  }
  if (p.data.length === 1) {
    out.fill(p.data[0]);
    return out;
  }
  // General broadcast: source strides, 0 along broadcast dimensions.
  const rank = shape.length;
  const srcStrides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = 1; i <= Math.min(p.shape.length, rank); i++) {
    const d = p.shape[p.shape.length - i];
    srcStrides[rank - i] = d === 1 ? 0 : stride;
    stride *= d;
  }
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < n; k++) {
    let src = 0;
    for (let a = 0; a < rank; a++) src += idx[a] * srcStrides[a];
    out[k] = p.data[src];
    for (let a = rank - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

/** Every value of a parameter (for checks like "all finite" or "all in [0,1]"). */
export function paramValues(p: ParamValue): ArrayLike<number> {
  return typeof p === 'number' ? [p] : p.data;
}
