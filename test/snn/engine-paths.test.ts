/**
 * The sparse engine's two implementations of its hot loops, WebAssembly kernels (the default) and
 * JavaScript (the fallback where WebAssembly SIMD is missing, forced with `wasm: false`): both
 * against the dense reference engine on random graphs, and the kernels shown to actually run, so
 * that a kernel which failed to load could not pass the equivalence tests on the fallback.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DenseEngine } from '../../src/snn/dense-engine.js';
import type { Graph } from '../../src/snn/graph.js';
import { randomGraph, randomTimesteps, sequentialGraph } from '../../src/snn/random-graph.js';
import { Rng } from '../../src/snn/rng.js';
import { SparseEngine } from '../../src/snn/sparse-engine.js';
import type { Timestep } from '../../src/stream/timestep.js';

/** Steps both engines; returns the number of differing node outputs (bit for bit, ±0 equal). */
function differences(graph: Graph, steps: readonly Timestep[], wasm: boolean): number {
  const dense = new DenseEngine(graph);
  const sparse = new SparseEngine(graph, { wasm });
  let diffs = 0;
  for (const ts of steps) {
    const a = dense.step(ts);
    const b = sparse.step(ts);
    if (a.synops !== b.synops || a.spikes !== b.spikes) diffs++;
    for (const node of dense.plan.nodes) {
      const x = dense.nodeOutput(node.id);
      const y = sparse.nodeOutput(node.id);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) diffs++;
    }
  }
  for (const node of dense.plan.nodes) {
    if (node.op !== 'IF' && node.op !== 'LIF' && node.op !== 'LI') continue;
    const x = dense.membrane(node.id);
    const y = sparse.membrane(node.id);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) diffs++;
  }
  expect({ ...sparse.result(), engine: 'dense' }).toEqual(dense.result());
  expect(sparse.lazyViolations).toBe(0);
  return diffs;
}

function steps(rng: Rng, graph: Graph): Timestep[] {
  const shape = (graph.nodes.find((n) => n.op === 'Input')?.params as { shape: number[] }).shape;
  return randomTimesteps(rng, { width: shape[2], height: shape[1], steps: 16, density: rng.pick([1, 0.3, 0.1, 0.02]), maxCount: 3 });
}

describe('sparse engine paths', () => {
  it('runs the WebAssembly kernels by default here, including the neuron step kernels', () => {
    const graph = sequentialGraph({
      input: [2, 12, 12], seed: 5, density: 0.3,
      layers: [
        { op: 'Conv2d', out: 4, kernel: 3, stride: 2 }, { op: 'IF', spike: 'multi', reset: 'subtract', vMin: -1 },
        { op: 'Conv2d', out: 6, kernel: 3 }, { op: 'LIF', tau: 20 },
        { op: 'Flatten' }, { op: 'Linear', out: 5 }, { op: 'LI', tau: 20 },
      ],
    });
    const sparse = new SparseEngine(graph);
    expect(sparse.wasm).toBe(true);
    expect(sparse.kernelNodes()).toEqual({ if1: true, lif1: true, li1: false });
    expect(new SparseEngine(graph, { wasm: false }).wasm).toBe(false);
    expect(differences(graph, steps(new Rng(5), graph), true)).toBe(0);
  });

  for (const wasm of [true, false]) {
    it(`${wasm ? 'kernels' : 'JavaScript fallback'} == dense engine on random graphs`, () => {
      let kernelNodes = 0;
      fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(), (seed, quantized) => {
        const rng = new Rng(seed);
        const graph = randomGraph(rng, { quantized });
        kernelNodes += Object.values(new SparseEngine(graph, { wasm }).kernelNodes()).filter(Boolean).length;
        expect(differences(graph, steps(rng, graph), wasm)).toBe(0);
      }), { numRuns: 40 });
      if (wasm) expect(kernelNodes).toBeGreaterThan(0);
      else expect(kernelNodes).toBe(0);
    });
  }
});
