/**
 * A bad wire-protocol message (DESIGN.md section 7). The codes are the protocol's own, so a
 * server can forward `{ type: 'error', code, message }` as is; the peer's session survives.
 */
export type ProtocolErrorCode = 'BAD_MESSAGE' | 'OUT_OF_RANGE' | 'TOO_LARGE' | 'UNSUPPORTED_PROTOCOL';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isProtocolError(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError;
}
