/** Test helpers for decoders: whole-input decoding in given chunk sizes, and MANIFEST digests. */
import { createHash } from 'node:crypto';
import { concatBatches, type EventBatch } from '../../src/events/batch.js';
import type { EventDecoder } from '../../src/events/decoder.js';

/** Feeds `bytes` to `dec` in chunks whose sizes cycle through `sizes` (default: whole), then ends. */
export function decodeChunked(dec: EventDecoder, bytes: Uint8Array, sizes: readonly number[] = [bytes.length || 1]): EventBatch {
  const out: EventBatch[] = [];
  let i = 0;
  let k = 0;
  while (i < bytes.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]);
    out.push(dec.write(bytes.subarray(i, i + n)));
    i += n;
  }
  out.push(dec.end());
  return concatBatches(out);
}

/** SHA-256 of each column as MANIFEST.json encodes them: t int64 LE, x/y uint16 LE, p uint8. */
export function columnDigests(b: EventBatch): { t_int64le: string; x_uint16le: string; y_uint16le: string; p_uint8: string } {
  const n = b.t.length;
  const t64 = new BigInt64Array(n);
  for (let i = 0; i < n; i++) t64[i] = BigInt(b.t[i]);
  const h = (a: ArrayBufferView) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
  return { t_int64le: h(t64), x_uint16le: h(Uint16Array.from(b.x)), y_uint16le: h(Uint16Array.from(b.y)), p_uint8: h(Uint8Array.from(b.p)) };
}

/** Event i as [t, x, y, p]. */
export function eventAt(b: EventBatch, i: number): number[] {
  return [b.t[i], b.x[i], b.y[i], b.p[i]];
}

/** Plain arrays for toEqual comparisons. */
export function toRows(b: EventBatch): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < b.t.length; i++) rows.push(eventAt(b, i));
  return rows;
}
