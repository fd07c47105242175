/** .npy writing: header layout numpy expects, whole arrays and streamed frames read back. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, encodeNpyHeader, NpyFrameWriter } from '../../src/stream/npy.js';
import { parseNpy } from '../helpers/npy.js';
import { findPython, runPython } from '../helpers/python.js';

describe('npy', () => {
  it('writes a v1.0 header padded to a multiple of 64 bytes and ending in a newline', () => {
    for (const shape of [[3], [2, 2, 34, 34], [0, 2, 480, 640]]) {
      const h = encodeNpyHeader('<i2', shape);
      expect(h.length % 64).toBe(0);
      expect(Array.from(h.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
      expect(h[8] | (h[9] << 8)).toBe(h.length - 10);
      expect(h[h.length - 1]).toBe(0x0a);
      const text = Buffer.from(h.subarray(10)).toString('latin1');
      expect(text).toContain(`'shape': (${shape.length === 1 ? `${shape[0]},` : shape.join(', ')})`);
    }
  });

  it('round-trips whole arrays of several dtypes', () => {
    expect(parseNpy(encodeNpy('<f4', [2, 2], Float32Array.from([1.5, -2, 0, 3])))).toEqual({ dtype: '<f4', shape: [2, 2], data: Float64Array.from([1.5, -2, 0, 3]) });
    expect(parseNpy(encodeNpy('<i8', [3], BigInt64Array.from([1n, -5n, 2n ** 40n]))).data).toEqual(Float64Array.from([1, -5, 2 ** 40]));
  });

  it('streams frames, fixing the count in the header at close, and abort leaves nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spikestream-npy-'));
    const path = join(dir, 'frames.npy');
    const w = NpyFrameWriter.create(path, '<i2', [2, 3]);
    for (let k = 0; k < 12; k++) w.write(Int16Array.from({ length: 6 }, (_, i) => k * 10 + i - 30));
    expect(() => w.write(new Int16Array(5))).toThrowError(/expected 6/);
    expect(w.close()).toBe(12);
    const got = parseNpy(new Uint8Array(readFileSync(path)));
    expect(got.shape).toEqual([12, 2, 3]);
    expect(got.data[6 * 11 + 5]).toBe(85);
    const py = findPython(['numpy']);
    if (py) expect(runPython(py, 'import numpy, sys\na = numpy.load(sys.argv[1]); print(a.shape, a.dtype, int(a.sum()))', [path]).trim()).toBe(`(12, 2, 3) int16 ${Array.from(got.data).reduce((a, b) => a + b, 0)}`);
    const gone = join(dir, 'gone.npy');
    const a = NpyFrameWriter.create(gone, '<i2', [1]);
    a.write(new Int16Array(1));
    a.abort();
    expect(() => readFileSync(gone)).toThrowError(/ENOENT/);
  });
});
