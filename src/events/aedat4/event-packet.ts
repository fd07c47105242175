/**
 * The EVTS flatbuffer of an AEDAT 4.0 event packet (schema from dv-processing):
 *   struct Event { timestamp: int64; x: int16; y: int16; polarity: bool; }  // 16 bytes, 3 padding
 *   table EventPacket { elements: [Event]; }  file_identifier "EVTS"
 * The vector is located through checked flatbuffer accessors; the events are then read straight
 * from the bytes (copyEvents), because an accessor call per field per event would cost more than
 * decompression.
 */
import type { EventBatch } from '../batch.js';
import { CheckedTable } from './checked-table.js';
import { CodecError } from './codec-error.js';

export const EVENT_STRUCT_BYTES = 16;

/**
 * Finds the Event structs in a size-prefixed EVTS buffer (a whole decompressed packet). Returns
 * the index of the first struct in `bytes` and their count.
 */
export function locateEvents(bytes: Uint8Array): { start: number; count: number } {
  if (bytes.length < 4) throw new CodecError('CORRUPT', 'event packet shorter than its size prefix');
  const size = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  if (size + 4 !== bytes.length) {
    throw new CodecError('CORRUPT', `event packet size prefix says ${size + 4} bytes, the packet holds ${bytes.length}`);
  }
  const table = new CheckedTable(bytes.subarray(4), 'EVTS', 'EventPacket');
  const v = table.vector(0, EVENT_STRUCT_BYTES);
  return { start: v.length === 0 ? 4 : 4 + v.start, count: v.length };
}

/** Typed-array views read the structs in host byte order, which must then be little-endian. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** |t| below 2^53 us: the high int32 of the int64 timestamp lies in [-2^21, 2^21). */
const T_HI_LIMIT = 0x200000;

/**
 * Copies `count` Event structs from bytes[start..] into out[o..] and returns how many are valid:
 * `count`, or the index of the first event whose timestamp is not below 2^53 us in magnitude or
 * whose address is negative (out then holds the events before it).
 *
 * Hand-written hot loop (after decompression, the decoder's largest cost): one Int32Array view
 * over 4-byte aligned structs on little-endian hosts, faults accumulated in one word and checked
 * once per packet, the polarity mapped to 0/1 without a branch (a data-dependent branch on random
 * polarities doubled the loop's time). Other layouts, and a packet with a fault, take the checked
 * DataView loop, which stops at the first bad event.
 */
export function copyEvents(bytes: Uint8Array, start: number, count: number, out: EventBatch, o: number): number {
  const abs = bytes.byteOffset + start;
  if (LITTLE_ENDIAN && (abs & 3) === 0) {
    const w32 = new Int32Array(bytes.buffer, abs, count * 4);
    const { t, x, y, p } = out;
    let bad = 0;
    for (let w = 0, j = o, end = o + count; j < end; j++, w += 4) {
      const hi = w32[w + 1];
      const xy = w32[w + 2]; // x in the low half, y in the high half
      bad |= ((hi + T_HI_LIMIT) >>> 22) | (xy & 0x80008000);
      t[j] = hi * 4294967296 + (w32[w] >>> 0);
      x[j] = xy;
      y[j] = xy >>> 16;
      p[j] = ((w32[w + 3] & 0xff) + 0xff) >>> 8;
    }
    if (bad === 0) return count;
  }
  return copyEventsChecked(bytes, start, count, out, o);
}

function copyEventsChecked(bytes: Uint8Array, start: number, count: number, out: EventBatch, o: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + start, count * EVENT_STRUCT_BYTES);
  const { t, x, y, p } = out;
  for (let k = 0; k < count; k++) {
    const b = EVENT_STRUCT_BYTES * k;
    const hi = dv.getInt32(b + 4, true);
    const xx = dv.getInt16(b + 8, true);
    const yy = dv.getInt16(b + 10, true);
    if (hi >= T_HI_LIMIT || hi < -T_HI_LIMIT || xx < 0 || yy < 0) return k;
    t[o + k] = hi * 4294967296 + dv.getUint32(b, true);
    x[o + k] = xx;
    y[o + k] = yy;
    p[o + k] = dv.getUint8(b + 12) !== 0 ? 1 : 0;
  }
  return count;
}

/** Why copyEvents refused event `k` of the structs at bytes[start..]. */
export function badEventReason(bytes: Uint8Array, start: number, k: number): string {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + start + EVENT_STRUCT_BYTES * k, EVENT_STRUCT_BYTES);
  const hi = dv.getInt32(4, true);
  const xx = dv.getInt16(8, true);
  const yy = dv.getInt16(10, true);
  return xx < 0 || yy < 0 ? `negative address (${xx}, ${yy})` : `timestamp beyond 2^53 us (high word ${hi})`;
}
