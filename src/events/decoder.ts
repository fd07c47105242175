import type { EventBatch, EventFormat } from './batch.js';

/**
 * A streaming decoder: a resumable state machine over byte chunks, so one core serves files,
 * sockets (`raw` messages) and tests that split input at every possible byte.
 *
 * Contract:
 * - `write(chunk)` accepts any number of bytes (a chunk may end inside a word, packet or header
 *   line) and returns the events completed by it, possibly none. It never retains `chunk`
 *   beyond the call except for the bytes of an incomplete unit (at most one packet), and those
 *   it copies: the caller may reuse the chunk's memory once write() returns (openEventFile reads
 *   every chunk into one buffer; test/events/chunk-reuse.test.ts checks every format).
 * - The returned batch is the caller's: the decoder never writes to its memory again, so it may
 *   be kept (binning keeps views). Exception, by opt-in only: with `reuseOutput: true` (see
 *   DecoderOptions) it is valid only until the next write()/end().
 * - `end()` declares end of input and returns what is left; input that ends inside a unit is
 *   a TRUNCATED DecodeError.
 * - On a fault both throw a DecodeError whose `events` holds what the failing call decoded
 *   before the fault; after a fault the decoder stays failed (every later call rethrows).
 */
export interface EventDecoder {
  readonly format: EventFormat;
  readonly info: DecoderInfo;
  write(chunk: Uint8Array): EventBatch;
  end(): EventBatch;
}

/** What a decoder learned about its stream so far (filled in as the header is parsed). */
export interface DecoderInfo {
  /** Sensor width from the header, if it declares one. */
  width?: number;
  height?: number;
  /** Header text lines without their comment prefix and line ending. */
  headerLines: string[];
  /** Extra structured facts, e.g. the AEDAT2 chip class or EVT2.1 endianness. */
  details: Record<string, string | number | boolean>;
  /** Bytes consumed so far (including header). */
  bytes: number;
  /** Events returned so far. */
  events: number;
  /** Words that are not polarity events and were skipped (APS, IMU, external, special events). */
  skippedWords: number;
  /** Whole packets/tables of other types skipped (AEDAT 3.1/4.0 non-polarity streams). */
  skippedPackets: number;
}

/** Limits against hostile input, with defaults in one place. Checked where counts grow. */
export interface DecoderLimits {
  /** Largest header (text lines or IOHeader) in bytes. */
  readonly maxHeaderBytes: number;
  /** Largest single packet (compressed or not) in bytes; AEDAT 3.1/4.0. */
  readonly maxPacketBytes: number;
  /** Largest single text line in bytes (CSV). */
  readonly maxLineBytes: number;
}

export const DEFAULT_DECODER_LIMITS: DecoderLimits = Object.freeze({
  maxHeaderBytes: 1 << 20,
  maxPacketBytes: 64 << 20,
  maxLineBytes: 4096,
});

/** Options every decoder factory takes. */
export interface DecoderOptions {
  limits?: Partial<DecoderLimits>;
  /**
   * Borrowed output (default false). When true, a decoder may write every call's events into the
   * same memory: a batch returned by write() or end() is valid only until the next write()/end()
   * on that decoder (a DecodeError's `events` stay valid: the decoder never writes again). Only
   * for consumers that finish with each batch before asking for the next and keep no view on it
   * (counting, converting to another format, benches); never for a stream feeding binning or
   * anything else that keeps views (stream/batch-operator.ts). Saves an allocation per call.
   * Decoders that do not implement it ignore it and return fresh memory, which is always valid.
   */
  reuseOutput?: boolean;
}

export function resolveLimits(o?: DecoderOptions): DecoderLimits {
  return { ...DEFAULT_DECODER_LIMITS, ...(o?.limits ?? {}) };
}

export function newInfo(): DecoderInfo {
  return { headerLines: [], details: {}, bytes: 0, events: 0, skippedWords: 0, skippedPackets: 0 };
}
