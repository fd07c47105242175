/**
 * Names of the training choices, in a module without tfjs so the CLI can describe them without
 * loading tfjs at startup (every `spikestream` command would pay for it otherwise).
 */

/** dense, esl (prune-and-regrow), static (fixed random mask), prune (one-shot magnitude pruning, then fine-tuning). */
export type Method = 'dense' | 'esl' | 'static' | 'prune';
export const METHODS: readonly Method[] = ['dense', 'esl', 'static', 'prune'];

export type LossKind = 'ce' | 'mse';
export const LOSS_KINDS: readonly LossKind[] = ['ce', 'mse'];

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
