/**
 * Limits against hostile or broken model files, with defaults in one place. Declared sizes are
 * checked against these and against the bytes actually present before anything is allocated.
 */
export interface ModelLimits {
  /** Largest model file in bytes. */
  readonly maxFileBytes: number;
  /** Elements in one tensor (64 Mi floats = 256 MB). */
  readonly maxTensorElements: number;
  /** Elements over all tensors together. */
  readonly maxTotalTensorElements: number;
  readonly maxTensors: number;
  readonly maxNodes: number;
  readonly maxEdges: number;
  readonly maxLabels: number;
  /** Longest string (name, label, id...) in characters. */
  readonly maxStringLength: number;
  readonly maxRank: number;
  /** Nesting depth of free-form maps (training, meta). */
  readonly maxPlainDepth: number;
  /** Values in free-form maps together (training history, meta). */
  readonly maxPlainItems: number;
}

export const MODEL_LIMITS: ModelLimits = Object.freeze({
  maxFileBytes: 1 << 30,
  maxTensorElements: 1 << 26,
  maxTotalTensorElements: 1 << 27,
  maxTensors: 65536,
  maxNodes: 4096,
  maxEdges: 65536,
  maxLabels: 100_000,
  maxStringLength: 4096,
  maxRank: 6,
  maxPlainDepth: 16,
  maxPlainItems: 1 << 20,
});

export function resolveModelLimits(l?: Partial<ModelLimits>): ModelLimits {
  return { ...MODEL_LIMITS, ...(l ?? {}) };
}
