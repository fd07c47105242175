import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NmnistDecoder } from '../../src/events/nmnist.js';
import { NMNIST_REAL_PREFIX_COUNTS, loadMnistDigits } from '../../src/data/mnist-digits.js';
import { collectFolderStats, digitRefsForFolder, formatComparison } from '../../src/data/nmnist-compare.js';
import { openNmnistDataset } from '../../src/data/nmnist-dataset.js';
import { planSynthNmnist, sampleFile } from '../../src/data/nmnist-synth-plan.js';
import { synthesizeNmnist, type SynthManifest } from '../../src/data/nmnist-synth.js';
import { decodeChunked } from '../helpers/events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';

const COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
const key = (s: { label: number; index: number }) => `${s.label}#${s.index}`;

describe('planSynthNmnist', () => {
  it('draws train and test samples from disjoint source digits', () => {
    for (const balanced of [false, true]) {
      const plan = planSynthNmnist(COUNTS, { count: 30_000, seed: 4, trainFraction: 0.8, includeRealDigits: false, balanced });
      const train = new Set(plan.samples.filter((s) => s.split === 'Train').map(key));
      const test = new Set(plan.samples.filter((s) => s.split === 'Test').map(key));
      expect(plan.samples.filter((s) => s.split === 'Train')).toHaveLength(24_000);
      for (const k of test) expect(train.has(k)).toBe(false);
      // 30,000 samples from 9,000 digits: digits are reused as variants, each (digit, variant) once.
      const seen = new Set(plan.samples.map((s) => `${s.split}:${key(s)}:${s.variant}`));
      expect(seen.size).toBe(30_000);
      expect(Math.max(...plan.samples.map((s) => s.variant))).toBeGreaterThan(0);
    }
  });

  it('leaves out the digits of the real recordings unless asked to include them', () => {
    const plan = planSynthNmnist(COUNTS, { count: 9000, seed: 1, trainFraction: 0.8, includeRealDigits: false });
    for (const s of plan.samples) expect(s.index).toBeGreaterThanOrEqual(NMNIST_REAL_PREFIX_COUNTS[s.label]);
    expect(plan.samples.every((s) => s.variant === 0)).toBe(true); // 9,000 = the whole pool, each once
    expect(plan.excludedPerClass).toEqual(NMNIST_REAL_PREFIX_COUNTS);
    const all = planSynthNmnist(COUNTS, { count: 10_000, seed: 1, trainFraction: 0.8, includeRealDigits: true });
    expect(all.samples.some((s) => s.index < NMNIST_REAL_PREFIX_COUNTS[s.label])).toBe(true);
    expect(all.excludedPerClass).toEqual(new Array(10).fill(0));
  });

  it('is reproducible from the seed, and another seed picks other digits', () => {
    const o = { count: 200, trainFraction: 0.75, includeRealDigits: false };
    expect(planSynthNmnist(COUNTS, { ...o, seed: 9 })).toEqual(planSynthNmnist(COUNTS, { ...o, seed: 9 }));
    const a = planSynthNmnist(COUNTS, { ...o, seed: 9 }).samples.map(key);
    const b = planSynthNmnist(COUNTS, { ...o, seed: 10 }).samples.map(key);
    expect(a).not.toEqual(b);
  });

  it('balances classes on request and numbers files per split', () => {
    const plan = planSynthNmnist(COUNTS, { count: 20, seed: 2, trainFraction: 0.5, includeRealDigits: false, balanced: true });
    for (const split of ['Train', 'Test'] as const) {
      const s = plan.samples.filter((p) => p.split === split);
      expect(s.map((p) => p.label).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(s.map((p) => p.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
    expect(sampleFile({ split: 'Test', label: 3, id: 12 })).toBe('Test/3/12.bin');
  });

  it('rejects impossible requests', () => {
    expect(() => planSynthNmnist(COUNTS, { count: 0, seed: 1, trainFraction: 0.8, includeRealDigits: false })).toThrow(RangeError);
    expect(() => planSynthNmnist(COUNTS, { count: 10, seed: 1, trainFraction: 1.5, includeRealDigits: false })).toThrow(RangeError);
    expect(() => planSynthNmnist(COUNTS, { count: 10, seed: -1, trainFraction: 0.5, includeRealDigits: false })).toThrow(RangeError);
    expect(() => planSynthNmnist([1], { count: 10, seed: 1, trainFraction: 0.5, includeRealDigits: true })).toThrow(/no source digits/);
  });
});

// One 100-sample synthetic set for the whole file (generation dominates its run time).
let dir: string;
let manifest: SynthManifest;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'synth-nmnist-'));
  manifest = await synthesizeNmnist({ outDir: join(dir, 'a'), count: 100, seed: 7, trainFraction: 0.8, includeRealDigits: false, workers: 0 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('synthesizeNmnist', () => {
  it('writes 100 samples in the N-MNIST layout that round-trip through the N-MNIST decoder', async () => {
    expect(manifest.samples).toHaveLength(100);
    for (const s of manifest.samples) {
      const bytes = new Uint8Array(await readFile(join(dir, 'a', s.file)));
      const ev = decodeChunked(new NmnistDecoder(), bytes, [4096]);
      expect(ev.t.length).toBe(s.events);
      expect(s.file.startsWith(`${s.split}/${s.label}/`)).toBe(true);
      for (let i = 1; i < ev.t.length; i++) expect(ev.t[i]).toBeGreaterThanOrEqual(ev.t[i - 1]);
      expect(ev.t[ev.t.length - 1]).toBeLessThanOrEqual(s.durationUs);
    }
    expect(manifest.samples.filter((s) => s.split === 'Train')).toHaveLength(80);
    const csv = (await readFile(join(dir, 'a', 'labels.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('file,label,mnist_class_index,split,variant');
    expect(csv).toHaveLength(101);
  });

  it('is read back by the N-MNIST loader, split by split, with the manifest labels', async () => {
    const train = await openNmnistDataset({ root: join(dir, 'a'), split: 'train' });
    const test = await openNmnistDataset({ root: join(dir, 'a'), split: 'test' });
    expect(train.length + test.length).toBe(100);
    expect(train.length).toBe(80);
    const byFile = new Map(manifest.samples.map((s) => [join(dir, 'a', s.file), s]));
    for (let i = 0; i < test.length; i++) {
      const s = await test.get(i);
      const m = byFile.get(s.meta.source.file);
      expect(m).toBeDefined();
      expect(Number(test.labels[s.label])).toBe(m?.label);
      expect(s.events.t.length).toBe(m?.events);
    }
  });

  it('reproduces the same bytes from the same seed, and refuses a non-empty directory', async () => {
    const small = { count: 6, seed: 7, trainFraction: 0.5, includeRealDigits: false, workers: 0 };
    await synthesizeNmnist({ ...small, outDir: join(dir, 'b') });
    await synthesizeNmnist({ ...small, outDir: join(dir, 'c') });
    const files = async (d: string): Promise<string[]> => (await readdir(d, { recursive: true })).map(String).sort();
    const fb = await files(join(dir, 'b'));
    expect(fb).toEqual(await files(join(dir, 'c')));
    for (const f of fb.filter((x) => x.endsWith('.bin') || x.endsWith('.json') || x.endsWith('.csv'))) {
      expect(await readFile(join(dir, 'c', f))).toEqual(await readFile(join(dir, 'b', f)));
    }
    await expect(synthesizeNmnist({ ...small, outDir: join(dir, 'b') })).rejects.toThrow(/not empty/);
  });

  it('names each sample\'s source digit so registration can use it', async () => {
    const refs = await digitRefsForFolder(join(dir, 'a'));
    expect(refs.size).toBe(100);
    const s = manifest.samples[0];
    expect(refs.get(s.file)).toEqual({ label: s.label, index: s.mnistClassIndex });
  });
});

const REAL = 'nmnist-real/labels.csv';
describeWithFixtures('synthetic N-MNIST against the real recordings', [REAL], () => {
  it('maps the real recordings to their source digits through labels.csv', async () => {
    const refs = await digitRefsForFolder(sharedFixture('nmnist-real'));
    expect(refs.size).toBe(1000);
    const perClass = new Array(10).fill(0);
    for (const r of refs.values()) perClass[r.label] = Math.max(perClass[r.label], r.index + 1);
    expect(perClass).toEqual(NMNIST_REAL_PREFIX_COUNTS);
    expect((await loadMnistDigits()).counts).toEqual(COUNTS);
  });

  it('matches the real recordings\' per-sample statistics within stated tolerances', async () => {
    const real = await collectFolderStats(sharedFixture('nmnist-real'), { limit: 200 });
    const synth = await collectFolderStats(join(dir, 'a'));
    const r = real.summary.perSample;
    const s = synth.summary.perSample;
    const within = (k: string, rel: number) => expect(Math.abs(s[k].median / r[k].median - 1), k).toBeLessThan(rel);
    within('events', 0.2);
    within('saccade1Events', 0.25);
    within('saccade2Events', 0.25);
    within('saccade3Events', 0.25);
    within('activePixels', 0.15);
    within('durationMs', 0.03);
    expect(Math.abs(s.onFraction.median - r.onFraction.median)).toBeLessThan(0.02);
    expect(Math.abs(synth.summary.pooled.noiseRateHzPerPixel / real.summary.pooled.noiseRateHzPerPixel - 1)).toBeLessThan(0.3);
    // Motion: the event centroid follows the same path (10 ms bins with events, within 0.75 px).
    let bins = 0;
    for (let k = 0; k < real.summary.profile.length; k++) {
      const a = real.summary.profile[k];
      const b = synth.summary.profile[k];
      if (a.events < 100) continue;
      expect(Math.abs(a.dx - b.dx), `dx at ${a.tUs} us`).toBeLessThan(0.75);
      expect(Math.abs(a.dy - b.dy), `dy at ${a.tUs} us`).toBeLessThan(0.75);
      bins++;
    }
    expect(bins).toBeGreaterThan(15);
    expect(formatComparison(synth, real)).toContain('events per sample');
  });
});
