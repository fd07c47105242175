/**
 * The AEDAT 4.0 IOHeader flatbuffer (identifier "IOHE", schema from dv-processing):
 *   table IOHeader { compression: CompressionType = NONE (int32); dataTablePosition: int64 = -1;
 *                    infoNode: string; }
 *   enum CompressionType { NONE, LZ4, LZ4_HIGH, ZSTD, ZSTD_HIGH }
 */
import { CheckedTable } from './checked-table.js';
import { CodecError } from './codec-error.js';

export const AEDAT4_COMPRESSIONS = ['NONE', 'LZ4', 'LZ4_HIGH', 'ZSTD', 'ZSTD_HIGH'] as const;
export type Aedat4Compression = (typeof AEDAT4_COMPRESSIONS)[number];

export interface IoHeader {
  readonly compression: Aedat4Compression;
  /** Stream offset of the FileDataTable, or -1 when the file has none. */
  readonly dataTablePosition: number;
  /** XML describing the streams (see parseInfoNode). */
  readonly infoNode: string;
}

/** Reads an IOHeader from its flatbuffer bytes (the part after the int32 size prefix). */
export function readIoHeader(bytes: Uint8Array): IoHeader {
  const table = new CheckedTable(bytes, 'IOHE', 'IOHeader');
  const c = table.field(0, 4);
  const code = c === 0 ? 0 : table.bb.readInt32(c);
  const compression = AEDAT4_COMPRESSIONS[code];
  if (compression === undefined) throw new CodecError('UNSUPPORTED', `IOHeader: unknown compression type ${code}`);
  const d = table.field(1, 8);
  const dtp = d === 0 ? -1n : table.bb.readInt64(d);
  if (dtp < -1n || dtp > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError('CORRUPT', `IOHeader: dataTablePosition ${dtp} out of range`);
  return { compression, dataTablePosition: Number(dtp), infoNode: table.string(2) ?? '' };
}
