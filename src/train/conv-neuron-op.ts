/**
 * A convolution feeding a neuron layer (and the pooling that follows it, if any) as one tfjs op,
 * for training: conv (tfjs) -> bias + neuron over T steps + pooling (neuron-pool-loops.ts), with
 * a backward pass that hands each convolution gradient its output gradient in the layout it
 * needs, written straight from the BPTT loop.
 *
 * Why fused: separately, the conv's output went through a bias add, a copy out of the wasm heap
 * and into the neuron loop, and the neuron's input gradient came back as a tensor that the conv
 * gradients then padded (input gradient) and transposed to [Ho, Wo, N, C] (filter gradient): on
 * the reference network, tfjs transposing the first layer's 4.6M-value gradient cost more than
 * that layer's neuron loops. Here the loops read the conv output in place and write the padded
 * and transposed gradients directly. A first layer's filter gradient over sparse input (event
 * counts) is a scatter over the nonzeros (sparse-filter-grad.ts) when that pays; its input
 * gradient (data) is never computed.
 *
 * The forward values are those of the unfused ops: same conv kernel, the bias added as one float32
 * addition, the neuron and pooling loops bit-identical to neuron-sequence.ts / pool-sequence.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { convFilterGradTransposed, convInputGradPadded, convValid, paddedGradShape, type ConvGeometry } from './conv2d-op.js';
import { customOp } from './custom-op.js';
import { checkAttached, newOutput, readValues } from './heap-io.js';
import { neuronPoolBackward, neuronPoolForward, type ImageGeometry, type LoopScratch, type NeuronPoolSaved } from './neuron-pool-loops.js';
import type { NeuronLayer } from './neuron-sequence.js';
import type { NeuronOpOptions } from './neuron-op.js';
import type { PoolGeometry } from './pool-sequence.js';
import { countNonzero, sparseFilterGrad, sparseFilterGradPays, type Shape4 } from './sparse-filter-grad.js';

export type TimeGroupConvNeuron = 'conv-forward' | 'conv-input-grad' | 'conv-filter-grad' | 'neuron-forward' | 'neuron-backward';

export interface ConvNeuronSpec {
  readonly T: number;
  readonly layer: NeuronLayer;
  readonly conv: ConvGeometry;
  /** Pooling of the neuron outputs (non-overlapping windows, see pool-sequence.ts). */
  readonly pool?: PoolGeometry;
  /** false: the conv's input is data, no input gradient (zeros are returned for it). */
  readonly inputGrad: boolean;
}

export interface ConvNeuronOptions extends Pick<NeuronOpOptions, 'surrogate' | 'detachReset'> {
  /** Filter gradient as a scatter over the input's nonzeros: when it pays (default), always, never. */
  readonly sparseFilterGrad?: 'auto' | 'always' | 'never';
  readonly onTime?: (group: TimeGroupConvNeuron, ms: number) => void;
}

interface OpScratch {
  readonly loops: LoopScratch;
  /** Set between a forward pass and its backward pass: a second forward gets fresh arrays. */
  busy: boolean;
}

// Per layer, reused from step to step (see neuron-pool-loops.ts's LoopScratch).
const scratchOf = new WeakMap<NeuronLayer, OpScratch>();

/**
 * The op on x [T*B, H, W, Cin] (already padded), filter w [kh, kw, Cin, Cout] and an optional
 * bias [Cout]: returns the neuron outputs [T*B, Ho, Wo, Cout], or pooled [T*B, ho, wo, Cout].
 */
export function convNeuronOp(x: tf.Tensor4D, w: tf.Tensor4D, bias: tf.Tensor1D | null, spec: ConvNeuronSpec, o: ConvNeuronOptions): tf.Tensor {
  const time = o.onTime;
  const now = () => (time ? performance.now() : 0);
  let sc = scratchOf.get(spec.layer);
  if (!sc) scratchOf.set(spec.layer, (sc = { loops: {}, busy: false }));
  const shared = sc;
  const op = customOp<tf.Tensor>((inputs, save) => {
    const [xIn, wIn] = inputs as [tf.Tensor4D, tf.Tensor4D];
    const bIn = inputs.length > 2 ? inputs[2] : null;
    save([xIn, wIn]);
    const t0 = now();
    const y = convValid(xIn, wIn, spec.conv.stride, spec.conv.dilation);
    const [TB, ho, wo, cout] = y.shape;
    const geo: ImageGeometry = { T: spec.T, B: TB / spec.T, h: ho, w: wo, c: cout, ...(spec.pool ? { pool: spec.pool } : {}) };
    if (!Number.isInteger(geo.B)) throw new RangeError(`convNeuronOp: ${TB} images do not split into ${spec.T} steps`);
    const p = spec.pool;
    const outShape = p ? [TB, Math.floor(ho / p.kh), Math.floor(wo / p.kw), cout] : [TB, ho, wo, cout];
    const out = newOutput(outShape);
    // Views after the last allocation (heap-io.ts).
    const yv = readValues(y);
    const bv = bIn ? readValues(bIn) : null;
    const ov = out.values();
    const t1 = now();
    if (time) time('conv-forward', t1 - t0);
    const loops: LoopScratch = shared.busy ? {} : shared.loops;
    const own = !shared.busy;
    shared.busy = true;
    const saved: NeuronPoolSaved = neuronPoolForward(spec.layer, yv, bv, geo, ov, loops);
    checkAttached(yv, ov);
    y.dispose();
    const value = out.finish();
    if (time) time('neuron-forward', now() - t1);
    return {
      value,
      gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) => {
        const [xs, ws] = kept as [tf.Tensor4D, tf.Tensor4D];
        const t2 = now();
        const gy = readValues(dy);
        const g = neuronPoolBackward(spec.layer, saved, gy, geo, o.surrogate, o.detachReset, loops);
        checkAttached(gy);
        if (own) shared.busy = false;
        let db: tf.Tensor | null = null;
        if (bIn) {
          const sums = new Float64Array(cout);
          for (let i = 0; i < g.length; i++) sums[i % cout] += g[i];
          db = tf.tensor1d(Float32Array.from(sums));
        }
        if (time) time('neuron-backward', now() - t2);
        const dyShape: Shape4 = [TB, ho, wo, cout];
        const kernel = [ws.shape[0], ws.shape[1]] as const;
        const xShape = xs.shape as unknown as Shape4;
        const t3 = now();
        let dw: tf.Tensor;
        const mode = o.sparseFilterGrad ?? 'auto';
        const xv = mode === 'never' ? null : readValues(xs);
        if (xv && (mode === 'always' || sparseFilterGradPays(countNonzero(xv), xShape, dyShape, kernel))) {
          dw = tf.tensor4d(sparseFilterGrad(xv, xShape, g, dyShape, kernel, spec.conv), ws.shape);
        } else {
          dw = tf.tidy(() => {
            const dyt = newOutput([ho, wo, TB, cout]);
            toHwnc(g, dyShape, dyt.values());
            return convFilterGradTransposed(xs, dyt.finish() as tf.Tensor4D, kernel, spec.conv);
          });
        }
        const t4 = now();
        if (time) time('conv-filter-grad', t4 - t3);
        let dx: tf.Tensor;
        if (spec.inputGrad) {
          dx = tf.tidy(() => {
            const pg = paddedGradShape(xShape, kernel, spec.conv);
            const padded = newOutput([TB, pg.height, pg.width, cout]);
            toPaddedDilated(g, dyShape, padded.values(), pg, spec.conv.stride);
            return convInputGradPadded(padded.finish() as tf.Tensor4D, ws, spec.conv);
          });
        } else {
          dx = tf.zerosLike(xs);
        }
        if (time) time('conv-input-grad', now() - t4);
        return db ? [dx, dw, db] : [dx, dw];
      },
    };
  });
  return bias ? op(x, w, bias) : op(x, w);
}

/** NHWC dy [N, Ho, Wo, C] -> [Ho, Wo, N, C] (the filter-gradient conv's filter). */
function toHwnc(g: Float32Array, s: Shape4, into: Float32Array): void {
  const [n, ho, wo, c] = s;
  const hw = ho * wo;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < hw; p++) {
      const src = (b * hw + p) * c;
      const dst = (p * n + b) * c;
      for (let ch = 0; ch < c; ch++) into[dst + ch] = g[src + ch];
    }
  }
}

/** NHWC dy -> stride-dilated and zero-padded as conv2d-op.ts's paddedGradShape says (every element written). */
function toPaddedDilated(g: Float32Array, s: Shape4, into: Float32Array, pg: { top: number; left: number; height: number; width: number }, stride: readonly [number, number]): void {
  const [n, ho, wo, c] = s;
  const [sh, sw] = stride;
  into.fill(0);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      const rowDst = (b * pg.height + pg.top + oy * sh) * pg.width;
      const rowSrc = (b * ho + oy) * wo;
      for (let ox = 0; ox < wo; ox++) {
        const dst = (rowDst + pg.left + ox * sw) * c;
        const src = (rowSrc + ox) * c;
        for (let ch = 0; ch < c; ch++) into[dst + ch] = g[src + ch];
      }
    }
  }
}
