/**
 * Graph IR -> NIR document, written the way Python's `nir` 1.0 writes its dataclasses:
 * parameters as float32 arrays of the node's full neuron shape (nir.IF/LIF/LI/Scale/Threshold
 * require every parameter to have the node's input shape, and nir.read type-checks edges with
 * them), integers as int64 (tuples as [2] arrays, groups/start_dim/end_dim as scalars), Conv2d with
 * bias (zeros when the IR has none) and input_shape (except grouped convs, see below), Flatten with
 * input_type, v_reset always present.
 *
 * What NIR cannot say is kept in each node's `metadata` group, which nir.read passes through:
 * `metadata/spikestream` is a JSON string holding the IR node exactly (op, every parameter, the
 * spike/reset/vMin options, dt, beta), where a tensor is either a reference to the NIR dataset of
 * the same name ({"$nir": "weight"}) when that dataset is the tensor bit for bit, or to an extra
 * float32 dataset `metadata/spikestream.<param>`; the ESL mask is `metadata/spikestream.mask`
 * (uint8, the model file's packed bits). ESL-masked weights are written as zeros in `weight`, so any
 * NIR reader runs the sparse network. Graph metadata `metadata/spikestream` (JSON) records the node
 * order and the model-level extras (name, labels, input geometry) given by the caller.
 *
 * Decay-form LIF/LI nodes (beta given) export tau as stored and r = r_step * tau / dt: the NIR ODE
 * whose Euler step at dt has the same per-step input gain; beta itself travels in the metadata.
 */
import type { Graph, GraphNode } from '../../snn/graph.js';
import { isWeighted } from '../../snn/graph.js';
import { expandParam, type ParamValue, type Tensor } from '../../snn/tensor.js';
import { validateGraph } from '../../snn/validate-graph.js';
import { packMask } from '../mask-bits.js';
import type { PlainValue } from '../model.js';
import { f32Dataset, h5Group, i64Dataset, scalarString, u8Dataset, type H5Dataset, type H5Entry } from './h5-tree.js';
import type { NirDocument, NirNode } from './nir-document.js';

/** The version string written to `version`: the nir package layout these files follow. */
export const NIR_WRITE_VERSION = '1.0.7';
/** Marks metadata written by spikestream (graph metadata `spikestream` JSON, field `format`). */
export const SPIKESTREAM_NIR_FORMAT = 'spikestream.nir';
export const SPIKESTREAM_NIR_VERSION = 1;

export interface NirExportOptions {
  /** Model-level facts stored in the graph metadata (name, labels, input...), restored on import. */
  readonly extras?: { readonly [key: string]: PlainValue };
}

/** The NIR node type an IR op is written as. */
export const NIR_TYPE_OF_OP: Readonly<Record<GraphNode['op'], string>> = {
  Input: 'Input', Output: 'Output', Conv2d: 'Conv2d', Linear: 'Linear', Affine: 'Affine', SumPool2d: 'SumPool2d', AvgPool2d: 'AvgPool2d',
  Flatten: 'Flatten', Scale: 'Scale', Threshold: 'Threshold', IF: 'IF', LIF: 'LIF', LI: 'LI',
};

export function exportNirDocument(graph: Graph, options: NirExportOptions = {}): NirDocument {
  const plan = validateGraph(graph);
  const nodes: NirNode[] = plan.nodes.map((n, p) => exportNode(n, plan.inShapes[p], plan.outShapes[p]));
  // Declaration order, so a round trip keeps the graph as the user built it.
  const byId = new Map(nodes.map((n) => [n.name, n]));
  const ordered = graph.nodes.map((n) => byId.get(n.id) as NirNode);
  const graphMeta = {
    format: SPIKESTREAM_NIR_FORMAT,
    version: SPIKESTREAM_NIR_VERSION,
    nodeOrder: graph.nodes.map((n) => n.id),
    ...(options.extras ? { model: options.extras } : {}),
  };
  return {
    version: NIR_WRITE_VERSION,
    graph: {
      nodes: ordered,
      edges: graph.edges.map((e) => [e[0], e[1]] as const),
      metadata: h5Group([['spikestream', scalarString(JSON.stringify(graphMeta))]]),
    },
  };
}

const i64 = (values: readonly number[]): H5Dataset => i64Dataset([values.length], values);
const i64s = (v: number): H5Dataset => i64Dataset([], [v]);

function full(p: ParamValue, shape: readonly number[]): H5Dataset {
  return f32Dataset(shape, expandParam(p, shape));
}

function tensorDs(t: Tensor): H5Dataset {
  return f32Dataset(t.shape, Float32Array.from(t.data));
}

/**
 * One IR node as a NIR node: its datasets (Python's field order) and the spikestream metadata.
 * `inShape`/`outShape` are the node's input and output shapes from graph validation.
 */
export function exportNode(n: GraphNode, inShape: readonly number[], outShape: readonly number[]): NirNode {
  const fields: [string, H5Dataset][] = [];
  switch (n.op) {
    case 'Input':
      fields.push(['shape', i64(n.params.shape)]);
      break;
    case 'Output':
      fields.push(['shape', i64(outShape)]);
      break;
    case 'Conv2d': {
      const p = n.params;
      // nir declares a Conv2d input as [weight.shape[1], *input_shape], C_in/groups channels, so
      // its type check would fail on a grouped conv: leave input_shape out and nir infers it.
      if (p.groups === 1) fields.push(['input_shape', i64(inShape.slice(1))]);
      fields.push(['weight', maskedWeight(p.weight, n.mask)], ['stride', i64(p.stride)], ['padding', i64(p.padding)],
        ['dilation', i64(p.dilation)], ['groups', i64s(p.groups)], ['bias', p.bias ? f32Dataset([p.weight.shape[0]], Float32Array.from(p.bias.data)) : f32Dataset([p.weight.shape[0]], new Float32Array(p.weight.shape[0]))]);
      break;
    }
    case 'Linear':
      fields.push(['weight', maskedWeight(n.params.weight, n.mask)]);
      break;
    case 'Affine':
      fields.push(['weight', maskedWeight(n.params.weight, n.mask)], ['bias', tensorDs(n.params.bias)]);
      break;
    case 'SumPool2d':
    case 'AvgPool2d':
      fields.push(['kernel_size', i64(n.params.kernel_size)], ['stride', i64(n.params.stride)], ['padding', i64(n.params.padding)]);
      break;
    case 'Flatten':
      fields.push(['start_dim', i64s(n.params.start_dim)], ['end_dim', i64s(n.params.end_dim)], ['input_type', i64(inShape)]);
      break;
    case 'Scale':
      fields.push(['scale', full(n.params.scale, inShape)]);
      break;
    case 'Threshold':
      fields.push(['threshold', full(n.params.threshold, inShape)]);
      break;
    case 'IF': {
      const p = n.params;
      fields.push(['r', full(p.r, inShape)], ['v_threshold', full(p.v_threshold, inShape)], ['v_reset', full(p.v_reset ?? 0, inShape)]);
      break;
    }
    case 'LIF':
    case 'LI': {
      const p = n.params;
      const r = p.beta === undefined ? expandParam(p.r, inShape) : stepGainToOde(expandParam(p.r, inShape), expandParam(p.tau, inShape), p.dt);
      fields.push(['tau', full(p.tau, inShape)], ['r', f32Dataset(inShape, r)], ['v_leak', full(p.v_leak, inShape)]);
      if (n.op === 'LIF') fields.push(['v_threshold', full(n.params.v_threshold, inShape)], ['v_reset', full(n.params.v_reset ?? 0, inShape)]);
      break;
    }
  }
  const { json, datasets } = encodeIrNode(n, new Map(fields));
  const metadata = h5Group([['spikestream', scalarString(JSON.stringify(json))] as [string, H5Entry], ...datasets]);
  return { name: n.id, path: n.id, type: NIR_TYPE_OF_OP[n.op], fields: new Map(fields), metadata };
}

function stepGainToOde(rStep: Float32Array, tau: Float32Array, dt: number): Float32Array {
  const out = new Float32Array(rStep.length);
  for (let i = 0; i < out.length; i++) out[i] = (rStep[i] * tau[i]) / dt;
  return out;
}

function maskedWeight(w: Tensor, mask: Uint8Array | undefined): H5Dataset {
  const data = Float32Array.from(w.data);
  if (mask) for (let i = 0; i < data.length; i++) if (mask[i] === 0) data[i] = 0;
  return f32Dataset(w.shape, data);
}

/** JSON for one parameter: numbers inline ("-0" for negative zero), tensors by reference. */
export type EncodedParam = number | string | readonly number[] | { readonly $nir: string } | { readonly $meta: string };

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

function encodeIrNode(n: GraphNode, nirFields: ReadonlyMap<string, H5Dataset>): { json: Record<string, unknown>; datasets: [string, H5Dataset][] } {
  const datasets: [string, H5Dataset][] = [];
  const params: Record<string, EncodedParam> = {};
  for (const [k, v] of Object.entries(n.params as Record<string, unknown>)) {
    if (v === undefined) continue;
    if (k === 'weight' && isWeighted(n) && n.mask) {
      // The NIR weight has zeros under the mask (the IR weight there may differ): the NIR dataset
      // plus the mask restores the effective weights, which is all a masked weight means.
      params[k] = { $nir: k };
      continue;
    }
    if (typeof v === 'number') params[k] = Object.is(v, -0) ? '-0' : v;
    else if (typeof v === 'string') params[k] = v;
    else if (Array.isArray(v)) params[k] = [...(v as number[])];
    else {
      const t = v as Tensor;
      const ds = nirFields.get(k);
      if (ds && ds.kind === 'float' && ds.shape.length === t.shape.length && ds.shape.every((d, i) => d === t.shape[i]) && sameBits(ds.data as Float32Array, t.data)) {
        params[k] = { $nir: k };
      } else {
        const name = `spikestream.${k}`;
        datasets.push([name, tensorDs(t)]);
        params[k] = { $meta: name };
      }
    }
  }
  const json: Record<string, unknown> = { op: n.op, params };
  if (isWeighted(n) && n.mask) {
    datasets.push(['spikestream.mask', u8Dataset([Math.ceil(n.mask.length / 8)], packMask(n.mask))]);
    json.mask = { $meta: 'spikestream.mask', length: n.mask.length };
  }
  return { json, datasets };
}
