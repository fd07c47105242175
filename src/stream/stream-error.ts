/**
 * Why a stream stage stopped. Callers branch on the code; the message is for people.
 * - BAD_OPTION: an operator or source was configured with an invalid value (thrown at creation).
 * - OUT_OF_RANGE: an event lies outside the sensor geometry a stage was given.
 * - GAP_TOO_LARGE: a forward time jump would emit more empty windows than `maxGapWindows`.
 * - TOO_MANY_EVENTS: a buffer (one window, one whole recording) would exceed its configured limit.
 * - CONNECTION_CLOSED: a live source's connection ended abnormally.
 */
export type StreamErrorCode = 'BAD_OPTION' | 'OUT_OF_RANGE' | 'GAP_TOO_LARGE' | 'TOO_MANY_EVENTS' | 'CONNECTION_CLOSED';

export class StreamError extends Error {
  override readonly name = 'StreamError';

  constructor(
    readonly code: StreamErrorCode,
    /** The stage that failed, e.g. `binByTime` or `denoise`. */
    readonly stage: string,
    readonly reason: string,
  ) {
    super(`${stage}: ${reason}`);
  }
}

export function isStreamError(e: unknown): e is StreamError {
  return e instanceof StreamError;
}

/** Option checks shared by every stage; each throws a BAD_OPTION StreamError naming stage and option. */
export function requirePositiveInt(stage: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new StreamError('BAD_OPTION', stage, `${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

export function requireNonNegativeInt(stage: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new StreamError('BAD_OPTION', stage, `${name} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

export function requirePositiveNumber(stage: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new StreamError('BAD_OPTION', stage, `${name} must be a positive finite number, got ${String(v)}`);
  }
  return v;
}

export function requireFiniteNumber(stage: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new StreamError('BAD_OPTION', stage, `${name} must be a finite number, got ${String(v)}`);
  }
  return v;
}

/** Sensor sizes are at most 65536 per axis: coordinates are Uint16. */
export function requireSize(stage: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v > 65536) {
    throw new StreamError('BAD_OPTION', stage, `${name} must be an integer in 1..65536, got ${String(v)}`);
  }
  return v;
}
