/**
 * Reads an HDF5 file into an H5Group tree (h5-tree.ts). Every size is checked from HDF5 metadata
 * before the data is read (limits in nir-limits.ts); links to other files are never followed; any
 * HDF5 failure (not an HDF5 file, truncated, corrupt) becomes a NirError naming the path.
 */
import { stat } from 'node:fs/promises';
import type { Dataset, Group } from 'h5wasm/node';
import { elementCount, type H5Dataset, type H5Entry, type H5Group, type H5IntDtype, type IntArray } from './h5-tree.js';
import { hdf5Reason, loadH5wasm, type H5wasm } from './h5wasm-module.js';
import { NirError } from './nir-error.js';
import { resolveNirLimits, type NirLimits } from './nir-limits.js';

// HDF5 type classes (H5T_class_t) as h5wasm reports them in Metadata.type.
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;

interface WalkState {
  readonly limits: NirLimits;
  objects: number;
  elements: number;
}

export async function readH5File(path: string, limits?: Partial<NirLimits>): Promise<H5Group> {
  const lim = resolveNirLimits(limits);
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new NirError('IO', undefined, undefined, `${path} is not a regular file`);
    size = s.size;
  } catch (e) {
    if (e instanceof NirError) throw e;
    throw new NirError('IO', undefined, undefined, `cannot read ${path}: ${(e as Error).message}`);
  }
  if (size > lim.maxFileBytes) throw new NirError('TOO_LARGE', undefined, undefined, `${path} has ${size} bytes, more than the limit of ${lim.maxFileBytes}`);
  const h5 = await loadH5wasm();
  let file: InstanceType<typeof h5.File>;
  try {
    file = new h5.File(path, 'r');
  } catch (e) {
    throw new NirError('NOT_HDF5', undefined, undefined, `${path} is not a readable HDF5 file: ${hdf5Reason(e)}`);
  }
  try {
    return walkGroup(h5, file, '', 0, { limits: lim, objects: 0, elements: 0 });
  } finally {
    try {
      file.close();
    } catch {
      // Closing a file HDF5 already gave up on can fail too; the first error is the one to report.
    }
  }
}

type H5 = H5wasm;

function walkGroup(h5: H5, g: Group, path: string, depth: number, st: WalkState): H5Group {
  if (depth > st.limits.maxDepth) throw new NirError('TOO_LARGE', undefined, path || '/', `groups nest deeper than ${st.limits.maxDepth} levels`);
  let names: string[];
  try {
    names = g.keys();
  } catch (e) {
    throw new NirError('NOT_HDF5', undefined, path || '/', `cannot list the group: ${hdf5Reason(e)}`);
  }
  const children = new Map<string, H5Entry>();
  for (const name of names) {
    if (++st.objects > st.limits.maxObjects) throw new NirError('TOO_LARGE', undefined, path || '/', `the file holds more than ${st.limits.maxObjects} groups and datasets`);
    const childPath = path ? `${path}/${name}` : name;
    let entity: unknown;
    try {
      entity = g.get(name);
    } catch (e) {
      throw new NirError('NOT_HDF5', undefined, childPath, `cannot open: ${hdf5Reason(e)}`);
    }
    if (entity instanceof h5.Group) children.set(name, walkGroup(h5, entity, childPath, depth + 1, st));
    else if (entity instanceof h5.Dataset) children.set(name, readDataset(entity, childPath, st));
    // Links to other files, dangling links and committed datatypes are not NIR content: skipped.
  }
  return { kind: 'group', children };
}

function readDataset(ds: Dataset, path: string, st: WalkState): H5Dataset {
  let meta: Dataset['metadata'];
  try {
    meta = ds.metadata;
  } catch (e) {
    throw new NirError('NOT_HDF5', undefined, path, `cannot read the dataset header: ${hdf5Reason(e)}`);
  }
  if (meta.shape === null) return { kind: 'other', shape: [], description: 'a null dataspace' };
  const shape = meta.shape.map(Number);
  const n = elementCount(shape);
  if (!Number.isSafeInteger(n) || n > st.limits.maxDatasetElements) {
    throw new NirError('TOO_LARGE', undefined, path, `shape [${shape.join(',')}] has more than ${st.limits.maxDatasetElements} elements`);
  }
  const cls = meta.type;
  const known = (cls === H5T_FLOAT && (meta.size === 4 || meta.size === 8)) || (cls === H5T_INTEGER && [1, 2, 4, 8].includes(meta.size)) || cls === H5T_STRING;
  if (!known) return { kind: 'other', shape, description: describeType(cls, meta.size) };
  st.elements += n;
  if (st.elements > st.limits.maxTotalElements) throw new NirError('TOO_LARGE', undefined, path, `the datasets hold more than ${st.limits.maxTotalElements} elements together`);
  let value: unknown;
  try {
    value = ds.value;
  } catch (e) {
    throw new NirError('NOT_HDF5', undefined, path, `cannot read the data: ${hdf5Reason(e)}`);
  }
  if (cls === H5T_STRING) {
    const data = typeof value === 'string' ? [value] : Array.isArray(value) ? value.map(String) : [];
    if (data.length !== n) throw new NirError('NOT_HDF5', undefined, path, `holds ${data.length} strings, its shape needs ${n}`);
    for (const s of data) {
      if (s.length > st.limits.maxStringLength) throw new NirError('TOO_LARGE', undefined, path, `a string is longer than ${st.limits.maxStringLength} characters`);
    }
    return { kind: 'string', shape, data };
  }
  if (cls === H5T_FLOAT) {
    const data = meta.size === 4 ? toTyped(value, Float32Array) : toTyped(value, Float64Array);
    if (data.length !== n) throw new NirError('NOT_HDF5', undefined, path, `holds ${data.length} values, its shape needs ${n}`);
    return { kind: 'float', dtype: meta.size === 4 ? 'f32' : 'f64', shape, data };
  }
  const data = intArray(value, meta.size, meta.signed);
  if (data.length !== n) throw new NirError('NOT_HDF5', undefined, path, `holds ${data.length} values, its shape needs ${n}`);
  const dtype = `${meta.signed ? 'i' : 'u'}${meta.size * 8}` as H5IntDtype;
  return { kind: 'int', dtype, shape, data };
}

function toTyped<T extends Float32Array | Float64Array>(value: unknown, ctor: { new (n: number): T; from(a: ArrayLike<number>): T }): T {
  if (value instanceof ctor) return value;
  if (typeof value === 'number') {
    const out = new ctor(1);
    out[0] = value;
    return out;
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return ctor.from(value as unknown as ArrayLike<number>);
  return new ctor(0);
}

function intArray(value: unknown, size: number, signed: boolean): IntArray {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return value as IntArray;
  // Scalars come back as a number (<= 32 bits) or a bigint (64 bits).
  if (size === 8) {
    const b = typeof value === 'bigint' ? value : BigInt(Number(value));
    return signed ? BigInt64Array.of(b) : BigUint64Array.of(b);
  }
  const v = Number(value);
  if (size === 1) return signed ? Int8Array.of(v) : Uint8Array.of(v);
  if (size === 2) return signed ? Int16Array.of(v) : Uint16Array.of(v);
  return signed ? Int32Array.of(v) : Uint32Array.of(v);
}

function describeType(cls: number, size: number): string {
  const names: Record<number, string> = { 0: 'integer', 1: 'float', 2: 'time', 3: 'string', 4: 'bitfield', 5: 'opaque', 6: 'compound', 7: 'reference', 8: 'enum (e.g. numpy bool)', 9: 'variable-length sequence', 10: 'array' };
  return `${names[cls] ?? `type class ${cls}`} of ${size} bytes`;
}
