/** Minimal .npy reader for tests: format 1.0/2.0, little-endian numeric dtypes, C order. */
import { readFileSync } from 'node:fs';

export interface Npy {
  dtype: string;
  shape: number[];
  /** Values as numbers (int64 converted; fine below 2^53). */
  data: Float64Array;
}

const SIZES: Record<string, number> = { '<i1': 1, '|i1': 1, '|u1': 1, '<u1': 1, '<i2': 2, '<u2': 2, '<i4': 4, '<u4': 4, '<i8': 8, '<u8': 8, '<f4': 4, '<f8': 8 };

export function parseNpy(bytes: Uint8Array): Npy {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  for (let i = 0; i < 6; i++) if (bytes[i] !== magic[i]) throw new Error('not an .npy file (bad magic)');
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  const header = Buffer.from(bytes.subarray(hstart, hstart + hlen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw new Error(`bad npy header: ${header}`);
  if (fortran === 'True') throw new Error('fortran order not supported');
  const shape = shapeStr.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const size = SIZES[descr];
  if (!size) throw new Error(`unsupported dtype ${descr}`);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (bytes.length - off !== n * size) throw new Error(`npy body has ${bytes.length - off} bytes, expected ${n * size}`);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = off + i * size;
    switch (descr) {
      case '<i1': case '|i1': data[i] = dv.getInt8(o); break;
      case '<u1': case '|u1': data[i] = dv.getUint8(o); break;
      case '<i2': data[i] = dv.getInt16(o, true); break;
      case '<u2': data[i] = dv.getUint16(o, true); break;
      case '<i4': data[i] = dv.getInt32(o, true); break;
      case '<u4': data[i] = dv.getUint32(o, true); break;
      case '<i8': data[i] = Number(dv.getBigInt64(o, true)); break;
      case '<u8': data[i] = Number(dv.getBigUint64(o, true)); break;
      case '<f4': data[i] = dv.getFloat32(o, true); break;
      case '<f8': data[i] = dv.getFloat64(o, true); break;
    }
  }
  return { dtype: descr, shape, data };
}

export function readNpy(path: string): Npy {
  return parseNpy(new Uint8Array(readFileSync(path)));
}
