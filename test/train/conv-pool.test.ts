/**
 * The trainer's convolution gradients (built from forward convs) against tfjs's own backprop
 * kernels on the cpu backend and against finite differences; the registered kernel gradients;
 * the fused pooling against the engines' pooling.
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseEngine } from '../../src/snn/dense-engine.js';
import type { Graph } from '../../src/snn/graph.js';
import { Rng } from '../../src/snn/rng.js';
import { selectBackend } from '../../src/train/backend.js';
import { conv2dOp, convFilterGrad, convInputGrad } from '../../src/train/conv2d-op.js';
import { registerTrainerGradients, unbroadcast } from '../../src/train/gradients.js';
import { poolBackward, poolForward } from '../../src/train/pool-sequence.js';

beforeAll(async () => {
  await selectBackend('cpu');
  registerTrainerGradients();
});

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

interface ConvCase { n: number; h: number; w: number; cin: number; cout: number; kh: number; kw: number; sh: number; sw: number; dh: number; dw: number }

const convCase = fc.record({
  n: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 5, max: 9 }), w: fc.integer({ min: 5, max: 9 }),
  cin: fc.integer({ min: 1, max: 3 }), cout: fc.integer({ min: 1, max: 3 }),
  kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }),
  sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 2 }),
  dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 2 }),
}).filter((c) => c.h >= (c.kh - 1) * c.dh + 1 && c.w >= (c.kw - 1) * c.dw + 1);

function tensors(c: ConvCase, seed: number) {
  const rng = new Rng(seed);
  const x = tf.tensor4d(Float32Array.from({ length: c.n * c.h * c.w * c.cin }, () => rng.normal()), [c.n, c.h, c.w, c.cin]);
  const w = tf.tensor4d(Float32Array.from({ length: c.kh * c.kw * c.cin * c.cout }, () => rng.normal()), [c.kh, c.kw, c.cin, c.cout]);
  const ho = Math.floor((c.h - (c.kh - 1) * c.dh - 1) / c.sh) + 1;
  const wo = Math.floor((c.w - (c.kw - 1) * c.dw - 1) / c.sw) + 1;
  const dy = tf.tensor4d(Float32Array.from({ length: c.n * ho * wo * c.cout }, () => rng.normal()), [c.n, ho, wo, c.cout]);
  return { x, w, dy };
}

describe('conv2d gradients from forward convs', () => {
  it('match the cpu backend\'s Conv2DBackpropInput / Conv2DBackpropFilter kernels (stride 1 or dilation 1, as tfjs allows)', () => {
    fc.assert(fc.property(convCase.filter((c) => (c.sh === 1 && c.sw === 1) || (c.dh === 1 && c.dw === 1)), fc.integer({ min: 0, max: 1e6 }), (c, seed) => {
      tf.tidy(() => {
        const { x, w, dy } = tensors(c, seed);
        const g = { stride: [c.sh, c.sw] as [number, number], dilation: [c.dh, c.dw] as [number, number] };
        const dx = convInputGrad(dy, w, x.shape, g);
        const dw = convFilterGrad(x, dy, [c.kh, c.kw], g);
        const attrs = { strides: [c.sh, c.sw], pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
        if (c.dh === 1 && c.dw === 1) {
          // tfjs's own backprop kernels take no dilation.
          const refDx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
          const refDw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
          expect(maxRelDiff(dx.dataSync(), refDx.dataSync())).toBeLessThan(1e-4);
          expect(maxRelDiff(dw.dataSync(), refDw.dataSync())).toBeLessThan(1e-4);
        }
        expect(dx.shape).toEqual(x.shape);
        expect(dw.shape).toEqual(w.shape);
      });
    }), { numRuns: 40 });
  });

  it('match finite differences of the forward conv, with stride and dilation both > 1 too', () => {
    fc.assert(fc.property(convCase, fc.integer({ min: 0, max: 1e6 }), (c, seed) => {
      const { x, w, dy } = tensors(c, seed);
      const g = { stride: [c.sh, c.sw] as [number, number], dilation: [c.dh, c.dw] as [number, number] };
      // Loss = sum(dy * conv(x, w)): its gradients are the input and filter gradients for dy.
      const loss = (xx: tf.Tensor4D, ww: tf.Tensor4D) => tf.tidy(() => tf.sum(tf.mul(conv2dOp(xx, ww, g), dy)).dataSync()[0]);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2dOp(a as tf.Tensor4D, b as tf.Tensor4D, g), dy)))([x, w]);
      const xd = x.dataSync();
      const wd = w.dataSync();
      const h = 1e-2;
      const rng = new Rng(seed + 1);
      for (let k = 0; k < 4; k++) {
        const i = rng.int(0, xd.length - 1);
        const xp = Float32Array.from(xd);
        const xm = Float32Array.from(xd);
        xp[i] += h;
        xm[i] -= h;
        const fd = (loss(tf.tensor4d(xp, x.shape), w) - loss(tf.tensor4d(xm, x.shape), w)) / (2 * h);
        expect(gx.dataSync()[i]).toBeCloseTo(fd, 2);
        const j = rng.int(0, wd.length - 1);
        const wp = Float32Array.from(wd);
        const wm = Float32Array.from(wd);
        wp[j] += h;
        wm[j] -= h;
        const fdw = (loss(x, tf.tensor4d(wp, w.shape)) - loss(x, tf.tensor4d(wm, w.shape))) / (2 * h);
        expect(gw.dataSync()[j]).toBeCloseTo(fdw, 2);
      }
      tf.dispose([x, w, dy, gx, gw]);
    }), { numRuns: 25 });
  });

  it('returns a zero input gradient when told the input is data', () => {
    const c = { n: 1, h: 5, w: 5, cin: 1, cout: 2, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1 };
    const { x, w } = tensors(c, 1);
    const [gx] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(conv2dOp(a as tf.Tensor4D, b as tf.Tensor4D, { stride: [1, 1], dilation: [1, 1] }, false)))([x, w]);
    expect(Array.from(gx.dataSync()).every((v) => v === 0)).toBe(true);
  });
});

describe('registered kernel gradients', () => {
  /** Central differences of f at x for a few coordinates against tf.grad. */
  function check(f: (x: tf.Tensor) => tf.Tensor, shape: number[], seed: number): void {
    const rng = new Rng(seed);
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const x = tf.tensor(data, shape);
    const w = tf.tidy(() => tf.randomNormal(f(x).shape, 0, 1, 'float32', seed));
    const L = (t: tf.Tensor) => tf.tidy(() => tf.sum(tf.mul(f(t), w)));
    const g = tf.grad(L)(x).dataSync();
    const h = 1e-2;
    for (let k = 0; k < Math.min(6, data.length); k++) {
      const i = rng.int(0, data.length - 1);
      const p = Float32Array.from(data);
      const m = Float32Array.from(data);
      p[i] += h;
      m[i] -= h;
      const fd = (L(tf.tensor(p, shape)).dataSync()[0] - L(tf.tensor(m, shape)).dataSync()[0]) / (2 * h);
      expect(g[i]).toBeCloseTo(fd, 2);
    }
  }

  it.each([
    ['add (broadcast)', (x: tf.Tensor) => tf.add(x, tf.tensor1d([1, 2, 3])), [2, 3]],
    ['add (broadcast, second operand)', (x: tf.Tensor) => tf.add(tf.ones([4, 3]), x), [1, 3]],
    ['sub', (x: tf.Tensor) => tf.sub(tf.ones([2, 3]), x), [3]],
    ['mul', (x: tf.Tensor) => tf.mul(x, x), [2, 3]],
    ['div', (x: tf.Tensor) => tf.div(x, tf.add(tf.mul(x, x), 1)), [5]],
    ['reshape + transpose', (x: tf.Tensor) => tf.transpose(tf.reshape(x, [3, 2, 2]), [2, 0, 1]), [2, 6]],
    ['slice', (x: tf.Tensor) => tf.slice(x, [1, 0], [2, 2]), [4, 3]],
    ['pad', (x: tf.Tensor) => tf.pad(x, [[1, 2], [0, 1]]), [2, 2]],
    ['sum', (x: tf.Tensor) => tf.sum(x, [0, 2]), [2, 3, 4]],
    ['mean', (x: tf.Tensor) => tf.mean(x, 1), [3, 4]],
    ['matMul', (x: tf.Tensor) => tf.matMul(x as tf.Tensor2D, tf.ones([4, 2]) as tf.Tensor2D), [3, 4]],
    ['matMul (transposed)', (x: tf.Tensor) => tf.matMul(tf.ones([5, 3]) as tf.Tensor2D, x as tf.Tensor2D, false, true), [2, 3]],
    ['avgPool', (x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, [2, 2], [1, 1], 'valid'), [1, 4, 4, 2]],
  ] as const)('%s', (_name, f, shape) => {
    check(f as (x: tf.Tensor) => tf.Tensor, [...shape], 42);
  });

  it('unbroadcast sums over broadcast axes', () => {
    const dy = tf.ones([2, 3, 4]);
    expect(unbroadcast(dy, [3, 1]).dataSync()).toEqual(Float32Array.from([8, 8, 8]));
  });
});

describe('fused pooling', () => {
  it('equals the dense engine\'s SumPool2d/AvgPool2d on NHWC data, and its backward spreads the gradient', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.boolean(), (seed, average) => {
      const rng = new Rng(seed);
      const c = rng.int(1, 3);
      const h = rng.int(2, 7);
      const w = rng.int(2, 7);
      const k = rng.int(1, 3);
      fc.pre(h >= k && w >= k);
      const chw = Float32Array.from({ length: c * h * w }, () => (rng.bool(0.5) ? rng.int(0, 2) : 0));
      const graph: Graph = {
        nodes: [
          { id: 'in', op: 'Input' as const, params: { shape: [c, h, w] } },
          { id: 'p', op: average ? 'AvgPool2d' as const : 'SumPool2d' as const, params: { kernel_size: [k, k] as [number, number], stride: [k, k] as [number, number], padding: [0, 0] as [number, number] } },
          { id: 'out', op: 'Output' as const, params: {} },
        ],
        edges: [['in', 'p'], ['p', 'out']] as [string, string][],
      };
      const engine = new DenseEngine(graph);
      const ref = engine.stepValues(chw).output; // [c, ho, wo]
      const nhwc = new Float32Array(c * h * w);
      for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) nhwc[(y * w + x) * c + ch] = chw[(ch * h + y) * w + x];
      const g = { h, w, c, kh: k, kw: k, average };
      const got = poolForward(nhwc, 1, g);
      const ho = Math.floor(h / k);
      const wo = Math.floor(w / k);
      for (let ch = 0; ch < c; ch++) for (let y = 0; y < ho; y++) for (let x = 0; x < wo; x++) expect(got[(y * wo + x) * c + ch]).toBe(ref[(ch * ho + y) * wo + x]);
      const gy = Float32Array.from({ length: got.length }, () => rng.normal());
      const gx = poolBackward(gy, 1, g);
      // <gy, pool(x)> is linear in x: its gradient is exactly what poolBackward returns.
      let lhs = 0;
      for (let i = 0; i < got.length; i++) lhs += gy[i] * got[i];
      let rhs = 0;
      for (let i = 0; i < nhwc.length; i++) rhs += gx[i] * nhwc[i];
      expect(rhs).toBeCloseTo(lhs, 4);
    }), { numRuns: 100 });
  });
});
