import { emptyBatch, type EventBatch, type EventFormat } from './batch.js';

/**
 * Why a decoder stopped. Callers branch on the code; the message is for people.
 * - BAD_MAGIC: the bytes are not this format (wrong signature or header).
 * - BAD_HEADER: the header is this format's but malformed (unparseable line, bad flatbuffer, limit exceeded).
 * - CORRUPT: a word, packet or line in the body is invalid.
 * - TRUNCATED: input ended inside a word, packet or header.
 * - TOO_LARGE: a declared size exceeds the configured limit.
 * - UNSUPPORTED: valid, but a variant this decoder does not handle (e.g. an unknown compression).
 */
export type DecodeErrorCode = 'BAD_MAGIC' | 'BAD_HEADER' | 'CORRUPT' | 'TRUNCATED' | 'TOO_LARGE' | 'UNSUPPORTED';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  /**
   * Events decoded from the failing `write()` call before the fault. Earlier calls already
   * returned theirs, so nothing accepted before the fault is lost.
   */
  events: EventBatch = emptyBatch();

  constructor(
    readonly code: DecodeErrorCode,
    readonly format: EventFormat | 'unknown',
    /** Absolute byte offset in the stream where the fault was detected. */
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${format}: ${reason} (byte offset ${offset})`);
  }
}

export function isDecodeError(e: unknown): e is DecodeError {
  return e instanceof DecodeError;
}
