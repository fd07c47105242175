/**
 * Labelled event datasets: a common interface over the on-disk layouts of N-MNIST, DVS128 Gesture,
 * CIFAR10-DVS and plain folders of recordings, plus seeded shuffles and splits.
 *
 * `label(i)` and `source(i)` answer without decoding anything, so splits, class balance and the
 * frame cache's keys cost no I/O; only `get(i)` decodes.
 */
import type { EventBatch } from '../events/batch.js';
import { Prng, mixSeed } from './prng.js';

/** Where a sample's events come from: a file, or a time range of it (DVS Gesture segments). */
export interface SampleSource {
  /** Absolute or dataset-relative path of the recording. */
  readonly file: string;
  /** Events with tStartUs <= t < tEndUs only (microseconds, the file's own clock). */
  readonly tStartUs?: number;
  readonly tEndUs?: number;
}

export interface SampleMeta {
  /** Index of the sample in the dataset it was fetched from. */
  readonly index: number;
  readonly source: SampleSource;
  readonly width: number;
  readonly height: number;
  /** Class name of the label. */
  readonly className: string;
}

export interface Sample {
  readonly events: EventBatch;
  /** Class index into `labels`. */
  readonly label: number;
  readonly meta: SampleMeta;
}

export interface Dataset {
  readonly name: string;
  readonly length: number;
  /** Class names; a sample's label indexes this list. */
  readonly labels: readonly string[];
  readonly width: number;
  readonly height: number;
  /** Label of sample i, without decoding. */
  label(i: number): number;
  source(i: number): SampleSource;
  /** Decodes sample i. */
  get(i: number): Promise<Sample>;
}

export function checkIndex(ds: { length: number; name: string }, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.length) throw new RangeError(`${ds.name}: sample index ${i} out of range [0, ${ds.length})`);
}

/** A view of some samples of another dataset, in the given order. */
export class SubsetDataset implements Dataset {
  readonly name: string;
  readonly labels: readonly string[];
  readonly width: number;
  readonly height: number;

  constructor(readonly parent: Dataset, readonly indices: readonly number[], name = `${parent.name}[subset]`) {
    for (const i of indices) checkIndex(parent, i);
    this.name = name;
    this.labels = parent.labels;
    this.width = parent.width;
    this.height = parent.height;
  }

  get length(): number {
    return this.indices.length;
  }

  label(i: number): number {
    checkIndex(this, i);
    return this.parent.label(this.indices[i]);
  }

  source(i: number): SampleSource {
    checkIndex(this, i);
    return this.parent.source(this.indices[i]);
  }

  async get(i: number): Promise<Sample> {
    checkIndex(this, i);
    const s = await this.parent.get(this.indices[i]);
    return { ...s, meta: { ...s.meta, index: i } };
  }
}

/** 0..n-1 in a seeded random order. */
export function shuffledIndices(n: number, seed: number): number[] {
  return new Prng(mixSeed(seed, 0x73687566)).shuffle(Array.from({ length: n }, (_, i) => i));
}

export function shuffleDataset(ds: Dataset, seed: number): Dataset {
  return new SubsetDataset(ds, shuffledIndices(ds.length, seed), `${ds.name}[shuffled ${seed}]`);
}

export interface SplitOptions {
  /** Fraction in the first part, in [0, 1]. */
  readonly fraction: number;
  readonly seed: number;
  /** Split each class separately so both parts keep the class proportions. Default true. */
  readonly stratified?: boolean;
}

/**
 * Seeded split into [first, second] (e.g. train/test). With stratification each class is
 * shuffled and cut at round(fraction * classSize); both parts list samples in a seeded random order.
 */
export function splitDataset(ds: Dataset, o: SplitOptions): [Dataset, Dataset] {
  if (!(o.fraction >= 0 && o.fraction <= 1)) throw new RangeError(`split fraction ${o.fraction} must be in [0, 1]`);
  const order = shuffledIndices(ds.length, o.seed);
  const a: number[] = [];
  const b: number[] = [];
  if (o.stratified ?? true) {
    const byClass = new Map<number, number[]>();
    for (const i of order) {
      const l = ds.label(i);
      let list = byClass.get(l);
      if (!list) byClass.set(l, (list = []));
      list.push(i);
    }
    for (const list of byClass.values()) {
      const cut = Math.round(list.length * o.fraction);
      a.push(...list.slice(0, cut));
      b.push(...list.slice(cut));
    }
    const rng = new Prng(mixSeed(o.seed, 0x6d6978));
    rng.shuffle(a);
    rng.shuffle(b);
  } else {
    const cut = Math.round(order.length * o.fraction);
    a.push(...order.slice(0, cut));
    b.push(...order.slice(cut));
  }
  const pct = Math.round(o.fraction * 100);
  return [new SubsetDataset(ds, a, `${ds.name}[${pct}%]`), new SubsetDataset(ds, b, `${ds.name}[${100 - pct}%]`)];
}

/** Number of samples per class. */
export function classCounts(ds: Dataset): number[] {
  const c = new Array<number>(ds.labels.length).fill(0);
  for (let i = 0; i < ds.length; i++) c[ds.label(i)]++;
  return c;
}

/** Keeps only events with tStartUs <= t < tEndUs (arrival order kept). */
export function eventsInRange(b: EventBatch, tStartUs: number, tEndUs: number): EventBatch {
  const { t } = b;
  let m = 0;
  for (let i = 0; i < t.length; i++) if (t[i] >= tStartUs && t[i] < tEndUs) m++;
  if (m === t.length) return b;
  const out = { t: new Float64Array(m), x: new Uint16Array(m), y: new Uint16Array(m), p: new Uint8Array(m) };
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] >= tStartUs && t[i] < tEndUs) {
      out.t[j] = t[i];
      out.x[j] = b.x[i];
      out.y[j] = b.y[i];
      out.p[j] = b.p[i];
      j++;
    }
  }
  return out;
}
