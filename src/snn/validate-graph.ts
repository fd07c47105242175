/**
 * Graph validation and shape inference. Everything an engine relies on is checked here, once,
 * with an error naming the node and field: ids, ops, parameter types, values and shapes, edges,
 * acyclicity and size limits. Engines then trust the returned plan.
 */
import { windowOutSize } from './conv-geometry.js';
import type { Edge, Graph, GraphNode, NodeOp } from './graph.js';
import { NODE_OPS, RESERVED_OPS } from './graph.js';
import { GraphError } from './graph-error.js';
import { GRAPH_LIMITS, type GraphLimits } from './limits.js';
import { broadcastable, formatShape, isTensor, numel, type ParamValue, type Tensor } from './tensor.js';

/** A validated graph in topological order, with every node's input and output shape. */
export interface GraphPlan {
  readonly graph: Graph;
  /** Nodes in a topological order (ties broken by declaration order). */
  readonly nodes: readonly GraphNode[];
  readonly ids: readonly string[];
  /** Position in `nodes` of each node's predecessors, in the order of graph.edges. */
  readonly preds: readonly (readonly number[])[];
  /** Shape of each node's (summed) input; for Input its own shape. */
  readonly inShapes: readonly (readonly number[])[];
  readonly outShapes: readonly (readonly number[])[];
  readonly inputIndex: number;
  readonly outputIndex: number;
}

/** Ids: printable, no path or prototype tricks; they become JSON keys and tensor-name prefixes. */
const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
const FORBIDDEN_IDS = new Set(['__proto__', 'constructor', 'prototype']);

export function checkNodeId(id: unknown, limits: GraphLimits = GRAPH_LIMITS): string | undefined {
  if (typeof id !== 'string' || id.length === 0) return 'must be a non-empty string';
  if (id.length > limits.maxIdLength) return `is longer than ${limits.maxIdLength} characters`;
  if (!ID_PATTERN.test(id)) return `"${id}" may only contain letters, digits, _ . : - (and not start with . : -)`;
  if (FORBIDDEN_IDS.has(id)) return `"${id}" is reserved`;
  return undefined;
}

export function validateGraph(graph: Graph, limits: GraphLimits = GRAPH_LIMITS): GraphPlan {
  if (typeof graph !== 'object' || graph === null) throw new GraphError('BAD_NODE', undefined, undefined, 'graph must be an object');
  if (!Array.isArray(graph.nodes)) throw new GraphError('BAD_NODE', undefined, 'nodes', 'must be an array');
  if (!Array.isArray(graph.edges)) throw new GraphError('BAD_EDGE', undefined, 'edges', 'must be an array');
  if (graph.nodes.length > limits.maxNodes) throw new GraphError('TOO_LARGE', undefined, 'nodes', `${graph.nodes.length} nodes exceed the limit of ${limits.maxNodes}`);
  if (graph.edges.length > limits.maxEdges) throw new GraphError('TOO_LARGE', undefined, 'edges', `${graph.edges.length} edges exceed the limit of ${limits.maxEdges}`);

  const byId = new Map<string, number>();
  graph.nodes.forEach((n, i) => {
    if (typeof n !== 'object' || n === null) throw new GraphError('BAD_NODE', undefined, `nodes[${i}]`, 'must be an object');
    const bad = checkNodeId(n.id, limits);
    if (bad) throw new GraphError('BAD_NODE', undefined, `nodes[${i}].id`, bad);
    if (byId.has(n.id)) throw new GraphError('BAD_NODE', n.id, 'id', 'is used by more than one node');
    if (!(NODE_OPS as readonly string[]).includes(n.op)) {
      if (RESERVED_OPS.includes(n.op as string)) throw new GraphError('UNSUPPORTED', n.id, 'op', `${String(n.op)} nodes are not supported yet`);
      throw new GraphError('BAD_NODE', n.id, 'op', `unknown op "${String(n.op)}" (one of ${NODE_OPS.join(', ')})`);
    }
    if (typeof n.params !== 'object' || n.params === null) throw new GraphError('BAD_NODE', n.id, 'params', 'must be an object');
    byId.set(n.id, i);
  });

  const inputs = graph.nodes.filter((n) => n.op === 'Input');
  const outputs = graph.nodes.filter((n) => n.op === 'Output');
  if (inputs.length !== 1) throw new GraphError('BAD_NODE', inputs[1]?.id, 'op', `the graph needs exactly one Input node, has ${inputs.length}`);
  if (outputs.length !== 1) throw new GraphError('BAD_NODE', outputs[1]?.id, 'op', `the graph needs exactly one Output node, has ${outputs.length}`);

  // Edges: known ends, no self loops or duplicates, Input/Output direction.
  const nNodes = graph.nodes.length;
  const predsDecl: number[][] = graph.nodes.map(() => []);
  const succsDecl: number[][] = graph.nodes.map(() => []);
  const seen = new Set<string>();
  graph.edges.forEach((e: Edge, k) => {
    const field = `edges[${k}]`;
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'string') {
      throw new GraphError('BAD_EDGE', undefined, field, 'must be a pair [from, to] of node ids');
    }
    const [from, to] = e;
    const a = byId.get(from);
    const b = byId.get(to);
    if (a === undefined) throw new GraphError('BAD_EDGE', undefined, field, `unknown source node "${from}"`);
    if (b === undefined) throw new GraphError('BAD_EDGE', undefined, field, `unknown target node "${to}"`);
    if (a === b) throw new GraphError('CYCLE', from, field, 'edge from a node to itself (recurrence is not supported yet)');
    const key = `${a}\u0000${b}`;
    if (seen.has(key)) throw new GraphError('BAD_EDGE', to, field, `duplicate edge ${from} -> ${to}`);
    seen.add(key);
    if (graph.nodes[b].op === 'Input') throw new GraphError('BAD_EDGE', to, field, 'the Input node cannot have incoming edges');
    if (graph.nodes[a].op === 'Output') throw new GraphError('BAD_EDGE', from, field, 'the Output node cannot have outgoing edges');
    predsDecl[b].push(a);
    succsDecl[a].push(b);
  });
  graph.nodes.forEach((n, i) => {
    if (n.op !== 'Input' && predsDecl[i].length === 0) throw new GraphError('BAD_EDGE', n.id, 'edges', 'node has no incoming edge');
  });

  // Kahn's algorithm, smallest declaration index first, so the order is deterministic.
  const indeg = predsDecl.map((p) => p.length);
  const ready: number[] = [];
  for (let i = 0; i < nNodes; i++) if (indeg[i] === 0) ready.push(i);
  const order: number[] = [];
  while (ready.length > 0) {
    ready.sort((x, y) => x - y);
    const i = ready.shift() as number;
    order.push(i);
    for (const j of succsDecl[i]) if (--indeg[j] === 0) ready.push(j);
  }
  if (order.length !== nNodes) {
    const stuck = graph.nodes.filter((_, i) => indeg[i] > 0).map((n) => n.id);
    throw new GraphError('CYCLE', stuck[0], 'edges', `the graph has a cycle through ${stuck.join(', ')} (recurrence is not supported yet)`);
  }
  const pos = new Array<number>(nNodes);
  order.forEach((i, p) => (pos[i] = p));

  const nodes = order.map((i) => graph.nodes[i]);
  const preds = order.map((i) => predsDecl[i].map((a) => pos[a]));
  const inShapes: number[][] = [];
  const outShapes: number[][] = [];
  let total = 0;
  for (let p = 0; p < nodes.length; p++) {
    const n = nodes[p];
    let inShape: number[];
    if (n.op === 'Input') {
      inShape = checkShape(n, 'params.shape', n.params.shape, limits);
    } else {
      inShape = outShapes[preds[p][0]];
      for (const q of preds[p].slice(1)) {
        if (!sameDims(outShapes[q], inShape)) {
          throw new GraphError('SHAPE', n.id, 'edges', `inputs to be summed have different shapes: ${nodes[preds[p][0]].id} gives ${formatShape(inShape)}, ${nodes[q].id} gives ${formatShape(outShapes[q])}`);
        }
      }
    }
    const out = inferNode(n, inShape, limits);
    const size = numel(out);
    if (size > limits.maxNodeElements) throw new GraphError('TOO_LARGE', n.id, 'shape', `output ${formatShape(out)} has ${size} elements, more than the limit of ${limits.maxNodeElements}`);
    total += size;
    if (total > limits.maxTotalElements) throw new GraphError('TOO_LARGE', n.id, 'shape', `the graph's nodes hold more than ${limits.maxTotalElements} elements together`);
    inShapes.push(inShape);
    outShapes.push(out);
  }
  return {
    graph,
    nodes,
    ids: nodes.map((n) => n.id),
    preds,
    inShapes,
    outShapes,
    inputIndex: nodes.findIndex((n) => n.op === 'Input'),
    outputIndex: nodes.findIndex((n) => n.op === 'Output'),
  };
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkShape(n: GraphNode, field: string, shape: unknown, limits: GraphLimits): number[] {
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > limits.maxRank) {
    throw new GraphError('BAD_PARAM', n.id, field, `must be an array of 1 to ${limits.maxRank} positive integers`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1 || d > limits.maxDim) throw new GraphError('BAD_PARAM', n.id, field, `${formatShape(shape)} must hold integers in 1..${limits.maxDim}`);
  }
  if (numel(shape) > limits.maxNodeElements) throw new GraphError('TOO_LARGE', n.id, field, `${formatShape(shape)} has more than ${limits.maxNodeElements} elements`);
  return [...shape];
}

function checkInt(n: GraphNode, field: string, v: unknown, min: number, max: number): number {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    throw new GraphError('BAD_PARAM', n.id, field, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

function checkPair(n: GraphNode, field: string, v: unknown, min: number, limits: GraphLimits): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) throw new GraphError('BAD_PARAM', n.id, field, `must be a pair of integers >= ${min}, got ${JSON.stringify(v)}`);
  return [checkInt(n, field, v[0], min, limits.maxDim), checkInt(n, field, v[1], min, limits.maxDim)];
}

function checkTensor(n: GraphNode, field: string, t: unknown, rank: number | undefined): Tensor {
  if (!isTensor(t)) throw new GraphError('BAD_PARAM', n.id, field, 'must be a float32 tensor { shape, data }');
  if (rank !== undefined && t.shape.length !== rank) throw new GraphError('SHAPE', n.id, field, `must have rank ${rank}, has shape ${formatShape(t.shape)}`);
  for (const d of t.shape) if (!Number.isInteger(d) || d < 0) throw new GraphError('BAD_PARAM', n.id, field, `shape ${formatShape(t.shape)} must hold non-negative integers`);
  if (t.data.length !== numel(t.shape)) throw new GraphError('SHAPE', n.id, field, `shape ${formatShape(t.shape)} needs ${numel(t.shape)} values, data has ${t.data.length}`);
  checkFinite(n, field, t.data);
  return t;
}

function checkFinite(n: GraphNode, field: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new GraphError('BAD_PARAM', n.id, field, `value ${data[i]} at index ${i} is not finite`);
  }
}

/** A neuron or elementwise parameter: a finite number or a tensor broadcastable to `shape`. */
function checkParam(n: GraphNode, field: string, v: unknown, shape: readonly number[], pred?: (x: number) => boolean, what?: string): ParamValue {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new GraphError('BAD_PARAM', n.id, field, `must be finite, got ${v}`);
    if (pred && !pred(v)) throw new GraphError('BAD_PARAM', n.id, field, `must be ${what}, got ${v}`);
    return v;
  }
  const t = checkTensor(n, field, v, undefined);
  if (!broadcastable(t.shape, shape)) throw new GraphError('SHAPE', n.id, field, `shape ${formatShape(t.shape)} does not broadcast to the node's shape ${formatShape(shape)}`);
  if (pred) {
    for (let i = 0; i < t.data.length; i++) {
      if (!pred(t.data[i])) throw new GraphError('BAD_PARAM', n.id, field, `must be ${what}, got ${t.data[i]} at index ${i}`);
    }
  }
  return t;
}

function checkOptionalParam(n: GraphNode, field: string, v: unknown, shape: readonly number[], pred?: (x: number) => boolean, what?: string): void {
  if (v !== undefined) checkParam(n, field, v, shape, pred, what);
}

function checkEnum(n: GraphNode, field: string, v: unknown, allowed: readonly string[]): void {
  if (v !== undefined && !allowed.includes(v as string)) throw new GraphError('BAD_PARAM', n.id, field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
}

function checkMask(n: GraphNode, weight: Tensor, mask: unknown): void {
  if (mask === undefined) return;
  if (!(mask instanceof Uint8Array)) throw new GraphError('BAD_PARAM', n.id, 'mask', 'must be a Uint8Array of 0/1, one per weight');
  if (mask.length !== weight.data.length) throw new GraphError('SHAPE', n.id, 'mask', `has ${mask.length} entries, weight ${formatShape(weight.shape)} has ${weight.data.length}`);
  for (let i = 0; i < mask.length; i++) if (mask[i] > 1) throw new GraphError('BAD_PARAM', n.id, 'mask', `entry ${i} is ${mask[i]}, must be 0 or 1`);
}

const positive = (x: number) => x > 0;
const nonNegative = (x: number) => x >= 0;

function expectRank(n: GraphNode, inShape: readonly number[], rank: number, what: string): void {
  if (inShape.length !== rank) throw new GraphError('SHAPE', n.id, 'input', `${n.op} expects a ${what} input, gets ${formatShape(inShape)}`);
}

/** Checks one node's parameters against its input shape and returns its output shape. */
function inferNode(n: GraphNode, inShape: readonly number[], limits: GraphLimits): number[] {
  const op: NodeOp = n.op;
  switch (n.op) {
    case 'Input':
      return [...inShape];
    case 'Output':
      checkEnum(n, 'params.readout', n.params.readout, ['sum', 'last', 'max']);
      return [...inShape];
    case 'Conv2d': {
      const p = n.params;
      expectRank(n, inShape, 3, '[C, H, W]');
      const w = checkTensor(n, 'params.weight', p.weight, 4);
      const [cout, cinG, kh, kw] = w.shape;
      if (cout < 1 || cinG < 1 || kh < 1 || kw < 1) throw new GraphError('SHAPE', n.id, 'params.weight', `shape ${formatShape(w.shape)} has an empty dimension`);
      const groups = checkInt(n, 'params.groups', p.groups, 1, limits.maxDim);
      const stride = checkPair(n, 'params.stride', p.stride, 1, limits);
      const padding = checkPair(n, 'params.padding', p.padding, 0, limits);
      const dilation = checkPair(n, 'params.dilation', p.dilation, 1, limits);
      if (cout % groups !== 0) throw new GraphError('SHAPE', n.id, 'params.groups', `${groups} groups do not divide ${cout} output channels`);
      if (cinG * groups !== inShape[0]) {
        throw new GraphError('SHAPE', n.id, 'params.weight', `shape ${formatShape(w.shape)} with ${groups} group(s) expects ${cinG * groups} input channels, input is ${formatShape(inShape)}`);
      }
      if (p.bias !== undefined) {
        const b = checkTensor(n, 'params.bias', p.bias, undefined);
        if (b.data.length !== cout) throw new GraphError('SHAPE', n.id, 'params.bias', `shape ${formatShape(b.shape)} must hold ${cout} values (one per output channel)`);
      }
      checkMask(n, w, (n as { mask?: unknown }).mask);
      const ho = windowOutSize(inShape[1], kh, stride[0], padding[0], dilation[0]);
      const wo = windowOutSize(inShape[2], kw, stride[1], padding[1], dilation[1]);
      if (ho < 1 || wo < 1) throw new GraphError('SHAPE', n.id, 'params.weight', `kernel ${kh}x${kw} (dilation ${dilation}, padding ${padding}) does not fit the input ${formatShape(inShape)}`);
      return [cout, ho, wo];
    }
    case 'Linear':
    case 'Affine': {
      const p = n.params;
      const w = checkTensor(n, 'params.weight', p.weight, 2);
      const [out, inp] = w.shape;
      if (out < 1 || inp < 1) throw new GraphError('SHAPE', n.id, 'params.weight', `shape ${formatShape(w.shape)} has an empty dimension`);
      if (inShape.length !== 1 || inShape[0] !== inp) {
        throw new GraphError('SHAPE', n.id, 'params.weight', `shape ${formatShape(w.shape)} expects a rank-1 input [${inp}], input is ${formatShape(inShape)}${inShape.length > 1 ? ' (add a Flatten node)' : ''}`);
      }
      if (n.op === 'Affine') {
        const b = checkTensor(n, 'params.bias', n.params.bias, undefined);
        if (b.data.length !== out) throw new GraphError('SHAPE', n.id, 'params.bias', `shape ${formatShape(b.shape)} must hold ${out} values`);
      }
      checkMask(n, w, (n as { mask?: unknown }).mask);
      return [out];
    }
    case 'SumPool2d':
    case 'AvgPool2d': {
      expectRank(n, inShape, 3, '[C, H, W]');
      const k = checkPair(n, 'params.kernel_size', n.params.kernel_size, 1, limits);
      const s = checkPair(n, 'params.stride', n.params.stride, 1, limits);
      const pad = checkPair(n, 'params.padding', n.params.padding, 0, limits);
      const ho = windowOutSize(inShape[1], k[0], s[0], pad[0]);
      const wo = windowOutSize(inShape[2], k[1], s[1], pad[1]);
      if (ho < 1 || wo < 1) throw new GraphError('SHAPE', n.id, 'params.kernel_size', `window ${k[0]}x${k[1]} (padding ${pad}) does not fit the input ${formatShape(inShape)}`);
      return [inShape[0], ho, wo];
    }
    case 'Flatten': {
      const r = inShape.length;
      const s0 = checkInt(n, 'params.start_dim', n.params.start_dim, -r, r - 1);
      const e0 = checkInt(n, 'params.end_dim', n.params.end_dim, -r, r - 1);
      const s = s0 < 0 ? s0 + r : s0;
      const e = e0 < 0 ? e0 + r : e0;
      if (s > e) throw new GraphError('BAD_PARAM', n.id, 'params.end_dim', `end_dim ${e0} comes before start_dim ${s0} for input ${formatShape(inShape)}`);
      return [...inShape.slice(0, s), numel(inShape.slice(s, e + 1)), ...inShape.slice(e + 1)];
    }
    case 'Scale':
      checkParam(n, 'params.scale', n.params.scale, inShape);
      return [...inShape];
    case 'Threshold':
      checkParam(n, 'params.threshold', n.params.threshold, inShape);
      return [...inShape];
    case 'IF': {
      const p = n.params;
      checkEnum(n, 'params.spike', p.spike, ['single', 'multi']);
      checkEnum(n, 'params.reset', p.reset, ['zero', 'subtract']);
      checkParam(n, 'params.r', p.r, inShape);
      checkThreshold(n, p.v_threshold, p.spike, inShape);
      checkOptionalParam(n, 'params.v_reset', p.v_reset, inShape);
      checkOptionalParam(n, 'params.vMin', p.vMin, inShape);
      return [...inShape];
    }
    case 'LIF':
    case 'LI': {
      const p = n.params;
      checkParam(n, 'params.tau', p.tau, inShape, positive, '> 0');
      checkParam(n, 'params.r', p.r, inShape);
      checkParam(n, 'params.v_leak', p.v_leak, inShape);
      if (typeof p.dt !== 'number' || !Number.isFinite(p.dt) || p.dt <= 0) throw new GraphError('BAD_PARAM', n.id, 'params.dt', `must be a finite number > 0, got ${JSON.stringify(p.dt)}`);
      checkOptionalParam(n, 'params.beta', p.beta, inShape, nonNegative, '>= 0');
      if (n.op === 'LIF') {
        const q = n.params;
        checkEnum(n, 'params.spike', q.spike, ['single', 'multi']);
        checkEnum(n, 'params.reset', q.reset, ['zero', 'subtract']);
        checkThreshold(n, q.v_threshold, q.spike, inShape);
        checkOptionalParam(n, 'params.v_reset', q.v_reset, inShape);
        checkOptionalParam(n, 'params.vMin', q.vMin, inShape);
      }
      return [...inShape];
    }
    default:
      throw new GraphError('BAD_NODE', (n as GraphNode).id, 'op', `unhandled op ${op}`);
  }
}

function checkThreshold(n: GraphNode, v: unknown, spike: unknown, shape: readonly number[]): void {
  // floor(v / threshold) only counts spikes for a positive threshold.
  if (spike === 'multi') checkParam(n, 'params.v_threshold', v, shape, positive, '> 0 for multi-spike neurons');
  else checkParam(n, 'params.v_threshold', v, shape);
}
