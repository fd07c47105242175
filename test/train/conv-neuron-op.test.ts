/**
 * The fused conv -> neuron (-> pool) training op: its loops bit-identical to the separate neuron
 * and pooling loops (the engines' semantics); its forward values identical and its gradients equal
 * to the unfused ops' (conv2dOp, bias add, neuronOp) on the wasm and cpu backends, with stride,
 * dilation, bias, every neuron kind and both filter-gradient paths; the sparse filter gradient
 * against tfjs's own backprop kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NeuronNode } from '../../src/snn/graph.js';
import { neuronArrays } from '../../src/snn/neuron.js';
import { Rng } from '../../src/snn/rng.js';
import { selectBackend } from '../../src/train/backend.js';
import { conv2dOp, convFilterGrad } from '../../src/train/conv2d-op.js';
import { convNeuronOp } from '../../src/train/conv-neuron-op.js';
import { newOutput, readValues } from '../../src/train/heap-io.js';
import { activationPerm } from '../../src/train/layout.js';
import { neuronOp } from '../../src/train/neuron-op.js';
import { isFastLif, neuronPoolBackward, neuronPoolForward, outputSize, type ImageGeometry } from '../../src/train/neuron-pool-loops.js';
import { neuronBackward, neuronForward, neuronLayer, type NeuronLayer } from '../../src/train/neuron-sequence.js';
import { poolBackward, poolForward, type PoolGeometry } from '../../src/train/pool-sequence.js';
import { sparseFilterGrad, sparseFilterGradPays } from '../../src/train/sparse-filter-grad.js';
import { surrogate, type SurrogateKind } from '../../src/train/surrogate.js';
import { wasmKernels } from '../../src/train/wasm-kernels.js';

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

/** The reference network's LIF (fast loops), or a random other neuron (general loops). */
function randomNode(rng: Rng, fast: boolean): NeuronNode {
  if (fast) return { id: 'n', op: 'LIF', params: { tau: 5, dt: 1, beta: rng.uniform(0.5, 0.99), r: rng.uniform(0.5, 1.5), v_leak: rng.bool(0.5) ? 0 : rng.uniform(-0.2, 0.2), v_threshold: rng.uniform(0.5, 1.5), v_reset: 0, reset: 'subtract' } };
  const kind = rng.int(0, 3);
  if (kind === 0) return { id: 'n', op: 'LI', params: { tau: 5, dt: 1, beta: rng.uniform(0.5, 0.99), r: 1, v_leak: 0 } };
  if (kind === 1) return { id: 'n', op: 'IF', params: { r: 1, v_threshold: rng.uniform(0.5, 1.5), v_reset: 0.1, reset: 'zero', spike: rng.bool(0.5) ? 'multi' : 'single' } };
  if (kind === 2) return { id: 'n', op: 'LIF', params: { tau: rng.uniform(2, 10), dt: 1, r: 1, v_leak: 0, v_threshold: 1, v_reset: 0, reset: 'subtract', vMin: -0.5 } };
  return { id: 'n', op: 'LIF', params: { tau: 5, dt: 1, beta: 0.9, r: 1, v_leak: 0, v_threshold: 1, v_reset: 0, reset: 'subtract', spike: 'multi' } };
}

function randomValues(rng: Rng, n: number, zeroFraction = 0.4): Float32Array {
  // Multiples of 1/8 put potentials exactly on thresholds: ties are exercised.
  return Float32Array.from({ length: n }, () => (rng.bool(zeroFraction) ? 0 : Math.round(rng.uniform(-2, 6)) / 8));
}

describe('neuron-pool loops', () => {
  it('equal the neuron loops followed by the pooling loops, bit for bit, forward and backward (bias included)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.boolean(), fc.boolean(), fc.constantFrom('atan', 'fast-sigmoid' as const), (seed, fast, pooled, sgKind) => {
      const rng = new Rng(seed);
      const c = rng.int(1, 3);
      const h = rng.int(1, 7);
      const w = rng.int(1, 7);
      const k = rng.int(1, 3);
      fc.pre(!pooled || (h >= k && w >= k));
      const shape = [c, h, w];
      const layer = neuronLayer(neuronArrays(randomNode(rng, fast), shape), activationPerm(shape));
      expect(isFastLif(layer)).toBe(fast);
      const T = rng.int(1, 5);
      const B = rng.int(1, 3);
      const pool: PoolGeometry | undefined = pooled ? { h, w, c, kh: k, kw: k, average: rng.bool(0.5) } : undefined;
      const g: ImageGeometry = { T, B, h, w, c, ...(pool ? { pool } : {}) };
      const input = randomValues(rng, T * B * layer.n);
      const bias = rng.bool(0.5) ? Float32Array.from({ length: c }, () => Math.round(rng.uniform(-4, 4)) / 16) : null;
      // Reference: bias add (float32), neuron loops, pooling loops.
      const biased = bias ? input.map((x, i) => x + bias[i % c]) : input;
      const ref = neuronForward(layer, biased, T, true);
      const refOut = pool ? poolForward(ref.out, T * B, pool) : ref.out;
      const got = new Float32Array(outputSize(g)).fill(NaN);
      const saved = neuronPoolForward(layer, input, bias, g, got, {});
      expect(got).toEqual(refOut);
      const gy = Float32Array.from({ length: got.length }, () => rng.normal());
      const s = surrogate(sgKind);
      const refG = neuronBackward(layer, ref.u as Float32Array, ref.out, pool ? poolBackward(gy, T * B, pool) : gy, T, s, true);
      const gotG = neuronPoolBackward(layer, saved, gy, g, s, true, { g: new Float32Array(input.length).fill(NaN) });
      expect(gotG).toEqual(refG);
    }), { numRuns: 300 });
  });

  it('reject geometries that do not fit the layer or the values', () => {
    const layer = neuronLayer(neuronArrays(randomNode(new Rng(1), true), [2, 3, 3]), activationPerm([2, 3, 3]));
    expect(() => neuronPoolForward(layer, new Float32Array(18), null, { T: 1, B: 1, h: 3, w: 3, c: 1 }, new Float32Array(9), {})).toThrow(RangeError);
    expect(() => neuronPoolForward(layer, new Float32Array(17), null, { T: 1, B: 1, h: 3, w: 3, c: 2 }, new Float32Array(18), {})).toThrow(RangeError);
  });
});

describe('sparse filter gradient', () => {
  it('matches the cpu backend\'s Conv2DBackpropFilter (stride 1) and the conv-built gradient (stride and dilation)', async () => {
    await selectBackend('cpu');
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), (seed) => {
      const rng = new Rng(seed);
      const n = rng.int(1, 3), h = rng.int(5, 9), w = rng.int(5, 9), cin = rng.int(1, 3), cout = rng.int(1, 4);
      const kh = rng.int(1, 3), kw = rng.int(1, 3), sh = rng.int(1, 2), sw = rng.int(1, 2), dh = rng.int(1, 2), dw = rng.int(1, 2);
      fc.pre(h >= (kh - 1) * dh + 1 && w >= (kw - 1) * dw + 1 && (sh === 1 && sw === 1 || dh === 1 && dw === 1));
      const ho = Math.floor((h - (kh - 1) * dh - 1) / sh) + 1;
      const wo = Math.floor((w - (kw - 1) * dw - 1) / sw) + 1;
      const x = randomValues(rng, n * h * w * cin, 0.85);
      const dy = Float32Array.from({ length: n * ho * wo * cout }, () => rng.normal());
      const g = { stride: [sh, sw] as [number, number], dilation: [dh, dw] as [number, number] };
      const got = sparseFilterGrad(x, [n, h, w, cin], dy, [n, ho, wo, cout], [kh, kw], g);
      tf.tidy(() => {
        const xt = tf.tensor4d(x, [n, h, w, cin]);
        const dyt = tf.tensor4d(dy, [n, ho, wo, cout]);
        expect(maxRelDiff(got, convFilterGrad(xt, dyt, [kh, kw], g).dataSync())).toBeLessThan(1e-4);
        if (dh === 1 && dw === 1) {
          const attrs = { strides: [sh, sw], pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [kh, kw, cin, cout] } as unknown as tf.NamedAttrMap;
          const ref = tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, attrs) as tf.Tensor;
          expect(maxRelDiff(got, ref.dataSync())).toBeLessThan(1e-4);
        }
      });
    }), { numRuns: 60 });
  });

  it('is chosen for event-count inputs and not for dense ones', () => {
    const x = [320, 34, 34, 2] as const;
    const dy = [320, 30, 30, 16] as const;
    const size = 320 * 34 * 34 * 2;
    const rng = new Rng(5);
    const input = (density: number) => Float32Array.from({ length: size }, () => (rng.bool(density) ? 1 : 0));
    expect(sparseFilterGradPays(input(0.08), x, dy, [5, 5])).toBe(true);
    expect(sparseFilterGradPays(input(0.3), x, dy, [5, 5])).toBe(false);
    // A faster scatter pays at higher densities.
    expect(sparseFilterGradPays(input(0.3), x, dy, [5, 5], 3.5)).toBe(true);
    expect(sparseFilterGradPays(input(0.6), x, dy, [5, 5], 3.5)).toBe(false);
  });
});

interface OpCase {
  readonly T: number; readonly B: number; readonly h: number; readonly w: number; readonly cin: number; readonly cout: number;
  readonly k: number; readonly stride: number; readonly dilation: number; readonly pool: number; readonly bias: boolean;
  readonly inputGrad: boolean; readonly fast: boolean; readonly sparse: 'always' | 'never' | 'auto';
  readonly sg?: SurrogateKind;
}

const opCase = fc.record({
  T: fc.integer({ min: 1, max: 3 }), B: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 5, max: 10 }), w: fc.integer({ min: 5, max: 10 }),
  cin: fc.integer({ min: 1, max: 3 }), cout: fc.integer({ min: 1, max: 4 }), k: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 2 }), dilation: fc.integer({ min: 1, max: 2 }), pool: fc.integer({ min: 0, max: 2 }), bias: fc.boolean(),
  inputGrad: fc.boolean(), fast: fc.boolean(), sparse: fc.constantFrom('always' as const, 'never' as const, 'auto' as const),
}).filter((c) => c.h >= (c.k - 1) * c.dilation + 1 && c.w >= (c.k - 1) * c.dilation + 1);

type Variant = 'unfused' | { readonly simd: boolean };

/** Forward values and gradients (x, w, bias) of two variants of the op (fused with or without SIMD, unfused), for loss = sum(out * r). */
function twoWays(c: OpCase, seed: number, first: Variant, second: Variant) {
  const rng = new Rng(seed);
  const ho = Math.floor((c.h - (c.k - 1) * c.dilation - 1) / c.stride) + 1;
  const wo = Math.floor((c.w - (c.k - 1) * c.dilation - 1) / c.stride) + 1;
  const shape = [c.cout, ho, wo];
  const layer: NeuronLayer = neuronLayer(neuronArrays(randomNode(rng, c.fast), shape), activationPerm(shape));
  const pool: PoolGeometry | undefined = c.pool > 0 && ho >= c.pool && wo >= c.pool ? { h: ho, w: wo, c: c.cout, kh: c.pool, kw: c.pool, average: rng.bool(0.7) } : undefined;
  const TB = c.T * c.B;
  const x = tf.tensor4d(randomValues(rng, TB * c.h * c.w * c.cin, 0.7), [TB, c.h, c.w, c.cin]);
  const w = tf.tensor4d(Float32Array.from({ length: c.k * c.k * c.cin * c.cout }, () => rng.normal()), [c.k, c.k, c.cin, c.cout]);
  const b = tf.tensor1d(Float32Array.from({ length: c.cout }, () => rng.uniform(-0.5, 0.5)));
  const geo = { stride: [c.stride, c.stride] as [number, number], dilation: [c.dilation, c.dilation] as [number, number] };
  const sg = surrogate(c.sg ?? 'atan');
  const op = (v: Variant) => (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Tensor => {
    if (v !== 'unfused') {
      return convNeuronOp(xx as tf.Tensor4D, ww as tf.Tensor4D, c.bias ? bb as tf.Tensor1D : null, { T: c.T, layer, conv: geo, inputGrad: c.inputGrad, ...(pool ? { pool } : {}) }, { surrogate: sg, detachReset: true, sparseFilterGrad: c.sparse, simd: v.simd });
    }
    let y: tf.Tensor = conv2dOp(xx as tf.Tensor4D, ww as tf.Tensor4D, geo, c.inputGrad);
    if (c.bias) y = tf.add(y, bb);
    return pool ? neuronOp(y, c.T, layer, { surrogate: sg, detachReset: true, train: true }, pool) : tf.reshape(neuronOp(tf.reshape(y, [TB, -1]), c.T, layer, { surrogate: sg, detachReset: true, train: true }), y.shape);
  };
  const outShape = tf.tidy(() => op(first)(x, w, b).shape);
  const r = tf.tensor(Float32Array.from({ length: outShape.reduce((a, d) => a * d, 1) }, () => rng.normal()), outShape);
  const run = (f: ReturnType<typeof op>) => {
    const out = tf.tidy(() => f(x, w, b).dataSync().slice());
    const loss = (...v: tf.Tensor[]) => tf.sum(tf.mul(f(v[0], v[1], v[2] ?? b), r));
    const grads = tf.grads(loss)(c.bias ? [x, w, b] : [x, w]);
    const values = grads.map((g) => g.dataSync().slice());
    tf.dispose(grads);
    return { out, dx: values[0], dw: values[1], db: values[2] ?? new Float32Array(c.cout) };
  };
  const a = run(op(first));
  const e = run(op(second));
  tf.dispose([x, w, b, r]);
  return { a, e };
}

describe.each(['wasm', 'cpu'] as const)('convNeuronOp on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });
  afterAll(async () => {
    await selectBackend('cpu');
  });

  it('gives the unfused ops\' outputs exactly and their gradients', () => {
    fc.assert(fc.property(opCase, fc.integer({ min: 0, max: 1e9 }), (c, seed) => {
      const before = tf.memory().numTensors;
      const { a, e } = twoWays(c, seed, { simd: true }, 'unfused');
      expect(a.out).toEqual(e.out);
      // Gradients: the same math, sums in another order (and float64 in the sparse scatter).
      expect(maxRelDiff(a.dw, e.dw)).toBeLessThan(1e-4);
      expect(maxRelDiff(a.dx, e.dx)).toBeLessThan(1e-4);
      expect(maxRelDiff(a.db, e.db)).toBeLessThan(1e-4);
      if (!c.inputGrad) expect(a.dx.every((v) => v === 0)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    }), { numRuns: backend === 'cpu' ? 30 : 60 });
  });
});

describe('wasm SIMD kernels', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  afterAll(async () => {
    await selectBackend('cpu');
  });

  it('are available on the wasm backend (Node has wasm SIMD)', () => {
    expect(wasmKernels()).not.toBeNull();
  });

  // Shapes the kernels take (reference-network LIF, channels divisible by 4), pooled with and
  // without cut-off edges, with stride/dilation (the sparse kernel takes stride 1 only).
  const kernelCase = fc.record({
    T: fc.integer({ min: 1, max: 3 }), B: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 5, max: 12 }), w: fc.integer({ min: 5, max: 12 }),
    cin: fc.integer({ min: 1, max: 3 }), cout: fc.constantFrom(4, 8, 16, 32), k: fc.integer({ min: 1, max: 5 }),
    stride: fc.constantFrom(1, 1, 2), dilation: fc.constantFrom(1, 1, 2), pool: fc.integer({ min: 0, max: 3 }), bias: fc.boolean(),
    inputGrad: fc.boolean(), fast: fc.constant(true), sparse: fc.constantFrom('always' as const, 'never' as const), sg: fc.constantFrom('atan' as const, 'fast-sigmoid' as const),
  }).filter((c) => c.h >= (c.k - 1) * c.dilation + 1 && c.w >= (c.k - 1) * c.dilation + 1);

  it('give the JS loops\' outputs and neuron gradients bit for bit (the sparse filter gradient to float32 rounding)', () => {
    fc.assert(fc.property(kernelCase, fc.integer({ min: 0, max: 1e9 }), (c, seed) => {
      const before = tf.memory().numTensors;
      const { a, e } = twoWays(c, seed, { simd: true }, { simd: false });
      expect(a.out).toEqual(e.out);
      expect(a.dx).toEqual(e.dx);
      expect(a.db).toEqual(e.db);
      if (c.sparse === 'never') expect(a.dw).toEqual(e.dw);
      else expect(maxRelDiff(a.dw, e.dw)).toBeLessThan(1e-5);
      expect(tf.memory().numTensors).toBe(before);
    }), { numRuns: 80 });
  });
});

describe('heap-io', () => {
  it('reads values and writes outputs on wasm without copies, and with them elsewhere', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      await selectBackend(backend);
      tf.tidy(() => {
        const x = tf.tensor1d([1, 2, 3]);
        expect(Array.from(readValues(x))).toEqual([1, 2, 3]);
        const o = newOutput([2, 2]);
        o.values().set([4, 5, 6, 7]);
        expect(Array.from(o.finish().dataSync())).toEqual([4, 5, 6, 7]);
        expect(() => readValues(tf.tensor1d([1], 'int32'))).toThrow(TypeError);
      });
    }
  });
});
