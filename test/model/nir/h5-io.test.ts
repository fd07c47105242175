import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { h5Group, type H5Entry, type H5Group } from '../../../src/model/nir/h5-tree.js';
import { isNirError } from '../../../src/model/nir/nir-error.js';
import { readH5File } from '../../../src/model/nir/read-h5.js';
import { chunkShape, writeH5File } from '../../../src/model/nir/write-h5.js';
import { readNirFile } from '../../../src/model/nir/read-nir.js';
import { f32, f64, i64, nirTree, smallGraph, str, tmpPath, writeTree } from './nir-builder.js';

function plain(e: H5Entry): unknown {
  if (e.kind === 'group') return Object.fromEntries([...e.children].map(([k, v]) => [k, plain(v)]));
  if (e.kind === 'other') return { other: e.description };
  return { kind: e.kind, shape: [...e.shape], data: Array.from(e.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? v.toString() : v)), ...('dtype' in e ? { dtype: e.dtype } : {}) };
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('HDF5 tree writer and reader', () => {
  it('round-trips float32/float64/int64/uint8 datasets, scalars, strings and nested groups', async () => {
    const tree: H5Group = h5Group([
      ['version', str('0.9')],
      ['g', h5Group([
        ['w', f32([2, 3], [1.5, -2, 3e-8, 0, -0, 7])],
        ['d', f64([], [0.1])],
        ['n', i64([3], [-(2n ** 62n), 0, 2n ** 53n])],
        ['u', { kind: 'int', dtype: 'u8', shape: [2], data: Uint8Array.of(255, 1) }],
        ['e', { kind: 'string', shape: [2, 2], data: ['a', 'ü', 'node.x', ''] }],
        ['empty', { kind: 'string', shape: [0, 2], data: [] }],
        ['sub', h5Group([['s', str('NIRGraph')]])],
      ])],
    ]);
    const p = tmpPath('tree.h5');
    await writeH5File(p, tree);
    const back = await readH5File(p);
    const expected = plain(tree) as Record<string, Record<string, unknown>>;
    // h5py writes an empty list as an empty float64 array; so does our writer.
    expected.g.empty = { kind: 'float', dtype: 'f64', shape: [0, 2], data: [] };
    expect(plain(back)).toEqual(expected);
    const w = (back.children.get('g') as H5Group).children.get('w');
    expect(w?.kind === 'float' && Object.is(w.data[4], -0)).toBe(true);
  });

  it('rejects what is not HDF5, truncated files and missing paths with one clear line', async () => {
    const good = await writeTree(nirTree(smallGraph().nodes, smallGraph().edges));
    const garbage = tmpPath('garbage.nir');
    writeFileSync(garbage, Buffer.from('not an hdf5 file at all, just some text'.repeat(20)));
    const truncated = tmpPath('trunc.nir');
    writeFileSync(truncated, readFileSync(good).subarray(0, 900));
    for (const [path, code, words] of [[garbage, 'NOT_HDF5', /not a readable HDF5 file: .*signature/], [truncated, 'NOT_HDF5', /truncated/], [`${good}.missing`, 'IO', /ENOENT/]] as const) {
      const e = await errorOf(readH5File(path));
      expect(isNirError(e) && e.code).toBe(code);
      expect(e.message).toMatch(words);
      expect(e.message).not.toContain('\n');
    }
  });

  it('writing into a missing directory is one clear line and leaves nothing behind', async () => {
    const e = await errorOf(writeH5File(`${tmpPath('nodir')}/x/g.nir`, h5Group([['v', str('1')]])));
    expect(isNirError(e) && e.code).toBe('IO');
    expect(e.message).toMatch(/is not an existing directory$/);
  });

  it('checks dataset sizes from the header before reading', async () => {
    const p = await writeTree(h5Group([['big', f32([100, 100], new Float32Array(10000))]]));
    const e = await errorOf(readH5File(p, { maxDatasetElements: 9999 }));
    expect(isNirError(e) && e.code).toBe('TOO_LARGE');
    expect(e.message).toContain('big');
    const e2 = await errorOf(readH5File(p, { maxFileBytes: 100 }));
    expect(isNirError(e2) && e2.code).toBe('TOO_LARGE');
  });

  it('chunks stay within 1 MiB and cover the dataset', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 4 }), (shape) => {
      const c = chunkShape(shape, 4);
      expect(c.length).toBe(shape.length);
      c.forEach((d, i) => expect(d >= 1 && d <= shape[i]).toBe(true));
      expect(c.reduce((a, b) => a * b, 4) <= 1 << 20 || c.every((d) => d === 1)).toBe(true);
    }));
  });

  it('corrupted bytes give a NirError or a valid import, never another exception', async () => {
    const good = readFileSync(await writeTree(nirTree(smallGraph().nodes, smallGraph().edges)));
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
      const bytes = Buffer.from(good);
      bytes[at] ^= xor;
      const p = tmpPath('corrupt.nir');
      writeFileSync(p, bytes);
      try {
        const r = await readNirFile(p);
        expect(r.graph.nodes.length).toBeGreaterThan(0);
      } catch (e) {
        if (!isNirError(e)) throw e;
      }
    }), { numRuns: 150, seed: 7 });
  });
});
