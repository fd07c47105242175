/**
 * The model file: one msgpack map (DESIGN.md section 5).
 *
 *   { format: "spikestream.model", version: 1, name, labels: [str], input: { width, height, channels,
 *     binning }, graph: { nodes: [{ id, op, params }], edges: [[from, to]] },
 *     tensors: { "<node>.<param>": { dtype: "f32", shape: [int], data: bin (float32 little-endian) } },
 *     masks: { "<node>.weight": { shape: [int], density: float, bits: bin (row-major, LSB first) } },
 *     training: map | nil, created: str (ISO 8601), meta?: map }
 *
 * Node params hold scalars, strings and small integer arrays (stride, padding, kernel_size, shape);
 * every array-valued parameter (weight, bias, per-neuron tau/v_threshold/...) is a tensor named
 * "<node id>.<param name>". A neuron parameter given as a number applies to every neuron.
 * Binary payloads are msgpack bin, never msgpackr's JS-only typed-array extensions, so any msgpack
 * implementation reads them (Python: msgpack.unpackb(raw=False) gives bytes;
 * np.frombuffer(data, '<f4').reshape(shape); masks: np.unpackbits(bits, bitorder='little')).
 *
 * Decoding trusts nothing: maps are read as Map objects (a key like __proto__ never reaches an
 * object prototype and is rejected), every field is type-checked, declared element counts are
 * checked against limits and against the bytes present before allocating, and the graph goes
 * through validateGraph. Errors are ModelErrors naming the field.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { Edge, Graph, GraphNode, NodeOp } from '../snn/graph.js';
import { isWeighted, NODE_OPS, RESERVED_OPS } from '../snn/graph.js';
import { GraphError } from '../snn/graph-error.js';
import { GRAPH_LIMITS } from '../snn/limits.js';
import { resetMode, spikeMode } from '../snn/neuron.js';
import { formatShape, isTensor, numel, type Tensor } from '../snn/tensor.js';
import { validateGraph, type GraphPlan } from '../snn/validate-graph.js';
import { resolveModelLimits, type ModelLimits } from './limits.js';
import { countOnes, packMask, paddingBitsClear, unpackMask } from './mask-bits.js';
import { ModelError } from './model-error.js';
import { BINNING_MODES, MODEL_FORMAT, MODEL_VERSION, type BinningSpec, type Model, type ModelInput, type PlainValue, type TrainingInfo } from './model.js';

/** How each op's params are stored: in the node's params map, as a tensor, or either (neuron params). */
type Slot = 'tensor' | 'param' | 'int' | 'pair' | 'ints' | 'number' | 'string';
interface FieldSpec { readonly slot: Slot; readonly required: boolean }
const req = (slot: Slot): FieldSpec => ({ slot, required: true });
const opt = (slot: Slot): FieldSpec => ({ slot, required: false });

const SPIKING = { spike: opt('string'), reset: opt('string'), vMin: opt('param') };
const FIELDS: Record<NodeOp, Record<string, FieldSpec>> = {
  Input: { shape: req('ints') },
  Output: { readout: opt('string') },
  Conv2d: { weight: req('tensor'), bias: opt('tensor'), stride: req('pair'), padding: req('pair'), dilation: req('pair'), groups: req('int') },
  Linear: { weight: req('tensor') },
  Affine: { weight: req('tensor'), bias: req('tensor') },
  SumPool2d: { kernel_size: req('pair'), stride: req('pair'), padding: req('pair') },
  AvgPool2d: { kernel_size: req('pair'), stride: req('pair'), padding: req('pair') },
  Flatten: { start_dim: req('int'), end_dim: req('int') },
  Scale: { scale: req('param') },
  Threshold: { threshold: req('param') },
  IF: { r: req('param'), v_threshold: req('param'), v_reset: opt('param'), ...SPIKING },
  LIF: { tau: req('param'), r: req('param'), v_leak: req('param'), dt: req('number'), beta: opt('param'), v_threshold: req('param'), v_reset: opt('param'), ...SPIKING },
  LI: { tau: req('param'), r: req('param'), v_leak: req('param'), dt: req('number'), beta: opt('param') },
};

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

// ------------------------------------------------------------------------------------ encoding

const packr = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false, structuredClone: false });

/** Float32 values as little-endian bytes (DataView, so the file is the same on any host). */
export function f32ToLE(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i], true);
  return out;
}

export function leToF32(b: Uint8Array): Float32Array {
  const n = b.length >> 2;
  const out = new Float32Array(n);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** The msgpack map of a model, as plain JS (Uint8Array for bin). Validates the model first. */
export function modelToPlain(model: Model): Record<string, unknown> {
  checkModel(model, 'model');
  const tensors: Record<string, unknown> = {};
  const masks: Record<string, unknown> = {};
  const putTensor = (key: string, t: Tensor) => {
    tensors[key] = { dtype: 'f32', shape: [...t.shape], data: f32ToLE(t.data) };
  };
  const nodes = model.graph.nodes.map((n) => {
    const params: Record<string, unknown> = {};
    const src = n.params as Record<string, unknown>;
    for (const [name, spec] of Object.entries(FIELDS[n.op])) {
      let v = src[name];
      if (n.op === 'IF' || n.op === 'LIF') {
        // Defaults are written out so the file states every option it runs with.
        if (name === 'spike') v = spikeMode(v as never);
        if (name === 'reset') v = resetMode(v as never);
        if (name === 'v_reset' && v === undefined) v = 0;
      }
      if (v === undefined) continue;
      if (spec.slot === 'tensor' || (spec.slot === 'param' && isTensor(v))) putTensor(`${n.id}.${name}`, v as Tensor);
      else params[name] = Array.isArray(v) ? [...v] : v;
    }
    if (isWeighted(n) && n.mask) {
      masks[`${n.id}.weight`] = { shape: [...n.params.weight.shape], density: countOnes(n.mask) / n.mask.length, bits: packMask(n.mask) };
    }
    return { id: n.id, op: n.op, params };
  });
  const out: Record<string, unknown> = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    name: model.name,
    labels: [...model.labels],
    input: { width: model.input.width, height: model.input.height, channels: model.input.channels, binning: stripUndefined(model.input.binning) },
    graph: { nodes, edges: model.graph.edges.map((e) => [e[0], e[1]]) },
    tensors,
    masks,
    training: model.training === null ? null : stripUndefined(model.training),
    created: model.created,
  };
  if (model.meta !== undefined) out.meta = stripUndefined(model.meta);
  return out;
}

export function encodeModel(model: Model): Uint8Array {
  // msgpackr returns a view into a buffer it reuses for the next pack: copy it out.
  return new Uint8Array(packr.pack(modelToPlain(model)));
}

function stripUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripUndefined);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = stripUndefined(x);
    return o;
  }
  return v;
}

// ------------------------------------------------------------------------------------ decoding

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, moreTypes: false, structuredClone: false });

type Reader = Map<unknown, unknown>;

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (v instanceof Uint8Array) return 'bin';
  if (v instanceof Map) return 'map';
  if (Array.isArray(v)) return 'array';
  if (ArrayBuffer.isView(v)) return `extension (${v.constructor.name})`;
  return typeof v;
}

function asMap(v: unknown, path: string): Reader {
  if (!(v instanceof Map)) throw new ModelError('BAD_TYPE', path, `must be a map, got ${typeName(v)}`);
  for (const k of v.keys()) {
    if (typeof k !== 'string') throw new ModelError('BAD_TYPE', path, `has a non-string key (${typeName(k)})`);
    if (FORBIDDEN_KEYS.has(k)) throw new ModelError('FORBIDDEN_KEY', `${path}["${k}"]`, `the key "${k}" is not allowed`);
  }
  return v;
}

function field(m: Reader, key: string, path: string, required = true): unknown {
  const v = m.get(key);
  if ((v === undefined || v === null) && required) throw new ModelError('MISSING', join(path, key), 'is required');
  return v ?? undefined;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function asString(v: unknown, path: string, limits: ModelLimits): string {
  if (typeof v !== 'string') throw new ModelError('BAD_TYPE', path, `must be a string, got ${typeName(v)}`);
  if (v.length > limits.maxStringLength) throw new ModelError('TOO_LARGE', path, `string of ${v.length} characters exceeds ${limits.maxStringLength}`);
  return v;
}

function asNumber(v: unknown, path: string): number {
  if (typeof v !== 'number') throw new ModelError('BAD_TYPE', path, `must be a number, got ${typeName(v)}`);
  if (!Number.isFinite(v)) throw new ModelError('NON_FINITE', path, `must be finite, got ${v}`);
  return v;
}

function asInt(v: unknown, path: string, min = -Infinity, max = Infinity): number {
  const n = asNumber(v, path);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ModelError('BAD_VALUE', path, `must be an integer in ${min}..${max}, got ${n}`);
  return n;
}

function asBool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new ModelError('BAD_TYPE', path, `must be a boolean, got ${typeName(v)}`);
  return v;
}

function asArray(v: unknown, path: string, maxLength: number): unknown[] {
  if (!Array.isArray(v)) throw new ModelError('BAD_TYPE', path, `must be an array, got ${typeName(v)}`);
  if (v.length > maxLength) throw new ModelError('TOO_LARGE', path, `has ${v.length} entries, more than ${maxLength}`);
  return v;
}

function asBin(v: unknown, path: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new ModelError('BAD_TYPE', path, `must be msgpack bin, got ${typeName(v)}`);
  return v;
}

function asShape(v: unknown, path: string, limits: ModelLimits): number[] {
  const a = asArray(v, path, limits.maxRank);
  return a.map((d, i) => asInt(d, `${path}[${i}]`, 0, 2 ** 31 - 1));
}

/** Free-form data (training, meta) as plain objects, bounded in depth and size. */
function toPlain(v: unknown, path: string, limits: ModelLimits, budget: { items: number }, depth = 0): PlainValue {
  if (++budget.items > limits.maxPlainItems) throw new ModelError('TOO_LARGE', path, `more than ${limits.maxPlainItems} values in free-form data`);
  if (depth > limits.maxPlainDepth) throw new ModelError('TOO_LARGE', path, `nested deeper than ${limits.maxPlainDepth}`);
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'string') return asString(v, path, limits);
  if (Array.isArray(v)) return v.map((x, i) => toPlain(x, `${path}[${i}]`, limits, budget, depth + 1));
  if (v instanceof Map) {
    const m = asMap(v, path);
    const o: { [key: string]: PlainValue } = {};
    for (const [k, x] of m) o[k as string] = toPlain(x, `${path}.${k as string}`, limits, budget, depth + 1);
    return o;
  }
  throw new ModelError('BAD_TYPE', path, `must be plain data (nil, bool, number, string, array, map), got ${typeName(v)}`);
}

/** Decodes and validates a model file's bytes. */
export function decodeModel(bytes: Uint8Array, limitsIn?: Partial<ModelLimits>): Model {
  const limits = resolveModelLimits(limitsIn);
  if (bytes.length > limits.maxFileBytes) throw new ModelError('TOO_LARGE', '', `${bytes.length} bytes exceed the limit of ${limits.maxFileBytes}`);
  let root: unknown;
  try {
    root = unpackr.unpack(bytes);
  } catch (e) {
    throw new ModelError('BAD_MSGPACK', '', `not a single well-formed msgpack value (${e instanceof Error ? e.message : String(e)})`);
  }
  const m = asMap(root, '');
  const format = m.get('format');
  if (format !== MODEL_FORMAT) throw new ModelError('BAD_FORMAT', 'format', `must be "${MODEL_FORMAT}", got ${JSON.stringify(typeof format === 'string' ? format : typeName(format))}`);
  const version = m.get('version');
  if (version !== MODEL_VERSION) throw new ModelError('UNSUPPORTED_VERSION', 'version', `this build reads version ${MODEL_VERSION}, the file is version ${typeof version === 'number' ? version : typeName(version)}`);

  const name = asString(field(m, 'name', ''), 'name', limits);
  const labels = asArray(field(m, 'labels', ''), 'labels', limits.maxLabels).map((l, i) => asString(l, `labels[${i}]`, limits));
  const input = readInput(asMap(field(m, 'input', ''), 'input'));
  const created = asString(field(m, 'created', ''), 'created', limits);
  const tensors = readTensors(m.get('tensors'), limits);
  const graphMap = asMap(field(m, 'graph', ''), 'graph');
  const masksRaw = m.get('masks');
  const trainingRaw = m.get('training');
  const budget = { items: 0 };
  const training = trainingRaw === undefined || trainingRaw === null ? null : readTraining(trainingRaw, limits, budget);
  const metaRaw = m.get('meta');
  const meta = metaRaw === undefined || metaRaw === null ? undefined : (toPlain(asMap(metaRaw, 'meta'), 'meta', limits, budget) as { [key: string]: PlainValue });

  const { graph, paths } = readGraph(graphMap, tensors, masksRaw, limits);
  const model: Model = { name, labels, input, graph, training, created, ...(meta ? { meta } : {}) };
  checkModel(model, '', paths);
  return model;
}

function readInput(m: Reader): ModelInput {
  return {
    width: asInt(field(m, 'width', 'input'), 'input.width', 1, 1 << 20),
    height: asInt(field(m, 'height', 'input'), 'input.height', 1, 1 << 20),
    channels: asInt(field(m, 'channels', 'input'), 'input.channels', 1, 1 << 20),
    binning: readBinning(asMap(field(m, 'binning', 'input'), 'input.binning')),
  };
}

export function readBinning(m: Reader, path = 'input.binning'): BinningSpec {
  const mode = m.get('mode');
  const allowed: Record<string, readonly string[]> = {
    time_window: ['mode', 'windowUs', 'strideUs', 'includeIncomplete'],
    event_count: ['mode', 'count', 'overlap', 'includeIncomplete'],
    n_time_bins: ['mode', 'bins', 'overlap', 'spikingjelly'],
    n_event_bins: ['mode', 'bins', 'overlap', 'spikingjelly'],
  };
  if (typeof mode !== 'string' || !(BINNING_MODES as readonly string[]).includes(mode)) {
    throw new ModelError('BAD_VALUE', `${path}.mode`, `must be one of ${BINNING_MODES.join(', ')}, got ${JSON.stringify(typeof mode === 'string' ? mode : typeName(mode))}`);
  }
  for (const k of m.keys()) if (!allowed[mode].includes(k as string)) throw new ModelError('BAD_VALUE', `${path}.${k as string}`, `is not an option of ${mode} binning`);
  const optBool = (k: string) => (m.get(k) === undefined ? {} : { [k]: asBool(m.get(k), `${path}.${k}`) });
  const positive = (k: string, v: unknown) => {
    const n = asNumber(v, `${path}.${k}`);
    if (n <= 0) throw new ModelError('BAD_VALUE', `${path}.${k}`, `must be > 0, got ${n}`);
    return n;
  };
  if (mode === 'time_window') {
    return {
      mode, windowUs: positive('windowUs', field(m, 'windowUs', path)),
      ...(m.get('strideUs') === undefined ? {} : { strideUs: positive('strideUs', m.get('strideUs')) }), ...optBool('includeIncomplete'),
    };
  }
  if (mode === 'event_count') {
    const count = asInt(field(m, 'count', path), `${path}.count`, 1);
    const overlap = m.get('overlap') === undefined ? undefined : asInt(m.get('overlap'), `${path}.overlap`, 0, count - 1);
    return { mode, count, ...(overlap === undefined ? {} : { overlap }), ...optBool('includeIncomplete') };
  }
  const bins = asInt(field(m, 'bins', path), `${path}.bins`, 1, 1 << 24);
  let overlap: number | undefined;
  if (m.get('overlap') !== undefined) {
    overlap = asNumber(m.get('overlap'), `${path}.overlap`);
    if (!(overlap >= 0 && overlap < 1)) throw new ModelError('BAD_VALUE', `${path}.overlap`, `must be a fraction in [0, 1), got ${overlap}`);
  }
  return { mode: mode as 'n_time_bins' | 'n_event_bins', bins, ...(overlap === undefined ? {} : { overlap }), ...optBool('spikingjelly') };
}

function readTraining(v: unknown, limits: ModelLimits, budget: { items: number }): TrainingInfo {
  const plain = toPlain(asMap(v, 'training'), 'training', limits, budget) as { [key: string]: PlainValue };
  if (typeof plain.method !== 'string') throw new ModelError('MISSING', 'training.method', 'is required (a string) when training is present');
  if (plain.density !== undefined && plain.density !== null && typeof plain.density !== 'number') throw new ModelError('BAD_TYPE', 'training.density', 'must be a number');
  if (plain.epochs !== undefined && plain.epochs !== null && typeof plain.epochs !== 'number') throw new ModelError('BAD_TYPE', 'training.epochs', 'must be a number');
  return plain as TrainingInfo;
}

interface RawTensor { readonly tensor: Tensor; used: boolean }

function readTensors(v: unknown, limits: ModelLimits): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  if (v === undefined || v === null) return out;
  const m = asMap(v, 'tensors');
  if (m.size > limits.maxTensors) throw new ModelError('TOO_LARGE', 'tensors', `${m.size} tensors exceed the limit of ${limits.maxTensors}`);
  let total = 0;
  for (const [key, tv] of m) {
    const path = `tensors["${key as string}"]`;
    const t = asMap(tv, path);
    const dtype = field(t, 'dtype', path);
    if (dtype !== 'f32') throw new ModelError('BAD_DTYPE', `${path}.dtype`, `must be "f32", got ${JSON.stringify(typeof dtype === 'string' ? dtype : typeName(dtype))}`);
    const shape = asShape(field(t, 'shape', path), `${path}.shape`, limits);
    // Element count from the declared shape, checked before anything is allocated.
    let n = 1;
    for (const d of shape) n *= d;
    if (n > limits.maxTensorElements) throw new ModelError('TOO_LARGE', `${path}.shape`, `${formatShape(shape)} declares ${n} elements, more than the limit of ${limits.maxTensorElements}`);
    total += n;
    if (total > limits.maxTotalTensorElements) throw new ModelError('TOO_LARGE', path, `tensors hold more than ${limits.maxTotalTensorElements} elements together`);
    const data = asBin(field(t, 'data', path), `${path}.data`);
    if (data.length !== n * 4) throw new ModelError('SHAPE_MISMATCH', `${path}.data`, `holds ${data.length} bytes, shape ${formatShape(shape)} of f32 needs ${n * 4}`);
    const values = leToF32(data);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(values[i])) throw new ModelError('NON_FINITE', `${path}.data`, `value ${values[i]} at index ${i} is not finite`);
    }
    out.set(key as string, { tensor: { shape, data: values }, used: false });
  }
  return out;
}

/** Where each graph field came from in the file, to name it in errors from validateGraph. */
interface GraphPaths {
  readonly nodeIndex: Map<string, number>;
  readonly tensorParams: Set<string>;
}

function readGraph(gm: Reader, tensors: Map<string, RawTensor>, masksRaw: unknown, limits: ModelLimits): { graph: Graph; paths: GraphPaths } {
  const nodesRaw = asArray(field(gm, 'nodes', 'graph'), 'graph.nodes', limits.maxNodes);
  const edgesRaw = asArray(field(gm, 'edges', 'graph'), 'graph.edges', limits.maxEdges);
  const nodeIndex = new Map<string, number>();
  const tensorParams = new Set<string>();
  const nodes: GraphNode[] = nodesRaw.map((nv, i) => {
    const base = `graph.nodes[${i}]`;
    const nm = asMap(nv, base);
    const id = asString(field(nm, 'id', base), `${base}.id`, limits);
    const path = `${base}(${id})`;
    const op = asString(field(nm, 'op', path), `${path}.op`, limits);
    if (!(NODE_OPS as readonly string[]).includes(op)) {
      if (RESERVED_OPS.includes(op)) throw new ModelError('BAD_GRAPH', `${path}.op`, `${op} nodes are not supported yet`);
      throw new ModelError('BAD_VALUE', `${path}.op`, `unknown op "${op}" (one of ${NODE_OPS.join(', ')})`);
    }
    if (nodeIndex.has(id)) throw new ModelError('BAD_GRAPH', `${path}.id`, `id "${id}" is used by more than one node`);
    nodeIndex.set(id, i);
    const pm = nm.get('params') === undefined ? new Map() : asMap(nm.get('params'), `${path}.params`);
    const specs = FIELDS[op as NodeOp];
    for (const k of pm.keys()) if (!(k as string in specs)) throw new ModelError('BAD_VALUE', `${path}.params.${k as string}`, `is not a parameter of ${op}`);
    const params: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(specs)) {
      const ppath = `${path}.params.${name}`;
      const key = `${id}.${name}`;
      const tpath = `tensors["${key}"]`;
      const inParams = pm.get(name);
      const tensor = tensors.get(key);
      if (tensor && inParams !== undefined && inParams !== null) throw new ModelError('BAD_VALUE', ppath, `is given both in params and as ${tpath}`);
      if (tensor) {
        if (spec.slot !== 'tensor' && spec.slot !== 'param') throw new ModelError('BAD_VALUE', tpath, `${op}.${name} cannot be a tensor`);
        tensor.used = true;
        tensorParams.add(key);
        params[name] = tensor.tensor;
        continue;
      }
      if (inParams === undefined || inParams === null) {
        if (spec.required) throw new ModelError('MISSING', spec.slot === 'tensor' ? tpath : ppath, 'is required');
        continue;
      }
      params[name] = readParam(spec.slot, inParams, ppath, limits);
    }
    return { id, op, params } as unknown as GraphNode;
  });
  for (const [key, t] of tensors) {
    if (t.used) continue;
    const dot = key.lastIndexOf('.');
    const nodeId = dot > 0 ? key.slice(0, dot) : key;
    const what = nodeIndex.has(nodeId) ? `names no parameter of node "${nodeId}" that can be a tensor` : `names no node (no node "${nodeId}")`;
    throw new ModelError('BAD_VALUE', `tensors["${key}"]`, what);
  }
  const masked = readMasks(masksRaw, nodes, nodeIndex, limits);
  const withMasks = nodes.map((n) => (masked.has(n.id) ? ({ ...n, mask: masked.get(n.id) } as GraphNode) : n));
  const edges: Edge[] = edgesRaw.map((e, k) => {
    const a = asArray(e, `graph.edges[${k}]`, 2);
    if (a.length !== 2) throw new ModelError('BAD_VALUE', `graph.edges[${k}]`, 'must be a pair [from, to]');
    return [asString(a[0], `graph.edges[${k}][0]`, limits), asString(a[1], `graph.edges[${k}][1]`, limits)] as const;
  });
  return { graph: { nodes: withMasks, edges }, paths: { nodeIndex, tensorParams } };
}

function readParam(slot: Slot, v: unknown, path: string, limits: ModelLimits): unknown {
  switch (slot) {
    case 'tensor':
      throw new ModelError('BAD_VALUE', path, 'must be stored as a tensor, not in params');
    case 'param':
    case 'number':
      return asNumber(v, path);
    case 'int':
      return asInt(v, path);
    case 'string':
      return asString(v, path, limits);
    case 'pair': {
      const a = asArray(v, path, 2);
      if (a.length !== 2) throw new ModelError('BAD_VALUE', path, `must be a pair of integers, got ${a.length} values`);
      return a.map((x, i) => asInt(x, `${path}[${i}]`));
    }
    case 'ints':
      return asShape(v, path, limits);
  }
}

function readMasks(v: unknown, nodes: readonly GraphNode[], nodeIndex: Map<string, number>, limits: ModelLimits): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  if (v === undefined || v === null) return out;
  const m = asMap(v, 'masks');
  if (m.size > limits.maxTensors) throw new ModelError('TOO_LARGE', 'masks', `${m.size} masks exceed the limit of ${limits.maxTensors}`);
  for (const [key, mv] of m) {
    const path = `masks["${key as string}"]`;
    const k = key as string;
    if (!k.endsWith('.weight')) throw new ModelError('BAD_VALUE', path, 'mask keys are "<node>.weight"');
    const id = k.slice(0, -'.weight'.length);
    const i = nodeIndex.get(id);
    if (i === undefined) throw new ModelError('BAD_VALUE', path, `names no node (no node "${id}")`);
    const node = nodes[i];
    if (!isWeighted(node)) throw new ModelError('BAD_VALUE', path, `node "${id}" is a ${node.op}, which has no weight to mask`);
    const mm = asMap(mv, path);
    const shape = asShape(field(mm, 'shape', path), `${path}.shape`, limits);
    const weight = (node.params as { weight?: Tensor }).weight;
    if (!weight) throw new ModelError('MISSING', `tensors["${id}.weight"]`, 'is required');
    if (shape.length !== weight.shape.length || shape.some((d, j) => d !== weight.shape[j])) {
      throw new ModelError('MASK_MISMATCH', `${path}.shape`, `${formatShape(shape)} differs from the weight's shape ${formatShape(weight.shape)}`);
    }
    const n = weight.data.length;
    const bits = asBin(field(mm, 'bits', path), `${path}.bits`);
    if (bits.length !== Math.ceil(n / 8)) throw new ModelError('MASK_MISMATCH', `${path}.bits`, `holds ${bits.length} bytes, ${n} weights need ${Math.ceil(n / 8)}`);
    if (!paddingBitsClear(bits, n)) throw new ModelError('MASK_MISMATCH', `${path}.bits`, 'has bits set past the last weight');
    const density = asNumber(field(mm, 'density', path), `${path}.density`);
    const { mask, ones } = unpackMask(bits, n);
    const actual = n === 0 ? 1 : ones / n;
    if (Math.abs(actual - density) > 1e-6) throw new ModelError('MASK_MISMATCH', `${path}.density`, `declares ${density}, the bits give ${actual} (${ones} of ${n})`);
    out.set(id, mask);
  }
  return out;
}

/**
 * Checks an in-memory model (before writing) or a decoded one: the graph (validateGraph), the
 * Input node against `input`, and the labels against the Output node. `prefix` starts field paths.
 */
export function checkModel(model: Model, prefix: string, paths?: GraphPaths): GraphPlan {
  const p = (s: string) => (prefix ? `${prefix}.${s}` : s);
  let plan: GraphPlan;
  try {
    plan = validateGraph(model.graph, GRAPH_LIMITS);
  } catch (e) {
    if (!(e instanceof GraphError)) throw e;
    const path = graphErrorPath(e, model.graph, paths, p);
    // Graph-wide faults (edges, cycles) keep the node's name in the message.
    throw new ModelError(e.code === 'TOO_LARGE' ? 'TOO_LARGE' : 'BAD_GRAPH', path, path.includes('graph.nodes[') || path.startsWith('tensors') || path.startsWith('masks') ? e.reason : e.message);
  }
  const inShape = plan.inShapes[plan.inputIndex];
  const { width, height, channels } = model.input;
  if (inShape.length === 3) {
    const want: [string, number, number][] = [['channels', channels, inShape[0]], ['height', height, inShape[1]], ['width', width, inShape[2]]];
    for (const [k, have, need] of want) {
      if (have !== need) throw new ModelError('SHAPE_MISMATCH', p(`input.${k}`), `is ${have}, the Input node's shape ${formatShape(inShape)} needs ${need}`);
    }
  } else if (width * height * channels !== numel(inShape)) {
    throw new ModelError('SHAPE_MISMATCH', p('input'), `width x height x channels = ${width * height * channels}, the Input node's shape ${formatShape(inShape)} has ${numel(inShape)} elements`);
  }
  const nOut = numel(plan.outShapes[plan.outputIndex]);
  if (model.labels.length !== nOut) throw new ModelError('SHAPE_MISMATCH', p('labels'), `has ${model.labels.length} labels, the Output node has ${nOut} values`);
  return plan;
}

function graphErrorPath(e: GraphError, graph: Graph, paths: GraphPaths | undefined, p: (s: string) => string): string {
  if (e.node === undefined) return p(`graph.${e.field ?? ''}`.replace(/\.$/, ''));
  if (e.field === 'edges' || e.field?.startsWith('edges[')) return p(`graph.${e.field}`);
  const i = paths?.nodeIndex.get(e.node) ?? graph.nodes.findIndex((n) => n.id === e.node);
  const param = e.field?.startsWith('params.') ? e.field.slice('params.'.length) : undefined;
  if (param && paths?.tensorParams.has(`${e.node}.${param}`)) return `tensors["${e.node}.${param}"]`;
  if (e.field === 'mask' && paths) return `masks["${e.node}.weight"]`;
  return p(`graph.nodes[${i}](${e.node})${e.field ? `.${e.field}` : ''}`);
}

