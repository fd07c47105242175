/**
 * Reading back the spikestream metadata export-nir.ts writes: the graph-level JSON and the exact IR
 * node kept in each node's `metadata/spikestream`. A node is restored only when exporting the
 * restored node reproduces the file's NIR datasets bit for bit; otherwise the file was edited after
 * spikestream wrote it (in Python, say) and the NIR datasets win.
 */
import type { GraphNode } from '../../snn/graph.js';
import type { Tensor } from '../../snn/tensor.js';
import { unpackMask } from '../mask-bits.js';
import type { PlainValue } from '../model.js';
import { exportNode, SPIKESTREAM_NIR_FORMAT } from './export-nir.js';
import type { H5Dataset, H5Entry, H5Group } from './h5-tree.js';
import type { NirGraph, NirNode } from './nir-document.js';

export interface GraphMeta {
  readonly nodeOrder?: readonly string[];
  readonly model?: { readonly [key: string]: PlainValue };
}

function jsonOf(g: H5Group | undefined): unknown {
  const e = g?.children.get('spikestream');
  if (e === undefined || e.kind !== 'string' || e.data.length !== 1) return undefined;
  try {
    return JSON.parse(e.data[0]);
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The graph metadata when the file was written by spikestream, else undefined. */
export function readGraphMeta(g: NirGraph): GraphMeta | undefined {
  const j = jsonOf(g.metadata);
  if (!isRecord(j) || j.format !== SPIKESTREAM_NIR_FORMAT) return undefined;
  const nodeOrder = Array.isArray(j.nodeOrder) && j.nodeOrder.every((x) => typeof x === 'string') ? (j.nodeOrder as string[]) : undefined;
  const model = isRecord(j.model) ? (j.model as { [key: string]: PlainValue }) : undefined;
  return { ...(nodeOrder ? { nodeOrder } : {}), ...(model ? { model } : {}) };
}

function floatOf(e: H5Entry | undefined): Tensor | undefined {
  if (e === undefined || e.kind !== 'float' || !(e.data instanceof Float32Array)) return undefined;
  return { shape: [...e.shape], data: Float32Array.from(e.data) };
}

function decodeParam(v: unknown, node: NirNode): unknown {
  if (typeof v === 'number' || typeof v === 'string') return v === '-0' ? -0 : v;
  if (Array.isArray(v)) return v.every((x) => typeof x === 'number') ? [...v] : undefined;
  if (isRecord(v) && typeof v.$nir === 'string') return floatOf(node.fields.get(v.$nir));
  if (isRecord(v) && typeof v.$meta === 'string') return floatOf(node.metadata?.children.get(v.$meta));
  return undefined;
}

function sameDataset(a: H5Dataset, b: H5Entry | undefined): boolean {
  if (b === undefined || b.kind !== a.kind || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (a.kind === 'string' || b.kind === 'string') return a.kind === 'string' && b.kind === 'string' && a.data.every((s, i) => s === b.data[i]);
  if (a.kind === 'other' || b.kind === 'other') return false;
  if (a.kind === 'float' && b.kind === 'float') {
    if (a.dtype !== b.dtype || a.data.length !== b.data.length) return false;
    const ua = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    const ub = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    return ua.every((x, i) => x === ub[i]);
  }
  if (a.kind === 'int' && b.kind === 'int') {
    if (a.data.length !== b.data.length) return false;
    for (let i = 0; i < a.data.length; i++) if (BigInt(a.data[i] as number | bigint) !== BigInt(b.data[i] as number | bigint)) return false;
    return true;
  }
  return false;
}

/**
 * The IR node spikestream stored for this NIR node, if present and consistent with the file;
 * `id` is the IR id to give it, `inShape`/`outShape` its shapes (for the consistency export).
 */
export function restoreIrNode(node: NirNode, id: string, inShape: readonly number[] | undefined): GraphNode | undefined {
  const j = jsonOf(node.metadata);
  if (!isRecord(j) || typeof j.op !== 'string' || !isRecord(j.params)) return undefined;
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j.params)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') return undefined;
    const d = decodeParam(v, node);
    if (d === undefined) return undefined;
    params[k] = d;
  }
  let mask: Uint8Array | undefined;
  if (j.mask !== undefined) {
    if (!isRecord(j.mask) || typeof j.mask.$meta !== 'string' || !Number.isSafeInteger(j.mask.length)) return undefined;
    const bits = node.metadata?.children.get(j.mask.$meta);
    const n = j.mask.length as number;
    if (bits === undefined || bits.kind !== 'int' || !(bits.data instanceof Uint8Array) || bits.data.length !== Math.ceil(n / 8)) return undefined;
    mask = unpackMask(bits.data, n).mask;
  }
  const restored = { id, op: j.op, params, ...(mask ? { mask } : {}) } as unknown as GraphNode;
  const shapeIn = j.op === 'Input' ? (params.shape as number[]) : inShape;
  if (!shapeIn) return undefined;
  try {
    const again = exportNode(restored, shapeIn, outShapeHint(node));
    if (again.type !== node.type || again.fields.size !== node.fields.size) return undefined;
    for (const [k, ds] of again.fields) if (!sameDataset(ds as H5Dataset, node.fields.get(k))) return undefined;
  } catch {
    return undefined;
  }
  return restored;
}

/** Output nodes export their input shape as `shape`; for other ops the output shape is unused by exportNode. */
function outShapeHint(node: NirNode): number[] {
  const s = node.fields.get('shape');
  if (s && s.kind === 'int') return Array.from(s.data as ArrayLike<number | bigint>, (v) => Number(v));
  return [];
}
