/**
 * The common shape of datasets that are a list of (file, label): one recording per sample,
 * decoded on demand with a bounded number of files in flight. Layout-specific datasets (N-MNIST,
 * CIFAR10-DVS, a labelled folder) only list their files and say how to decode them.
 */
import { readEventFile, type OpenEventFileOptions } from '../events/open-event-file.js';
import { checkIndex, type Dataset, type Sample, type SampleSource } from './dataset.js';
import { Semaphore } from './semaphore.js';

export interface FileEntry {
  readonly file: string;
  readonly label: number;
}

export abstract class FileListDataset implements Dataset {
  abstract readonly name: string;
  abstract readonly width: number;
  abstract readonly height: number;
  private readonly sem: Semaphore;

  /** `maxOpenFiles`: most files decoded at once (default 8, the one default for every file-list dataset). */
  constructor(readonly root: string, readonly labels: readonly string[], protected readonly entries: readonly FileEntry[], maxOpenFiles = 8) {
    this.sem = new Semaphore(maxOpenFiles);
  }

  /** How every file of this dataset is decoded (format, geometry, decoder options). */
  protected abstract readOptions(): OpenEventFileOptions;

  get length(): number {
    return this.entries.length;
  }

  label(i: number): number {
    checkIndex(this, i);
    return this.entries[i].label;
  }

  source(i: number): SampleSource {
    checkIndex(this, i);
    return { file: this.entries[i].file };
  }

  async get(i: number): Promise<Sample> {
    checkIndex(this, i);
    const e = this.entries[i];
    const { events } = await this.sem.run(() => readEventFile(e.file, this.readOptions()));
    return { events, label: e.label, meta: { index: i, source: { file: e.file }, width: this.width, height: this.height, className: this.labels[e.label] } };
  }
}
