/**
 * Writes an H5Group tree to an HDF5 file the way h5py does for NIR (nir.serialization.write):
 * strings as variable-length UTF-8, float arrays gzip-compressed (level 4, h5py's default) in
 * chunks, integers and scalars uncompressed. The library version bounds are v1.8..v1.10 so that
 * any HDF5 >= 1.10 (h5py, HDFView, Julia, MATLAB) reads the file.
 *
 * Atomic: the file is written under a temporary name in the target directory and renamed over the
 * target only when complete, so readers never see a half-written file.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Group } from 'h5wasm/node';
import { elementCount, type H5Dataset, type H5Group } from './h5-tree.js';
import { hdf5Reason, loadH5wasm } from './h5wasm-module.js';
import { NirError } from './nir-error.js';

/** Largest chunk in bytes; a dataset up to this size is one chunk. */
const CHUNK_BYTES = 1 << 20;
const GZIP_LEVEL = 4;

const INT_DTYPE: Record<string, string> = { i8: '<b', i16: '<h', i32: '<i', i64: '<q', u8: '<B', u16: '<H', u32: '<I', u64: '<Q' };

export async function writeH5File(path: string, root: H5Group): Promise<void> {
  const dir = dirname(path);
  const isDir = await stat(dir).then((st) => st.isDirectory(), () => false);
  if (!isDir) throw new NirError('IO', undefined, undefined, `cannot write ${path}: ${dir} is not an existing directory`);
  const h5 = await loadH5wasm();
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let file: InstanceType<typeof h5.File> | undefined;
  try {
    try {
      file = new h5.File(tmp, 'w', { libver: ['v108', 'v110'] });
    } catch (e) {
      throw new NirError('IO', undefined, undefined, `cannot create ${path}: ${hdf5Reason(e)}`);
    }
    writeGroup(file, root, '');
    file.close();
    file = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (file) {
      try {
        file.close();
      } catch {
        // Already failing: report the first error.
      }
    }
    await rm(tmp, { force: true });
    if (e instanceof NirError) throw e;
    throw new NirError('IO', undefined, undefined, `cannot write ${path}: ${e instanceof Error ? hdf5Reason(e) : String(e)}`);
  }
}

function writeGroup(g: Group, tree: H5Group, path: string): void {
  for (const [name, entry] of tree.children) {
    const p = path ? `${path}/${name}` : name;
    try {
      if (entry.kind === 'group') writeGroup(g.create_group(name), entry, p);
      else writeDataset(g, name, entry);
    } catch (e) {
      if (e instanceof NirError) throw e;
      throw new NirError('IO', undefined, p, `cannot write: ${hdf5Reason(e)}`);
    }
  }
}

function writeDataset(g: Group, name: string, ds: H5Dataset): void {
  const shape = [...ds.shape];
  const n = elementCount(shape);
  switch (ds.kind) {
    case 'float': {
      const itemSize = ds.dtype === 'f32' ? 4 : 8;
      const compress = shape.length > 0 && n > 0;
      g.create_dataset({
        name, data: ds.data, shape, dtype: ds.dtype === 'f32' ? '<f' : '<d',
        ...(compress ? { chunks: chunkShape(shape, itemSize), compression: 'gzip' as const, compression_opts: GZIP_LEVEL } : {}),
      });
      return;
    }
    case 'int':
      g.create_dataset({ name, data: ds.data, shape, dtype: INT_DTYPE[ds.dtype] });
      return;
    case 'string':
      // h5py writes an empty list (no edges) as an empty float64 array; do the same, h5wasm cannot
      // type an empty string array.
      if (n === 0) g.create_dataset({ name, data: new Float64Array(0), shape, dtype: '<d' });
      else g.create_dataset({ name, data: shape.length === 0 ? ds.data[0] : [...ds.data], shape });
      return;
    case 'other':
      throw new NirError('IO', undefined, name, `cannot write a dataset of ${ds.description}`);
  }
}

/**
 * Chunk dimensions: the whole dataset when it fits CHUNK_BYTES, else the largest dimension halved
 * until it does (row-major locality is kept along the trailing dimensions).
 */
export function chunkShape(shape: readonly number[], itemSize: number): number[] {
  const chunk = shape.map((d) => Math.max(1, d));
  let bytes = elementCount(chunk) * itemSize;
  while (bytes > CHUNK_BYTES) {
    let k = 0;
    for (let i = 1; i < chunk.length; i++) if (chunk[i] > chunk[k]) k = i;
    if (chunk[k] === 1) break;
    chunk[k] = Math.ceil(chunk[k] / 2);
    bytes = elementCount(chunk) * itemSize;
  }
  return chunk;
}
