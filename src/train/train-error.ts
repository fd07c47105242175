/**
 * Why training could not start or continue. Callers branch on the code; the message names the
 * node, option or file at fault.
 * - UNSUPPORTED: the graph uses something the trainer cannot differentiate or lay out yet.
 * - BAD_OPTION: an option is out of range or inconsistent with another.
 * - BAD_DATA: the dataset is empty, mislabelled or does not fit the model input.
 * - BAD_CHECKPOINT: a checkpoint or --init model does not match the run.
 * - INVARIANT: an internal check failed (e.g. ESL density drifted); a bug, never user error.
 */
export type TrainErrorCode = 'UNSUPPORTED' | 'BAD_OPTION' | 'BAD_DATA' | 'BAD_CHECKPOINT' | 'INVARIANT';

export class TrainError extends Error {
  override readonly name = 'TrainError';

  constructor(readonly code: TrainErrorCode, message: string) {
    super(message);
  }
}
