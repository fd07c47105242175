import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { encodeNmnist } from '../../src/events/nmnist.js';
import { binEventsToNTimeBins } from '../../src/stream/bin-to-n-time-bins.js';
import { binEventsByTime } from '../../src/stream/bin-by-time.js';
import type { Dataset, Sample } from '../../src/data/dataset.js';
import { FrameCache, binningFromTimesteps, canonicalJson, encodeFrames, parseFrameNpy } from '../../src/data/frame-cache.js';
import { openNmnistDataset } from '../../src/data/nmnist-dataset.js';
import { Prng } from '../../src/data/prng.js';

const nBins = (n: number) => binningFromTimesteps('n_time_bins', { n }, (ev, w, h) => binEventsToNTimeBins(ev, n, { width: w, height: h }).timesteps, n);

/** Wraps a dataset and counts decodes. */
function counting(ds: Dataset): Dataset & { gets: number } {
  const w = Object.create(ds) as Dataset & { gets: number };
  w.gets = 0;
  w.get = async (i: number): Promise<Sample> => {
    w.gets++;
    return ds.get(i);
  };
  return w;
}

let root: string;
let data: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'frame-cache-'));
  data = join(root, 'nmnist');
  const r = new Prng(1);
  for (let k = 0; k < 6; k++) {
    await mkdir(join(data, 'Train', String(k % 2)), { recursive: true });
    const t = Array.from({ length: 200 }, () => r.int(300_000)).sort((a, b) => a - b);
    const ev = batchFrom({ t, x: t.map(() => r.int(34)), y: t.map(() => r.int(34)), p: t.map(() => r.int(2)) });
    await writeFile(join(data, 'Train', String(k % 2), `${k + 1}.bin`), encodeNmnist(ev));
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FrameCache', () => {
  it('builds frames once; a second epoch (even in a new process) never decodes', async () => {
    const dir = join(root, 'cache1');
    const ds = counting(await openNmnistDataset({ root: data }));
    const binning = nBins(5);
    const first = new FrameCache(dir);
    const epoch1 = [];
    for (let i = 0; i < ds.length; i++) epoch1.push(await first.frames(ds, i, binning));
    expect(ds.gets).toBe(6);
    expect(first.stats.misses).toBe(6);
    // Frames are what the binning gives directly.
    const s0 = await ds.get(0);
    expect(Array.from(epoch1[0].frames.data)).toEqual(Array.from(binning.bin(s0.events, 34, 34).data));
    expect(epoch1[0].frames.shape).toEqual([5, 2, 34, 34]);
    ds.gets = 0;
    const second = new FrameCache(dir); // nothing remembered in memory
    for (let i = 0; i < ds.length; i++) {
      const r = await second.frames(ds, i, binning);
      expect(Array.from(r.frames.data)).toEqual(Array.from(epoch1[i].frames.data));
      expect(r.label).toBe(ds.label(i));
    }
    expect(ds.gets).toBe(0);
    expect(second.stats).toMatchObject({ hits: 6, misses: 0 });
  });

  it('misses when the binning or the file content changes, not when nothing does', async () => {
    const dir = join(root, 'cache2');
    const ds = await openNmnistDataset({ root: data });
    const cache = new FrameCache(dir);
    await cache.frames(ds, 0, nBins(5));
    await cache.frames(ds, 0, nBins(6));
    const window = binningFromTimesteps('time_window', { windowUs: 50_000 }, (ev, w, h) => binEventsByTime(ev, { windowUs: 50_000, width: w, height: h }).timesteps);
    await cache.frames(ds, 0, window);
    expect(cache.stats.misses).toBe(3);
    await cache.frames(ds, 0, nBins(5));
    expect(cache.stats.hits).toBe(1);
    // Same bytes elsewhere: same content hash, a hit. Other bytes: a miss.
    const file = ds.source(0).file;
    const other = await openNmnistDataset({ root: data });
    const copy = join(root, 'copy');
    await mkdir(join(copy, 'Train', '0'), { recursive: true });
    await writeFile(join(copy, 'Train', '0', '1.bin'), await import('node:fs/promises').then((f) => f.readFile(file)));
    await cache.frames(await openNmnistDataset({ root: copy }), 0, nBins(5));
    expect(cache.stats.hits).toBe(2);
    await writeFile(join(copy, 'Train', '0', '1.bin'), encodeNmnist(batchFrom({ t: [1, 2], x: [1, 2], y: [3, 4], p: [0, 1] })));
    const fresh = new FrameCache(dir);
    await fresh.frames(await openNmnistDataset({ root: copy }), 0, nBins(5));
    expect(fresh.stats.misses).toBe(1);
    expect(other.length).toBe(6);
  });

  it('keys segments of one recording separately', async () => {
    const cache = new FrameCache(join(root, 'cache3'));
    const k1 = await cache.entryKey({ file: join(data, 'Train', '0', '1.bin'), tStartUs: 0, tEndUs: 100 }, 34, 34, nBins(5));
    const k2 = await cache.entryKey({ file: join(data, 'Train', '0', '1.bin'), tStartUs: 100, tEndUs: 200 }, 34, 34, nBins(5));
    const k3 = await cache.entryKey({ file: join(data, 'Train', '0', '1.bin') }, 34, 34, nBins(5));
    expect(new Set([k1, k2, k3]).size).toBe(3);
    expect(cache.stats.hashed).toBe(1);
  });

  it('rebuilds an unreadable entry', async () => {
    const dir = join(root, 'cache4');
    const ds = await openNmnistDataset({ root: data });
    await new FrameCache(dir).frames(ds, 1, nBins(4));
    const sub = (await readdir(dir))[0];
    const entry = (await readdir(join(dir, sub)))[0];
    await writeFile(join(dir, sub, entry), 'garbage');
    const again = new FrameCache(dir);
    const r = await again.frames(ds, 1, nBins(4));
    expect(again.stats).toMatchObject({ corrupt: 1, misses: 1 });
    expect(r.frames.shape).toEqual([4, 2, 34, 34]);
    expect((await new FrameCache(dir).frames(ds, 1, nBins(4))).frames.data).toEqual(r.frames.data);
  });

  it('stores integer counts as int16 and anything else as float32, losslessly', () => {
    const counts = { shape: [1, 2, 2, 2] as const, data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 30000]) };
    const real = { shape: [1, 2, 2, 2] as const, data: Float32Array.from([0, 0.5, 2, 3, 4, 5, 6, 1e6]) };
    for (const t of [counts, real]) {
      const back = parseFrameNpy(encodeFrames(t));
      expect(back?.shape).toEqual(t.shape);
      expect(Array.from(back?.data ?? [])).toEqual(Array.from(t.data));
    }
    expect(encodeFrames(counts).length).toBeLessThan(encodeFrames(real).length);
    expect(parseFrameNpy(new Uint8Array(4))).toBeNull();
  });

  it('keys binnings by canonical settings', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    expect(nBins(5).key).toBe(nBins(5).key);
    expect(nBins(5).key).not.toBe(nBins(6).key);
  });
});
