/**
 * The trainer's neuron layers: surrogate gradients against finite differences of their smooth
 * forms; the fast forward loop bit-identical to the one written with neuron.ts's functions (the
 * engines' definition); BPTT against finite differences of a smooth twin of the forward pass.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LIFNode, NeuronNode } from '../../src/snn/graph.js';
import { neuronArrays } from '../../src/snn/neuron.js';
import { Rng } from '../../src/snn/rng.js';
import { activationPerm } from '../../src/train/layout.js';
import { neuronBackward, neuronForward, neuronForwardReference, neuronLayer, type NeuronLayer } from '../../src/train/neuron-sequence.js';
import { surrogate, surrogateGrad, surrogateSmooth, type SurrogateKind } from '../../src/train/surrogate.js';

describe('surrogate gradients', () => {
  it.each(['atan', 'fast-sigmoid'] as const)('%s: matches central differences of its smooth step', (kind: SurrogateKind) => {
    fc.assert(fc.property(fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: 0.5, max: 30, noNaN: true }), (x, slope) => {
      const s = surrogate(kind, slope);
      // fast-sigmoid has a kink at 0; stay a few steps away from it.
      fc.pre(kind === 'atan' || Math.abs(x) > 1e-4);
      const h = 1e-6;
      const fd = (surrogateSmooth(s, x + h) - surrogateSmooth(s, x - h)) / (2 * h);
      expect(surrogateGrad(s, x)).toBeCloseTo(fd, 4);
    }));
  });

  it('peaks at the threshold with the documented heights', () => {
    expect(surrogateGrad(surrogate('atan', 2), 0)).toBe(1);
    expect(surrogateGrad(surrogate('fast-sigmoid', 25), 0)).toBe(1);
    expect(surrogateGrad(surrogate('atan', 2), 1)).toBeLessThan(0.1);
  });

  it('rejects bad kinds and slopes', () => {
    expect(() => surrogate('sigmoid' as SurrogateKind)).toThrow(/unknown surrogate/);
    expect(() => surrogate('atan', 0)).toThrow(/positive/);
  });
});

/** A random neuron node over [C, H, W] with random forms, resets, clamps and per-neuron params. */
function randomNeuron(rng: Rng, shape: number[], kind: 'IF' | 'LIF' | 'LI'): NeuronNode {
  const n = shape.reduce((a, b) => a * b, 1);
  const perNeuron = (lo: number, hi: number) => (rng.bool(0.5) ? { shape: [...shape], data: Float32Array.from({ length: n }, () => rng.uniform(lo, hi)) } : rng.uniform(lo, hi));
  const spiking = { spike: rng.bool(0.2) ? 'multi' as const : 'single' as const, reset: rng.bool(0.5) ? 'subtract' as const : 'zero' as const, ...(rng.bool(0.3) ? { vMin: -rng.uniform(0.2, 1) } : {}) };
  if (kind === 'IF') return { id: 'n', op: 'IF', params: { r: perNeuron(0.5, 1.5), v_threshold: perNeuron(0.5, 1.5), v_reset: rng.uniform(-0.2, 0.2), ...spiking } };
  const leak = rng.bool(0.5) ? { tau: 5, dt: 1, beta: perNeuron(0.5, 0.99) } : { tau: perNeuron(2, 20), dt: 1 };
  if (kind === 'LI') return { id: 'n', op: 'LI', params: { ...leak, r: 1, v_leak: rng.uniform(-0.2, 0.2) } };
  return { id: 'n', op: 'LIF', params: { ...leak, r: perNeuron(0.5, 1.5), v_leak: rng.uniform(-0.2, 0.2), v_threshold: perNeuron(0.5, 1.5), v_reset: rng.uniform(-0.2, 0.2), ...spiking } } as LIFNode;
}

function randomInput(rng: Rng, len: number): Float32Array {
  // Multiples of 1/8 put many potentials exactly on thresholds of 0.5/1/1.5: ties are exercised.
  return Float32Array.from({ length: len }, () => (rng.bool(0.4) ? Math.round(rng.uniform(-2, 6)) / 8 : 0));
}

describe('neuronForward', () => {
  it('fast path gives bit-identical outputs and potentials to the neuron.ts reference', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.constantFrom('IF', 'LIF', 'LI' as const), (seed, kind) => {
      const rng = new Rng(seed);
      const shape = [rng.int(1, 3), rng.int(1, 4), rng.int(1, 4)];
      const layer = neuronLayer(neuronArrays(randomNeuron(rng, shape, kind), shape), activationPerm(shape));
      const T = rng.int(1, 6);
      const B = rng.int(1, 3);
      const input = randomInput(rng, T * B * layer.n);
      const a = neuronForward(layer, input, T, true);
      const b = neuronForwardReference(layer, input, T, true);
      expect(a.out).toEqual(b.out);
      expect(a.u).toEqual(b.u);
    }), { numRuns: 300 });
  });

  it('lines per-neuron parameters up with the NHWC layout', () => {
    // Two channels with different thresholds; the same input everywhere spikes only channel 0.
    const shape = [2, 1, 2];
    const node: NeuronNode = { id: 'n', op: 'IF', params: { r: 1, v_threshold: { shape: [2, 1, 1], data: Float32Array.from([0.5, 5]) } } };
    const layer = neuronLayer(neuronArrays(node, shape), activationPerm(shape));
    const { out } = neuronForward(layer, new Float32Array(4).fill(1), 1, false);
    // NHWC order: (x0, c0), (x0, c1), (x1, c0), (x1, c1).
    expect(Array.from(out)).toEqual([1, 0, 1, 0]);
  });

  it('counts near-threshold updates per sample when asked', () => {
    const node: NeuronNode = { id: 'n', op: 'IF', params: { r: 1, v_threshold: 1 } };
    const layer = neuronLayer(neuronArrays(node, [3]), null);
    const ties = { tolerance: 1e-3, perSample: new Int32Array(2) };
    neuronForward(layer, Float32Array.from([1, 0.2, 1.0004, 0.9, 0.5, 2]), 1, false, ties);
    expect(Array.from(ties.perSample)).toEqual([2, 0]);
  });
});

/**
 * A smooth twin of the forward pass whose exact derivative is what neuronBackward computes with
 * detachReset: outputs are surrogateSmooth(u - thr) (LI: u), while resets use the hard spikes of
 * the base input (constants under a small perturbation that flips no spike).
 */
function twinLoss(layer: NeuronLayer, input: Float64Array, hard: Float32Array, T: number, w: Float64Array, sgKind: SurrogateKind, slope: number): number {
  const s = surrogate(sgKind, slope);
  const n = layer.n;
  const per = input.length / T;
  const v = new Float64Array(per);
  let loss = 0;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < per; i++) {
      const j = i % n;
      const idx = t * per + i;
      const a = layer.a[j];
      let u: number;
      if (layer.form === 0) u = v[i] + layer.r[j] * input[idx];
      else if (layer.form === 1) u = v[i] + a * (layer.vLeak[j] - v[i] + layer.r[j] * input[idx]);
      else u = layer.vLeak[j] + a * (v[i] - layer.vLeak[j]) + layer.r[j] * input[idx];
      if (!layer.spiking) {
        v[i] = u;
        loss += w[idx] * u;
        continue;
      }
      const thr = layer.vThreshold[j];
      loss += w[idx] * surrogateSmooth(s, u - thr);
      const sp = hard[idx];
      let next = sp > 0 ? (layer.subtract ? u - sp * thr : layer.vReset[j]) : u;
      if (next < layer.vMin[j]) next = layer.vMin[j];
      v[i] = next;
    }
  }
  return loss;
}

describe('uniform-parameter fast paths', () => {
  it('give bit-identical forward and backward results to the per-neuron loops', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.boolean(), fc.constantFrom('atan', 'fast-sigmoid' as const), (seed, subtract, sg) => {
      const rng = new Rng(seed);
      const node: NeuronNode = {
        id: 'n', op: 'LIF',
        params: { tau: 5, dt: 1, beta: rng.uniform(0.5, 0.99), r: rng.uniform(0.5, 1.5), v_leak: rng.bool(0.5) ? 0 : rng.uniform(-0.2, 0.2), v_threshold: rng.uniform(0.5, 1.5), v_reset: 0.1, reset: subtract ? 'subtract' : 'zero' },
      };
      const shape = [2, 3, 3];
      const fast = neuronLayer(neuronArrays(node, shape), activationPerm(shape));
      expect(fast.uniform).toBe(true);
      const slow: NeuronLayer = { ...fast, uniform: false };
      const T = 4;
      const input = randomInput(rng, T * 2 * fast.n);
      const a = neuronForward(fast, input, T, true);
      const b = neuronForward(slow, input, T, true);
      expect(a.out).toEqual(b.out);
      expect(a.u).toEqual(b.u);
      const g = Float32Array.from({ length: input.length }, () => rng.normal());
      const s = surrogate(sg);
      expect(neuronBackward(fast, a.u as Float32Array, a.out, g, T, s, true)).toEqual(neuronBackward(slow, b.u as Float32Array, b.out, g, T, s, true));
    }), { numRuns: 200 });
  });
});

describe('neuronBackward', () => {
  it.each([
    ['LIF', 'atan'], ['LIF', 'fast-sigmoid'], ['IF', 'atan'], ['LI', 'atan'],
  ] as const)('%s with %s matches finite differences of the smooth twin (detached reset)', (kind, sg) => {
    const rng = new Rng(kind === 'LI' ? 7 : sg === 'atan' ? 3 : 4);
    let checked = 0;
    for (let trial = 0; trial < 20 && checked < 6; trial++) {
      const shape = [2, 2, 2];
      const node = randomNeuron(rng, shape, kind);
      const layer = neuronLayer(neuronArrays(node, shape), activationPerm(shape));
      if (layer.multi) continue;
      const T = 5;
      const B = 2;
      const input = Float32Array.from({ length: T * B * layer.n }, () => rng.uniform(-0.5, 1.5));
      const { out, u } = neuronForward(layer, input, T, true);
      // Skip inputs with a potential near a threshold or a clamp: a perturbation could flip them.
      let fragile = false;
      for (let k = 0; k < input.length; k++) {
        const j = k % layer.n;
        if (Math.abs((u as Float32Array)[k] - layer.vThreshold[j]) < 1e-3) fragile = true;
      }
      if (fragile || layer.vMin.some((m) => m > -Infinity)) continue;
      const w = Float64Array.from({ length: input.length }, () => rng.uniform(-1, 1));
      const slope = sg === 'atan' ? 2 : 5;
      const g = neuronBackward(layer, u as Float32Array, out, Float32Array.from(w), T, surrogate(sg, slope), true);
      const x = Float64Array.from(input);
      const h = 1e-6;
      for (let k = 0; k < input.length; k += 3) {
        const xp = Float64Array.from(x);
        const xm = Float64Array.from(x);
        xp[k] += h;
        xm[k] -= h;
        const fd = (twinLoss(layer, xp, out, T, w, sg, slope) - twinLoss(layer, xm, out, T, w, sg, slope)) / (2 * h);
        expect(g[k]).toBeCloseTo(fd, 3);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(2);
  });
});
