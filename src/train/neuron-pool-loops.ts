/**
 * A neuron layer over conv outputs (NHWC images [T*B, h, w, c], time-major), with an optional
 * per-channel bias added to its input and an optional non-overlapping pooling of its spikes, as
 * one forward and one backward loop over typed arrays (the loops of conv-neuron-op.ts).
 *
 * Why fused: as separate passes (bias add, neuron loop, pool) the layer wrote and re-read its
 * full-size spike tensor and input gradient, each 4.6M values per step on the reference network;
 * here the spikes go straight into their pooling window and the pooled gradient is read where it
 * is needed. Why sample-major: a sample's membrane state (57 KB on the reference network) stays in
 * cache for its T steps instead of the whole batch's (1.8 MB) streaming through once per step.
 *
 * The fast loops cover the common layer (uniform decay-form LIF, single spike, subtract reset, no
 * clamp: the reference network's) and perform exactly the float32 operations of
 * neuron-sequence.ts's loops followed by pool-sequence.ts's (tests hold them bit-identical, so the
 * engines' semantics carry over); any other layer runs those loops themselves.
 */
import { FORM_DECAY } from '../snn/neuron.js';
import { neuronBackward, neuronForward, type NeuronLayer } from './neuron-sequence.js';
import { poolBackward, poolForward, pooledSize, type PoolGeometry } from './pool-sequence.js';
import type { Surrogate } from './surrogate.js';

/** T*B images of h x w x c (NHWC) in time-major order, pooled afterwards when `pool` is set. */
export interface ImageGeometry {
  readonly T: number;
  readonly B: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly pool?: PoolGeometry;
}

/** What the backward pass needs from the forward pass (arrays owned by the caller's scratch). */
export interface NeuronPoolSaved {
  readonly u: Float32Array;
  /** Spike outputs, kept by the general path only (the fast backward needs none). */
  readonly out: Float32Array | null;
}

/** Arrays reused from step to step (multi-megabyte: fresh ones cost zeroing and page faults). */
export interface LoopScratch {
  u?: Float32Array;
  out?: Float32Array;
  input?: Float32Array;
  g?: Float32Array;
  gOut?: Float32Array;
}

function scratchArray(s: LoopScratch, key: keyof LoopScratch, n: number): Float32Array {
  const a = s[key];
  if (a && a.length === n) return a;
  return (s[key] = new Float32Array(n));
}

/** The layer runs the fast loops. */
export function isFastLif(layer: NeuronLayer): boolean {
  return layer.uniform && layer.spiking && !layer.multi && layer.form === FORM_DECAY && layer.subtract && layer.vMin[0] === -Infinity;
}

function checkGeometry(layer: NeuronLayer, g: ImageGeometry, inputLength: number): void {
  const n = g.h * g.w * g.c;
  if (n !== layer.n) throw new RangeError(`neuron-pool loops: images of ${g.h}x${g.w}x${g.c} for a layer of ${layer.n} neurons`);
  if (inputLength !== g.T * g.B * n) throw new RangeError(`neuron-pool loops: ${inputLength} inputs for ${g.T}x${g.B} images of ${n}`);
  const p = g.pool;
  if (p && (p.h !== g.h || p.w !== g.w || p.c !== g.c)) throw new RangeError('neuron-pool loops: pooling geometry does not match the images');
}

/** Size of one step's output: pooled values, or the layer's outputs. */
export function outputSize(g: ImageGeometry): number {
  return g.T * g.B * (g.pool ? pooledSize(g.pool) : g.h * g.w * g.c);
}

/**
 * Forward over T steps from v = 0: writes the layer's (pooled) outputs into `into` (every element)
 * and returns what the backward pass needs.
 */
export function neuronPoolForward(layer: NeuronLayer, input: Float32Array, bias: Float32Array | null, g: ImageGeometry, into: Float32Array, scratch: LoopScratch): NeuronPoolSaved {
  checkGeometry(layer, g, input.length);
  if (into.length !== outputSize(g)) throw new RangeError(`neuron-pool loops: output of ${into.length} values, expected ${outputSize(g)}`);
  const u = scratchArray(scratch, 'u', input.length);
  if (isFastLif(layer)) {
    if (g.pool) fastForwardPooled(layer, input, bias, g, g.pool, u, into);
    else fastForward(layer, input, bias, g, u, into);
    return { u, out: null };
  }
  let x = input;
  if (bias) {
    x = scratchArray(scratch, 'input', input.length);
    const c = g.c;
    // tfjs's Add: one float32 addition per value.
    for (let i = 0; i < input.length; i++) x[i] = input[i] + bias[i % c];
  }
  const r = neuronForward(layer, x, g.T, true, undefined, scratch);
  if (g.pool) poolForward(r.out, g.T * g.B, g.pool, into);
  else into.set(r.out);
  return { u: r.u as Float32Array, out: r.out };
}

function fastForward(layer: NeuronLayer, input: Float32Array, bias: Float32Array | null, g: ImageGeometry, u: Float32Array, into: Float32Array): void {
  const { T, B, c } = g;
  const n = layer.n;
  const f = Math.fround;
  const a0 = layer.a[0], r0 = layer.r[0], vl = layer.vLeak[0], thr = layer.vThreshold[0];
  const v = new Float32Array(n);
  for (let b = 0; b < B; b++) {
    v.fill(0);
    for (let t = 0; t < T; t++) {
      const xi = (t * B + b) * n;
      for (let j = 0; j < n; j++) {
        const inp = bias ? f(input[xi + j] + bias[j % c]) : input[xi + j];
        const uu = f(f(f(a0 * f(v[j] - vl)) + vl) + f(r0 * inp));
        u[xi + j] = uu;
        if (uu > thr) {
          into[xi + j] = 1;
          v[j] = f(uu - thr);
        } else {
          into[xi + j] = 0;
          v[j] = uu;
        }
      }
    }
  }
}

function fastForwardPooled(layer: NeuronLayer, input: Float32Array, bias: Float32Array | null, g: ImageGeometry, p: PoolGeometry, u: Float32Array, into: Float32Array): void {
  const { T, B, w, c } = g;
  const { kh, kw, average } = p;
  const n = layer.n;
  const ho = Math.floor(g.h / kh);
  const wo = Math.floor(w / kw);
  const outSize = ho * wo * c;
  const area = kh * kw;
  const f = Math.fround;
  const a0 = layer.a[0], r0 = layer.r[0], vl = layer.vLeak[0], thr = layer.vThreshold[0];
  const v = new Float32Array(n);
  into.fill(0);
  // Neurons outside every window (edge rows/columns cut off by the floor) feed nothing: skipped.
  for (let b = 0; b < B; b++) {
    v.fill(0);
    for (let t = 0; t < T; t++) {
      const img = t * B + b;
      const xi = img * n;
      const yo = img * outSize;
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          const o = yo + (oy * wo + ox) * c;
          for (let ky = 0; ky < kh; ky++) {
            const row = ((oy * kh + ky) * w + ox * kw) * c;
            for (let kx = 0; kx < kw; kx++) {
              const j0 = row + kx * c;
              for (let ch = 0; ch < c; ch++) {
                const j = j0 + ch;
                const inp = bias ? f(input[xi + j] + bias[ch]) : input[xi + j];
                const uu = f(f(f(a0 * f(v[j] - vl)) + vl) + f(r0 * inp));
                u[xi + j] = uu;
                if (uu > thr) {
                  // pool-sequence.ts adds every window value in (ky, kx) order; the zeros change nothing.
                  into[o + ch] += 1;
                  v[j] = f(uu - thr);
                } else {
                  v[j] = uu;
                }
              }
            }
          }
          if (average) for (let ch = 0; ch < c; ch++) into[o + ch] = f(into[o + ch] / area);
        }
      }
    }
  }
}

/**
 * Backward (BPTT) from dL/d(outputs) (`gy`, pooled when the forward pooled) to dL/d(input) for
 * every step, NHWC like the input. Returns an array of `scratch`, valid until the next call. (The
 * bias adds a constant per channel: its gradient is the per-channel sum of the result.)
 */
export function neuronPoolBackward(layer: NeuronLayer, saved: NeuronPoolSaved, gy: Float32Array, g: ImageGeometry, sg: Surrogate, detachReset: boolean, scratch: LoopScratch): Float32Array {
  checkGeometry(layer, g, saved.u.length);
  if (gy.length !== outputSize(g)) throw new RangeError(`neuron-pool loops: output gradient of ${gy.length} values, expected ${outputSize(g)}`);
  const gIn = scratchArray(scratch, 'g', saved.u.length);
  if (isFastLif(layer) && detachReset) {
    fastBackward(layer, saved.u, gy, g, sg, gIn);
    return gIn;
  }
  if (!saved.out) throw new Error('neuron-pool loops: the general backward pass needs the forward spikes');
  let gOut = gy;
  if (g.pool) gOut = poolBackward(gy, g.T * g.B, g.pool, scratchArray(scratch, 'gOut', saved.u.length));
  return neuronBackward(layer, saved.u, saved.out, gOut, g.T, sg, detachReset, { g: gIn });
}

function fastBackward(layer: NeuronLayer, u: Float32Array, gy: Float32Array, g: ImageGeometry, sg: Surrogate, gIn: Float32Array): void {
  const { T, B, h, w, c } = g;
  const p = g.pool;
  const kh = p ? p.kh : 1;
  const kw = p ? p.kw : 1;
  const scale = p && p.average ? 1 / (kh * kw) : 1;
  const n = layer.n;
  const ho = Math.floor(h / kh);
  const wo = Math.floor(w / kw);
  const outSize = ho * wo * c;
  const f = Math.fround;
  const a0 = layer.a[0], r0 = layer.r[0], thr = layer.vThreshold[0];
  const atan = sg.kind === 'atan';
  const k = sg.slope;
  const kz = (Math.PI / 2) * k;
  const gv = new Float32Array(n);
  for (let b = 0; b < B; b++) {
    gv.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      const img = t * B + b;
      const xi = img * n;
      const yo = img * outSize;
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          const o = yo + (oy * wo + ox) * c;
          for (let ky = 0; ky < kh; ky++) {
            const row = ((oy * kh + ky) * w + ox * kw) * c;
            for (let kx = 0; kx < kw; kx++) {
              const j0 = row + kx * c;
              for (let ch = 0; ch < c; ch++) {
                const j = j0 + ch;
                // The same float operations as poolBackward (a float32 store) then neuronBackward.
                const go = f(gy[o + ch] * scale);
                const x = u[xi + j] - thr;
                let d: number;
                if (atan) {
                  const z = kz * x;
                  d = k / 2 / (1 + z * z);
                } else {
                  const q = 1 + k * (x < 0 ? -x : x);
                  d = 1 / (q * q);
                }
                const gu = go * d + gv[j];
                gIn[xi + j] = gu * r0;
                gv[j] = gu * a0;
              }
            }
          }
        }
      }
    }
  }
  // Neurons outside every window: no output, so no gradient (gv stays 0 there).
  zeroOutsideWindows(gIn, g, 0 * r0);
}

/**
 * Zeroes the gradient of neurons outside every pooling window (the fast loops and the wasm kernels
 * skip them: no output, no gradient). `zero` is 0 * r0, the sign the general loops give it.
 */
export function zeroOutsideWindows(gIn: Float32Array, geo: ImageGeometry, zero: number): void {
  const p = geo.pool;
  if (!p) return;
  const { h, w, c } = geo;
  const hc = Math.floor(h / p.kh) * p.kh;
  const wc = Math.floor(w / p.kw) * p.kw;
  if (hc === h && wc === w) return;
  const n = h * w * c;
  for (let img = 0; img < geo.T * geo.B; img++) {
    for (let y = 0; y < h; y++) {
      for (let x = y < hc ? wc : 0; x < w; x++) gIn.fill(zero, img * n + (y * w + x) * c, img * n + (y * w + x + 1) * c);
    }
  }
}
