/**
 * Test-only NIR file builder on top of the project's own HDF5 writer: lets tests write well-formed
 * and deliberately malformed NIR files in a few lines.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { h5Group, scalarString, stringDataset, type H5Dataset, type H5Entry, type H5Group } from '../../../src/model/nir/h5-tree.js';
import { writeH5File } from '../../../src/model/nir/write-h5.js';

export const tmpDir = mkdtempSync(join(tmpdir(), 'spikestream-nir-'));
let counter = 0;

export function tmpPath(name = 'g.nir'): string {
  return join(tmpDir, `${counter++}-${name}`);
}

export const f32 = (shape: number[], values: ArrayLike<number>): H5Dataset => ({ kind: 'float', dtype: 'f32', shape, data: Float32Array.from(values) });
export const f64 = (shape: number[], values: ArrayLike<number>): H5Dataset => ({ kind: 'float', dtype: 'f64', shape, data: Float64Array.from(values) });
export const i64 = (shape: number[], values: ReadonlyArray<number | bigint>): H5Dataset => ({ kind: 'int', dtype: 'i64', shape, data: BigInt64Array.from(values, (v) => BigInt(v)) });
export const str = (s: string): H5Dataset => scalarString(s);
export const fill = (shape: number[], v: number): H5Dataset => f32(shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(v));

export type NodeSpec = Record<string, H5Entry | string>;

/** A NIR tree: nodes as { name: { type: 'IF', r: f32(...) } }, edges as pairs. */
export function nirTree(nodes: Record<string, NodeSpec | H5Group>, edges: [string, string][], version: string | null = '1.0.7'): H5Group {
  return h5Group([
    ...(version === null ? [] : [['version', scalarString(version)] as [string, H5Entry]]),
    ['node', graphGroup(nodes, edges)],
  ]);
}

export function graphGroup(nodes: Record<string, NodeSpec | H5Group>, edges: [string, string][]): H5Group {
  return h5Group([
    ['edges', stringDataset([edges.length, 2], edges.flat())],
    ['nodes', h5Group(Object.entries(nodes).map(([name, spec]) => [name, nodeGroup(spec)] as [string, H5Entry]))],
    ['type', scalarString('NIRGraph')],
  ]);
}

/** A node group from a spec; a ready group (e.g. a nested NIRGraph from graphGroup) is kept as is. */
export function nodeGroup(spec: NodeSpec | H5Group): H5Group {
  if (isGroup(spec)) return spec;
  return h5Group(Object.entries(spec).map(([k, v]) => [k, typeof v === 'string' ? scalarString(v) : v] as [string, H5Entry]));
}

export async function writeTree(tree: H5Group, name?: string): Promise<string> {
  const p = tmpPath(name);
  await writeH5File(p, tree);
  return p;
}

/** A small valid graph: input [4] -> Affine 3x4 -> IF -> output. */
export function smallGraph(): { nodes: Record<string, NodeSpec>; edges: [string, string][] } {
  return {
    nodes: {
      input: { type: 'Input', shape: i64([1], [4]) },
      fc: { type: 'Affine', weight: f32([3, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0.5]), bias: f32([3], [0, 0.25, 0]) },
      lif: { type: 'IF', r: fill([3], 1), v_threshold: fill([3], 1) },
      output: { type: 'Output', shape: i64([1], [3]) },
    },
    edges: [['input', 'fc'], ['fc', 'lif'], ['lif', 'output']],
  };
}

function isGroup(x: NodeSpec | H5Group): x is H5Group {
  return x.kind === 'group' && (x as H5Group).children instanceof Map;
}
