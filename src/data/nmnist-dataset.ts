/**
 * N-MNIST on disk: <root>/Train/<digit>/<id>.bin and <root>/Test/<digit>/<id>.bin (ATIS .bin,
 * 34x34), as distributed and as `spikestream synth nmnist` writes it. Also N-Caltech101-like
 * layouts with other class folder names (classes are the sorted folder names; digits sort 0-9).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OpenEventFileOptions } from '../events/open-event-file.js';
import { FileListDataset, type FileEntry } from './file-list-dataset.js';

export type NmnistSplit = 'train' | 'test' | 'all';

export interface NmnistDatasetOptions {
  readonly root: string;
  /** Which top-level folder(s): Train, Test or both. Default 'train'. */
  readonly split?: NmnistSplit;
  /** Sensor size (N-MNIST: 34x34). */
  readonly width?: number;
  readonly height?: number;
  /** Files being read at once, whoever asks (default 8). */
  readonly maxOpenFiles?: number;
  /**
   * Class names in label order. Default: '0'..'9' when every class folder is a digit (so a label
   * index is the digit, whichever classes a folder happens to hold), else the sorted folder names.
   */
  readonly classes?: readonly string[];
}

const DIGITS: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

export class NmnistDataset extends FileListDataset {
  readonly name: string;
  readonly width: number;
  readonly height: number;

  constructor(root: string, labels: readonly string[], entries: readonly FileEntry[], o: NmnistDatasetOptions) {
    super(root, labels, entries, o.maxOpenFiles);
    this.name = `nmnist(${root}, ${o.split ?? 'train'})`;
    this.width = o.width ?? 34;
    this.height = o.height ?? 34;
  }

  protected readOptions(): OpenEventFileOptions {
    return { format: 'nmnist', width: this.width, height: this.height };
  }
}

/** Lists the layout (sorted: class, then numeric file id) and returns the dataset. */
export async function openNmnistDataset(o: NmnistDatasetOptions): Promise<NmnistDataset> {
  const split = o.split ?? 'train';
  const tops = split === 'all' ? ['Train', 'Test'] : [split === 'train' ? 'Train' : 'Test'];
  const found: { file: string; className: string }[] = [];
  let foldersFound = 0;
  for (const top of tops) {
    const dir = join(o.root, top);
    let classes: string[];
    try {
      classes = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
      foldersFound++;
    } catch {
      // With split 'all', one of Train/ and Test/ may be absent.
      if (split === 'all') continue;
      throw new Error(`${o.root}: no ${top}/ folder (expected the N-MNIST layout ${top}/<class>/<id>.bin)`);
    }
    for (const c of classes) {
      const files = (await readdir(join(dir, c))).filter((f) => f.toLowerCase().endsWith('.bin'));
      files.sort(byNumericName);
      for (const f of files) found.push({ file: join(dir, c, f), className: c });
    }
  }
  if (foldersFound === 0) throw new Error(`${o.root}: neither Train/ nor Test/ (expected the N-MNIST layout Train|Test/<class>/<id>.bin)`);
  const names = [...new Set(found.map((f) => f.className))];
  const labels = o.classes ?? (names.every((n) => /^\d$/.test(n)) ? DIGITS : names.sort(byNumericName));
  const index = new Map(labels.map((l, k) => [l, k]));
  const unknown = names.find((n) => !index.has(n));
  if (unknown !== undefined) throw new Error(`${o.root}: class folder "${unknown}" is not among the classes ${labels.join(', ')}`);
  const entries = found
    .map((f) => ({ file: f.file, label: index.get(f.className) as number }))
    .sort((a, b) => a.label - b.label || byNumericName(a.file, b.file));
  return new NmnistDataset(o.root, labels, entries, o);
}

/** Sorts "2.bin" before "10.bin"; names that are not numbers sort as text. */
export function byNumericName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
