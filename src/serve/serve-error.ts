import type { ErrorCode } from './protocol.js';

/** A failure reported to the peer as an `error` message with a protocol code. */
export class ServeError extends Error {
  override readonly name = 'ServeError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Fatal errors close the session after the error message. */
    readonly fatal = false,
  ) {
    super(message);
  }
}

export function isServeError(e: unknown): e is ServeError {
  return e instanceof ServeError;
}

/** WebSocket close code for a fatal error of this kind. */
export function closeCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'UNSUPPORTED_PROTOCOL': return 1002;
    case 'RATE_LIMITED': return 1013;
    case 'TOO_LARGE': return 1009;
    case 'INTERNAL': return 1011;
    default: return 1008;
  }
}
