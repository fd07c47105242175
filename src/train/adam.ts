/**
 * Adam (Kingma & Ba) over typed arrays, one state per trainable tensor, with cosine learning-rate
 * decay. The trainer keeps master weights, masks and moments as Float32Arrays in the graph IR's
 * layout (what the model file and ESL see); these are small next to the activations, so updating
 * them in plain loops costs microseconds and keeps checkpoints and ESL surgery simple.
 *
 * Masked weights: the gradient of an absent connection is ignored (its moments and weight stay 0).
 */

export interface AdamParams {
  /** Peak learning rate. */
  readonly lr: number;
  /** Final learning rate of the cosine decay (default 0). */
  readonly lrMin: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

export const DEFAULT_ADAM: AdamParams = Object.freeze({ lr: 2e-3, lrMin: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 });

export interface AdamState {
  readonly m: Float32Array;
  readonly v: Float32Array;
}

export function adamState(n: number): AdamState {
  return { m: new Float32Array(n), v: new Float32Array(n) };
}

/** Cosine decay from lr to lrMin over totalSteps (step 0 = peak). */
export function cosineLr(p: AdamParams, step: number, totalSteps: number): number {
  const t = totalSteps > 0 ? Math.min(1, step / totalSteps) : 1;
  return p.lrMin + ((p.lr - p.lrMin) * (1 + Math.cos(Math.PI * t))) / 2;
}

/**
 * One Adam step in place. `t` is the 1-based step count for bias correction; `mask` (0/1 per
 * weight) or null for unmasked tensors.
 */
export function adamStep(w: Float32Array, g: ArrayLike<number>, s: AdamState, mask: Uint8Array | null, lr: number, t: number, p: AdamParams): void {
  const b1 = p.beta1;
  const b2 = p.beta2;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  const { m, v } = s;
  for (let i = 0; i < w.length; i++) {
    if (mask && mask[i] === 0) continue;
    const gi = g[i];
    const mi = b1 * m[i] + (1 - b1) * gi;
    const vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + p.eps);
  }
}

/** The exponential moving average (decay beta) of the dense gradient that the momentum growth rule ranks by. */
export function emaStep(ema: Float32Array, g: ArrayLike<number>, beta: number): void {
  for (let i = 0; i < ema.length; i++) ema[i] = beta * ema[i] + (1 - beta) * g[i];
}
