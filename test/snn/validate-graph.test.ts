import { describe, expect, it } from 'vitest';
import type { Graph, GraphNode } from '../../src/snn/graph.js';
import { GraphError } from '../../src/snn/graph-error.js';
import { sequentialGraph } from '../../src/snn/random-graph.js';
import { tensor } from '../../src/snn/tensor.js';
import { validateGraph } from '../../src/snn/validate-graph.js';

const conv = (p: Partial<Extract<GraphNode, { op: 'Conv2d' }>['params']> = {}): GraphNode => ({
  id: 'conv', op: 'Conv2d',
  params: { weight: tensor([4, 2, 3, 3], new Array(72).fill(0.1)), stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, ...p },
});

function g(nodes: GraphNode[], edges: [string, string][]): Graph {
  return { nodes, edges };
}

const input: GraphNode = { id: 'in', op: 'Input', params: { shape: [2, 8, 8] } };
const output: GraphNode = { id: 'out', op: 'Output', params: {} };
const withMid = (mid: GraphNode): Graph => g([input, mid, output], [['in', mid.id], [mid.id, 'out']]);

/** The GraphError thrown by validating `graph`. */
function errorOf(graph: Graph): GraphError {
  try {
    validateGraph(graph);
  } catch (e) {
    if (e instanceof GraphError) return e;
    throw e;
  }
  throw new Error('graph was accepted');
}

describe('shape inference', () => {
  it('follows the PyTorch/NIR formulas through a N-MNIST-sized network', () => {
    const graph = sequentialGraph({
      input: [2, 34, 34], seed: 1,
      layers: [{ op: 'Conv2d', out: 16, kernel: 5, stride: 2 }, { op: 'IF' }, { op: 'Conv2d', out: 32, kernel: 3 }, { op: 'IF' }, { op: 'SumPool2d', kernel: 2 }, { op: 'Flatten' }, { op: 'Linear', out: 10 }, { op: 'IF' }],
    });
    const plan = validateGraph(graph);
    const shape = (id: string) => plan.outShapes[plan.ids.indexOf(id)];
    expect(shape('conv1')).toEqual([16, 15, 15]);
    expect(shape('conv2')).toEqual([32, 13, 13]);
    expect(shape('pool1')).toEqual([32, 6, 6]);
    expect(shape('flatten1')).toEqual([1152]);
    expect(shape('output')).toEqual([10]);
    expect(plan.ids[0]).toBe('input');
  });

  it('handles padding, dilation and partial Flatten', () => {
    let plan = validateGraph(withMid(conv({ padding: [1, 2], dilation: [2, 1], stride: [1, 3] })));
    expect(plan.outShapes[1]).toEqual([4, 6, 4]);
    plan = validateGraph(withMid({ id: 'f', op: 'Flatten', params: { start_dim: 1, end_dim: 2 } }));
    expect(plan.outShapes[1]).toEqual([2, 64]);
  });

  it('orders nodes topologically whatever the declaration order', () => {
    const n: GraphNode = { id: 'n', op: 'IF', params: { r: 1, v_threshold: 1 } };
    const plan = validateGraph(g([output, n, input], [['n', 'out'], ['in', 'n']]));
    expect(plan.ids).toEqual(['in', 'n', 'out']);
  });
});

describe('rejections name the node and field', () => {
  const cases: [string, Graph, string, string | undefined, string | undefined][] = [
    ['weight/input channel mismatch', withMid(conv({ weight: tensor([4, 3, 3, 3], new Array(108).fill(0)) })), 'SHAPE', 'conv', 'params.weight'],
    ['kernel larger than input', withMid(conv({ weight: tensor([1, 2, 9, 9], new Array(162).fill(0)) })), 'SHAPE', 'conv', 'params.weight'],
    ['zero stride', withMid(conv({ stride: [0, 1] })), 'BAD_PARAM', 'conv', 'params.stride'],
    ['groups not dividing', withMid(conv({ groups: 3 })), 'SHAPE', 'conv', 'params.groups'],
    ['bias length', withMid(conv({ bias: tensor([3], [0, 0, 0]) })), 'SHAPE', 'conv', 'params.bias'],
    ['non-finite weight', withMid(conv({ weight: tensor([4, 2, 3, 3], [...new Array(71).fill(0), NaN]) })), 'BAD_PARAM', 'conv', 'params.weight'],
    ['data/shape mismatch', withMid(conv({ weight: { shape: [4, 2, 3, 3], data: new Float32Array(5) } })), 'SHAPE', 'conv', 'params.weight'],
    ['mask length', withMid({ ...conv(), mask: new Uint8Array(3) } as GraphNode), 'SHAPE', 'conv', 'mask'],
    ['Linear on a rank-3 input', withMid({ id: 'fc', op: 'Linear', params: { weight: tensor([2, 128], new Array(256).fill(0)) } }), 'SHAPE', 'fc', 'params.weight'],
    ['multi-spike with threshold 0', withMid({ id: 'n', op: 'IF', params: { r: 1, v_threshold: 0, spike: 'multi' } }), 'BAD_PARAM', 'n', 'params.v_threshold'],
    ['negative tau', withMid({ id: 'n', op: 'LIF', params: { tau: -1, r: 1, v_leak: 0, dt: 1, v_threshold: 1 } }), 'BAD_PARAM', 'n', 'params.tau'],
    ['missing dt', withMid({ id: 'n', op: 'LI', params: { tau: 1, r: 1, v_leak: 0 } } as unknown as GraphNode), 'BAD_PARAM', 'n', 'params.dt'],
    ['per-neuron param of the wrong shape', withMid({ id: 'n', op: 'IF', params: { r: 1, v_threshold: tensor([3], [1, 1, 1]) } }), 'SHAPE', 'n', 'params.v_threshold'],
    ['unknown spike mode', withMid({ id: 'n', op: 'IF', params: { r: 1, v_threshold: 1, spike: 'many' } } as unknown as GraphNode), 'BAD_PARAM', 'n', 'params.spike'],
    ['flatten dims reversed', withMid({ id: 'f', op: 'Flatten', params: { start_dim: 2, end_dim: 1 } }), 'BAD_PARAM', 'f', 'params.end_dim'],
    ['unknown op', withMid({ id: 'x', op: 'Dropout', params: {} } as unknown as GraphNode), 'BAD_NODE', 'x', 'op'],
    ['CubaLIF (not yet)', withMid({ id: 'x', op: 'CubaLIF', params: {} } as unknown as GraphNode), 'UNSUPPORTED', 'x', 'op'],
    ['edge to an unknown node', g([input, output], [['in', 'out'], ['in', 'ghost']]), 'BAD_EDGE', undefined, 'edges[1]'],
    ['edge into Input', g([input, output], [['in', 'out'], ['out', 'in']]), 'BAD_EDGE', 'in', 'edges[1]'],
    ['node without input', g([input, { id: 'n', op: 'IF', params: { r: 1, v_threshold: 1 } }, output], [['in', 'out']]), 'BAD_EDGE', 'n', 'edges'],
    ['duplicate id', g([input, { ...input }, output], [['in', 'out']]), 'BAD_NODE', 'in', 'id'],
    ['__proto__ as id', g([input, { id: '__proto__', op: 'Scale', params: { scale: 1 } }, output], [['in', '__proto__'], ['__proto__', 'out']]), 'BAD_NODE', undefined, 'nodes[1].id'],
    ['no Output', g([input], []), 'BAD_NODE', undefined, 'op'],
    ['too large an input', g([{ id: 'in', op: 'Input', params: { shape: [2, 1 << 20, 1 << 20] } }, output], [['in', 'out']]), 'TOO_LARGE', 'in', 'params.shape'],
  ];
  it.each(cases)('%s', (_name, graph, code, node, field) => {
    const e = errorOf(graph);
    expect(e.code).toBe(code);
    expect(e.node).toBe(node);
    expect(e.field).toBe(field);
    if (node) expect(e.message).toContain(`"${node}"`);
  });

  it('rejects a cycle, naming the nodes on it', () => {
    const a: GraphNode = { id: 'a', op: 'IF', params: { r: 1, v_threshold: 1 } };
    const b: GraphNode = { id: 'b', op: 'IF', params: { r: 1, v_threshold: 1 } };
    const e = errorOf(g([input, a, b, output], [['in', 'a'], ['a', 'b'], ['b', 'a'], ['b', 'out']]));
    expect(e.code).toBe('CYCLE');
    expect(e.message).toMatch(/a, b/);
  });

  it('rejects summing inputs of different shapes', () => {
    const p1: GraphNode = { id: 'p1', op: 'SumPool2d', params: { kernel_size: [2, 2], stride: [2, 2], padding: [0, 0] } };
    const n: GraphNode = { id: 'n', op: 'IF', params: { r: 1, v_threshold: 1 } };
    const e = errorOf(g([input, p1, n, output], [['in', 'p1'], ['in', 'n'], ['p1', 'n'], ['n', 'out']]));
    expect([e.code, e.node]).toEqual(['SHAPE', 'n']);
  });
});
