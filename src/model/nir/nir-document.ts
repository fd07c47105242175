/**
 * A NIR file as structure, independent of what the nodes mean: the layout the Python `nir`
 * package reads and writes (nir/serialization.py):
 *
 *   version                      string (vlen UTF-8), the writing package's version
 *   node/type                    "NIRGraph"
 *   node/nodes/<name>/type       the node type ("Conv2d", "IF", "NIRGraph" for a subgraph...)
 *   node/nodes/<name>/<param>    one dataset per parameter (groups for nested graphs)
 *   node/nodes/<name>/metadata/  optional free-form datasets
 *   node/edges                   [n, 2] strings (source, target); h5py writes an empty list as an
 *                                empty float64 array
 *   node/metadata/               optional graph metadata
 *
 * Node order is the order of the HDF5 group listing (names sorted), as Python's reader sees it.
 */
import { elementCount, h5Group, scalarString, stringDataset, type H5Dataset, type H5Entry, type H5Group } from './h5-tree.js';
import { NirError } from './nir-error.js';
import { resolveNirLimits, type NirLimits } from './nir-limits.js';

export interface NirNode {
  /** Name within its graph. */
  readonly name: string;
  /** Dotted path from the root graph ("sub.lif"), used in error messages. */
  readonly path: string;
  readonly type: string;
  /** Every dataset/group of the node except `type`, `metadata` (and a subgraph's `nodes`/`edges`). */
  readonly fields: ReadonlyMap<string, H5Entry>;
  readonly metadata?: H5Group;
  /** Present when type is NIRGraph. */
  readonly graph?: NirGraph;
}

export interface NirGraph {
  readonly nodes: readonly NirNode[];
  readonly edges: readonly (readonly [string, string])[];
  readonly metadata?: H5Group;
}

export interface NirDocument {
  /** The `version` dataset, absent in some hand-made files. */
  readonly version: string | undefined;
  readonly graph: NirGraph;
}

export function parseNirTree(root: H5Group, limits?: Partial<NirLimits>): NirDocument {
  const lim = resolveNirLimits(limits);
  const versionEntry = root.children.get('version');
  let version: string | undefined;
  if (versionEntry !== undefined) {
    if (versionEntry.kind !== 'string' || versionEntry.data.length !== 1) throw new NirError('BAD_TYPE', undefined, 'version', 'must be one string');
    version = versionEntry.data[0];
  }
  const node = root.children.get('node');
  if (node === undefined) throw new NirError('BAD_LAYOUT', undefined, 'node', 'the file has no "node" group: not a NIR file');
  if (node.kind !== 'group') throw new NirError('BAD_LAYOUT', undefined, 'node', 'must be a group');
  const type = typeOf(node, undefined);
  if (type !== 'NIRGraph') throw new NirError('UNSUPPORTED', undefined, 'node/type', `the root node is a ${type}, not a NIRGraph`);
  return { version, graph: parseGraph(node, '', 0, lim) };
}

function typeOf(g: H5Group, path: string | undefined): string {
  const t = g.children.get('type');
  if (t === undefined) throw new NirError('BAD_LAYOUT', path, 'type', 'is missing: every NIR node has a type');
  if (t.kind !== 'string' || t.data.length !== 1) throw new NirError('BAD_TYPE', path, 'type', 'must be one string');
  return t.data[0];
}

function parseGraph(g: H5Group, prefix: string, depth: number, lim: NirLimits): NirGraph {
  const where = prefix ? prefix.slice(0, -1) : undefined;
  if (depth > lim.maxDepth) throw new NirError('TOO_LARGE', where, 'nodes', `subgraphs nest deeper than ${lim.maxDepth} levels`);
  const nodesGroup = g.children.get('nodes');
  if (nodesGroup === undefined) throw new NirError('BAD_LAYOUT', where, 'nodes', 'is missing: a NIRGraph lists its nodes in a "nodes" group');
  if (nodesGroup.kind !== 'group') throw new NirError('BAD_LAYOUT', where, 'nodes', 'must be a group');
  const nodes: NirNode[] = [];
  for (const [name, entry] of nodesGroup.children) {
    const path = prefix + name;
    if (entry.kind !== 'group') throw new NirError('BAD_LAYOUT', path, undefined, 'must be a group holding the node\'s type and parameters');
    const type = typeOf(entry, path);
    const fields = new Map<string, H5Entry>();
    let metadata: H5Group | undefined;
    for (const [k, v] of entry.children) {
      if (k === 'type') continue;
      if (k === 'metadata') {
        if (v.kind === 'group') metadata = v;
        continue;
      }
      if (type === 'NIRGraph' && (k === 'nodes' || k === 'edges')) continue;
      fields.set(k, v);
    }
    const graph = type === 'NIRGraph' ? parseGraph(entry, `${path}.`, depth + 1, lim) : undefined;
    nodes.push({ name, path, type, fields, ...(metadata ? { metadata } : {}), ...(graph ? { graph } : {}) });
  }
  const edgesEntry = g.children.get('edges');
  if (edgesEntry === undefined) throw new NirError('BAD_LAYOUT', where, 'edges', 'is missing: a NIRGraph lists its edges in an "edges" dataset');
  const edges = parseEdges(edgesEntry, where);
  const meta = g.children.get('metadata');
  return { nodes, edges, ...(meta?.kind === 'group' ? { metadata: meta } : {}) };
}

function parseEdges(e: H5Entry, where: string | undefined): [string, string][] {
  if (e.kind === 'group') throw new NirError('BAD_TYPE', where, 'edges', 'must be a dataset of [n, 2] strings, is a group');
  const n = elementCount(e.shape);
  if (n === 0) return [];
  if (e.kind !== 'string') throw new NirError('BAD_TYPE', where, 'edges', `must be [n, 2] strings, holds ${e.kind === 'other' ? e.description : `${e.kind} values`}`);
  if (e.shape.length !== 2 || e.shape[1] !== 2) throw new NirError('SHAPE', where, 'edges', `must have shape [n, 2], has [${e.shape.join(',')}]`);
  const out: [string, string][] = [];
  for (let i = 0; i < e.shape[0]; i++) out.push([e.data[2 * i], e.data[2 * i + 1]]);
  return out;
}

/** The tree a NIR document is written as (inverse of parseNirTree). */
export function nirTreeOf(doc: NirDocument): H5Group {
  const entries: [string, H5Entry][] = [];
  if (doc.version !== undefined) entries.push(['version', scalarString(doc.version)]);
  entries.push(['node', graphTree(doc.graph)]);
  return h5Group(entries);
}

function graphTree(g: NirGraph): H5Group {
  const nodes = h5Group(g.nodes.map((n) => [n.name, nodeTree(n)] as const));
  const edges = stringDataset([g.edges.length, 2], g.edges.flatMap((e) => [e[0], e[1]]));
  const entries: [string, H5Entry][] = [['edges', edges], ['nodes', nodes], ['type', scalarString('NIRGraph')]];
  if (g.metadata && g.metadata.children.size > 0) entries.push(['metadata', g.metadata]);
  return h5Group(entries);
}

function nodeTree(n: NirNode): H5Group {
  if (n.graph) return graphTree(n.metadata ? { ...n.graph, metadata: n.metadata } : n.graph);
  const entries: [string, H5Entry][] = [...n.fields];
  if (n.metadata && n.metadata.children.size > 0) entries.push(['metadata', n.metadata]);
  entries.push(['type', scalarString(n.type)]);
  return h5Group(entries);
}

export type { H5Dataset };
