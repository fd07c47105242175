/**
 * Index maps between the graph IR's layouts (row-major [C, H, W] activations, [Cout, Cin, kh, kw]
 * conv weights, [out, in] linear weights) and the trainer's tfjs layouts (NHWC activations,
 * [kh, kw, Cin, Cout] conv filters, [in, out] matMul weights). Master weights, masks and optimizer
 * state stay in IR layout (what the model file and ESL see); only the copies handed to tfjs are
 * permuted.
 */

/** perm[j] = IR index of the element at trainer index j, for an activation of IR shape `shape`. */
export function activationPerm(shape: readonly number[]): Int32Array | null {
  if (shape.length !== 3) return null;
  const [c, h, w] = shape;
  const perm = new Int32Array(c * h * w);
  let j = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) perm[j++] = (ch * h + y) * w + x;
  return perm;
}

/** perm[j] = IR index of the weight at trainer index j. */
export function weightPerm(irShape: readonly number[]): Int32Array | null {
  if (irShape.length === 4) {
    const [cout, cin, kh, kw] = irShape;
    const perm = new Int32Array(cout * cin * kh * kw);
    let j = 0;
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) perm[j++] = ((co * cin + ci) * kh + y) * kw + x;
    return perm;
  }
  if (irShape.length === 2) {
    const [out, inp] = irShape;
    const perm = new Int32Array(out * inp);
    let j = 0;
    for (let i = 0; i < inp; i++) for (let o = 0; o < out; o++) perm[j++] = o * inp + i;
    return perm;
  }
  return null;
}

/** The trainer shape of a weight of IR shape `irShape`. */
export function trainerWeightShape(irShape: readonly number[]): number[] {
  if (irShape.length === 4) return [irShape[2], irShape[3], irShape[1], irShape[0]];
  if (irShape.length === 2) return [irShape[1], irShape[0]];
  return [...irShape];
}

/** IR-layout values -> trainer layout (a new array; `perm` null copies). */
export function toTrainer(ir: Float32Array, perm: Int32Array | null): Float32Array {
  if (!perm) return ir.slice();
  const out = new Float32Array(ir.length);
  for (let j = 0; j < out.length; j++) out[j] = ir[perm[j]];
  return out;
}

/** Trainer-layout values -> IR layout. */
export function toIr(tr: ArrayLike<number>, perm: Int32Array | null): Float32Array {
  const out = new Float32Array(tr.length);
  if (!perm) {
    for (let j = 0; j < out.length; j++) out[j] = tr[j];
    return out;
  }
  for (let j = 0; j < out.length; j++) out[perm[j]] = tr[j];
  return out;
}
