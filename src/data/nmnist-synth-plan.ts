/**
 * Which MNIST digit becomes which synthetic N-MNIST sample: a pure, seeded plan, so a run is
 * reproducible from (seed, count, split, digit pool) alone and independent of worker scheduling.
 *
 * Train and test samples come from disjoint source digits: the pool of digits is shuffled once,
 * cut at the train fraction, and each split cycles through its own part. When a split needs more
 * samples than it has digits, a digit is rendered again as a new variant (another draw of path
 * jitter, mismatch and noise), never borrowed from the other split.
 */
import { NMNIST_REAL_PREFIX_COUNTS } from './mnist-digits.js';
import { Prng, mixSeed } from './prng.js';

export type SplitName = 'Train' | 'Test';

export interface SynthPlanOptions {
  readonly count: number;
  readonly seed: number;
  /** Fraction of samples (and of source digits) in Train, in [0, 1]. */
  readonly trainFraction: number;
  /**
   * Include the first n_c digits of each class (the ones the real N-MNIST recordings in
   * ../shared/fixtures/nmnist-real show). Off by default, so synthetic training data can be
   * evaluated on those recordings.
   */
  readonly includeRealDigits: boolean;
  /**
   * Equal numbers of samples per class (classes taken in turn), instead of MNIST's natural class
   * frequencies. Default false.
   */
  readonly balanced?: boolean;
}

export interface PlannedSample {
  readonly split: SplitName;
  /** 1-based number within its split; also the file name (<split>/<label>/<id>.bin). */
  readonly id: number;
  readonly label: number;
  /** Index of the source digit within its class in the `mnist` package. */
  readonly index: number;
  /** 0 for a digit's first rendering in its split, 1 for its second, ... */
  readonly variant: number;
  /** Seed of this sample's simulation. */
  readonly seed: number;
}

export interface SynthPlan {
  readonly samples: readonly PlannedSample[];
  readonly trainDigits: number;
  readonly testDigits: number;
  /** Digits left out of the pool per class (the real recordings' digits), or all zero. */
  readonly excludedPerClass: readonly number[];
}

const SPLIT_CODE: Record<SplitName, number> = { Train: 1, Test: 2 };

export function planSynthNmnist(countsPerClass: readonly number[], o: SynthPlanOptions): SynthPlan {
  if (!Number.isInteger(o.count) || o.count < 1) throw new RangeError(`count ${o.count} must be an integer >= 1`);
  if (!(o.trainFraction >= 0 && o.trainFraction <= 1)) throw new RangeError(`train fraction ${o.trainFraction} must be in [0, 1]`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) throw new RangeError(`seed ${o.seed} must be an integer in [0, 2^32)`);
  const excluded = countsPerClass.map((_, c) => (o.includeRealDigits ? 0 : Math.min(countsPerClass[c], NMNIST_REAL_PREFIX_COUNTS[c] ?? 0)));
  const rng = new Prng(mixSeed(o.seed, 0x706f6f6c));
  const nTrain = Math.round(o.count * o.trainFraction);
  const nTest = o.count - nTrain;
  const samples: PlannedSample[] = [];
  const push = (split: SplitName, i: number, d: [number, number], variant: number): void => {
    samples.push({ split, id: i + 1, label: d[0], index: d[1], variant, seed: mixSeed(o.seed, SPLIT_CODE[split], i) });
  };
  let trainDigits: number;
  let testDigits: number;
  if (o.balanced) {
    // Per class: shuffle its digits, cut at the train fraction; each split takes classes in turn.
    const parts: Record<SplitName, [number, number][][]> = { Train: [], Test: [] };
    countsPerClass.forEach((n, label) => {
      const digits: [number, number][] = [];
      for (let k = excluded[label]; k < n; k++) digits.push([label, k]);
      rng.shuffle(digits);
      const cut = cutPoint(digits.length, o.trainFraction, nTrain > 0, nTest > 0);
      parts.Train.push(digits.slice(0, cut));
      parts.Test.push(digits.slice(cut));
    });
    const nClasses = countsPerClass.length;
    for (const [split, n] of [['Train', nTrain], ['Test', nTest]] as const) {
      for (let i = 0; i < n; i++) {
        const list = parts[split][i % nClasses];
        if (list.length === 0) throw new RangeError(`no source digits of class ${i % nClasses} left for ${split}`);
        const round = Math.floor(i / nClasses);
        push(split, i, list[round % list.length], Math.floor(round / list.length));
      }
    }
    const used = (split: SplitName, n: number): number =>
      parts[split].reduce((sum, list, c) => sum + Math.min(list.length, Math.floor(n / nClasses) + (c < n % nClasses ? 1 : 0)), 0);
    trainDigits = used('Train', nTrain);
    testDigits = used('Test', nTest);
  } else {
    const pool: [number, number][] = [];
    countsPerClass.forEach((n, label) => {
      for (let k = excluded[label]; k < n; k++) pool.push([label, k]);
    });
    rng.shuffle(pool);
    // Digits are divided in the same proportion as samples, but each split with samples gets one at least.
    const cut = cutPoint(pool.length, o.trainFraction, nTrain > 0, nTest > 0);
    const parts: Record<SplitName, [number, number][]> = { Train: pool.slice(0, cut), Test: pool.slice(cut) };
    for (const [split, n] of [['Train', nTrain], ['Test', nTest]] as const) {
      const digits = parts[split];
      if (n > 0 && digits.length === 0) throw new RangeError(`no source digits left for ${split} (pool of ${pool.length})`);
      for (let i = 0; i < n; i++) push(split, i, digits[i % digits.length], Math.floor(i / digits.length));
    }
    trainDigits = Math.min(nTrain, parts.Train.length);
    testDigits = Math.min(nTest, parts.Test.length);
  }
  return { samples, trainDigits, testDigits, excludedPerClass: excluded };
}

function cutPoint(n: number, fraction: number, trainNeeds: boolean, testNeeds: boolean): number {
  let cut = Math.round(n * fraction);
  if (trainNeeds && cut === 0 && n > 1) cut = 1;
  if (testNeeds && cut === n && n > 1) cut = n - 1;
  return cut;
}

/** Relative path of a sample's file in the N-MNIST layout. */
export function sampleFile(s: Pick<PlannedSample, 'split' | 'label' | 'id'>): string {
  return `${s.split}/${s.label}/${s.id}.bin`;
}
