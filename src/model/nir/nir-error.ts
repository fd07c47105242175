/**
 * Why a NIR file was rejected. `node` is the NIR node name (nested subgraph nodes as
 * "graph.node"), `field` the dataset inside it (e.g. "weight", "v_threshold", "edges[3]"), so the
 * message always says where the fault is.
 * - NOT_HDF5: the bytes are not a readable HDF5 file (HDF5's own reason is quoted).
 * - BAD_LAYOUT: groups/datasets are not where NIR puts them (no `node` group, a node without `type`).
 * - MISSING: a node lacks a parameter its type requires.
 * - BAD_TYPE: a dataset has the wrong kind (string where numbers belong, float where integers belong).
 * - BAD_VALUE: a value is out of range (negative stride, integer beyond 2^53, unknown padding word).
 * - SHAPE: shapes do not fit (weight rank, parameter vs. neuron count, declared vs. inferred shapes).
 * - UNKNOWN_TYPE: a node type NIR does not define.
 * - UNSUPPORTED: a NIR construct spikestream cannot run (recurrence, Conv1d, non-zero Delay...).
 * - BAD_EDGE: an edge names a node that does not exist, or Input/Output rules are broken.
 * - TOO_LARGE: a size exceeds NIR_LIMITS (checked before reading the data).
 * - IO: the file cannot be read or written.
 */
export type NirErrorCode =
  | 'NOT_HDF5' | 'BAD_LAYOUT' | 'MISSING' | 'BAD_TYPE' | 'BAD_VALUE' | 'SHAPE' | 'UNKNOWN_TYPE'
  | 'UNSUPPORTED' | 'BAD_EDGE' | 'TOO_LARGE' | 'IO';

export class NirError extends Error {
  override readonly name = 'NirError';

  constructor(
    readonly code: NirErrorCode,
    /** NIR node name, when one node is to blame. */
    readonly node: string | undefined,
    /** Dataset or property of that node (or of the file when node is undefined). */
    readonly field: string | undefined,
    readonly reason: string,
  ) {
    super(`NIR ${node !== undefined ? `node "${node}"` : 'file'}${field ? ` field "${field}"` : ''}: ${reason}`);
  }
}

export function isNirError(e: unknown): e is NirError {
  return e instanceof NirError;
}
