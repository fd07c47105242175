import fc from 'fast-check';
import { expect } from 'vitest';
import { DecodeError } from '../../src/events/decode-error.js';
import type { EventDecoder } from '../../src/events/decoder.js';
import { concatBytes } from './concat-bytes.js';
import { decodeChunked } from './events.js';

/** Random input for a decoder, and what it may do with it. */
export interface RandomBytesOptions {
  /** A fresh decoder; `flag` is a random boolean for a format option (strict mode, requireHeader...). */
  readonly makeDecoder: (flag: boolean) => EventDecoder;
  /** A valid file header put before the random bytes in about half the runs. */
  readonly header: Uint8Array;
  /** Longest random body in bytes. */
  readonly maxLength: number;
  /** Largest chunk size; each run feeds its input in a cycle of 1 to `maxChunks` such sizes. */
  readonly maxChunk: number;
  /** Default 1: one chunk size per run. */
  readonly maxChunks?: number;
  /** Default 300. */
  readonly numRuns?: number;
  /** Upper bound on the events a decode that succeeds may return, from the input and the random body. */
  readonly maxEvents?: (input: Uint8Array, body: Uint8Array) => number;
}

/**
 * Feeds random bytes, with or without a valid header, in random chunk sizes: the decoder must
 * end (each run is bounded by the input) and throw nothing but a DecodeError.
 */
export function expectOnlyDecodeErrors(o: RandomBytesOptions): void {
  // size 'max': fast-check 4 otherwise caps generated arrays near 10 elements whatever maxLength says.
  const sizes = fc.array(fc.integer({ min: 1, max: o.maxChunk }), { minLength: 1, maxLength: o.maxChunks ?? 1 });
  fc.assert(fc.property(fc.boolean(), fc.uint8Array({ maxLength: o.maxLength, size: 'max' }), sizes, fc.boolean(), (withHeader, body, cycle, flag) => {
    const input = withHeader ? concatBytes(o.header, body) : body;
    try {
      const b = decodeChunked(o.makeDecoder(flag), input, cycle);
      if (o.maxEvents) expect(b.t.length).toBeLessThanOrEqual(o.maxEvents(input, body));
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
    }
  }), { numRuns: o.numRuns ?? 300 });
}
