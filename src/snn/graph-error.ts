/**
 * Why a graph was rejected. Callers branch on the code; `node` and `field` say where, so a model
 * loader can turn them into a field path and a NIR importer into the NIR node name.
 * - BAD_NODE: a node is malformed (missing/duplicate id, unknown op, params not an object).
 * - BAD_PARAM: a parameter has the wrong type, value or shape.
 * - BAD_EDGE: an edge names an unknown node, loops onto itself, repeats, or breaks Input/Output rules.
 * - SHAPE: shapes of connected nodes do not fit.
 * - CYCLE: the graph has a cycle (recurrent graphs are not supported yet).
 * - UNSUPPORTED: a NIR node type spikestream recognises but cannot run yet.
 * - TOO_LARGE: a size exceeds GRAPH_LIMITS.
 */
export type GraphErrorCode = 'BAD_NODE' | 'BAD_PARAM' | 'BAD_EDGE' | 'SHAPE' | 'CYCLE' | 'UNSUPPORTED' | 'TOO_LARGE';

export class GraphError extends Error {
  override readonly name = 'GraphError';

  constructor(
    readonly code: GraphErrorCode,
    /** Id of the offending node, if one is to blame. */
    readonly node: string | undefined,
    /** Parameter or property of that node (e.g. "weight", "params.stride", "edges[3]"). */
    readonly field: string | undefined,
    readonly reason: string,
  ) {
    super(`${node !== undefined ? `node "${node}"` : 'graph'}${field ? ` ${field}` : ''}: ${reason}`);
  }
}
