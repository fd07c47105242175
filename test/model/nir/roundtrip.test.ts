/**
 * Export -> import round trips: every parameter comes back bit for bit (masked weights as the zeros
 * they are on the wire, with the mask restored), for random graphs covering every op and option,
 * for trained-style masked models with their model-level facts, and for models imported from the
 * NIR fixtures. The NIR datasets alone (without spikestream metadata) also carry the semantics for
 * graphs that use NIR's own conventions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readModelFile, writeModelFile } from '../../../src/model/model-file.js';
import { randomModel } from '../../../src/model/random-model.js';
import { h5Group, type H5Entry, type H5Group } from '../../../src/model/nir/h5-tree.js';
import { exportNirModel, importNirModel } from '../../../src/model/nir/nir-model.js';
import { readH5File } from '../../../src/model/nir/read-h5.js';
import { readNirFile } from '../../../src/model/nir/read-nir.js';
import { writeH5File } from '../../../src/model/nir/write-h5.js';
import { writeNirFile } from '../../../src/model/nir/write-nir.js';
import { createEngine } from '../../../src/snn/create-engine.js';
import { runEngine } from '../../../src/snn/engine.js';
import type { Graph, GraphNode } from '../../../src/snn/graph.js';
import { isWeighted } from '../../../src/snn/graph.js';
import { randomGraph, randomTimesteps } from '../../../src/snn/random-graph.js';
import { Rng } from '../../../src/snn/rng.js';
import { describeWithFixtures, sharedFixture } from '../../helpers/fixtures.js';
import { tmpPath } from './nir-builder.js';

/** The graph as it runs: weights under a 0 mask bit are 0 (what the NIR file stores). */
function effective(g: Graph): Graph {
  return {
    nodes: g.nodes.map((n): GraphNode => {
      if (!isWeighted(n) || !n.mask) return n;
      const mask = n.mask;
      const data = n.params.weight.data.map((v, i) => (mask[i] ? v : 0));
      return { ...n, params: { ...n.params, weight: { shape: n.params.weight.shape, data } } } as GraphNode;
    }),
    edges: g.edges,
  };
}

/** Structural equality with floats compared by bits (so -0 != 0 and NaN patterns count). */
function diff(a: unknown, b: unknown, path = ''): string | undefined {
  if (a instanceof Float32Array || b instanceof Float32Array) {
    if (!(a instanceof Float32Array && b instanceof Float32Array) || a.length !== b.length) return `${path}: not the same float32 array`;
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return `${path}[${i}]: ${a[i]} != ${b[i]}`;
    return undefined;
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length || a.some((v, i) => v !== b[i])) return `${path}: bytes differ`;
    return undefined;
  }
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b) ? undefined : `${path}: ${String(a)} != ${String(b)}`;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return `${path}: arrays differ in length`;
    for (let i = 0; i < a.length; i++) {
      const d = diff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined).sort();
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined).sort();
    if (ka.join() !== kb.join()) return `${path}: keys ${ka.join(',')} != ${kb.join(',')}`;
    for (const k of ka) {
      const d = diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : `${path}: ${String(a)} != ${String(b)}`;
}

describe('NIR export -> import round trip', () => {
  it('random graphs (every op, option, parameter form and mask) come back bit for bit', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
      const graph = randomGraph(new Rng(seed));
      const p = tmpPath('random.nir');
      await writeNirFile(p, graph);
      const back = await readNirFile(p);
      expect(back.mode).toBe('spikestream');
      expect(back.notes).toEqual([]);
      expect(diff(back.graph, effective(graph))).toBeUndefined();
    }), { numRuns: 30, seed: 1234 });
  });

  it('a masked model keeps name, labels, input, binning, training, meta and creation time through the msgpack file', async () => {
    const model = { ...randomModel({ seed: 5, density: 0.1, labels: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'], binning: { mode: 'event_count', count: 500, overlap: 50 } }), meta: { note: 'esl run 3' } };
    const m1 = tmpPath('m.msgpack');
    await writeModelFile(m1, model);
    const onDisk = await readModelFile(m1);
    const nir = tmpPath('m.nir');
    await exportNirModel(onDisk, nir);
    const { model: back } = await importNirModel(nir);
    expect(diff(back.graph, effective(onDisk.graph))).toBeUndefined();
    expect([back.name, back.labels, back.input, back.training, back.created]).toEqual([onDisk.name, onDisk.labels, onDisk.input, onDisk.training, onDisk.created]);
    expect(back.meta?.note).toBe('esl run 3');
    expect((back.meta?.restoredFrom as { format: string }).format).toBe('nir');
    // And through a second model file, unchanged.
    const m2 = tmpPath('m2.msgpack');
    await writeModelFile(m2, back);
    expect(diff((await readModelFile(m2)).graph, back.graph)).toBeUndefined();
  });

  it('a file edited after export (in Python, say) keeps the edits: exact nodes where they still agree, NIR datasets elsewhere', async () => {
    const { graph } = randomModel({ seed: 4 });
    const p = tmpPath('edited.nir');
    await writeNirFile(p, graph);
    const tree = await readH5File(p);
    const double = (g: H5Group, path: string[]): H5Group => h5Group([...g.children].map(([k, v]): [string, H5Entry] => {
      if (k !== path[0]) return [k, v];
      if (path.length === 1 && v.kind === 'float') return [k, { ...v, data: v.data.map((x) => x * 2) }];
      return [k, double(v as H5Group, path.slice(1))];
    }));
    const edited = tmpPath('edited2.nir');
    await writeH5File(edited, double(double(tree, ['node', 'nodes', 'fc1', 'weight']), ['node', 'nodes', 'if1', 'v_threshold']));
    const back = await readNirFile(edited);
    const node = (id: string) => back.graph.nodes.find((n) => n.id === id) as GraphNode & { params: Record<string, unknown> };
    const before = (id: string) => graph.nodes.find((n) => n.id === id) as GraphNode & { params: Record<string, unknown> };
    // The weight is referenced by the metadata, so fc1 is still restored exactly, with the new weight.
    const w0 = (before('fc1').params.weight as { data: Float32Array }).data;
    expect(Array.from((node('fc1').params.weight as { data: Float32Array }).data)).toEqual(Array.from(w0, (v) => Math.fround(v * 2)));
    // if1's threshold was a scalar in the model; the edited per-neuron array no longer matches it,
    // so if1 is read from its NIR datasets (nir conventions) and the import says so.
    expect(back.notes.some((n) => n.includes('"if1"') && n.includes('edited'))).toBe(true);
    const thr = node('if1').params.v_threshold as { data: Float32Array };
    expect(Array.from(thr.data).every((v) => v === Math.fround(2 * (before('if1').params.v_threshold as number)))).toBe(true);
    expect(diff(node('conv1'), before('conv1'))).toBeUndefined();
  });

  it('without the spikestream metadata, --as nir runs a NIR-convention graph exactly as before', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const rng = new Rng(seed);
      const g = randomGraph(rng);
      // NIR's own conventions: single spike, reset to v_reset, no clamp, Euler leaks at dt = 1.
      const nirStyle: Graph = {
        edges: g.edges,
        nodes: g.nodes.map((n): GraphNode => {
          if (n.op === 'IF') return { ...n, params: { ...n.params, spike: 'single', reset: 'zero', vMin: undefined } };
          if (n.op === 'LIF') return { ...n, params: { ...n.params, spike: 'single', reset: 'zero', vMin: undefined, beta: undefined, dt: 1 } };
          if (n.op === 'LI') return { ...n, params: { ...n.params, beta: undefined, dt: 1 } };
          return n;
        }),
      };
      const p = tmpPath('plain.nir');
      await writeNirFile(p, nirStyle);
      const { graph: plain } = await readNirFile(p, { as: 'nir', dt: 1 });
      const input = nirStyle.nodes[0].params as { shape: number[] };
      const ts = randomTimesteps(new Rng(seed + 1000), { width: input.shape[2], height: input.shape[1], steps: 12, density: 0.3 });
      const want = runEngine(createEngine('dense', nirStyle), ts);
      const got = runEngine(createEngine('dense', plain), ts);
      expect(got.spikesPerNode).toEqual(want.spikesPerNode);
      expect(got.outputCounts).toEqual(want.outputCounts);
    }
  });
});

describeWithFixtures('NIR fixture models round trip', ['nir/cnn_sinabs.nir', 'nir/lif_norse.nir'], () => {
  it('imported under every preset, written as a model, exported and imported again: the same graph', async () => {
    for (const file of ['nir/cnn_sinabs.nir', 'nir/lif_norse.nir']) {
      for (const as of ['nir', 'sinabs', 'snntorch', 'norse'] as const) {
        const { model } = await importNirModel(sharedFixture(file), { as });
        const m = tmpPath('fixture.msgpack');
        await writeModelFile(m, model);
        const onDisk = await readModelFile(m);
        const nir = tmpPath('fixture.nir');
        await exportNirModel(onDisk, nir);
        const { model: back, result } = await importNirModel(nir);
        expect(result.mode).toBe('spikestream');
        expect(diff(back.graph, onDisk.graph)).toBeUndefined();
        expect(back.training).toEqual(onDisk.training);
        expect((back.meta?.nir as { preset: string }).preset).toBe(as);
      }
    }
  });
});
