/**
 * NIR neuron nodes (IF, LIF, LI, CubaLIF, CubaLI) to graph-IR nodes under a preset (presets.ts holds
 * the rules in words; this is their implementation). Derived per-neuron values (beta, input gains)
 * are computed in float64 from the float32 parameters and rounded to float32 once.
 */
import type { GraphNode, IFNode, LIFNode, LINode, ResetMode, SpikeMode } from '../../snn/graph.js';
import { broadcastable, expandParam, type ParamValue, type Tensor } from '../../snn/tensor.js';
import type { NirNode } from './nir-document.js';
import { NirError } from './nir-error.js';
import { floatTensor, hasField, optionalFloatTensor } from './nir-params.js';
import type { NeuronOverrides, NirPreset } from './presets.js';

export const NEURON_TYPES = ['IF', 'LIF', 'LI', 'CubaLIF', 'CubaLI'] as const;
export type NirNeuronType = (typeof NEURON_TYPES)[number];

export function isNeuronType(t: string): t is NirNeuronType {
  return (NEURON_TYPES as readonly string[]).includes(t);
}

export interface MappedNeuron {
  /** One node, or for CubaLIF/CubaLI the synapse (id synId) followed by the membrane (id id). */
  readonly nodes: GraphNode[];
  readonly notes: string[];
}

const f = Math.fround;

/**
 * Elementwise float64 function of parameters, rounded to float32. Numbers stay numbers; tensors of
 * one shape keep it; otherwise everything is expanded to the neuron shape.
 */
function combine(shape: readonly number[], fn: (...x: number[]) => number, ...ps: ParamValue[]): ParamValue {
  const tensors = ps.filter((p): p is Tensor => typeof p !== 'number');
  if (tensors.length === 0) return f(fn(...(ps as number[])));
  const s0 = tensors[0].shape;
  const same = tensors.every((t) => t.shape.length === s0.length && t.shape.every((d, i) => d === s0[i]));
  const outShape = same ? s0 : shape;
  const cols = ps.map((p) => (typeof p === 'number' ? p : same ? p.data : expandParam(p, shape)));
  const n = (cols.find((col) => typeof col !== 'number') as Float32Array).length;
  const out = new Float32Array(n);
  const args = new Array<number>(ps.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < cols.length; k++) {
      const c = cols[k];
      args[k] = typeof c === 'number' ? c : c[i];
    }
    out[i] = fn(...args);
  }
  return { shape: [...outShape], data: out };
}

function values(p: ParamValue): ArrayLike<number> {
  return typeof p === 'number' ? [p] : p.data;
}

/** How many values differ from v (for notes like "r ignored, the file has r != 1 at 3 neurons"). */
function countNot(p: ParamValue, v: number): number {
  let k = 0;
  const a = values(p);
  for (let i = 0; i < a.length; i++) if (a[i] !== v) k++;
  return k;
}

interface Ctx {
  readonly node: NirNode;
  readonly shape: readonly number[];
  readonly notes: string[];
}

/** A neuron parameter: float32 tensor broadcastable to the neuron shape. */
function param(c: Ctx, field: string, check?: (v: number) => boolean, what?: string): Tensor {
  const t = floatTensor(c.node, field);
  checkParam(c, field, t, check, what);
  return t;
}

function optionalParam(c: Ctx, field: string): Tensor | undefined {
  const t = optionalFloatTensor(c.node, field);
  if (t) checkParam(c, field, t);
  return t;
}

function checkParam(c: Ctx, field: string, t: Tensor, check?: (v: number) => boolean, what?: string): void {
  if (!broadcastable(t.shape, c.shape)) {
    throw new NirError('SHAPE', c.node.path, field, `shape [${t.shape.join(',')}] does not fit the ${c.shape.length === 1 ? c.shape[0] : `[${c.shape.join(',')}]`} neurons the node receives`);
  }
  if (check) {
    for (let i = 0; i < t.data.length; i++) {
      if (!check(t.data[i])) throw new NirError('BAD_VALUE', c.node.path, field, `must be ${what}, has ${t.data[i]} at index ${i}`);
    }
  }
}

const positive = (v: number) => v > 0;

function neg(p: ParamValue): ParamValue {
  return typeof p === 'number' ? f(-p) : { shape: [...p.shape], data: p.data.map((v) => -v) };
}

function noteIgnored(c: Ctx, field: string, p: ParamValue | undefined, assumed: number, why: string): void {
  if (p === undefined) return;
  const k = countNot(p, assumed);
  if (k > 0) c.notes.push(`node "${c.node.path}": ${field} ignored (${why}); the file has ${field} != ${assumed} at ${k} of ${values(p).length} entries`);
}

function ifNode(id: string, r: ParamValue, vThr: ParamValue, vReset: ParamValue | undefined, spike: SpikeMode, reset: ResetMode, vMin?: ParamValue): IFNode {
  return { id, op: 'IF', params: { r, v_threshold: vThr, ...(vReset !== undefined ? { v_reset: vReset } : {}), spike, reset, ...(vMin !== undefined ? { vMin } : {}) } };
}

interface Leak {
  tau: ParamValue;
  r: ParamValue;
  vLeak: ParamValue;
  dt: number;
  beta?: ParamValue;
}

function lifNode(id: string, l: Leak, vThr: ParamValue, vReset: ParamValue | undefined, spike: SpikeMode, reset: ResetMode, vMin?: ParamValue): LIFNode {
  return {
    id, op: 'LIF',
    params: {
      tau: l.tau, r: l.r, v_leak: l.vLeak, dt: l.dt, ...(l.beta !== undefined ? { beta: l.beta } : {}),
      v_threshold: vThr, ...(vReset !== undefined ? { v_reset: vReset } : {}), spike, reset, ...(vMin !== undefined ? { vMin } : {}),
    },
  };
}

function liNode(id: string, l: Leak): LINode {
  return { id, op: 'LI', params: { tau: l.tau, r: l.r, v_leak: l.vLeak, dt: l.dt, ...(l.beta !== undefined ? { beta: l.beta } : {}) } };
}

/**
 * Maps one NIR neuron node. `shape` is the shape of the node's input (its neuron count);
 * `id` the IR id of the node (the membrane for Cuba types), `synId` the id for a Cuba synapse.
 */
export function mapNeuron(
  node: NirNode, id: string, synId: string, shape: readonly number[], preset: NirPreset, dt: number, o: NeuronOverrides,
): MappedNeuron {
  const c: Ctx = { node, shape, notes: [] };
  const type = node.type as NirNeuronType;
  const nodes = mapByPreset(c, type, id, synId, preset, dt);
  for (const n of nodes) applyOverrides(n, o);
  if (!hasField(node, 'v_reset') && (type === 'IF' || type === 'LIF' || type === 'CubaLIF') && preset === 'nir' && (o.reset ?? 'zero') === 'zero') {
    c.notes.push(`node "${node.path}": no v_reset (written before NIR PR #129, when IF/LIF reset by subtraction); reset to 0 as nir >= 1.0 reads it, --reset subtract reproduces the old semantics`);
  }
  return { nodes, notes: c.notes };
}

/** The --spike / --reset / --v-min options, applied to an IF or LIF node in place. */
export function applyOverrides(n: GraphNode, o: NeuronOverrides): void {
  if (n.op !== 'IF' && n.op !== 'LIF') return;
  const p = n.params as { spike?: SpikeMode; reset?: ResetMode; vMin?: ParamValue; v_threshold: ParamValue };
  if (o.spike) p.spike = o.spike;
  if (o.reset) p.reset = o.reset;
  if (o.vMin === 'none') delete p.vMin;
  else if (o.vMin === 'threshold') p.vMin = neg(p.v_threshold);
  else if (typeof o.vMin === 'number') p.vMin = o.vMin;
}

function mapByPreset(c: Ctx, type: NirNeuronType, id: string, synId: string, preset: NirPreset, dt: number): GraphNode[] {
  switch (preset) {
    case 'nir':
      return mapNir(c, type, id, synId, dt);
    case 'sinabs':
      return mapSinabs(c, type, id, dt);
    case 'snntorch':
      return mapSnntorch(c, type, id, synId, dt);
    case 'norse':
      return mapNorse(c, type, id, synId, dt);
  }
}

function mapNir(c: Ctx, type: NirNeuronType, id: string, synId: string, dt: number): GraphNode[] {
  if (type === 'IF') return [ifNode(id, param(c, 'r'), param(c, 'v_threshold'), optionalParam(c, 'v_reset'), 'single', 'zero')];
  if (type === 'LIF' || type === 'LI') {
    const l: Leak = { tau: param(c, 'tau', positive, '> 0'), r: param(c, 'r'), vLeak: param(c, 'v_leak'), dt };
    noteEuler(c, 'tau', l.tau, dt);
    return [type === 'LI' ? liNode(id, l) : lifNode(id, l, param(c, 'v_threshold'), optionalParam(c, 'v_reset'), 'single', 'zero')];
  }
  const syn: Leak = { tau: param(c, 'tau_syn', positive, '> 0'), r: optionalParam(c, 'w_in') ?? 1, vLeak: 0, dt };
  const mem: Leak = { tau: param(c, 'tau_mem', positive, '> 0'), r: param(c, 'r'), vLeak: param(c, 'v_leak'), dt };
  noteEuler(c, 'tau_syn', syn.tau, dt);
  noteEuler(c, 'tau_mem', mem.tau, dt);
  return [liNode(synId, syn), type === 'CubaLI' ? liNode(id, mem) : lifNode(id, mem, param(c, 'v_threshold'), optionalParam(c, 'v_reset'), 'single', 'zero')];
}

function noteEuler(c: Ctx, field: string, tau: ParamValue, dt: number): void {
  let k = 0;
  const a = values(tau);
  for (let i = 0; i < a.length; i++) if (dt / a[i] > 1) k++;
  if (k > 0) c.notes.push(`node "${c.node.path}": dt/${field} > 1 at ${k} neurons: forward Euler overshoots (choose a smaller --dt)`);
}

function mapSinabs(c: Ctx, type: NirNeuronType, id: string, dt: number): GraphNode[] {
  const why = "sinabs.from_nir does not use it";
  if (type === 'IF') {
    noteIgnored(c, 'r', param(c, 'r'), 1, why);
    const vThr = param(c, 'v_threshold', positive, '> 0 (Sinabs counts floor(v / v_threshold) spikes)');
    return [ifNode(id, 1, vThr, undefined, 'multi', 'subtract', neg(vThr))];
  }
  if (type === 'LIF') {
    noteIgnored(c, 'r', param(c, 'r'), 1, why);
    const tau = param(c, 'tau', positive, '> 0');
    const vLeak = param(c, 'v_leak');
    if (countNot(vLeak, 0) > 0) c.notes.push(`node "${c.node.path}": v_leak != 0, which sinabs.from_nir rejects; kept as the decay target`);
    const beta = combine(c.shape, (t) => Math.exp(-dt / t), tau);
    return [lifNode(id, { tau, r: 1, vLeak, dt, beta }, param(c, 'v_threshold', positive, '> 0 (Sinabs counts floor(v / v_threshold) spikes)'), undefined, 'multi', 'subtract')];
  }
  if (type === 'LI') {
    const tau = param(c, 'tau', positive, '> 0');
    const r = param(c, 'r');
    const vLeak = param(c, 'v_leak');
    if (countNot(r, 1) > 0 || countNot(vLeak, 0) > 0) c.notes.push(`node "${c.node.path}": r != 1 or v_leak != 0, which sinabs.from_nir rejects for LI; kept`);
    return [liNode(id, { tau, r, vLeak, dt, beta: combine(c.shape, (t) => Math.exp(-dt / t), tau) })];
  }
  throw new NirError('UNSUPPORTED', c.node.path, 'type', `${type} under --as sinabs: sinabs.from_nir has no ${type}; import with --as nir, snntorch or norse`);
}

/** snnTorch: beta = 1 - dt/tau clamped to [0, 1] (Leaky clamps beta), input gain r*dt/tau. */
function snnLeak(c: Ctx, tau: ParamValue, r: ParamValue, vLeak: ParamValue, dt: number): Leak {
  const beta = combine(c.shape, (t) => Math.min(1, Math.max(0, 1 - dt / t)), tau);
  const gain = combine(c.shape, (rr, t) => (rr * dt) / t, r, tau);
  return { tau, r: gain, vLeak, dt, beta };
}

function mapSnntorch(c: Ctx, type: NirNeuronType, id: string, synId: string, dt: number): GraphNode[] {
  if (type === 'IF') {
    const r = param(c, 'r');
    if (countNot(r, 1) > 0) throw new NirError('BAD_VALUE', c.node.path, 'r', 'must be 1 under --as snntorch (snntorch.import_from_nir rejects r != 1 for IF)');
    c.notes.push(`node "${c.node.path}": IF built as snnTorch does, Leaky(beta=0.9) with subtract reset (a leaky neuron)`);
    const tau = f(10 * dt);
    return [lifNode(id, { tau, r: 1, vLeak: 0, dt, beta: f(0.9) }, param(c, 'v_threshold'), 0, 'single', 'subtract')];
  }
  if (type === 'LIF' || type === 'LI') {
    const tau = param(c, 'tau', positive, '> 0');
    const vLeak = param(c, 'v_leak');
    if (countNot(vLeak, 0) > 0) c.notes.push(`node "${c.node.path}": v_leak != 0, which snntorch.import_from_nir rejects; kept as the decay target`);
    const l = snnLeak(c, tau, param(c, 'r'), vLeak, dt);
    if (type === 'LI') {
      c.notes.push(`node "${c.node.path}": snnTorch's importer has no LI; mapped with its LIF rules`);
      return [liNode(id, l)];
    }
    noteIgnored(c, 'v_reset', optionalParam(c, 'v_reset'), 0, "snnTorch's reset_mechanism='zero' resets to 0");
    return [lifNode(id, l, param(c, 'v_threshold'), 0, 'single', 'zero')];
  }
  const wIn = optionalParam(c, 'w_in') ?? 1;
  const syn = snnLeak(c, param(c, 'tau_syn', positive, '> 0'), wIn, 0, dt);
  const vLeak = param(c, 'v_leak');
  if (countNot(vLeak, 0) > 0) c.notes.push(`node "${c.node.path}": v_leak != 0, which snntorch.import_from_nir rejects; kept as the decay target`);
  const mem = snnLeak(c, param(c, 'tau_mem', positive, '> 0'), param(c, 'r'), vLeak, dt);
  if (type === 'CubaLI') return [liNode(synId, syn), liNode(id, mem)];
  noteIgnored(c, 'v_reset', optionalParam(c, 'v_reset'), 0, "snnTorch's reset_mechanism='zero' resets to 0");
  return [liNode(synId, syn), lifNode(id, mem, param(c, 'v_threshold'), 0, 'single', 'zero')];
}

function mapNorse(c: Ctx, type: NirNeuronType, id: string, synId: string, dt: number): GraphNode[] {
  const why = 'norse.torch.from_nir does not use it';
  if (type === 'IF') {
    noteIgnored(c, 'r', param(c, 'r'), 1, why);
    noteIgnored(c, 'v_reset', optionalParam(c, 'v_reset'), 0, 'Norse resets to its default 0');
    return [ifNode(id, 1, param(c, 'v_threshold'), 0, 'single', 'zero')];
  }
  if (type === 'LIF' || type === 'LI') {
    noteIgnored(c, 'r', param(c, 'r'), 1, why);
    const l: Leak = { tau: param(c, 'tau', positive, '> 0'), r: 1, vLeak: param(c, 'v_leak'), dt };
    noteEuler(c, 'tau', l.tau, dt);
    noteStart(c, l.vLeak);
    if (type === 'LI') {
      c.notes.push(`node "${c.node.path}": Norse's importer has no LI; mapped with its LIBox rules`);
      return [liNode(id, l)];
    }
    noteIgnored(c, 'v_reset', optionalParam(c, 'v_reset'), 0, 'Norse resets to its default 0');
    return [lifNode(id, l, param(c, 'v_threshold'), 0, 'single', 'zero')];
  }
  const vLeak = param(c, 'v_leak');
  const syn: Leak = { tau: param(c, 'tau_syn', positive, '> 0'), r: optionalParam(c, 'w_in') ?? 1, vLeak, dt };
  const mem: Leak = { tau: param(c, 'tau_mem', positive, '> 0'), r: param(c, 'r'), vLeak, dt };
  noteEuler(c, 'tau_syn', syn.tau, dt);
  noteEuler(c, 'tau_mem', mem.tau, dt);
  noteStart(c, vLeak);
  if (type === 'CubaLI') return [liNode(synId, syn), liNode(id, mem)];
  noteIgnored(c, 'v_reset', optionalParam(c, 'v_reset'), 0, 'Norse resets to its default 0');
  return [liNode(synId, syn), lifNode(id, mem, param(c, 'v_threshold'), 0, 'single', 'zero')];
}

function noteStart(c: Ctx, vLeak: ParamValue): void {
  if (countNot(vLeak, 0) > 0) c.notes.push(`node "${c.node.path}": Norse starts v at v_leak, spikestream at 0 (v_leak != 0 here)`);
}
