/**
 * CIFAR10-DVS on disk: <root>/<class>/<name>.aedat, AEDAT 2.0 with DVS128 addresses (128x128),
 * ten class folders (airplane ... truck). The dataset has no official split; the usual one is 9:1
 * per class, drawn here with a seed so it is reproducible.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dvs128Convention } from '../events/aedat2.js';
import type { OpenEventFileOptions } from '../events/open-event-file.js';
import { shuffledIndices } from './dataset.js';
import { FileListDataset, type FileEntry } from './file-list-dataset.js';
import { byNumericName } from './nmnist-dataset.js';
import { mixSeed } from './prng.js';

export interface Cifar10DvsOptions {
  readonly root: string;
  readonly split?: 'train' | 'test' | 'all';
  /** Fraction of each class in the training part (default 0.9). */
  readonly trainFraction?: number;
  /** Seed of the per-class split (default 0). */
  readonly seed?: number;
  /** DVS128 address convention (default jAER's, which recorded the dataset). */
  readonly dvs128Convention?: Dvs128Convention;
  readonly maxOpenFiles?: number;
}

export class Cifar10DvsDataset extends FileListDataset {
  readonly name: string;
  readonly width = 128;
  readonly height = 128;

  constructor(root: string, labels: readonly string[], entries: readonly FileEntry[], private readonly o: Cifar10DvsOptions) {
    super(root, labels, entries, o.maxOpenFiles);
    this.name = `cifar10-dvs(${root}, ${o.split ?? 'train'})`;
  }

  protected readOptions(): OpenEventFileOptions {
    return { format: 'aedat2', decoder: { dvs128Convention: this.o.dvs128Convention ?? 'jaer' } };
  }
}

export async function openCifar10DvsDataset(o: Cifar10DvsOptions): Promise<Cifar10DvsDataset> {
  const frac = o.trainFraction ?? 0.9;
  if (!(frac >= 0 && frac <= 1)) throw new RangeError(`trainFraction ${frac} must be in [0, 1]`);
  const classes = (await readdir(o.root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort(byNumericName);
  if (classes.length === 0) throw new Error(`${o.root}: no class folders (expected <class>/*.aedat)`);
  const split = o.split ?? 'train';
  const entries: FileEntry[] = [];
  for (let label = 0; label < classes.length; label++) {
    const files = (await readdir(join(o.root, classes[label]))).filter((f) => f.toLowerCase().endsWith('.aedat')).sort(byNumericName);
    // Per class: a seeded permutation; its first round(frac * n) files are the training part.
    const order = shuffledIndices(files.length, mixSeed(o.seed ?? 0, label));
    const cut = Math.round(files.length * frac);
    const inTrain = new Set(order.slice(0, cut));
    files.forEach((f, k) => {
      if (split === 'all' || (split === 'train') === inTrain.has(k)) entries.push({ file: join(o.root, classes[label], f), label });
    });
  }
  return new Cifar10DvsDataset(o.root, classes, entries, { ...o, split });
}
