/**
 * A neuron layer unrolled over T timesteps (BPTT), as one op with a hand-written forward and
 * backward over typed arrays.
 *
 * Why hand-written: a layer's dynamics are a chain of ~10 tiny elementwise ops per timestep, and as
 * tfjs ops every one of them is a separate kernel dispatch and tensor allocation, forward and
 * backward, T times per layer (about a third of a training step on the wasm backend). One loop
 * over the layer's values does the same work in a single pass. It also makes the forward pass the
 * engines' definition by construction: it calls neuron.ts's integrate/spikeCount/resetAndClamp,
 * the very functions both engines call, so the tfjs model and the exported model cannot disagree
 * on the dynamics.
 *
 * Layout: values are time-major, [T, B, ...sample] flattened, and `perm` maps an index within one
 * sample of the trainer's layout (NHWC: y, x, c) to the neuron's index in the IR layout ([C,H,W]
 * row-major), so per-neuron parameters line up.
 *
 * Backward (per neuron, x_t = u_t - v_threshold, sg = surrogate'(x_t)):
 *   u_t = c * v_{t-1} + k * I_t + const     (IF: c = 1, k = r; Euler: c = 1 - a, k = a*r; decay: c = beta, k = r)
 *   s_t = H(x_t)                             (backward: ds/du = sg)
 *   v_t = clamp(reset(u_t, s_t))             (clamped values pass no gradient)
 *   reset 'subtract': dv/du = 1 (detached) or 1 - thr*sg; 'zero': dv/du = [s = 0] (detached) or [s = 0] + (v_reset - u)*sg
 *   LI: output o_t = u_t = v_t.
 * With detachReset (default, as snnTorch and SpikingJelly's detach_reset) the reset is treated as
 * a constant in the backward pass.
 */
import { FORM_DECAY, FORM_EULER, FORM_IF, integrate, resetAndClamp, spikeCount, type NeuronArrays, type NeuronForm } from '../snn/neuron.js';
import type { Surrogate } from './surrogate.js';

/** A neuron node's parameters in the trainer's layout (one entry per neuron of one sample). */
export interface NeuronLayer {
  readonly n: number;
  readonly form: NeuronForm;
  readonly spiking: boolean;
  readonly multi: boolean;
  readonly subtract: boolean;
  readonly a: Float32Array;
  readonly r: Float32Array;
  readonly vLeak: Float32Array;
  readonly vThreshold: Float32Array;
  readonly vReset: Float32Array;
  readonly vMin: Float32Array;
  /** Every neuron has the same parameters (the usual case): loops read scalars. */
  readonly uniform: boolean;
}

function isConstant(a: Float32Array): boolean {
  for (let i = 1; i < a.length; i++) if (!Object.is(a[i], a[0])) return false;
  return true;
}

/** Reorders a node's NeuronArrays into the trainer's layout (perm[j] = IR index of trainer index j). */
export function neuronLayer(arrays: NeuronArrays, perm: Int32Array | null): NeuronLayer {
  const n = arrays.n;
  if (perm && perm.length !== n) throw new RangeError(`neuronLayer: permutation has ${perm.length} entries for ${n} neurons`);
  const take = (src: Float32Array) => {
    if (!perm) return src;
    const out = new Float32Array(n);
    for (let j = 0; j < n; j++) out[j] = src[perm[j]];
    return out;
  };
  const all = [arrays.a, arrays.r, arrays.vLeak, arrays.vThreshold, arrays.vReset, arrays.vMin];
  return {
    n, form: arrays.form, spiking: arrays.spiking, multi: arrays.multi, subtract: arrays.subtract,
    a: take(arrays.a), r: take(arrays.r), vLeak: take(arrays.vLeak), vThreshold: take(arrays.vThreshold),
    vReset: take(arrays.vReset), vMin: take(arrays.vMin), uniform: n > 0 && all.every(isConstant),
  };
}

/**
 * Caller-owned output arrays to reuse between calls (fresh multi-megabyte arrays cost more than
 * the loops: zeroing and first-touch page faults). Used when their length fits; `out` is cleared.
 */
export interface Scratch {
  out?: Float32Array;
  u?: Float32Array;
  g?: Float32Array;
}

function take(s: Scratch | undefined, key: keyof Scratch, n: number, clear: boolean): Float32Array {
  const a = s?.[key];
  if (a && a.length === n) {
    if (clear) a.fill(0);
    return a;
  }
  const fresh = new Float32Array(n);
  if (s) s[key] = fresh;
  return fresh;
}

/**
 * Counts, per sample, the neuron updates whose pre-spike potential came within `tolerance` of the
 * threshold: where float32 rounding differences between this forward pass and the engines (sums
 * added in another order) could flip a spike.
 */
export interface NearTieCounter {
  readonly tolerance: number;
  /** One counter per sample of the batch. */
  readonly perSample: Int32Array;
}

/**
 * Forward pass over T steps from v = 0: returns the layer's outputs (spike counts, or v for LI),
 * and, when `keep` is set, the pre-reset potentials u_t the backward pass needs.
 *
 * Single-spike layers run a loop specialised per integration form with neuron.ts's float32
 * operations written out (1.6x faster than calling them per element); everything else, and the
 * near-tie count, goes through neuronForwardReference, which calls neuron.ts itself. Tests hold
 * the two to bit-identical results.
 */
export function neuronForward(layer: NeuronLayer, input: Float32Array, T: number, keep: boolean, ties?: NearTieCounter, scratch?: Scratch): { out: Float32Array; u: Float32Array | null } {
  if (ties || !layer.spiking || layer.multi) return neuronForwardReference(layer, input, T, keep, ties);
  const n = layer.n;
  const per = input.length / T;
  if (!Number.isInteger(per) || per % n !== 0) throw new RangeError(`neuronForward: ${input.length} inputs do not split into ${T} steps of whole samples of ${n} neurons`);
  const B = per / n;
  const out = take(scratch, 'out', input.length, true);
  const u = keep ? take(scratch, 'u', input.length, false) : null;
  const v = new Float32Array(per);
  const { form, a, r, vLeak, vThreshold, vReset, vMin, subtract } = layer;
  const f = Math.fround;
  if (layer.uniform && form === FORM_DECAY) {
    // The common case (one decay, threshold, reset for the whole layer): scalars, one flat loop.
    const a0 = a[0], r0 = r[0], vl = vLeak[0], thr = vThreshold[0], vr = vReset[0], lo = vMin[0];
    // Subtract reset without a clamp, training (the reference network's layers) gets a loop of
    // its own: with every stored value provably float32 V8 keeps this loop 1.6x faster than the
    // general one below (measured; a reset value or clamp bound of unknown precision defeats it).
    if (lo === -Infinity && subtract && u) {
      const uk = u;
      for (let t = 0; t < T; t++) {
        const o = t * per;
        for (let i = 0; i < per; i++) {
          const uu = f(f(f(a0 * f(v[i] - vl)) + vl) + f(r0 * input[o + i]));
          uk[o + i] = uu;
          let next = uu;
          if (uu > thr) {
            out[o + i] = 1;
            next = f(uu - thr);
          }
          v[i] = next;
        }
      }
      return { out, u };
    }
    for (let t = 0; t < T; t++) {
      const o = t * per;
      for (let i = 0; i < per; i++) {
        const uu = f(f(f(a0 * f(v[i] - vl)) + vl) + f(r0 * input[o + i]));
        if (u) u[o + i] = uu;
        let next = uu;
        if (uu > thr) {
          out[o + i] = 1;
          next = subtract ? f(uu - thr) : vr;
        }
        v[i] = next < lo ? lo : next;
      }
    }
    return { out, u };
  }
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const off = b * n;
      const o = t * per + off;
      for (let j = 0; j < n; j++) {
        const vi = off + j;
        const ri = f(r[j] * input[o + j]);
        let uu: number;
        if (form === FORM_DECAY) {
          const vl = vLeak[j];
          uu = f(f(f(a[j] * f(v[vi] - vl)) + vl) + ri);
        } else if (form === FORM_EULER) {
          const vv = v[vi];
          uu = f(vv + f(a[j] * f(f(vLeak[j] - vv) + ri)));
        } else {
          uu = f(v[vi] + ri);
        }
        if (u) u[o + j] = uu;
        const thr = vThreshold[j];
        let next = uu;
        if (uu > thr) {
          out[o + j] = 1;
          next = subtract ? f(uu - thr) : vReset[j];
        }
        const lo = vMin[j];
        v[vi] = next < lo ? lo : next;
      }
    }
  }
  return { out, u };
}

/** The forward pass written with neuron.ts's functions: the definition the fast path must match. */
export function neuronForwardReference(layer: NeuronLayer, input: Float32Array, T: number, keep: boolean, ties?: NearTieCounter): { out: Float32Array; u: Float32Array | null } {
  const n = layer.n;
  const per = input.length / T;
  if (!Number.isInteger(per) || per % n !== 0) throw new RangeError(`neuronForward: ${input.length} inputs do not split into ${T} steps of whole samples of ${n} neurons`);
  const B = per / n;
  const out = new Float32Array(input.length);
  const u = keep ? new Float32Array(input.length) : null;
  const v = new Float32Array(per);
  const { form, a, r, vLeak, vThreshold, vReset, vMin, spiking, multi, subtract } = layer;
  for (let t = 0; t < T; t++) {
    const base = t * per;
    for (let b = 0; b < B; b++) {
      const off = b * n;
      for (let j = 0; j < n; j++) {
        const vi = off + j;
        const idx = base + vi;
        const uu = integrate(form, v[vi], input[idx], a[j], r[j], vLeak[j]);
        if (u) u[idx] = uu;
        if (spiking) {
          const thr = vThreshold[j];
          const s = spikeCount(uu, thr, multi);
          v[vi] = resetAndClamp(uu, s, thr, vReset[j], subtract, vMin[j]);
          out[idx] = s;
          if (ties && Math.abs(uu - thr) <= ties.tolerance * Math.max(1, Math.abs(thr))) ties.perSample[b]++;
        } else {
          v[vi] = uu;
          out[idx] = uu;
        }
      }
    }
  }
  return { out, u };
}

/**
 * Backward pass (BPTT): from dL/d(output_t) for every step to dL/d(input_t), given the forward
 * pass's outputs and pre-reset potentials.
 */
export function neuronBackward(
  layer: NeuronLayer, u: Float32Array, out: Float32Array, gOut: Float32Array, T: number, sg: Surrogate, detachReset: boolean, scratch?: Scratch,
): Float32Array {
  const n = layer.n;
  const per = u.length / T;
  const B = per / n;
  const gIn = take(scratch, 'g', u.length, false);
  const gv = new Float32Array(per);
  const { form, a, r, vThreshold, vReset, vMin, spiking, subtract } = layer;
  const atan = sg.kind === 'atan';
  const k = sg.slope;
  const kz = (Math.PI / 2) * k;
  if (layer.uniform && spiking && form === FORM_DECAY && subtract && detachReset && vMin[0] === -Infinity) {
    // The common case (uniform decay-form LIF, subtract reset, detached, no clamp): dv/du = 1,
    // so gu = gOut * sg + gv and the loop is a few multiply-adds per value.
    const a0 = a[0], r0 = r[0], thr = vThreshold[0];
    for (let t = T - 1; t >= 0; t--) {
      const base = t * per;
      for (let i = 0; i < per; i++) {
        const x = u[base + i] - thr;
        let d: number;
        if (atan) {
          const z = kz * x;
          d = k / 2 / (1 + z * z);
        } else {
          const q = 1 + k * (x < 0 ? -x : x);
          d = 1 / (q * q);
        }
        const gu = gOut[base + i] * d + gv[i];
        gIn[base + i] = gu * r0;
        gv[i] = gu * a0;
      }
    }
    return gIn;
  }
  for (let t = T - 1; t >= 0; t--) {
    const base = t * per;
    for (let b = 0; b < B; b++) {
      const off = b * n;
      for (let j = 0; j < n; j++) {
        const vi = off + j;
        const idx = base + vi;
        const uu = u[idx];
        let gu: number;
        if (spiking) {
          const thr = vThreshold[j];
          const s = out[idx];
          // surrogate.ts's surrogateGrad, inlined (it is most of this loop's work).
          const x = uu - thr;
          let d: number;
          if (atan) {
            const z = kz * x;
            d = k / 2 / (1 + z * z);
          } else {
            const q = 1 + k * (x < 0 ? -x : x);
            d = 1 / (q * q);
          }
          const vr = s > 0 ? (subtract ? Math.fround(uu - Math.fround(s * thr)) : vReset[j]) : uu;
          const gvr = vr < vMin[j] ? 0 : gv[vi];
          let dvdu: number;
          if (subtract) dvdu = detachReset ? 1 : 1 - thr * d;
          else dvdu = (s > 0 ? 0 : 1) + (detachReset ? 0 : (vReset[j] - uu) * d);
          gu = gOut[idx] * d + gvr * dvdu;
        } else {
          gu = gOut[idx] + gv[vi];
        }
        const aj = a[j];
        if (form === FORM_IF) {
          gIn[idx] = gu * r[j];
          gv[vi] = gu;
        } else if (form === FORM_EULER) {
          gIn[idx] = gu * aj * r[j];
          gv[vi] = gu * (1 - aj);
        } else {
          gIn[idx] = gu * r[j];
          gv[vi] = gu * aj;
        }
      }
    }
  }
  return gIn;
}
