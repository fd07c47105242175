/**
 * NIR document -> graph IR. Node names become node ids (so spike counts per node are reported under
 * the NIR names), neuron nodes are mapped under a preset (presets.ts, map-neuron.ts), the rest
 * one to one:
 *   Input(shape) -> Input; Output(shape, checked) -> Output (readout 'sum');
 *   Affine / Linear / Conv2d (padding ints, or 'valid' = 0, or 'same' for stride 1 with an odd
 *   padded extent) / SumPool2d / AvgPool2d / Flatten / Scale / Threshold -> the same op;
 *   Delay with all delays 0 -> Scale 1 (identity);
 *   CubaLIF / CubaLI -> "<name>.syn" (LI) -> "<name>" (LIF / LI);
 *   NIRGraph subgraphs are flattened (flatten-nir.ts);
 *   Conv1d, I, non-zero Delay, recurrent edges -> UNSUPPORTED errors naming the node.
 * Declared shapes (Conv2d input_shape, Flatten input_type, Output shape) are checked against the
 * shapes inferred from the Input, and the finished graph goes through validateGraph; every error is
 * a NirError naming the NIR node and field.
 *
 * A file spikestream wrote (graph metadata `spikestream`) is restored exactly when no preset is
 * asked for (spikestream-meta.ts).
 */
import { windowOutSize } from '../../snn/conv-geometry.js';
import type { Edge, Graph, GraphNode } from '../../snn/graph.js';
import { GraphError } from '../../snn/graph-error.js';
import { GRAPH_LIMITS } from '../../snn/limits.js';
import { numel } from '../../snn/tensor.js';
import { checkNodeId, validateGraph } from '../../snn/validate-graph.js';
import type { PlainValue } from '../model.js';
import { flattenNir, type FlatEdge, type FlatNode } from './flatten-nir.js';
import type { NirDocument, NirNode } from './nir-document.js';
import { NirError, type NirErrorCode } from './nir-error.js';
import { resolveNirLimits, type NirLimits } from './nir-limits.js';
import { floatTensor, hasField, intArray, intPair, intScalar, optionalIntArray, shapeList, stringValue } from './nir-params.js';
import { applyOverrides, isNeuronType, mapNeuron } from './map-neuron.js';
import { PRESET_SPECS, type NeuronOverrides, type NirPreset } from './presets.js';
import { readGraphMeta, restoreIrNode } from './spikestream-meta.js';

/** Every node type NIR defines (nir 1.0). */
export const NIR_NODE_TYPES: readonly string[] = [
  'Input', 'Output', 'Affine', 'Linear', 'Conv1d', 'Conv2d', 'SumPool2d', 'AvgPool2d', 'Flatten', 'Scale', 'Threshold',
  'IF', 'LIF', 'LI', 'CubaLIF', 'CubaLI', 'I', 'Delay', 'NIRGraph',
];

export type ImportMode = NirPreset | 'spikestream';

export interface NirImportOptions extends NeuronOverrides {
  /** Whose semantics to run; default: exact restore for files spikestream wrote, else 'nir'. */
  readonly as?: NirPreset;
  readonly limits?: Partial<NirLimits>;
  /** Notes kept in the provenance (the rest are counted). Default 50. */
  readonly maxNotes?: number;
}

export interface NirImportResult {
  readonly graph: Graph;
  readonly mode: ImportMode;
  /** dt applied to neurons mapped by a preset (undefined when every node was restored exactly). */
  readonly dt: number | undefined;
  readonly nirVersion: string | undefined;
  readonly notes: readonly string[];
  /** What the import assumed, for the model's provenance (JSON-like). */
  readonly provenance: { readonly [key: string]: PlainValue };
  /** Model-level facts a spikestream-written file carries (name, labels, input...). */
  readonly extras: { readonly [key: string]: PlainValue } | undefined;
  /** IR node id -> NIR node path, for every IR node (Cuba synapses map to their NIR node). */
  readonly nirNames: Readonly<Record<string, string>>;
}

interface Mapped {
  readonly nodes: GraphNode[];
  /** IR node receiving the NIR node's inputs / emitting its output. */
  readonly inId: string;
  readonly outId: string;
}

export function importNir(doc: NirDocument, options: NirImportOptions = {}): NirImportResult {
  const limits = resolveNirLimits(options.limits);
  const graphMeta = readGraphMeta(doc.graph);
  const mode: ImportMode = options.as ?? (graphMeta ? 'spikestream' : 'nir');
  const preset: NirPreset = mode === 'spikestream' ? 'nir' : mode;
  if (options.dt !== undefined && !(Number.isFinite(options.dt) && options.dt > 0)) throw new NirError('BAD_VALUE', undefined, 'dt', `--dt must be a finite number > 0, got ${options.dt}`);
  if (options.vMin !== undefined && typeof options.vMin === 'number' && !Number.isFinite(options.vMin)) throw new NirError('BAD_VALUE', undefined, 'vMin', `--v-min must be finite, got ${options.vMin}`);
  const dt = options.dt ?? PRESET_SPECS[preset].dt;
  const notes: string[] = [];
  if (mode === 'spikestream' && options.dt !== undefined) notes.push('--dt applies only to nodes mapped by a preset, not to nodes restored exactly (import with --as to re-map every node)');

  const flat = flattenNir(doc.graph, limits);
  for (const { path, node } of flat.nodes) {
    if (!NIR_NODE_TYPES.includes(node.type)) throw new NirError('UNKNOWN_TYPE', path, 'type', `unknown NIR node type "${node.type}" (NIR defines ${NIR_NODE_TYPES.join(', ')})`);
    if (node.type === 'Conv1d' || node.type === 'I') {
      throw new NirError('UNSUPPORTED', path, 'type', `${node.type} nodes are not supported by spikestream yet`);
    }
  }
  const inputs = flat.nodes.filter((n) => n.node.type === 'Input');
  const outputs = flat.nodes.filter((n) => n.node.type === 'Output');
  if (inputs.length !== 1) throw new NirError('UNSUPPORTED', inputs[1]?.path, undefined, `the graph has ${inputs.length} Input nodes${inputs.length ? ` (${inputs.map((n) => n.path).join(', ')})` : ''}; spikestream models have exactly one`);
  if (outputs.length !== 1) throw new NirError('UNSUPPORTED', outputs[1]?.path, undefined, `the graph has ${outputs.length} Output nodes${outputs.length ? ` (${outputs.map((n) => n.path).join(', ')})` : ''}; spikestream models have exactly one`);

  const edges = dedupeEdges(flat.edges, notes);
  const order = topologicalOrder(flat.nodes, edges);
  const ids = assignIds(flat.nodes);
  const usedIds = new Set(ids.values());
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  for (const e of edges) {
    if (!preds.has(e.to)) preds.set(e.to, []);
    if (!succs.has(e.from)) succs.set(e.from, []);
    (preds.get(e.to) as string[]).push(e.from);
    (succs.get(e.from) as string[]).push(e.to);
  }

  for (const { path, node } of flat.nodes) {
    if (node.type !== 'Input' && !preds.has(path)) throw new NirError('BAD_EDGE', path, 'edges', 'node has no incoming edge');
  }

  const mapped = new Map<string, Mapped>();
  const outShapes = new Map<string, number[]>();
  const nirNames: Record<string, string> = {};
  const split: Record<string, PlainValue> = {};
  let restored = 0;
  const byPath = new Map(flat.nodes.map((n) => [n.path, n]));
  for (const path of order) {
    const { node } = byPath.get(path) as FlatNode;
    const id = ids.get(path) as string;
    const firstPred = preds.get(path)?.[0];
    const inShape = firstPred !== undefined ? outShapes.get(firstPred) : undefined;
    let m: Mapped | undefined;
    if (mode === 'spikestream') {
      const r = restoreIrNode(node, id, inShape);
      if (r) {
        applyOverrides(r, options);
        m = { nodes: [r], inId: id, outId: id };
        restored++;
      } else notes.push(`node "${path}": no usable spikestream metadata (edited after export?); mapped with --as nir`);
    }
    if (!m) {
      const ctx: NodeCtx = { path, node, id, inShape, succ: succs.get(path) ?? [], byPath, notes };
      if (isNeuronType(node.type)) {
        if (!inShape) throw new NirError('BAD_EDGE', path, 'edges', 'node has no incoming edge');
        let synId = `${id}.syn`;
        for (let k = 2; usedIds.has(synId); k++) synId = `${id}.syn${k}`;
        const r = mapNeuron(node, id, synId, inShape, preset, dt, options);
        notes.push(...r.notes);
        if (r.nodes.length === 2) {
          usedIds.add(synId);
          split[path] = [synId, id];
        }
        m = { nodes: r.nodes, inId: r.nodes[0].id, outId: id };
      } else {
        const n = mapPlainNode(ctx);
        m = { nodes: [n], inId: id, outId: id };
      }
    }
    mapped.set(path, m);
    for (const n of m.nodes) nirNames[n.id] = path;
    let shape = inShape;
    for (const n of m.nodes) shape = outShapeOf(n, shape);
    if (!shape) throw shapeFailure(mapped, edges, path, nirNames, mode);
    outShapes.set(path, shape);
  }

  // Nodes in a stable order: the exporter's order for spikestream files, else topological.
  let nodeOrder = order.flatMap((p) => (mapped.get(p) as Mapped).nodes);
  if (mode === 'spikestream' && graphMeta?.nodeOrder) {
    const byId = new Map(nodeOrder.map((n) => [n.id, n]));
    if (graphMeta.nodeOrder.length === byId.size && graphMeta.nodeOrder.every((x) => byId.has(x))) nodeOrder = graphMeta.nodeOrder.map((x) => byId.get(x) as GraphNode);
  }
  const irEdges: Edge[] = [];
  for (const p of order) {
    const m = mapped.get(p) as Mapped;
    for (let i = 1; i < m.nodes.length; i++) irEdges.push([m.nodes[i - 1].id, m.nodes[i].id]);
  }
  for (const e of edges) irEdges.push([(mapped.get(e.from) as Mapped).outId, (mapped.get(e.to) as Mapped).inId]);
  const graph: Graph = { nodes: nodeOrder, edges: irEdges };
  try {
    validateGraph(graph);
  } catch (e) {
    if (e instanceof GraphError) throw fromGraphError(e, nirNames, mode);
    throw e;
  }

  const maxNotes = options.maxNotes ?? 50;
  const kept = notes.length > maxNotes ? [...notes.slice(0, maxNotes), `... and ${notes.length - maxNotes} more notes`] : notes;
  const usedTypes = [...new Set(flat.nodes.map((n) => n.node.type))].filter(isNeuronType);
  const presetMapped = mode !== 'spikestream' || restored < flat.nodes.length;
  const renamed = Object.fromEntries(Object.entries(nirNames).filter(([irId, p]) => irId !== p && !Object.values(split).some((s) => (s as string[]).includes(irId))));
  const provenance: { [key: string]: PlainValue } = {
    format: 'nir',
    nirVersion: doc.version ?? null,
    preset: mode,
    source: mode === 'spikestream' ? 'a NIR file written by spikestream: IR nodes restored exactly from their metadata' : PRESET_SPECS[preset].source,
    ...(presetMapped ? { dt, dtUnit: PRESET_SPECS[preset].dtUnit } : {}),
    ...(presetMapped && usedTypes.length > 0 ? { mapping: Object.fromEntries(usedTypes.map((t) => [t, PRESET_SPECS[preset].mapping[t]])) } : {}),
    ...(overridesOf(options) ? { overrides: overridesOf(options) as PlainValue } : {}),
    ...(Object.keys(split).length > 0 ? { split } : {}),
    ...(Object.keys(renamed).length > 0 ? { renamed } : {}),
    ...(mode === 'spikestream' ? { restoredNodes: restored } : {}),
    notes: kept,
  };
  return {
    graph, mode, dt: presetMapped ? dt : undefined, nirVersion: doc.version, notes: kept, provenance,
    extras: mode === 'spikestream' ? graphMeta?.model : undefined, nirNames,
  };
}

function overridesOf(o: NirImportOptions): { [key: string]: PlainValue } | undefined {
  const r: { [key: string]: PlainValue } = {};
  if (o.dt !== undefined) r.dt = o.dt;
  if (o.spike !== undefined) r.spike = o.spike;
  if (o.reset !== undefined) r.reset = o.reset;
  if (o.vMin !== undefined) r.vMin = o.vMin;
  return Object.keys(r).length > 0 ? r : undefined;
}

function dedupeEdges(edges: readonly FlatEdge[], notes: string[]): FlatEdge[] {
  const seen = new Set<string>();
  const out: FlatEdge[] = [];
  for (const e of edges) {
    const key = `${e.from}\u0000${e.to}`;
    if (seen.has(key)) {
      notes.push(`${e.field}: duplicate edge "${e.from}" -> "${e.to}" dropped`);
      continue;
    }
    seen.add(key);
    out.push(e);
  }
  return out;
}

/** Natural order ("2" before "10") so numbered layers come out in layer order. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) return Number(x) - Number(y) || x.length - y.length;
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** Kahn's algorithm with natural-name tie breaks; a cycle is an UNSUPPORTED error naming it. */
function topologicalOrder(nodes: readonly FlatNode[], edges: readonly FlatEdge[]): string[] {
  const indeg = new Map(nodes.map((n) => [n.path, 0]));
  const succ = new Map<string, string[]>(nodes.map((n) => [n.path, []]));
  for (const e of edges) {
    indeg.set(e.to, (indeg.get(e.to) as number) + 1);
    (succ.get(e.from) as string[]).push(e.to);
  }
  const ready = nodes.filter((n) => indeg.get(n.path) === 0).map((n) => n.path);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort(naturalCompare);
    const p = ready.shift() as string;
    order.push(p);
    for (const q of succ.get(p) as string[]) {
      const d = (indeg.get(q) as number) - 1;
      indeg.set(q, d);
      if (d === 0) ready.push(q);
    }
  }
  if (order.length === nodes.length) return order;
  const cycle = findCycle(nodes.filter((n) => (indeg.get(n.path) as number) > 0).map((n) => n.path), succ);
  const from = cycle[cycle.length - 1];
  const edge = edges.find((e) => e.from === from && e.to === cycle[0]) as FlatEdge;
  throw new NirError('UNSUPPORTED', from, edge.graph ? `${edge.graph}.${edge.field}` : edge.field,
    `edge "${from}" -> "${cycle[0]}" closes the cycle ${[...cycle, cycle[0]].map((p) => `"${p}"`).join(' -> ')}: recurrent graphs are not supported (spikestream's graph IR is feed-forward)`);
}

function findCycle(stuck: readonly string[], succ: ReadonlyMap<string, readonly string[]>): string[] {
  // Nodes Kahn's algorithm could not order lie on a cycle or downstream of one. Peel off those
  // with no successor left in the set: every remaining node then has one, so a walk repeats.
  const left = new Set(stuck);
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of left) {
      if (!(succ.get(p) ?? []).some((q) => left.has(q))) {
        left.delete(p);
        changed = true;
      }
    }
  }
  const seenAt = new Map<string, number>();
  const path: string[] = [];
  let cur = [...left].sort(naturalCompare)[0];
  while (!seenAt.has(cur)) {
    seenAt.set(cur, path.length);
    path.push(cur);
    cur = (succ.get(cur) ?? []).filter((q) => left.has(q)).sort(naturalCompare)[0];
  }
  return path.slice(seenAt.get(cur));
}

/** IR ids: the NIR path when it is a valid id, else a sanitised unique variant. */
function assignIds(nodes: readonly FlatNode[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const { path } of nodes) if (checkNodeId(path) === undefined) used.add(path);
  for (const { path } of nodes) {
    if (checkNodeId(path) === undefined) {
      out.set(path, path);
      continue;
    }
    let base = path.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, GRAPH_LIMITS.maxIdLength - 8);
    if (!/^[A-Za-z0-9_]/.test(base)) base = `_${base}`;
    if (checkNodeId(base) !== undefined) base = `node_${base}`;
    let id = base;
    for (let k = 2; used.has(id); k++) id = `${base}_${k}`;
    used.add(id);
    out.set(path, id);
  }
  return out;
}

interface NodeCtx {
  readonly path: string;
  readonly node: NirNode;
  readonly id: string;
  readonly inShape: readonly number[] | undefined;
  readonly succ: readonly string[];
  readonly byPath: ReadonlyMap<string, FlatNode>;
  readonly notes: string[];
}

const MAX_DIM = GRAPH_LIMITS.maxDim;

function fmt(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

function mapPlainNode(c: NodeCtx): GraphNode {
  const { node, id, path } = c;
  switch (node.type) {
    case 'Input':
      return { id, op: 'Input', params: { shape: shapeList(node, 'shape', MAX_DIM) } };
    case 'Output': {
      if (hasField(node, 'shape') && c.inShape) {
        const declared = intArray(node, 'shape').values;
        if (declared.length !== c.inShape.length || declared.some((d, i) => d !== c.inShape?.[i])) {
          throw new NirError('SHAPE', path, 'shape', `is ${fmt(declared)}, but the node receives ${fmt(c.inShape)}`);
        }
      } else if (!hasField(node, 'shape')) throw new NirError('MISSING', path, 'shape', 'is missing (an Output node needs it)');
      return { id, op: 'Output', params: { readout: 'sum' } };
    }
    case 'Affine':
    case 'Linear': {
      const weight = floatTensor(node, 'weight');
      if (weight.shape.length !== 2) throw new NirError('SHAPE', path, 'weight', `must be [out, in], has shape ${fmt(weight.shape)}`);
      if (node.type === 'Linear') return { id, op: 'Linear', params: { weight } };
      const bias = floatTensor(node, 'bias');
      if (numel(bias.shape) !== weight.shape[0]) throw new NirError('SHAPE', path, 'bias', `has shape ${fmt(bias.shape)}, the weight ${fmt(weight.shape)} needs ${weight.shape[0]} values`);
      return { id, op: 'Affine', params: { weight, bias } };
    }
    case 'Conv2d':
      return mapConv(c);
    case 'SumPool2d':
    case 'AvgPool2d':
      return {
        id, op: node.type,
        params: { kernel_size: intPair(node, 'kernel_size', 1, MAX_DIM), stride: intPair(node, 'stride', 1, MAX_DIM), padding: intPair(node, 'padding', 0, MAX_DIM) },
      };
    case 'Flatten':
      return mapFlatten(c);
    case 'Scale':
      return { id, op: 'Scale', params: { scale: floatTensor(node, 'scale') } };
    case 'Threshold':
      return { id, op: 'Threshold', params: { threshold: floatTensor(node, 'threshold') } };
    case 'Delay': {
      const d = floatTensor(node, 'delay');
      if (d.data.some((v) => v !== 0)) throw new NirError('UNSUPPORTED', path, 'delay', 'non-zero delays are not supported by spikestream yet');
      c.notes.push(`node "${path}": Delay with all delays 0 mapped to Scale 1 (identity)`);
      return { id, op: 'Scale', params: { scale: 1 } };
    }
    default:
      throw new NirError('UNSUPPORTED', path, 'type', `${node.type} nodes are not supported by spikestream yet`);
  }
}

function mapConv(c: NodeCtx): GraphNode {
  const { node, id, path } = c;
  const weight = floatTensor(node, 'weight');
  if (weight.shape.length !== 4) throw new NirError('SHAPE', path, 'weight', `must be [C_out, C_in/groups, kh, kw], has shape ${fmt(weight.shape)}`);
  const bias = floatTensor(node, 'bias');
  if (numel(bias.shape) !== weight.shape[0]) throw new NirError('SHAPE', path, 'bias', `has shape ${fmt(bias.shape)}, the weight ${fmt(weight.shape)} needs ${weight.shape[0]} values`);
  const stride = intPair(node, 'stride', 1, MAX_DIM);
  const dilation = intPair(node, 'dilation', 1, MAX_DIM);
  const groups = intScalar(node, 'groups', 1, MAX_DIM);
  let padding: [number, number];
  const word = stringValue(node, 'padding');
  if (word === undefined) padding = intPair(node, 'padding', 0, MAX_DIM);
  else if (word === 'valid') padding = [0, 0];
  else if (word === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1) throw new NirError('BAD_VALUE', path, 'padding', `'same' needs stride 1 (as in PyTorch), stride is ${fmt(stride)}`);
    const total = [dilation[0] * (weight.shape[2] - 1), dilation[1] * (weight.shape[3] - 1)];
    if (total[0] % 2 !== 0 || total[1] % 2 !== 0) {
      throw new NirError('UNSUPPORTED', path, 'padding', `'same' with kernel ${weight.shape[2]}x${weight.shape[3]} pads unevenly (PyTorch adds the extra row/column at the end); spikestream pads symmetrically`);
    }
    padding = [total[0] / 2, total[1] / 2];
  } else throw new NirError('BAD_VALUE', path, 'padding', `must be integers, 'same' or 'valid', got "${word}"`);
  const declared = optionalIntArray(node, 'input_shape');
  if (declared && c.inShape && c.inShape.length === 3) {
    const hw = c.inShape.slice(1);
    if (declared.values.length !== 2 || declared.values[0] !== hw[0] || declared.values[1] !== hw[1]) {
      throw new NirError('SHAPE', path, 'input_shape', `is ${fmt(declared.values)}, but the node receives ${fmt(c.inShape)} (height, width ${fmt(hw)})`);
    }
  }
  return { id, op: 'Conv2d', params: { weight, bias, stride, padding, dilation, groups } };
}

function mapFlatten(c: NodeCtx): GraphNode {
  const { node, id, path, inShape } = c;
  let start = intScalar(node, 'start_dim', -MAX_DIM, MAX_DIM);
  let end = intScalar(node, 'end_dim', -MAX_DIM, MAX_DIM);
  if (!inShape) return { id, op: 'Flatten', params: { start_dim: start, end_dim: end } };
  const r = inShape.length;
  const declared = optionalIntArray(node, 'input_type');
  let batched = false;
  if (declared) {
    const v = declared.values;
    const same = v.length === r && v.every((d, i) => d === inShape[i]);
    if (!same) {
      if (v.length === r + 1 && v[0] === 1 && v.slice(1).every((d, i) => d === inShape[i])) batched = true;
      else if (v.some((d) => d <= 0)) c.notes.push(`node "${path}": input_type ${fmt(v)} is a placeholder; ignored`);
      else throw new NirError('SHAPE', path, 'input_type', `is ${fmt(v)}, but the node receives ${fmt(inShape)}`);
    }
  } else {
    // Frameworks that count the batch dimension write start_dim = 1 for "flatten everything": when
    // the node feeds a Linear/Affine that needs all features in one dimension, read it that way.
    const flat = flattenShape(inShape, start, end);
    const wanted = linearInFeatures(c);
    if (wanted === numel(inShape) && flat && (flat.length !== 1 || flat[0] !== wanted) && start >= 1) {
      const alt = flattenShape(inShape, start - 1, end >= 1 ? end - 1 : end);
      if (alt && alt.length === 1) batched = true;
    }
  }
  if (batched) {
    c.notes.push(`node "${path}": start_dim/end_dim count a batch dimension; shifted by one`);
    if (start >= 1) start -= 1;
    if (end >= 1) end -= 1;
  }
  if (!flattenShape(inShape, start, end)) {
    throw new NirError('BAD_VALUE', path, 'start_dim', `start_dim ${start} / end_dim ${end} do not select dimensions of the input ${fmt(inShape)}`);
  }
  return { id, op: 'Flatten', params: { start_dim: start, end_dim: end } };
}

function linearInFeatures(c: NodeCtx): number | undefined {
  if (c.succ.length !== 1) return undefined;
  const s = c.byPath.get(c.succ[0]);
  if (!s || (s.node.type !== 'Affine' && s.node.type !== 'Linear')) return undefined;
  const w = s.node.fields.get('weight');
  return w && w.kind !== 'group' && w.shape.length === 2 ? w.shape[1] : undefined;
}

function flattenShape(shape: readonly number[], start: number, end: number): number[] | undefined {
  const r = shape.length;
  const s = start < 0 ? start + r : start;
  const e = end < 0 ? end + r : end;
  if (s < 0 || e >= r || s > e) return undefined;
  return [...shape.slice(0, s), numel(shape.slice(s, e + 1)), ...shape.slice(e + 1)];
}

/** Output shape of an IR node (undefined when it cannot be inferred; validateGraph reports why). */
function outShapeOf(n: GraphNode, inShape: readonly number[] | undefined): number[] | undefined {
  const s = rawOutShape(n, inShape);
  return s && s.every((d) => Number.isInteger(d) && d >= 1) ? s : undefined;
}

function rawOutShape(n: GraphNode, inShape: readonly number[] | undefined): number[] | undefined {
  if (n.op === 'Input') return [...n.params.shape];
  if (!inShape) return undefined;
  switch (n.op) {
    case 'Conv2d': {
      const p = n.params;
      if (inShape.length !== 3) return undefined;
      return [p.weight.shape[0], windowOutSize(inShape[1], p.weight.shape[2], p.stride[0], p.padding[0], p.dilation[0]), windowOutSize(inShape[2], p.weight.shape[3], p.stride[1], p.padding[1], p.dilation[1])];
    }
    case 'SumPool2d':
    case 'AvgPool2d': {
      const p = n.params;
      if (inShape.length !== 3) return undefined;
      return [inShape[0], windowOutSize(inShape[1], p.kernel_size[0], p.stride[0], p.padding[0]), windowOutSize(inShape[2], p.kernel_size[1], p.stride[1], p.padding[1])];
    }
    case 'Linear':
    case 'Affine':
      return [n.params.weight.shape[0]];
    case 'Flatten':
      return flattenShape(inShape, n.params.start_dim, n.params.end_dim);
    default:
      return [...inShape];
  }
}

/**
 * A node whose output shape cannot be inferred: validate the graph built so far (plus a stand-in
 * Output after the node) so the error names the real fault, as validateGraph words it.
 */
function shapeFailure(mapped: ReadonlyMap<string, Mapped>, edges: readonly FlatEdge[], path: string, nirNames: Readonly<Record<string, string>>, mode: ImportMode): NirError {
  const nodes = [...mapped.values()].flatMap((m) => m.nodes).filter((n) => n.op !== 'Output');
  const internal: Edge[] = [...mapped.values()].flatMap((m) => m.nodes.slice(1).map((n, i) => [m.nodes[i].id, n.id] as Edge));
  const between: Edge[] = edges.filter((e) => mapped.has(e.from) && mapped.has(e.to) && (mapped.get(e.to) as Mapped).nodes[0].op !== 'Output')
    .map((e) => [(mapped.get(e.from) as Mapped).outId, (mapped.get(e.to) as Mapped).inId]);
  const stand = '__output__';
  try {
    validateGraph({ nodes: [...nodes, { id: stand, op: 'Output', params: {} }], edges: [...internal, ...between, [(mapped.get(path) as Mapped).outId, stand]] });
  } catch (e) {
    if (e instanceof GraphError) return fromGraphError(e, nirNames, mode);
    throw e;
  }
  return new NirError('SHAPE', path, undefined, 'the output shape cannot be inferred from the input shape');
}

const CODE_OF: Record<string, NirErrorCode> = {
  BAD_NODE: 'BAD_LAYOUT', BAD_PARAM: 'BAD_VALUE', BAD_EDGE: 'BAD_EDGE', SHAPE: 'SHAPE', CYCLE: 'UNSUPPORTED', UNSUPPORTED: 'UNSUPPORTED', TOO_LARGE: 'TOO_LARGE',
};

/** A graph validation failure in NIR terms: NIR node path and dataset name. */
function fromGraphError(e: GraphError, nirNames: Readonly<Record<string, string>>, mode: ImportMode): NirError {
  const node = e.node !== undefined ? (nirNames[e.node] ?? e.node) : undefined;
  const field = e.field?.replace(/^params\./, '');
  const how = mode === 'spikestream' ? '' : ` (as mapped by --as ${mode})`;
  return new NirError(CODE_OF[e.code] ?? 'BAD_VALUE', node, field, `${e.reason}${e.code === 'BAD_PARAM' ? how : ''}`);
}
