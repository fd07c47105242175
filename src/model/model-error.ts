/**
 * Why a model file was rejected. `path` names the field (e.g. `tensors["conv1.weight"].data`,
 * `graph.nodes[2](if1).params.v_threshold`), `code` says what kind of fault it is.
 * - TOO_LARGE: a size exceeds MODEL_LIMITS (checked before allocating).
 * - BAD_MSGPACK: the bytes are not one well-formed msgpack value.
 * - BAD_FORMAT: not a spikestream model (`format` missing or different).
 * - UNSUPPORTED_VERSION: a version this build cannot read.
 * - MISSING / BAD_TYPE / BAD_VALUE: a required field is absent, of the wrong type, or out of range.
 * - FORBIDDEN_KEY: a map key such as __proto__ that could reach object prototypes.
 * - BAD_DTYPE / SHAPE_MISMATCH / NON_FINITE: tensor payload faults.
 * - MASK_MISMATCH: a mask whose shape, length, padding bits or declared density do not fit.
 * - BAD_GRAPH: the graph is invalid (unknown edge ends, cycles, shapes...): see the message.
 */
export type ModelErrorCode =
  | 'TOO_LARGE' | 'BAD_MSGPACK' | 'BAD_FORMAT' | 'UNSUPPORTED_VERSION' | 'MISSING' | 'BAD_TYPE' | 'BAD_VALUE'
  | 'FORBIDDEN_KEY' | 'BAD_DTYPE' | 'SHAPE_MISMATCH' | 'NON_FINITE' | 'MASK_MISMATCH' | 'BAD_GRAPH';

export class ModelError extends Error {
  override readonly name = 'ModelError';

  constructor(readonly code: ModelErrorCode, readonly path: string, readonly reason: string) {
    super(`model file${path ? ` ${path}` : ''}: ${reason}`);
  }
}

export function isModelError(e: unknown): e is ModelError {
  return e instanceof ModelError;
}
