/**
 * Limits against hostile or broken NIR files, defaults in one place. Dataset sizes are checked
 * from HDF5 metadata before any data is read, so a file declaring a huge dataset costs nothing.
 */
export interface NirLimits {
  /** Largest file in bytes. */
  readonly maxFileBytes: number;
  /** Elements in one dataset (64 Mi = 256 MB of float32). */
  readonly maxDatasetElements: number;
  /** Elements over all datasets together. */
  readonly maxTotalElements: number;
  /** Groups plus datasets in the file. */
  readonly maxObjects: number;
  /** Nesting depth of groups (subgraphs inside subgraphs). */
  readonly maxDepth: number;
  /** Nodes after flattening subgraphs. */
  readonly maxNodes: number;
  /** Edges after flattening subgraphs. */
  readonly maxEdges: number;
  /** Longest string dataset element in characters (types, names, metadata JSON). */
  readonly maxStringLength: number;
}

export const NIR_LIMITS: NirLimits = Object.freeze({
  maxFileBytes: 1 << 30,
  maxDatasetElements: 1 << 26,
  maxTotalElements: 1 << 27,
  maxObjects: 1 << 16,
  maxDepth: 16,
  maxNodes: 4096,
  maxEdges: 65536,
  maxStringLength: 1 << 22,
});

export function resolveNirLimits(l?: Partial<NirLimits>): NirLimits {
  return { ...NIR_LIMITS, ...(l ?? {}) };
}
