import { expect } from 'vitest';
import { DecodeError } from '../../src/events/decode-error.js';

/**
 * The DecodeError `f` throws. Fails the test when `f` returns normally or throws anything else,
 * so a decoder that crashes with a TypeError cannot pass as "rejected the input".
 */
export function decodeErrorOf(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return e as DecodeError;
  }
  throw new Error('expected a DecodeError');
}
