/**
 * Nested NIR subgraphs (nodes of type NIRGraph) flattened into one graph. Inner nodes get dotted
 * paths ("sub.lif"); a subgraph's own Input and Output nodes are ports, not nodes: an edge into the
 * subgraph (named "sub", or "sub.<input name>" when it has several inputs) goes to what its Input
 * feeds, an edge out of it comes from what feeds its Output. Edges naming nodes that do not exist
 * fail here, with the edge's index.
 */
import type { NirGraph, NirNode } from './nir-document.js';
import { NirError } from './nir-error.js';
import type { NirLimits } from './nir-limits.js';

export interface FlatNode {
  readonly path: string;
  readonly node: NirNode;
}

export interface FlatEdge {
  readonly from: string;
  readonly to: string;
  /** Where the edge is declared, for error messages: the (sub)graph path and "edges[k]". */
  readonly graph: string | undefined;
  readonly field: string;
}

export interface FlatGraph {
  readonly nodes: readonly FlatNode[];
  readonly edges: readonly FlatEdge[];
}

interface Level {
  nodes: FlatNode[];
  edges: FlatEdge[];
  /** Port name -> flat paths it stands for (inner Input: its targets; inner Output: its sources). */
  ins: Map<string, string[]>;
  outs: Map<string, string[]>;
}

export function flattenNir(g: NirGraph, limits: NirLimits): FlatGraph {
  const top = flattenLevel(g, '', true, limits);
  return { nodes: top.nodes, edges: top.edges };
}

function flattenLevel(g: NirGraph, prefix: string, isTop: boolean, limits: NirLimits): Level {
  const graphPath = prefix ? prefix.slice(0, -1) : undefined;
  const byName = new Map<string, NirNode>();
  const subs = new Map<string, Level>();
  const out: Level = { nodes: [], edges: [], ins: new Map(), outs: new Map() };
  for (const n of g.nodes) {
    byName.set(n.name, n);
    if (n.graph) {
      const sub = flattenLevel(n.graph, `${prefix}${n.name}.`, false, limits);
      subs.set(n.name, sub);
      out.nodes.push(...sub.nodes);
      out.edges.push(...sub.edges);
    } else if (isTop || (n.type !== 'Input' && n.type !== 'Output')) {
      out.nodes.push({ path: prefix + n.name, node: n });
    } else if (n.type === 'Input') out.ins.set(n.name, []);
    else out.outs.set(n.name, []);
    if (out.nodes.length > limits.maxNodes) throw new NirError('TOO_LARGE', graphPath, 'nodes', `more than ${limits.maxNodes} nodes`);
  }

  const ports = (sub: Level, which: 'ins' | 'outs', name: string, port: string | undefined, field: string, edge: string): string[] => {
    const map = sub[which];
    if (port !== undefined) {
      const list = map.get(port);
      if (list === undefined) throw new NirError('BAD_EDGE', graphPath, field, `${edge}: subgraph "${prefix}${name}" has no ${which === 'ins' ? 'Input' : 'Output'} node "${port}"`);
      return list;
    }
    if (map.size !== 1) {
      throw new NirError('BAD_EDGE', graphPath, field, `${edge}: subgraph "${prefix}${name}" has ${map.size} ${which === 'ins' ? 'Input' : 'Output'} nodes; name one as "${name}.<port>"`);
    }
    return [...map.values()][0];
  };

  const resolve = (ref: string, role: 'source' | 'target', field: string, edge: string): { paths: string[]; port?: 'in' | 'out'; name?: string } => {
    const n = byName.get(ref);
    if (n !== undefined) {
      const sub = subs.get(ref);
      if (sub) return { paths: ports(sub, role === 'source' ? 'outs' : 'ins', ref, undefined, field, edge) };
      if (!isTop && n.type === 'Input') {
        if (role === 'target') throw new NirError('BAD_EDGE', graphPath, field, `${edge}: an Input node cannot be an edge target`);
        return { paths: [], port: 'in', name: ref };
      }
      if (!isTop && n.type === 'Output') {
        if (role === 'source') throw new NirError('BAD_EDGE', graphPath, field, `${edge}: an Output node cannot be an edge source`);
        return { paths: [], port: 'out', name: ref };
      }
      return { paths: [prefix + ref] };
    }
    // "sub.port": a subgraph's Input/Output addressed by name.
    for (let i = ref.indexOf('.'); i > 0; i = ref.indexOf('.', i + 1)) {
      const sub = subs.get(ref.slice(0, i));
      if (sub) return { paths: ports(sub, role === 'source' ? 'outs' : 'ins', ref.slice(0, i), ref.slice(i + 1), field, edge) };
    }
    throw new NirError('BAD_EDGE', graphPath, field, `${edge}: there is no node "${ref}"${graphPath ? ` in subgraph "${graphPath}"` : ''}`);
  };

  g.edges.forEach(([a, b], k) => {
    const field = `edges[${k}]`;
    const edge = `edge "${a}" -> "${b}"`;
    const src = resolve(a, 'source', field, edge);
    const dst = resolve(b, 'target', field, edge);
    if (src.port === 'in' && dst.port === 'out') throw new NirError('UNSUPPORTED', graphPath, field, `${edge}: a subgraph passing its input straight to its output`);
    if (src.port === 'in') {
      (out.ins.get(src.name as string) as string[]).push(...dst.paths);
      return;
    }
    if (dst.port === 'out') {
      (out.outs.get(dst.name as string) as string[]).push(...src.paths);
      return;
    }
    for (const from of src.paths) for (const to of dst.paths) out.edges.push({ from, to, graph: graphPath, field });
    if (out.edges.length > limits.maxEdges) throw new NirError('TOO_LARGE', graphPath, 'edges', `more than ${limits.maxEdges} edges`);
  });
  return out;
}
