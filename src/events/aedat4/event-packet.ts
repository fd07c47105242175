/**
 * The EVTS flatbuffer of an AEDAT 4.0 event packet (schema from dv-processing):
 *   struct Event { timestamp: int64; x: int16; y: int16; polarity: bool; }  // 16 bytes, 3 padding
 *   table EventPacket { elements: [Event]; }  file_identifier "EVTS"
 * Only the vector is located here; the events are read straight from the bytes by the decoder's
 * loop, because an accessor call per field per event would cost more than decompression.
 */
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
