import { concatBytes } from './concat-bytes.js';

/** `body` after a Prophesee `% key value` header made of `lines` (RAW and DAT files start so). */
export function withPropheseeHeader(body: Uint8Array, lines: readonly string[]): Uint8Array {
  return concatBytes(new TextEncoder().encode(lines.map((l) => `% ${l}\n`).join('')), body);
}
