/**
 * Surrogate gradients for the spike nonlinearity. The forward pass is the exact Heaviside step of
 * neuron.ts; the backward pass replaces its derivative (a Dirac delta) with the derivative of a
 * smooth step centred on the threshold, as a function of x = v - v_threshold.
 *
 * - `atan` (SpikingJelly's surrogate.ATan, its default): smooth step
 *     g(x) = atan(pi/2 * alpha * x) / pi + 1/2,   g'(x) = alpha / 2 / (1 + (pi/2 * alpha * x)^2)
 *   slope = alpha, default 2.
 * - `fast-sigmoid` (snnTorch's surrogate.fast_sigmoid, SuperSpike): smooth step
 *     g(x) = x / (1 + k|x|),                      g'(x) = 1 / (1 + k|x|)^2
 *   slope = k, default 25. (snnTorch's gradient has no k in the numerator: this keeps its scale.)
 */

export type SurrogateKind = 'atan' | 'fast-sigmoid';

export const SURROGATE_KINDS: readonly SurrogateKind[] = ['atan', 'fast-sigmoid'];

export interface Surrogate {
  readonly kind: SurrogateKind;
  /** alpha for atan, k for fast-sigmoid; > 0. */
  readonly slope: number;
}

export const DEFAULT_SLOPE: Readonly<Record<SurrogateKind, number>> = Object.freeze({ atan: 2, 'fast-sigmoid': 25 });

export function surrogate(kind: SurrogateKind, slope?: number): Surrogate {
  if (!SURROGATE_KINDS.includes(kind)) throw new RangeError(`unknown surrogate "${String(kind)}" (one of ${SURROGATE_KINDS.join(', ')})`);
  const s = slope ?? DEFAULT_SLOPE[kind];
  if (!(s > 0 && Number.isFinite(s))) throw new RangeError(`surrogate slope must be a positive number, got ${String(slope)}`);
  return { kind, slope: s };
}

/** The smooth step whose derivative the backward pass uses. */
export function surrogateSmooth(s: Surrogate, x: number): number {
  if (s.kind === 'atan') return Math.atan((Math.PI / 2) * s.slope * x) / Math.PI + 0.5;
  return x / (1 + s.slope * Math.abs(x));
}

/** d/dx of surrogateSmooth: the pseudo-derivative of the spike at x = v - v_threshold. */
export function surrogateGrad(s: Surrogate, x: number): number {
  if (s.kind === 'atan') {
    const z = (Math.PI / 2) * s.slope * x;
    return s.slope / 2 / (1 + z * z);
  }
  const d = 1 + s.slope * Math.abs(x);
  return 1 / (d * d);
}
