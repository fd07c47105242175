/**
 * Node mapping details on hand-built NIR files: presets' neuron rules checked against the
 * frameworks' update equations computed independently here, CubaLIF splitting, subgraph
 * flattening, Flatten's batch-dimension convention, zero Delay, id sanitising, overrides.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/snn/create-engine.js';
import type { GraphNode, LIFNode, LINode } from '../../../src/snn/graph.js';
import { isNirError } from '../../../src/model/nir/nir-error.js';
import { readNirFile } from '../../../src/model/nir/read-nir.js';
import type { NirImportOptions } from '../../../src/model/nir/import-nir.js';
import { f32, fill, graphGroup, i64, nirTree, writeTree, type NodeSpec } from './nir-builder.js';

const chain = (neuron: NodeSpec, n = 2): { nodes: Record<string, NodeSpec>; edges: [string, string][] } => ({
  nodes: {
    input: { type: 'Input', shape: i64([1], [n]) },
    fc: { type: 'Linear', weight: f32([n, n], n === 2 ? [1, 0, 0, 1] : new Array(n * n).fill(0)) },
    cell: neuron,
    output: { type: 'Output', shape: i64([1], [n]) },
  },
  edges: [['input', 'fc'], ['fc', 'cell'], ['cell', 'output']],
});

async function load(spec: ReturnType<typeof chain>, o: NirImportOptions = {}) {
  return readNirFile(await writeTree(nirTree(spec.nodes, spec.edges)), o);
}

const byId = (nodes: readonly GraphNode[], id: string) => nodes.find((n) => n.id === id) as GraphNode;
const inputs = [0.8, 0.1, 0.0, 1.3, 0.4, 0.0, 0.0, 2.0, 0.2, 0.5];

describe('NIR neuron presets against the frameworks\' equations', () => {
  const cuba: NodeSpec = {
    type: 'CubaLIF', tau_syn: fill([2], 0.002), tau_mem: fill([2], 0.005), r: f32([2], [50, 10]), v_leak: fill([2], 0), v_threshold: fill([2], 1), w_in: f32([2], [20, 3]),
  };

  it('CubaLIF becomes "<name>.syn" (LI) -> "<name>" (LIF); --as snntorch matches snn.Synaptic (alpha, beta, threshold over w_scale)', async () => {
    const r = await load(chain(cuba), { as: 'snntorch' });
    expect(r.graph.nodes.map((n) => `${n.id}:${n.op}`)).toEqual(['input:Input', 'fc:Linear', 'cell.syn:LI', 'cell:LIF', 'output:Output']);
    expect(r.graph.edges).toContainEqual(['cell.syn', 'cell']);
    expect(r.provenance.split).toEqual({ cell: ['cell.syn', 'cell'] });
    // snnTorch: syn = a*syn + x; mem = b*mem + syn; spike when mem > thr / w_scale, reset to 0,
    // with a = 1 - dt/tau_syn, b = 1 - dt/tau_mem, w_scale = w_in*dt/tau_syn (r = tau_mem/dt assumed;
    // r*dt/tau_mem scales mem the same way).
    const dt = 1e-4;
    const engine = createEngine('dense', r.graph);
    const syn = [0, 0];
    const mem = [0, 0];
    for (const x of inputs) {
      const out = engine.stepValues(Float32Array.of(x, x / 2)).output;
      for (let j = 0; j < 2; j++) {
        const tauSyn = 0.002;
        const tauMem = 0.005;
        const wIn = [20, 3][j];
        const rr = [50, 10][j];
        syn[j] = (1 - dt / tauSyn) * syn[j] + [x, x / 2][j];
        mem[j] = (1 - dt / tauMem) * mem[j] + syn[j];
        const scale = ((wIn * dt) / tauSyn) * ((rr * dt) / tauMem);
        const spike = mem[j] * scale > 1 ? 1 : 0;
        if (spike) mem[j] = 0;
        expect(out[j]).toBe(spike);
      }
    }
  });

  it('CubaLIF under --as nir and --as norse: Euler synapse with gain w_in, membrane gain r; not under --as sinabs', async () => {
    const nir = await load(chain(cuba), { as: 'nir', dt: 1e-3 });
    const syn = byId(nir.graph.nodes, 'cell.syn') as LINode;
    expect(syn.params.dt).toBe(1e-3);
    expect(syn.params.beta).toBeUndefined();
    expect(Array.from((syn.params.r as { data: Float32Array }).data)).toEqual([20, 3]);
    expect(syn.params.v_leak).toBe(0);
    const e = await load(chain(cuba), { as: 'sinabs' }).then(() => undefined, (x: Error) => x);
    expect(isNirError(e) && e.code).toBe('UNSUPPORTED');
    expect(e?.message).toMatch(/node "cell" field "type".*sinabs/);
  });

  it('--as sinabs LIF: v <- exp(-1/tau) v + I with tau in steps, r ignored, MultiSpike, subtract reset', async () => {
    const spec = chain({ type: 'LIF', tau: f32([2], [4, 20]), r: f32([2], [3, 3]), v_leak: fill([2], 0), v_threshold: f32([2], [0.5, 1]) });
    const r = await load(spec, { as: 'sinabs' });
    expect(r.notes.some((n) => n.includes('r ignored'))).toBe(true);
    const engine = createEngine('dense', r.graph);
    const v = [0, 0];
    for (const x of inputs) {
      const out = engine.stepValues(Float32Array.of(x, x)).output;
      for (let j = 0; j < 2; j++) {
        const thr = [0.5, 1][j];
        v[j] = Math.exp(-1 / [4, 20][j]) * v[j] + x;
        const s = v[j] > 0 ? Math.trunc(v[j] / thr) : 0;
        v[j] -= s * thr;
        expect(out[j]).toBe(s);
      }
    }
  });

  it('--as snntorch IF is what snnTorch builds: Leaky(beta=0.9), subtract reset; r != 1 is refused', async () => {
    const r = await load(chain({ type: 'IF', r: fill([2], 1), v_threshold: fill([2], 1) }), { as: 'snntorch' });
    const n = byId(r.graph.nodes, 'cell') as LIFNode;
    expect([n.op, n.params.beta, n.params.reset, n.params.spike]).toEqual(['LIF', Math.fround(0.9), 'subtract', 'single']);
    const e = await load(chain({ type: 'IF', r: fill([2], 2), v_threshold: fill([2], 1) }), { as: 'snntorch' }).then(() => undefined, (x: Error) => x);
    expect(e?.message).toMatch(/node "cell" field "r"/);
  });

  it('--as norse LIF: Euler at dt 1e-3 with r ignored and reset to 0; --v-min threshold clamps at -v_threshold', async () => {
    const spec = chain({ type: 'LIF', tau: fill([2], 0.004), r: fill([2], 2), v_leak: f32([2], [0, 0.5]), v_threshold: fill([2], 0.3), v_reset: fill([2], -0.2) });
    const r = await load(spec, { as: 'norse', vMin: 'threshold' });
    const n = byId(r.graph.nodes, 'cell') as LIFNode;
    expect([n.params.r, n.params.v_reset, n.params.dt]).toEqual([1, 0, 1e-3]);
    expect(Array.from((n.params.vMin as { data: Float32Array }).data)).toEqual([Math.fround(-0.3), Math.fround(-0.3)]);
    expect(r.notes.join(' ')).toMatch(/Norse starts v at v_leak/);
    const engine = createEngine('dense', r.graph);
    const v = [0, 0];
    for (const x of inputs) {
      const out = engine.stepValues(Float32Array.of(x, -x)).output;
      for (let j = 0; j < 2; j++) {
        v[j] += 0.25 * ([0, 0.5][j] - v[j] + [x, -x][j]);
        const s = v[j] > 0.3 ? 1 : 0;
        if (s) v[j] = 0;
        v[j] = Math.max(v[j], -0.3);
        expect(out[j]).toBe(s);
      }
    }
  });
});

describe('NIR structure mapping', () => {
  it('nested NIRGraph nodes are flattened with dotted ids; edges reach through their Input/Output', async () => {
    const sub = graphGroup({
      in: { type: 'Input', shape: i64([1], [2]) },
      lif: { type: 'IF', r: fill([2], 1), v_threshold: fill([2], 0.5) },
      out: { type: 'Output', shape: i64([1], [2]) },
    }, [['in', 'lif'], ['lif', 'out']]);
    const top = nirTree({
      input: { type: 'Input', shape: i64([1], [2]) },
      fc: { type: 'Linear', weight: f32([2, 2], [1, 0, 0, 1]) },
      sub,
      output: { type: 'Output', shape: i64([1], [2]) },
    }, [['input', 'fc'], ['fc', 'sub'], ['sub', 'output']]);
    const r = await readNirFile(await writeTree(top));
    expect(r.graph.nodes.map((n) => n.id)).toEqual(['input', 'fc', 'sub.lif', 'output']);
    expect(r.graph.edges).toEqual([['input', 'fc'], ['fc', 'sub.lif'], ['sub.lif', 'output']]);
  });

  it('Flatten with start_dim counting a batch dimension (start_dim = 1 before a Linear) is shifted, with a note', async () => {
    const spec = {
      nodes: {
        input: { type: 'Input', shape: i64([3], [2, 2, 2]) },
        flat: { type: 'Flatten', start_dim: i64([], [1]), end_dim: i64([], [-1]) },
        fc: { type: 'Linear', weight: fill([3, 8], 0.1) },
        output: { type: 'Output', shape: i64([1], [3]) },
      } as Record<string, NodeSpec>,
      edges: [['input', 'flat'], ['flat', 'fc'], ['fc', 'output']] as [string, string][],
    };
    const r = await readNirFile(await writeTree(nirTree(spec.nodes, spec.edges)));
    expect((byId(r.graph.nodes, 'flat').params as { start_dim: number }).start_dim).toBe(0);
    expect(r.notes.join(' ')).toMatch(/batch dimension/);
  });

  it('zero Delay is an identity; odd names become valid ids and errors still use the NIR name', async () => {
    const spec = chain({ type: 'Delay', delay: fill([2], 0) });
    spec.nodes['layer #1'] = spec.nodes.fc;
    delete spec.nodes.fc;
    spec.edges = [['input', 'layer #1'], ['layer #1', 'cell'], ['cell', 'output']];
    const r = await load(spec);
    expect(r.graph.nodes.map((n) => `${n.id}:${n.op}`)).toEqual(['input:Input', 'layer__1:Linear', 'cell:Scale', 'output:Output']);
    expect(r.provenance.renamed).toEqual({ layer__1: 'layer #1' });
    spec.nodes['layer #1'] = { type: 'Linear', weight: fill([2, 3], 1) };
    const e = await load(spec).then(() => undefined, (x: Error) => x);
    expect(e?.message).toMatch(/^NIR node "layer #1" field "weight"/);
  });
});
