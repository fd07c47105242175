/**
 * A convolution feeding a neuron layer (and the pooling that follows it, if any) as one tfjs op,
 * for training: conv (tfjs) -> bias + neuron over T steps + pooling, with a backward pass that
 * hands each convolution gradient its output gradient in the layout it needs, written straight
 * from the BPTT loop.
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
 * The loops: on the wasm backend, the SIMD kernels of wasm-kernels.ts on the tensors' heap memory
 * (the common layer, channels divisible by 4); otherwise neuron-pool-loops.ts and
 * sparse-filter-grad.ts. Forward values are those of the unfused ops either way: same conv kernel,
 * the bias added as one float32 addition, neuron and pooling bit-identical to neuron-sequence.ts /
 * pool-sequence.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { convFilterGradTransposed, convInputGradPadded, convValid, paddedGradShape, type ConvGeometry } from './conv2d-op.js';
import { customOp } from './custom-op.js';
import { checkAttached, heapAddress, heapScratch, newOutput, readValues, type HeapScratch } from './heap-io.js';
import { isFastLif, neuronPoolBackward, neuronPoolForward, zeroOutsideWindows, type ImageGeometry, type LoopScratch, type NeuronPoolSaved } from './neuron-pool-loops.js';
import type { NeuronLayer } from './neuron-sequence.js';
import type { NeuronOpOptions } from './neuron-op.js';
import type { PoolGeometry } from './pool-sequence.js';
import { sparseFilterGrad, sparseFilterGradPays, type Shape4 } from './sparse-filter-grad.js';
import { wasmKernels, type WasmKernels } from './wasm-kernels.js';

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
  /** Use the wasm SIMD kernels where they apply (default true; false runs the JS loops, for tests). */
  readonly simd?: boolean;
  readonly onTime?: (group: TimeGroupConvNeuron, ms: number) => void;
}

interface OpScratch {
  readonly loops: LoopScratch;
  /** Set between a forward pass and its backward pass: a second forward gets fresh arrays. */
  busy: boolean;
}

/** The sparse filter-gradient kernel's speed relative to the JS scatter (measured on the reference network's first layer). */
const SIMD_SCATTER_SPEEDUP = 3.5;

// Per layer, reused from step to step (see neuron-pool-loops.ts's LoopScratch).
const scratchOf = new WeakMap<NeuronLayer, OpScratch>();

/** What the forward pass leaves for the backward pass: the JS loops' arrays, or the address of the kernels' potentials in the layer's heap scratch. */
type Saved =
  | { readonly kind: 'js'; readonly saved: NeuronPoolSaved; readonly loops: LoopScratch; readonly scratch: OpScratch | null }
  | { readonly kind: 'wasm'; readonly heap: HeapScratch; readonly u: number; readonly kernels: WasmKernels; readonly scratch: OpScratch };

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
  const layer = spec.layer;
  const kernels = o.simd === false ? null : wasmKernels();
  // Whether a backward pass will follow (the op runs under tf.grads), asked out here: inside an
  // op the tape is paused. Without one, the scratch arrays are free again after the forward pass.
  const taped = tf.engine().isTapeOn();
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
    const value = out.finish();
    // A second forward pass before the first one's backward pass gets fresh (JS) arrays.
    const own = !shared.busy;
    if (taped) shared.busy = true;
    const heap = own && kernels && isFastLif(layer) && cout % 4 === 0 ? heapScratch(layer) : null;
    let saved: Saved;
    let t1: number;
    if (kernels && heap) {
      const n = ho * wo * cout;
      const u = heap.address('u', 4 * TB * n);
      const v = heap.address('v', 4 * n);
      t1 = now();
      if (time) time('conv-forward', t1 - t0);
      kernels.lifPoolForward({
        input: heapAddress(y), bias: bIn ? heapAddress(bIn) : null, u, out: heapAddress(value), v,
        T: geo.T, B: geo.B, h: ho, w: wo, c: cout, kh: p ? p.kh : 1, kw: p ? p.kw : 1, average: p ? p.average : false,
        a0: layer.a[0], r0: layer.r[0], vLeak: layer.vLeak[0], threshold: layer.vThreshold[0],
      });
      saved = { kind: 'wasm', heap, u, kernels, scratch: shared };
    } else {
      // Views after the last allocation (heap-io.ts).
      const yv = readValues(y);
      const bv = bIn ? readValues(bIn) : null;
      const ov = out.values();
      t1 = now();
      if (time) time('conv-forward', t1 - t0);
      const loops: LoopScratch = own ? shared.loops : {};
      saved = { kind: 'js', saved: neuronPoolForward(layer, yv, bv, geo, ov, loops), loops, scratch: own ? shared : null };
      checkAttached(yv, ov);
    }
    y.dispose();
    if (time) time('neuron-forward', now() - t1);
    return {
      value,
      gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) => {
        const [xs, ws] = kept as [tf.Tensor4D, tf.Tensor4D];
        return tf.tidy(() => backward(dy, xs, ws, bIn, saved, geo, spec, o));
      },
    };
  });
  return bias ? op(x, w, bias) : op(x, w);
}

/** The op's gradients [dx, dw (, db)] for the output gradient dy. */
function backward(dy: tf.Tensor, xs: tf.Tensor4D, ws: tf.Tensor4D, bIn: tf.Tensor | null, s: Saved, geo: ImageGeometry, spec: ConvNeuronSpec, o: ConvNeuronOptions): tf.Tensor[] {
  const time = o.onTime;
  const now = () => (time ? performance.now() : 0);
  const layer = spec.layer;
  const { T, B, h: ho, w: wo, c: cout } = geo;
  const TB = T * B;
  const t2 = now();
  // The gradient at the conv output (NHWC): a JS array, or a heap region whose view is taken
  // again after every allocation.
  let gJs: Float32Array | null = null;
  let gAddr = 0;
  if (s.kind === 'wasm') {
    const n = ho * wo * cout;
    gAddr = s.heap.address('g', 4 * TB * n);
    const gv = s.heap.address('gv', 4 * n);
    const p = geo.pool;
    const kh = p ? p.kh : 1;
    const kw = p ? p.kw : 1;
    s.kernels.lifPoolBackward({
      u: s.u, gy: heapAddress(dy), g: gAddr, gv, T, B, h: ho, w: wo, c: cout, kh, kw,
      scale: p && p.average ? 1 / (kh * kw) : 1, a0: layer.a[0], r0: layer.r[0], threshold: layer.vThreshold[0], surrogate: o.surrogate.kind, slope: o.surrogate.slope,
    });
    zeroOutsideWindows(s.heap.f32(gAddr, TB * n), geo, 0 * layer.r[0]);
  } else {
    const gy = readValues(dy);
    gJs = neuronPoolBackward(layer, s.saved, gy, geo, o.surrogate, o.detachReset, s.loops);
    checkAttached(gy);
  }
  if (s.scratch) s.scratch.busy = false;
  const heap = s.kind === 'wasm' ? s.heap : null;
  const gView = () => gJs ?? (heap as HeapScratch).f32(gAddr, TB * ho * wo * cout);
  let db: tf.Tensor | null = null;
  if (bIn) {
    const sums = new Float64Array(cout);
    const g = gView();
    for (let i = 0; i < g.length; i++) sums[i % cout] += g[i];
    db = tf.tensor1d(Float32Array.from(sums));
  }
  const t3 = now();
  if (time) time('neuron-backward', t3 - t2);
  const dyShape: Shape4 = [TB, ho, wo, cout];
  const kernel = [ws.shape[0], ws.shape[1]] as const;
  const xShape = xs.shape as unknown as Shape4;
  const dw = filterGrad(xs, xShape, ws, dyShape, kernel, gView, spec.conv, o, s.kind === 'wasm' ? { kernels: s.kernels, heap: s.heap, g: gAddr } : null);
  const t4 = now();
  if (time) time('conv-filter-grad', t4 - t3);
  let dx: tf.Tensor;
  if (spec.inputGrad) {
    const pg = paddedGradShape(xShape, kernel, spec.conv);
    const padded = newOutput([TB, pg.height, pg.width, cout]);
    const [sh, sw] = spec.conv.stride;
    const into = padded.values();
    if (s.kind === 'wasm' && sw === 1) {
      // Zeros, then each output row of dy as one block.
      into.fill(0);
      const row = 4 * wo * cout;
      s.kernels.copyBlocks({
        src: gAddr, dst: heapAddress(padded.finish()) + 4 * (pg.top * pg.width + pg.left) * cout, bytes: row,
        n1: TB, srcStride1: ho * row, dstStride1: 4 * pg.height * pg.width * cout, n2: ho, srcStride2: row, dstStride2: 4 * sh * pg.width * cout,
      });
    } else {
      toPaddedDilated(gView(), dyShape, into, pg, spec.conv.stride);
    }
    dx = convInputGradPadded(padded.finish() as tf.Tensor4D, ws, spec.conv);
  } else {
    dx = tf.zerosLike(xs);
  }
  if (time) time('conv-input-grad', now() - t4);
  return db ? [dx, dw, db] : [dx, dw];
}

function filterGrad(
  xs: tf.Tensor4D, xShape: Shape4, ws: tf.Tensor4D, dyShape: Shape4, kernel: readonly [number, number], gView: () => Float32Array,
  conv: ConvGeometry, o: ConvNeuronOptions, wasm: { readonly kernels: WasmKernels; readonly heap: HeapScratch; readonly g: number } | null,
): tf.Tensor {
  const mode = o.sparseFilterGrad ?? 'auto';
  const [n, h, w, cin] = xShape;
  const [, ho, wo, cout] = dyShape;
  const simd = wasm !== null && conv.stride[0] === 1 && conv.stride[1] === 1 && cout % 4 === 0;
  if (mode !== 'never' && (mode === 'always' || sparseFilterGradPays(readValues(xs), xShape, dyShape, kernel, simd ? SIMD_SCATTER_SPEEDUP : 1))) {
    if (wasm && simd) {
      const size = kernel[0] * kernel[1] * cin * cout;
      const acc = wasm.heap.address('acc', 8 * size);
      const list = wasm.heap.address('list', 16 * h * w);
      wasm.heap.f64(acc, size).fill(0);
      wasm.kernels.sparseFilterGrad({ x: heapAddress(xs), n, h, w, cin, dy: wasm.g, ho, wo, cout, kh: kernel[0], kw: kernel[1], dh: conv.dilation[0], dw: conv.dilation[1], acc, list });
      return tf.tensor4d(Float32Array.from(wasm.heap.f64(acc, size)), ws.shape);
    }
    const xv = readValues(xs);
    return tf.tensor4d(sparseFilterGrad(xv, xShape, gView(), dyShape, kernel, conv), ws.shape);
  }
  const dyt = newOutput([ho, wo, n, cout]);
  if (wasm) {
    // Per sample and pixel, its channels: [N, Ho*Wo, C] -> [Ho*Wo, N, C].
    const c4 = 4 * cout;
    wasm.kernels.copyBlocks({ src: wasm.g, dst: heapAddress(dyt.finish()), bytes: c4, n1: n, srcStride1: ho * wo * c4, dstStride1: c4, n2: ho * wo, srcStride2: c4, dstStride2: n * c4 });
  } else {
    toHwnc(gView(), dyShape, dyt.values());
  }
  return convFilterGradTransposed(xs, dyt.finish() as tf.Tensor4D, kernel, conv);
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
      if (sw === 1) {
        // A whole output row is one contiguous run.
        into.set(g.subarray(rowSrc * c, (rowSrc + wo) * c), (rowDst + pg.left) * c);
        continue;
      }
      for (let ox = 0; ox < wo; ox++) {
        const dst = (rowDst + pg.left + ox * sw) * c;
        const src = (rowSrc + ox) * c;
        for (let ch = 0; ch < c; ch++) into[dst + ch] = g[src + ch];
      }
    }
  }
}
