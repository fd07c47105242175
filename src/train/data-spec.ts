/**
 * Which recordings a run trains, validates and evaluates on, shared by `train` and `eval` so that
 * `eval --heldout` sees exactly the samples `train` held out.
 *
 * On a folder in the N-MNIST layout (<root>/Train|Test/<class>/*.bin): training reads Train/ (or
 * --split) and holds out a seeded, class-stratified `valFraction` of it for validation; evaluation
 * reads Test/ unless told otherwise, or the held-out part of the training split (`heldout`).
 * `--data synthetic` synthesises an N-MNIST-layout folder once (seeded) into a cache directory.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { splitDataset, SubsetDataset, shuffledIndices, type Dataset } from '../data/dataset.js';
import { openNmnistDataset, type NmnistSplit } from '../data/nmnist-dataset.js';
import { mixSeed } from '../data/prng.js';
import { TrainError } from './train-error.js';

export interface DataSpec {
  /** Folder in the N-MNIST layout (absolute). */
  readonly root: string;
  /** Folder(s) training reads: 'train' (Train/, default), 'test' or 'all'. */
  readonly split: NmnistSplit;
  /** Fraction of the training split held out for validation, [0, 1). */
  readonly valFraction: number;
  readonly splitSeed: number;
  /** Use at most this many training samples (a seeded subset), 0 = all. */
  readonly limit: number;
}

export interface TrainingData {
  readonly train: Dataset;
  readonly val: Dataset | null;
}

export async function openTrainingData(spec: DataSpec): Promise<TrainingData> {
  const all = await openNmnistDataset({ root: spec.root, split: spec.split });
  if (all.length === 0) throw new TrainError('BAD_DATA', `${spec.root}: no recordings in the ${spec.split} split`);
  let train: Dataset = all;
  let val: Dataset | null = null;
  if (spec.valFraction > 0) {
    if (!(spec.valFraction < 1)) throw new TrainError('BAD_OPTION', `the validation fraction must be in [0, 1), got ${spec.valFraction}`);
    [train, val] = splitDataset(all, { fraction: 1 - spec.valFraction, seed: spec.splitSeed });
  }
  if (spec.limit > 0 && spec.limit < train.length) {
    const order = shuffledIndices(train.length, mixSeed(spec.splitSeed, 0x6c696d));
    train = new SubsetDataset(train, order.slice(0, spec.limit), `${train.name}[${spec.limit}]`);
  }
  return { train, val };
}

/** The samples `train` held out from a DataSpec (its validation part). */
export async function openHeldOut(spec: DataSpec): Promise<Dataset> {
  const { val } = await openTrainingData({ ...spec, limit: 0 });
  if (!val) throw new TrainError('BAD_OPTION', 'the model was trained without a held-out part (valFraction 0)');
  return val;
}

export interface SynthCacheOptions {
  readonly count: number;
  readonly seed: number;
  readonly cacheDir?: string;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Default cache for synthesised datasets: $SPIKESTREAM_CACHE, else ~/.cache/spikestream, else the temp dir. */
export function defaultCacheDir(): string {
  if (process.env.SPIKESTREAM_CACHE) return resolve(process.env.SPIKESTREAM_CACHE);
  const home = homedir();
  return home ? join(home, '.cache', 'spikestream') : join(tmpdir(), 'spikestream');
}

/** A synthetic N-MNIST folder for (count, seed), generated on first use (see src/data/nmnist-synth.ts). */
export async function synthesizedNmnist(o: SynthCacheOptions): Promise<string> {
  const dir = join(o.cacheDir ?? defaultCacheDir(), `synth-nmnist-${o.seed}-${o.count}`);
  const manifest = join(dir, 'manifest.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(await readFile(manifest, 'utf8')) as { count?: number; seed?: number };
    if (m.count === o.count && m.seed === o.seed) return dir;
  }
  const { synthesizeNmnist } = await import('../data/nmnist-synth.js');
  await synthesizeNmnist({ outDir: dir, count: o.count, seed: o.seed, trainFraction: 0.8, includeRealDigits: false, overwrite: true, onProgress: o.onProgress });
  return dir;
}
