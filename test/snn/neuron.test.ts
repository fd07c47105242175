import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IFNode, LIFNode, LINode } from '../../src/snn/graph.js';
import { isQuiescent, lazyEligible, neuronArrays, neuronStep, replayIdle, stepBitsIF, stepList } from '../../src/snn/neuron.js';

const f = Math.fround;

/** Runs one neuron through the inputs; returns [outputs, membrane after each step]. */
function trace(node: IFNode | LIFNode | LINode, inputs: number[], shape: number[] = [1]): [number[], number[]] {
  const a = neuronArrays(node, shape);
  const v = new Float32Array(a.n);
  const outs: number[] = [];
  const vs: number[] = [];
  for (const x of inputs) {
    outs.push(neuronStep(a, v, 0, x));
    vs.push(v[0]);
  }
  return [outs, vs];
}

const ifNode = (p: Partial<IFNode['params']> = {}): IFNode => ({ id: 'n', op: 'IF', params: { r: 1, v_threshold: 1, ...p } });
const lifNode = (p: Partial<LIFNode['params']> = {}): LIFNode => ({ id: 'n', op: 'LIF', params: { tau: 2, r: 1, v_leak: 0, dt: 1, v_threshold: 1, ...p } });

describe('IF', () => {
  it('integrates r*I and fires one spike when v > threshold, then resets to v_reset', () => {
    expect(trace(ifNode(), [0.5, 0.25, 0.5, 0.5])).toEqual([[0, 0, 1, 0], [0.5, 0.75, 0, 0.5]]);
    expect(trace(ifNode({ v_reset: -0.25 }), [0.75, 0.5])).toEqual([[0, 1], [0.75, -0.25]]);
  });

  it('does not fire at exactly the threshold (single spike uses v > threshold)', () => {
    expect(trace(ifNode(), [0.5, 0.5, 0.25])).toEqual([[0, 0, 1], [0.5, 1, 0]]);
  });

  it('subtract reset keeps the excess, and a single-spike neuron drains one threshold per step', () => {
    expect(trace(ifNode({ reset: 'subtract' }), [3.5, 0, 0, 0])).toEqual([[1, 1, 1, 0], [2.5, 1.5, 0.5, 0.5]]);
  });

  it('multi-spike emits floor(v / threshold) spikes at v >= threshold (Sinabs MultiSpike)', () => {
    expect(trace(ifNode({ spike: 'multi', reset: 'subtract' }), [3.5, 0.5])).toEqual([[3, 1], [0.5, 0]]);
    expect(trace(ifNode({ spike: 'multi', reset: 'subtract', v_threshold: 0.5 }), [0.5])).toEqual([[1], [0]]);
    expect(trace(ifNode({ spike: 'multi', reset: 'zero', v_reset: 0.25 }), [2.25])).toEqual([[2], [0.25]]);
  });

  it('scales the input by r and clamps v at vMin after reset', () => {
    expect(trace(ifNode({ r: 2 }), [0.25, 0.5])).toEqual([[0, 1], [0.5, 0]]);
    expect(trace(ifNode({ vMin: -1 }), [-3, 0.5])).toEqual([[0, 0], [-1, -0.5]]);
  });

  it('rounds every operation to float32', () => {
    const [, vs] = trace(ifNode({ v_threshold: 10, r: 0.1 }), [0.3, 0.7]);
    const v1 = f(f(0.1) * 0.3);
    expect(vs).toEqual([v1, f(v1 + f(f(0.1) * 0.7))]);
  });
});

describe('LIF', () => {
  it('Euler step: v <- v + (dt/tau) * ((v_leak - v) + r*I)', () => {
    // a = dt/tau = 0.5
    expect(trace(lifNode(), [1, 1, 0, 0])).toEqual([[0, 0, 0, 0], [0.5, 0.75, 0.375, 0.1875]]);
    expect(trace(lifNode({ dt: 0.5, tau: 2 }), [2])).toEqual([[0], [0.5]]);
  });

  it('leaks towards v_leak without input', () => {
    expect(trace(lifNode({ v_leak: 0.5 }), [0, 0, 0])[1]).toEqual([0.25, 0.375, 0.4375]);
  });

  it('fires, resets and clamps like IF', () => {
    expect(trace(lifNode({ tau: 1 }), [1.5, 0.5])).toEqual([[1, 0], [0, 0.5]]);
    expect(trace(lifNode({ tau: 1, reset: 'subtract', spike: 'multi', v_threshold: 0.5 }), [1.25])).toEqual([[2], [0.25]]);
    expect(trace(lifNode({ tau: 1, vMin: -0.5 }), [-2])).toEqual([[0], [-0.5]]);
  });

  it('decay form with beta: v <- v_leak + beta * (v - v_leak) + r*I (Sinabs: v*alpha + I)', () => {
    expect(trace(lifNode({ beta: 0.5 }), [1, 0, 0.5])).toEqual([[0, 0, 0], [1, 0.5, 0.75]]);
    expect(trace(lifNode({ beta: 0.5, v_leak: 1, v_threshold: 5 }), [0, 0])[1]).toEqual([0.5, 0.75]);
    // The Sinabs norm_input=False update in float32: two roundings, multiply then add.
    const alpha = f(Math.exp(-1 / 3));
    const [, vs] = trace(lifNode({ beta: alpha, v_threshold: 100 }), [0.7, 0.3]);
    expect(vs[1]).toBe(f(f(alpha * f(0.7)) + f(0.3)));
  });

  it('per-neuron parameter arrays act per neuron (thresholds [0.5, 1, 2], shared input)', () => {
    const node = ifNode({ v_threshold: { shape: [3], data: Float32Array.from([0.5, 1, 2]) } });
    const a = neuronArrays(node, [3]);
    const v = new Float32Array(3);
    expect([0, 1, 2].map((j) => neuronStep(a, v, j, 0.75))).toEqual([1, 0, 0]);
  });

  it('broadcasts a per-channel parameter [C,1,1] over [C,H,W]', () => {
    const node = lifNode({ tau: { shape: [2, 1, 1], data: Float32Array.from([1, 4]) } });
    const a = neuronArrays(node, [2, 2, 2]);
    expect(Array.from(a.a)).toEqual([1, 1, 1, 1, 0.25, 0.25, 0.25, 0.25]);
  });
});

describe('LI', () => {
  it('integrates without spiking and outputs v', () => {
    const li: LINode = { id: 'n', op: 'LI', params: { tau: 2, r: 1, v_leak: 0, dt: 1 } };
    expect(trace(li, [4, 0])).toEqual([[2, 1], [2, 1]]);
  });
});

describe('lazy leak support', () => {
  it('replaying k idle steps equals k zero-input steps, bit for bit', () => {
    fc.assert(fc.property(
      fc.float({ min: -3, max: 3, noNaN: true }), fc.float({ min: Math.fround(1.01), max: 50, noNaN: true }),
      fc.float({ min: -1, max: 1, noNaN: true }), fc.integer({ min: 1, max: 400 }),
      (v0, tau, vLeak, k) => {
        const a = neuronArrays(lifNode({ tau, v_leak: vLeak, v_threshold: 1 }), [1]);
        const v1 = Float32Array.of(v0);
        const v2 = Float32Array.of(v0);
        let spikes = 0;
        for (let i = 0; i < k; i++) spikes += neuronStep(a, v1, 0, 0);
        const violations = replayIdle(a, v2, 0, k);
        expect(v2[0]).toBe(v1[0]);
        expect(violations).toBe(spikes);
      }));
  });

  it('a quiescent neuron never spikes during idle steps', () => {
    fc.assert(fc.property(
      fc.float({ min: -3, max: 3, noNaN: true }), fc.float({ min: 1, max: 50, noNaN: true }),
      fc.float({ min: -2, max: 2, noNaN: true }), fc.float({ min: Math.fround(0.1), max: 2, noNaN: true }), fc.boolean(),
      (v0, tau, vLeak, thr, multi) => {
        const a = neuronArrays(lifNode({ tau, v_leak: vLeak, v_threshold: thr, spike: multi ? 'multi' : 'single' }), [1]);
        fc.pre(isQuiescent(a, v0, 0));
        const v = Float32Array.of(v0);
        for (let i = 0; i < 300; i++) expect(neuronStep(a, v, 0, 0)).toBe(0);
      }));
  });

  it('IF is quiescent exactly when v cannot fire; leaks with dt/tau > 1 are not lazy-eligible', () => {
    const single = neuronArrays(ifNode(), [1]);
    const multi = neuronArrays(ifNode({ spike: 'multi' }), [1]);
    expect([isQuiescent(single, 1, 0), isQuiescent(single, f(1.0000001), 0)]).toEqual([true, false]);
    expect([isQuiescent(multi, f(0.9999999), 0), isQuiescent(multi, 1, 0)]).toEqual([true, false]);
    expect(lazyEligible(neuronArrays(lifNode({ tau: 0.5 }), [1]))).toBe(false);
    expect(lazyEligible(neuronArrays(lifNode({ tau: 1 }), [1]))).toBe(true);
    expect(lazyEligible(neuronArrays(lifNode({ beta: 1.5 }), [1]))).toBe(false);
  });
});

describe('list stepping (the sparse engine hot loops)', () => {
  const nodes = (): (IFNode | LIFNode | LINode)[] => [
    ifNode({ spike: 'multi', reset: 'subtract', vMin: -1 }),
    ifNode({ v_threshold: { shape: [6], data: Float32Array.from([0.5, 1, 1.5, 2, 0.75, 1]) } }),
    lifNode({ tau: 7, v_leak: 0.25 }),
    lifNode({ beta: 0.875, spike: 'multi', reset: 'subtract', v_threshold: 0.5 }),
    { id: 'n', op: 'LI', params: { tau: 3, r: 2, v_leak: 0.5, dt: 1 } },
  ];

  it('stepList and stepBitsIF do exactly what neuronStep does, including replay of skipped steps', () => {
    fc.assert(fc.property(fc.array(fc.array(fc.float({ min: -2, max: 3, noNaN: true }), { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 12 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (inputs, active) => {
        for (const node of nodes()) {
          const a = neuronArrays(node, [6]);
          const ref = new Float32Array(6);
          const v = new Float32Array(6);
          const vb = new Float32Array(6);
          const last = new Int32Array(6).fill(-1);
          const st = { outputs: 0, pending: 0, spikes: 0, violations: 0 };
          // As the sparse engine does: step neurons with input plus those left pending (not quiescent).
          let pendingPrev: number[] = [0, 1, 2, 3, 4, 5].filter((j) => !isQuiescent(a, 0, j));
          inputs.forEach((row, t) => {
            const on = (j: number) => a.op === 'LI' || active[j] || t === inputs.length - 1;
            const x = Float32Array.from(row, (val, j) => (on(j) ? val : 0));
            const list = Int32Array.from([0, 1, 2, 3, 4, 5].filter((j) => on(j) || pendingPrev.includes(j)));
            const want = Array.from({ length: 6 }, (_, j) => neuronStep(a, ref, j, x[j]));
            const outVal = new Float32Array(6);
            const pending = new Int32Array(6);
            st.outputs = 0;
            st.pending = 0;
            stepList(a, v, x, list, list.length, outVal, new Int32Array(6), last, t, pending, st);
            for (const j of list) expect(outVal[j]).toBe(want[j]);
            if (a.op === 'IF' && a.uniform) {
              const bits = Int32Array.of(list.reduce((w, j) => w | (1 << j), 0));
              stepBitsIF(a, vb, x, bits, new Float32Array(6), new Int32Array(6), null, { outputs: 0, pending: 0, spikes: 0, violations: 0 });
            }
            pendingPrev = Array.from(pending.subarray(0, st.pending));
          });
          // Every neuron was stepped on the last step, so all are current.
          expect(Array.from(v)).toEqual(Array.from(ref));
          if (a.op === 'IF' && a.uniform) expect(Array.from(vb)).toEqual(Array.from(ref));
          expect(st.violations).toBe(0);
        }
      }), { numRuns: 100 });
  });
});
