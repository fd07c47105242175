/**
 * The sparse engine against the dense reference on random graphs and random inputs: identical spike
 * trains. The engines are built to perform the same float32 operations in the same order, so the
 * expected number of differences is zero; the bound below (1 in 10^5 neuron-steps) is the contract's
 * allowance for float32 threshold ties, and every difference is counted and reported.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DenseEngine } from '../../src/snn/dense-engine.js';
import type { Graph } from '../../src/snn/graph.js';
import { randomGraph, randomTimesteps, sequentialGraph } from '../../src/snn/random-graph.js';
import { Rng } from '../../src/snn/rng.js';
import { SparseEngine } from '../../src/snn/sparse-engine.js';
import type { Timestep } from '../../src/stream/timestep.js';

interface Tally {
  neuronSteps: number;
  spikes: number;
  spikeDiffs: number;
  valueDiffs: number;
  lazyNodes: number;
  denseNodes: number;
  violations: number;
}

const tally = (): Tally => ({ neuronSteps: 0, spikes: 0, spikeDiffs: 0, valueDiffs: 0, lazyNodes: 0, denseNodes: 0, violations: 0 });

/** ±0 compare equal; everything else must match bit for bit (no NaNs can arise). */
function countDiffs(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

function compare(graph: Graph, steps: readonly Timestep[], t: Tally): void {
  const dense = new DenseEngine(graph);
  const sparse = new SparseEngine(graph);
  for (const ts of steps) {
    const a = dense.step(ts);
    const b = sparse.step(ts);
    expect(b.synops).toBe(a.synops);
    for (const node of dense.plan.nodes) {
      const da = dense.nodeOutput(node.id);
      const sa = sparse.nodeOutput(node.id);
      const diffs = countDiffs(da, sa);
      if (node.op === 'IF' || node.op === 'LIF' || node.op === 'Threshold') {
        t.neuronSteps += da.length;
        t.spikeDiffs += diffs;
        for (const s of da) t.spikes += s;
      } else {
        t.valueDiffs += diffs;
      }
    }
  }
  for (const node of dense.plan.nodes) {
    if (node.op === 'IF' || node.op === 'LIF' || node.op === 'LI') t.valueDiffs += countDiffs(dense.membrane(node.id), sparse.membrane(node.id));
  }
  const ra = dense.result();
  const rb = sparse.result();
  expect({ ...rb, engine: 'dense' }).toEqual(ra);
  for (const lazy of Object.values(sparse.lazyNodes())) {
    if (lazy) t.lazyNodes++;
    else t.denseNodes++;
  }
  t.violations += sparse.lazyViolations;
}

function inputSteps(rng: Rng, graph: Graph, steps: number, density: number): Timestep[] {
  const shape = (graph.nodes.find((n) => n.op === 'Input')?.params as { shape: number[] }).shape;
  return randomTimesteps(rng, { width: shape[2], height: shape[1], steps, density, maxCount: 3, outOfRange: rng.bool(0.3) ? 1 : 0 });
}

describe('sparse engine == dense engine', () => {
  const totals = tally();

  for (const density of [1, 0.3, 0.1, 0.02]) {
    it(`random graphs at connection density ${density}, random input densities`, () => {
      const t = tally();
      fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(), (seed, quantized) => {
        const rng = new Rng(seed);
        const graph = randomGraph(rng, { density, quantized });
        compare(graph, inputSteps(rng, graph, 24, rng.pick([1, 0.3, 0.1, 0.02])), t);
      }), { numRuns: 60 });
      expect(t.valueDiffs).toBe(0);
      expect(t.violations).toBe(0);
      expect(t.spikeDiffs).toBeLessThanOrEqual(t.neuronSteps * 1e-5);
      expect(t.spikes).toBeGreaterThan(0);
      for (const k of Object.keys(t) as (keyof Tally)[]) totals[k] += t[k];
    });
  }

  it('exercised both lazy and dense-path neuron layers, and found no differences', () => {
    expect(totals.lazyNodes).toBeGreaterThan(0);
    expect(totals.denseNodes).toBeGreaterThan(0);
    console.info(`equivalence: ${totals.neuronSteps} neuron-steps, ${totals.spikes} spikes, ${totals.spikeDiffs} spike differences (threshold ties), ${totals.valueDiffs} value differences`);
  });

  it('lazy LIF leak over long quiet gaps replays exactly (spikes and membranes)', () => {
    for (const [seed, beta] of [[1, undefined], [2, 0.9], [3, undefined]] as const) {
      const graph = sequentialGraph({
        input: [2, 12, 12], seed, density: 0.3, gain: 8,
        layers: [
          { op: 'Conv2d', out: 4, kernel: 3, stride: 2 }, { op: 'LIF', tau: 20, threshold: 0.8, vLeak: 0.1, beta },
          { op: 'Conv2d', out: 6, kernel: 3 }, { op: 'LIF', tau: 5, spike: 'multi', reset: 'subtract', threshold: 0.5 },
          { op: 'Flatten' }, { op: 'Linear', out: 5 }, { op: 'LIF', tau: 50, threshold: 0.3 },
        ],
      });
      const rng = new Rng(seed);
      const quiet = randomTimesteps(rng, { width: 12, height: 12, steps: 300, density: 0.01, maxCount: 3 });
      const t = tally();
      compare(graph, quiet, t);
      expect(t.lazyNodes).toBe(3);
      console.info(`quiet input, seed ${seed}: ${t.spikes} spikes in ${t.neuronSteps} neuron-steps`);
      expect(t.spikes).toBeGreaterThan(0);
      expect([t.spikeDiffs, t.valueDiffs, t.violations]).toEqual([0, 0, 0]);
    }
  });
});
