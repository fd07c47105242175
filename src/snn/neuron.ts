/**
 * Neuron dynamics, written once. Both engines (and the lazy catch-up of the sparse one) call these
 * functions, so they cannot disagree on the equations; the float32 operation order here is the
 * definition of the model's behaviour.
 *
 * One step of a neuron with input current I (the sum of its weighted inputs this timestep):
 *   1. integrate
 *        IF:               v <- v + r*I
 *        LIF/LI, Euler:    v <- v + a * ((v_leak - v) + r*I)          a = dt/tau
 *        LIF/LI, decay:    v <- (v_leak + beta * (v - v_leak)) + r*I  beta given in the model
 *   2. spike   single: s = 1 if v > v_threshold else 0
 *              multi:  s = floor(v / v_threshold) if v >= v_threshold else 0   (Sinabs MultiSpike)
 *              LI never spikes; its output is v.
 *   3. reset   (only if s > 0) zero: v <- v_reset; subtract: v <- v - s*v_threshold
 *   4. clamp   v <- max(v, vMin) when vMin is set (every step, spike or not)
 *
 * Float32: every elementary operation (each +, -, *, /) is rounded to float32 (Math.fround), which
 * is what a float32 tensor library computes op by op (tfjs, PyTorch), so the tfjs trainer can
 * reproduce it. Parameters are float32 too; a = fround(dt / tau) is rounded once, at load.
 * State starts at v = 0 (snnTorch, Sinabs; Norse starts at v_leak).
 */
import type { IFNode, LIFNode, LINode, NeuronNode, ResetMode, SpikeMode } from './graph.js';
import { expandParam, numel, type ParamValue } from './tensor.js';

const f = Math.fround;

/** Integration form; numbers so hot loops switch on small integers. */
export const FORM_IF = 0;
export const FORM_EULER = 1;
export const FORM_DECAY = 2;
export type NeuronForm = typeof FORM_IF | typeof FORM_EULER | typeof FORM_DECAY;

/**
 * A neuron node's parameters expanded to one float32 per neuron, so per-neuron NIR parameter arrays
 * and scalars take the same code path.
 */
export interface NeuronArrays {
  readonly op: 'IF' | 'LIF' | 'LI';
  readonly n: number;
  readonly form: NeuronForm;
  /** Euler: a = fround(dt/tau); decay: beta; IF: unused (0). */
  readonly a: Float32Array;
  readonly r: Float32Array;
  readonly vLeak: Float32Array;
  /** +Infinity for LI (never spikes). */
  readonly vThreshold: Float32Array;
  readonly vReset: Float32Array;
  /** -Infinity where no clamp is set. */
  readonly vMin: Float32Array;
  readonly spiking: boolean;
  readonly multi: boolean;
  readonly subtract: boolean;
  /** True when every neuron has the same parameters: hot loops then use the scalars in `u`. */
  readonly uniform: boolean;
  /** Neuron 0's parameters (all neurons' when uniform). */
  readonly u: { readonly a: number; readonly r: number; readonly vLeak: number; readonly vThreshold: number; readonly vReset: number; readonly vMin: number };
}

type ArraysWithoutScalars = Omit<NeuronArrays, 'uniform' | 'u'>;

/**
 * Whether every element equals the first (NaN equal to NaN). A plain loop: `every` with a closure
 * boxed each element and made ~25 MB of garbage per engine of a VGA-input network (bench/serve.ts).
 */
function isUniform(arr: Float32Array): boolean {
  const v = arr[0];
  if (Number.isNaN(v)) {
    for (let i = 1; i < arr.length; i++) if (!Number.isNaN(arr[i])) return false;
    return true;
  }
  for (let i = 1; i < arr.length; i++) if (arr[i] !== v) return false;
  return true;
}

function withScalars(p: ArraysWithoutScalars): NeuronArrays {
  const uniform = [p.a, p.r, p.vLeak, p.vThreshold, p.vReset, p.vMin].every(isUniform);
  return {
    ...p, uniform,
    u: { a: p.a[0] ?? 0, r: p.r[0] ?? 0, vLeak: p.vLeak[0] ?? 0, vThreshold: p.vThreshold[0] ?? 0, vReset: p.vReset[0] ?? 0, vMin: p.vMin[0] ?? -Infinity },
  };
}

export function neuronArrays(node: NeuronNode, shape: readonly number[]): NeuronArrays {
  return withScalars(neuronArraysOnly(node, shape));
}

function neuronArraysOnly(node: NeuronNode, shape: readonly number[]): ArraysWithoutScalars {
  const n = numel(shape);
  const zeros = new Float32Array(n);
  const opt = (v: ParamValue | undefined, dflt: number) => (v === undefined ? new Float32Array(n).fill(dflt) : expandParam(v, shape));
  if (node.op === 'IF') {
    const p = (node as IFNode).params;
    return {
      op: 'IF', n, form: FORM_IF, a: zeros, r: expandParam(p.r, shape), vLeak: zeros,
      vThreshold: expandParam(p.v_threshold, shape), vReset: opt(p.v_reset, 0), vMin: opt(p.vMin, -Infinity),
      spiking: true, multi: spikeMode(p.spike) === 'multi', subtract: resetMode(p.reset) === 'subtract',
    };
  }
  const p = (node as LIFNode | LINode).params;
  let form: NeuronForm;
  let a: Float32Array;
  if (p.beta !== undefined) {
    form = FORM_DECAY;
    a = expandParam(p.beta, shape);
  } else {
    form = FORM_EULER;
    const tau = expandParam(p.tau, shape);
    a = new Float32Array(n);
    for (let j = 0; j < n; j++) a[j] = p.dt / tau[j];
  }
  if (node.op === 'LI') {
    return {
      op: 'LI', n, form, a, r: expandParam(p.r, shape), vLeak: expandParam(p.v_leak, shape),
      vThreshold: new Float32Array(n).fill(Infinity), vReset: zeros, vMin: new Float32Array(n).fill(-Infinity),
      spiking: false, multi: false, subtract: false,
    };
  }
  const q = (node as LIFNode).params;
  return {
    op: 'LIF', n, form, a, r: expandParam(q.r, shape), vLeak: expandParam(q.v_leak, shape),
    vThreshold: expandParam(q.v_threshold, shape), vReset: opt(q.v_reset, 0), vMin: opt(q.vMin, -Infinity),
    spiking: true, multi: spikeMode(q.spike) === 'multi', subtract: resetMode(q.reset) === 'subtract',
  };
}

export function spikeMode(s: SpikeMode | undefined): SpikeMode {
  return s ?? 'single';
}

export function resetMode(r: ResetMode | undefined): ResetMode {
  return r ?? 'zero';
}

/** Step 1 for one neuron: the integrated (pre-spike) membrane potential. */
export function integrate(form: NeuronForm, v: number, input: number, a: number, r: number, vLeak: number): number {
  const ri = f(r * input);
  if (form === FORM_IF) return f(v + ri);
  if (form === FORM_EULER) return f(v + f(a * f(f(vLeak - v) + ri)));
  return f(f(f(a * f(v - vLeak)) + vLeak) + ri);
}

/** Step 2: spikes emitted at membrane potential v (0 if none). */
export function spikeCount(v: number, threshold: number, multi: boolean): number {
  if (multi) return v >= threshold ? Math.floor(f(v / threshold)) : 0;
  return v > threshold ? 1 : 0;
}

/** Steps 3 and 4: membrane potential after reset (when s > 0) and clamp. */
export function resetAndClamp(v: number, s: number, threshold: number, vReset: number, subtract: boolean, vMin: number): number {
  let out = v;
  if (s > 0) out = subtract ? f(v - f(s * threshold)) : vReset;
  return out < vMin ? vMin : out;
}

/**
 * One full step of neuron j: updates v[j] and returns its output this step: the spike count for IF
 * and LIF, the membrane potential for LI.
 */
export function neuronStep(p: NeuronArrays, v: Float32Array, j: number, input: number): number {
  const u = integrate(p.form, v[j], input, p.a[j], p.r[j], p.vLeak[j]);
  if (!p.spiking) {
    v[j] = u;
    return u;
  }
  const thr = p.vThreshold[j];
  const s = spikeCount(u, thr, p.multi);
  v[j] = resetAndClamp(u, s, thr, p.vReset[j], p.subtract, p.vMin[j]);
  return s;
}

/**
 * Whether the sparse engine may skip neuron j on steps without input, replaying the skipped steps
 * later (lazy leak). Skipped steps are replayed with exactly the float32 operations of neuronStep,
 * so only spikes are at stake: a skipped step must never have spiked.
 *
 * - IF: a zero-input step is the identity (v + r*0 = v, clamp is idempotent), so v itself must not
 *   spike: v <= threshold (single) or v < threshold (multi).
 * - LIF with 0 <= a <= 1 (Euler) or 0 <= beta <= 1 (decay): each zero-input step moves v towards
 *   v_leak without passing it, because float32 rounding is monotone and v, v_leak are float32 values;
 *   the clamp can hold v up at vMin. So v stays between v and max(v_leak, vMin), except that one
 *   rounding of (v_leak - v) can overshoot v_leak by about one float32 ulp of |v| + |v_leak|. We ask
 *   for max(v, v_leak, vMin) plus a margin of 2^-20 * (|v| + |target|) (16x that ulp) to stay
 *   below the threshold; neurons failing it are simply updated every step until they pass.
 *   The sparse engine also counts any spike seen while replaying, or in the vectorised zero-input
 *   step of its WebAssembly path (`lazyViolations`, tested to be 0).
 */
export function lazyEligible(p: NeuronArrays): boolean {
  if (!p.spiking) return false;
  if (p.form === FORM_IF) return true;
  for (let j = 0; j < p.n; j++) {
    const a = p.a[j];
    if (!(a >= 0 && a <= 1)) return false;
  }
  return true;
}

/** See lazyEligible: true when no zero-input step from state v can spike. */
export function isQuiescent(p: NeuronArrays, v: number, j: number): boolean {
  return quiescent(p.form, v, p.vThreshold[j], p.vLeak[j], p.vMin[j], p.multi);
}

/** isQuiescent for one neuron's parameters. */
export function quiescent(form: NeuronForm, v: number, thr: number, vLeak: number, vMin: number, multi: boolean): boolean {
  if (form === FORM_IF) return multi ? v < thr : v <= thr;
  const target = vLeak > vMin ? vLeak : vMin;
  const top = (v > target ? v : target) + (Math.abs(v) + Math.abs(target)) * 2 ** -20;
  return multi ? top < thr : top <= thr;
}

/** The float32 value at position k of the float32 number line (0 at +0; -0 is skipped). */
function f32At(k: number): number {
  const bits = new Uint32Array(1);
  bits[0] = Math.abs(k);
  const v = new Float32Array(bits.buffer)[0];
  return k < 0 ? -v : v;
}

/** Position of float32 v on that line (see f32At). */
function f32Pos(v: number): number {
  const bits = new Uint32Array(new Float32Array([Math.abs(v)]).buffer)[0];
  return v < 0 ? -bits : bits;
}

/**
 * An interval [lo, hi] of float32 potentials inside which quiescent() holds, for the WebAssembly
 * kernels, which test `lo <= v && v <= hi` instead of quiescent()'s float64 arithmetic. For IF it
 * is exactly quiescent()'s set ((-inf, thr], or up to the float32 below thr for multi-spike). For
 * LIF quiescent()'s set is an interval around max(v_leak, vMin) (a sum of convex functions of v
 * under a bound); its ends are found by bisection with quiescent() itself, then pulled inwards by
 * 2^-16 of their magnitude, far more than any float64 rounding wobble of quiescent() near its
 * ends, so every v inside is quiescent. A stricter test only puts more neurons on the pending
 * list, where they are stepped exactly. Null when the resting potential is not inside (the
 * kernels are not used then).
 */
export function quiescentInterval(form: NeuronForm, thr: number, vLeak: number, vMin: number, multi: boolean): readonly [number, number] | null {
  if (form === FORM_IF) return [-Infinity, multi ? f32At(f32Pos(thr) - 1) : thr];
  const q = (v: number) => quiescent(form, v, thr, vLeak, vMin, multi);
  const rest = vLeak > vMin ? vLeak : vMin;
  if (!q(rest)) return null;
  const inf = f32Pos(Infinity);
  let a = f32Pos(rest);
  let b = inf;
  while (b - a > 1) {
    const m = Math.floor((a + b) / 2);
    if (q(f32At(m))) a = m;
    else b = m;
  }
  const hiEdge = f32At(a);
  a = -inf;
  b = f32Pos(rest);
  while (b - a > 1) {
    const m = Math.floor((a + b) / 2);
    if (q(f32At(m))) b = m;
    else a = m;
  }
  const loEdge = f32At(b);
  const hi = f(hiEdge - Math.abs(hiEdge) * 2 ** -16);
  const lo = f(loEdge + Math.abs(loEdge) * 2 ** -16);
  if (!(lo <= rest && rest <= hi && q(lo) && q(hi))) return null;
  return [lo, hi];
}

/**
 * Replays `steps` zero-input steps of neuron j (the lazy leak). Stops early at a fixed point, where
 * more steps change nothing. Returns the number of replayed steps that would have spiked (0 when
 * isQuiescent held before the skipped steps).
 */
export function replayIdle(p: NeuronArrays, v: Float32Array, j: number, steps: number): number {
  let violations = 0;
  for (let k = 0; k < steps; k++) {
    const before = v[j];
    if (neuronStep(p, v, j, 0) > 0) violations++;
    if (v[j] === before && violations === 0) break;
  }
  return violations;
}

/** Tallies of one stepList call, in a caller-owned record so the hot loop allocates nothing. */
export interface StepListState {
  /** Entries written to outIdx so far (spiking neurons); stepList appends from here. */
  outputs: number;
  /** Entries written to `pending` so far; stepList appends from here. */
  pending: number;
  /** Spikes emitted (sum of counts). */
  spikes: number;
  /** Spikes seen while replaying skipped steps (see replayIdle). */
  violations: number;
}

/**
 * The sparse engine's hot loop: steps the neurons list[0..n) with inputs x[j], performing exactly
 * neuronStep's operations (through the same integrate / spikeCount / resetAndClamp), with the
 * parameters read as scalars when the node's are uniform (six random array loads per neuron
 * otherwise dominate its cost).
 * - IF/LIF: a neuron that fires gets outVal[j] = spike count and is appended to outIdx.
 * - LI: outVal[j] = v for every listed neuron.
 * - `last` (lazy leak, LIF/LI): neuron j first replays the t - last[j] - 1 zero-input steps it
 *   skipped, then last[j] = t. Ignored for IF, whose zero-input step is the identity.
 * - `pending`: neurons that are not quiescent afterwards are appended (they must be stepped next
 *   timestep even without input).
 */
export function stepList(
  p: NeuronArrays, v: Float32Array, x: Float32Array, list: Int32Array, n: number,
  outVal: Float32Array, outIdx: Int32Array, last: Int32Array | null, t: number, pending: Int32Array | null, st: StepListState,
): void {
  let m = st.outputs;
  let np = st.pending;
  let spikes = 0;
  let violations = 0;
  const form = p.form;
  const multi = p.multi;
  const replay = last !== null && form !== FORM_IF;
  if (p.uniform) {
    const { a, r, vLeak, vThreshold: thr, vReset, vMin } = p.u;
    const subtract = p.subtract;
    if (!p.spiking) {
      for (let k = 0; k < n; k++) {
        const j = list[k];
        const u = integrate(form, v[j], x[j], a, r, vLeak);
        v[j] = u;
        outVal[j] = u;
      }
    } else if (form === FORM_IF) {
      // IF: nothing to replay; quiescent means "cannot fire at this v" (see quiescent()).
      for (let k = 0; k < n; k++) {
        const j = list[k];
        const u = integrate(FORM_IF, v[j], x[j], a, r, vLeak);
        const c = spikeCount(u, thr, multi);
        const w = resetAndClamp(u, c, thr, vReset, subtract, vMin);
        v[j] = w;
        if (c > 0) {
          outVal[j] = c;
          outIdx[m++] = j;
          spikes += c;
        }
        if (pending !== null && (multi ? !(w < thr) : !(w <= thr))) pending[np++] = j;
      }
    } else {
      for (let k = 0; k < n; k++) {
        const j = list[k];
        let w = v[j];
        if (last !== null) {
          if (replay) {
            // Lazy leak: the skipped zero-input steps, exactly, stopping at a fixed point.
            for (let idle = t - last[j] - 1; idle > 0; idle--) {
              const u0 = integrate(form, w, 0, a, r, vLeak);
              const c0 = spikeCount(u0, thr, multi);
              const w0 = resetAndClamp(u0, c0, thr, vReset, subtract, vMin);
              if (c0 > 0) violations++;
              else if (w0 === w) break;
              w = w0;
            }
          }
          last[j] = t;
        }
        const u = integrate(form, w, x[j], a, r, vLeak);
        const c = spikeCount(u, thr, multi);
        w = resetAndClamp(u, c, thr, vReset, subtract, vMin);
        v[j] = w;
        if (c > 0) {
          outVal[j] = c;
          outIdx[m++] = j;
          spikes += c;
        }
        if (pending !== null && !quiescent(form, w, thr, vLeak, vMin, multi)) pending[np++] = j;
      }
    }
  } else {
    for (let k = 0; k < n; k++) {
      const j = list[k];
      if (last !== null) {
        if (replay) {
          const idle = t - last[j] - 1;
          if (idle > 0) violations += replayIdle(p, v, j, idle);
        }
        last[j] = t;
      }
      const c = neuronStep(p, v, j, x[j]);
      if (!p.spiking) {
        outVal[j] = c;
        continue;
      }
      if (c > 0) {
        outVal[j] = c;
        outIdx[m++] = j;
        spikes += c;
      }
      if (pending !== null && !isQuiescent(p, v[j], j)) pending[np++] = j;
    }
  }
  st.outputs = m;
  st.pending = np;
  st.spikes += spikes;
  st.violations += violations;
}

/**
 * stepList over the neurons whose bit is set in `bits` (ascending), for uniform IF nodes: the
 * commonest hidden layer, walked without materialising an index list first.
 */
export function stepBitsIF(
  p: NeuronArrays, v: Float32Array, x: Float32Array, bits: Int32Array,
  outVal: Float32Array, outIdx: Int32Array, pending: Int32Array | null, st: StepListState,
): void {
  let m = st.outputs;
  let np = st.pending;
  let spikes = 0;
  const { a, r, vLeak, vThreshold: thr, vReset, vMin } = p.u;
  const multi = p.multi;
  const subtract = p.subtract;
  for (let wi = 0; wi < bits.length; wi++) {
    let word = bits[wi];
    while (word !== 0) {
      const low = word & -word;
      const j = (wi << 5) | (31 - Math.clz32(low));
      word ^= low;
      const u = integrate(FORM_IF, v[j], x[j], a, r, vLeak);
      const c = spikeCount(u, thr, multi);
      const w = resetAndClamp(u, c, thr, vReset, subtract, vMin);
      v[j] = w;
      if (c > 0) {
        outVal[j] = c;
        outIdx[m++] = j;
        spikes += c;
      }
      if (pending !== null && (multi ? !(w < thr) : !(w <= thr))) pending[np++] = j;
    }
  }
  st.outputs = m;
  st.pending = np;
  st.spikes += spikes;
}
