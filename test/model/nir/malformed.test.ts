/**
 * Malformed NIR files, written with the project's own HDF5 writer: each fault gives a NirError
 * whose message names the node and the field; random damage never escapes as another exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { h5Group, type H5Entry, type H5Group } from '../../../src/model/nir/h5-tree.js';
import { isNirError, type NirErrorCode } from '../../../src/model/nir/nir-error.js';
import { readNirFile } from '../../../src/model/nir/read-nir.js';
import { f32, f64, fill, i64, nirTree, smallGraph, str, writeTree, type NodeSpec } from './nir-builder.js';

async function importError(nodes: Record<string, NodeSpec>, edges: [string, string][]): Promise<Error> {
  const p = await writeTree(nirTree(nodes, edges));
  try {
    await readNirFile(p);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the import to fail');
}

function expectNirError(e: Error, code: NirErrorCode, node: string | undefined, field: string | undefined, words?: RegExp): void {
  expect(isNirError(e), e.message).toBe(true);
  if (!isNirError(e)) return;
  expect({ code: e.code, node: e.node, field: e.field }).toEqual({ code, node, field });
  if (node) expect(e.message).toContain(`node "${node}"`);
  if (field) expect(e.message).toContain(`field "${field}"`);
  if (words) expect(e.message).toMatch(words);
  expect(e.message).not.toContain('\n');
}

const g = smallGraph;

describe('malformed NIR files', () => {
  it('the well-formed base graph imports', async () => {
    const r = await readNirFile(await writeTree(nirTree(g().nodes, g().edges)));
    expect(r.graph.nodes.map((n) => n.op)).toEqual(['Input', 'Affine', 'IF', 'Output']);
  });

  it('missing parameters', async () => {
    const a = g();
    delete a.nodes.fc.bias;
    expectNirError(await importError(a.nodes, a.edges), 'MISSING', 'fc', 'bias');
    const b = g();
    delete b.nodes.lif.v_threshold;
    expectNirError(await importError(b.nodes, b.edges), 'MISSING', 'lif', 'v_threshold');
    const c = g();
    delete c.nodes.input.shape;
    expectNirError(await importError(c.nodes, c.edges), 'MISSING', 'input', 'shape');
    const d = g();
    delete (d.nodes.lif as Record<string, unknown>).type;
    expectNirError(await importError(d.nodes, d.edges), 'BAD_LAYOUT', 'lif', 'type');
  });

  it('unknown and unsupported node types', async () => {
    const a = g();
    a.nodes.lif.type = 'Spiky';
    expectNirError(await importError(a.nodes, a.edges), 'UNKNOWN_TYPE', 'lif', 'type', /unknown NIR node type "Spiky"/);
    const b = g();
    b.nodes.lif = { type: 'Conv1d', weight: fill([3, 3, 1], 1) };
    expectNirError(await importError(b.nodes, b.edges), 'UNSUPPORTED', 'lif', 'type', /Conv1d/);
    const c = g();
    c.nodes.lif = { type: 'Delay', delay: fill([3], 0.001) };
    expectNirError(await importError(c.nodes, c.edges), 'UNSUPPORTED', 'lif', 'delay');
  });

  it('edges to missing nodes, malformed edge lists, two inputs', async () => {
    const a = g();
    expectNirError(await importError(a.nodes, [...a.edges, ['lif', 'nowhere']]), 'BAD_EDGE', undefined, 'edges[3]', /no node "nowhere"/);
    const b = g();
    const bad = nirTree(b.nodes, b.edges);
    const node = bad.children.get('node') as H5Group;
    const broken = h5Group([...node.children].map(([k, v]) => [k, k === 'edges' ? { kind: 'string', shape: [3], data: ['input', 'fc', 'lif'] } : v] as [string, H5Entry]));
    const e = await readNirFile(await writeTree(h5Group([['node', broken]]))).then(() => undefined, (x: Error) => x);
    expectNirError(e as Error, 'SHAPE', undefined, 'edges', /\[n, 2\]/);
    const c = g();
    c.nodes.input2 = { type: 'Input', shape: i64([1], [4]) };
    expectNirError(await importError(c.nodes, [...c.edges, ['input2', 'fc']]), 'UNSUPPORTED', 'input2', undefined, /2 Input nodes/);
  });

  it('wrong shapes', async () => {
    const a = g();
    a.nodes.fc.weight = f32([3, 2, 2], new Array(12).fill(0));
    expectNirError(await importError(a.nodes, a.edges), 'SHAPE', 'fc', 'weight', /\[out, in\]/);
    const b = g();
    b.nodes.fc.bias = f32([4], [0, 0, 0, 0]);
    expectNirError(await importError(b.nodes, b.edges), 'SHAPE', 'fc', 'bias');
    const c = g();
    c.nodes.lif.r = fill([5], 1);
    expectNirError(await importError(c.nodes, c.edges), 'SHAPE', 'lif', 'r', /\[5\]/);
    const d = g();
    d.nodes.output.shape = i64([1], [7]);
    expectNirError(await importError(d.nodes, d.edges), 'SHAPE', 'output', 'shape', /\[7\].*\[3\]/);
    const e = g();
    e.nodes.fc.weight = f32([3, 5], new Array(15).fill(0));
    expectNirError(await importError(e.nodes, e.edges), 'SHAPE', 'fc', 'weight', /\[5\]/);
  });

  it('conv, pooling and flatten declarations checked against the inferred shapes', async () => {
    const conv = (extra: NodeSpec = {}): Record<string, NodeSpec> => ({
      input: { type: 'Input', shape: i64([3], [2, 8, 8]) },
      conv: { type: 'Conv2d', weight: fill([4, 2, 3, 3], 0.1), bias: fill([4], 0), stride: i64([2], [1, 1]), padding: i64([2], [1, 1]), dilation: i64([2], [1, 1]), groups: i64([], [1]), input_shape: i64([2], [8, 8]), ...extra },
      flat: { type: 'Flatten', start_dim: i64([], [0]), end_dim: i64([], [-1]), input_type: i64([3], [4, 8, 8]) },
      output: { type: 'Output', shape: i64([1], [256]) },
    });
    const edges: [string, string][] = [['input', 'conv'], ['conv', 'flat'], ['flat', 'output']];
    expect((await readNirFile(await writeTree(nirTree(conv(), edges)))).graph.nodes).toHaveLength(4);
    expectNirError(await importError(conv({ input_shape: i64([2], [9, 8]) }), edges), 'SHAPE', 'conv', 'input_shape', /\[9,8\]/);
    expectNirError(await importError(conv({ weight: fill([4, 3, 3, 3], 0.1) }), edges), 'SHAPE', 'conv', 'weight', /input channels/);
    expectNirError(await importError(conv({ stride: i64([2], [0, 1]) }), edges), 'BAD_VALUE', 'conv', 'stride');
    expectNirError(await importError(conv({ padding: str('full') }), edges), 'BAD_VALUE', 'conv', 'padding', /'same' or 'valid'/);
    expectNirError(await importError(conv({ padding: str('same'), weight: fill([4, 2, 2, 2], 0.1) }), edges), 'UNSUPPORTED', 'conv', 'padding', /unevenly/);
    const same = await readNirFile(await writeTree(nirTree(conv({ padding: str('same') }), edges)));
    expect((same.graph.nodes[1].params as { padding: number[] }).padding).toEqual([1, 1]);
    const flat = conv();
    flat.flat.input_type = i64([3], [4, 4, 16]);
    expectNirError(await importError(flat, edges), 'SHAPE', 'flat', 'input_type');
  });

  it('structural faults name the node whose shape cannot be inferred', async () => {
    const a = g();
    expectNirError(await importError(a.nodes, a.edges.slice(1)), 'BAD_EDGE', 'fc', 'edges', /no incoming edge/);
    const b = g();
    b.nodes.fc = { type: 'Conv2d', weight: fill([4, 2, 3, 3], 0.1), bias: fill([4], 0), stride: i64([2], [1, 1]), padding: i64([2], [1, 1]), dilation: i64([2], [1, 1]), groups: i64([], [1]) };
    expectNirError(await importError(b.nodes, b.edges), 'SHAPE', 'fc', 'input', /\[C, H, W\]/);
    const c = g();
    c.nodes.input.shape = i64([3], [2, 2, 2]);
    c.nodes.fc = { type: 'SumPool2d', kernel_size: i64([2], [5, 5]), stride: i64([2], [1, 1]), padding: i64([2], [0, 0]) };
    expectNirError(await importError(c.nodes, c.edges), 'SHAPE', 'fc', 'kernel_size', /does not fit/);
  });

  it('wrong data types and values', async () => {
    const a = g();
    a.nodes.fc.weight = str('0.5');
    expectNirError(await importError(a.nodes, a.edges), 'BAD_TYPE', 'fc', 'weight');
    const b = g();
    b.nodes.input.shape = i64([1], [2n ** 60n]);
    expectNirError(await importError(b.nodes, b.edges), 'BAD_VALUE', 'input', 'shape', /2\^53/);
    const c = g();
    c.nodes.fc.bias = f32([3], [0, Number.NaN, 0]);
    expectNirError(await importError(c.nodes, c.edges), 'BAD_VALUE', 'fc', 'bias', /not finite/);
    const d = g();
    d.nodes.fc.bias = f64([3], [0, 1e300, 0]);
    expectNirError(await importError(d.nodes, d.edges), 'BAD_VALUE', 'fc', 'bias', /float32 range/);
    const e = g();
    e.nodes.lif = { type: 'LIF', tau: fill([3], -1), r: fill([3], 1), v_leak: fill([3], 0), v_threshold: fill([3], 1) };
    expectNirError(await importError(e.nodes, e.edges), 'BAD_VALUE', 'lif', 'tau', /> 0/);
    const f = g();
    f.nodes.input.shape = f32([1], [4.5]);
    expectNirError(await importError(f.nodes, f.edges), 'BAD_TYPE', 'input', 'shape', /integers/);
  });

  it('layout faults: no node group, root not a graph', async () => {
    const e = await readNirFile(await writeTree(h5Group([['version', str('1.0')]]))).then(() => undefined, (x: Error) => x);
    expectNirError(e as Error, 'BAD_LAYOUT', undefined, 'node', /not a NIR file/);
    const e2 = await readNirFile(await writeTree(h5Group([['node', h5Group([['type', str('IF')]])]]))).then(() => undefined, (x: Error) => x);
    expectNirError(e2 as Error, 'UNSUPPORTED', undefined, 'node/type', /not a NIRGraph/);
  });

  it('random damage to a valid graph gives a NirError or a valid graph, never another exception', async () => {
    const fields: [string, string][] = [];
    for (const [n, spec] of Object.entries(g().nodes)) for (const k of Object.keys(spec)) fields.push([n, k]);
    const replacement = fc.constantFrom<H5Entry | undefined>(undefined, str('x'), f32([], [1]), f32([2, 2], [1, 2, 3, 4]), i64([1], [-3]), i64([], [2n ** 62n]), f64([0], []), h5Group([]), { kind: 'other', shape: [1], description: 'x' });
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...fields), replacement), { minLength: 1, maxLength: 3 }), async (edits) => {
      const base = g();
      for (const [[n, k], v] of edits) {
        if (v === undefined) delete base.nodes[n][k];
        else if (v.kind !== 'other') base.nodes[n][k] = v;
      }
      try {
        const r = await readNirFile(await writeTree(nirTree(base.nodes, base.edges)));
        expect(r.graph.nodes.length).toBe(4);
      } catch (e) {
        if (!isNirError(e)) throw e;
        expect((e as Error).message).toMatch(/^NIR (node "|file)/);
      }
    }), { numRuns: 80, seed: 11 });
  });
});
