/**
 * Size limits for graphs, checked by validateGraph before any engine allocates state, so a hostile
 * or mistaken model cannot make an engine allocate unbounded memory. Defaults in one place.
 */
export interface GraphLimits {
  readonly maxNodes: number;
  readonly maxEdges: number;
  /** Elements in one node's output (neurons per layer): 16 Mi floats = 64 MB of state. */
  readonly maxNodeElements: number;
  /** Elements over all node outputs together. */
  readonly maxTotalElements: number;
  /** Largest tensor rank in shapes. */
  readonly maxRank: number;
  /** Largest single dimension, kernel size, stride, padding or dilation. */
  readonly maxDim: number;
  /** Largest id length in characters. */
  readonly maxIdLength: number;
}

export const GRAPH_LIMITS: GraphLimits = Object.freeze({
  maxNodes: 4096,
  maxEdges: 65536,
  maxNodeElements: 1 << 24,
  maxTotalElements: 1 << 26,
  maxRank: 6,
  maxDim: 1 << 20,
  maxIdLength: 256,
});
