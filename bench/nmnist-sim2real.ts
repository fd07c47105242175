/**
 * How far synthetic N-MNIST is from the real recordings, measured with the simplest classifier
 * that sees what an SNN sees (event counts per saccade, polarity and pixel), before the SNN
 * trainer exists: a softmax regression trained on synthetic data and tested on the 1,000 real
 * recordings, next to the same model trained on real recordings (seeded 800/200 split) and tested
 * on the same 200 held-out ones (the baseline measured in the same run).
 *
 *   npx tsx bench/nmnist-sim2real.ts --synth DIR [--real ../shared/fixtures/nmnist-real] [--epochs 30]
 *
 * DIR is the output of `spikestream synth nmnist` (default digits exclude the real recordings').
 * Prints one JSON line per figure.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { EventBatch } from '../src/events/batch.js';
import { splitDataset, type Dataset } from '../src/data/dataset.js';
import { iterateSamples } from '../src/data/iterate-samples.js';
import { openNmnistDataset } from '../src/data/nmnist-dataset.js';
import { NMNIST_SACCADE_BOUNDS_US } from '../src/data/nmnist-stats.js';
import { Prng } from '../src/data/prng.js';
import { projectRoot } from './_root.js';

const root = projectRoot(import.meta.url);
const arg = (name: string, dflt?: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const synthDir = arg('synth');
const realDir = arg('real', resolve(root, '../shared/fixtures/nmnist-real')) as string;
const EPOCHS = Number(arg('epochs', '30'));
if (!synthDir || !existsSync(synthDir) || !existsSync(realDir)) {
  process.stderr.write('bench/nmnist-sim2real: needs --synth DIR (from `spikestream synth nmnist`) and the real recordings (--real DIR)\n');
  process.exit(0);
}

const SIDE = 34;
const NPIX = SIDE * SIDE;
const NSAC = NMNIST_SACCADE_BOUNDS_US.length - 1;
const D = NSAC * 2 * NPIX;

/** sqrt of event counts per (saccade, polarity, pixel). */
function features(e: EventBatch, out: Float32Array): void {
  out.fill(0);
  for (let i = 0; i < e.t.length; i++) {
    if (e.x[i] >= SIDE || e.y[i] >= SIDE) continue;
    let s = 0;
    while (e.t[i] >= NMNIST_SACCADE_BOUNDS_US[s + 1]) s++;
    out[(s * 2 + e.p[i]) * NPIX + e.y[i] * SIDE + e.x[i]]++;
  }
  for (let k = 0; k < D; k++) out[k] = Math.sqrt(out[k]);
}

async function load(ds: Dataset): Promise<{ X: Float32Array[]; y: number[] }> {
  const X: Float32Array[] = [];
  const y: number[] = [];
  for await (const s of iterateSamples(ds, { concurrency: 8 })) {
    const f = new Float32Array(D);
    features(s.events, f);
    X.push(f);
    y.push(Number(ds.labels[s.label]));
  }
  return { X, y };
}

/** Softmax regression, minibatch SGD with momentum and L2, features standardised by the training set. */
function train(X: Float32Array[], y: number[], seed: number): (x: Float32Array) => number {
  const n = X.length;
  const mean = new Float32Array(D);
  const sd = new Float32Array(D);
  for (const x of X) for (let k = 0; k < D; k++) mean[k] += x[k] / n;
  for (const x of X) for (let k = 0; k < D; k++) sd[k] += (x[k] - mean[k]) ** 2 / n;
  for (let k = 0; k < D; k++) sd[k] = Math.sqrt(sd[k]) + 1e-3;
  const W = new Float32Array(10 * D);
  const b = new Float32Array(10);
  const vW = new Float32Array(10 * D);
  const vb = new Float32Array(10);
  const z = new Float32Array(D);
  const gW = new Float32Array(10 * D);
  const gb = new Float32Array(10);
  const rng = new Prng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  const B = 32;
  const l2 = 1e-4;
  const logits = new Float64Array(10);
  const std = (x: Float32Array, out: Float32Array) => {
    for (let k = 0; k < D; k++) out[k] = (x[k] - mean[k]) / sd[k];
  };
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const lr = 0.01 * 0.5 * (1 + Math.cos((Math.PI * epoch) / EPOCHS));
    rng.shuffle(order);
    for (let s = 0; s < n; s += B) {
      gW.fill(0);
      gb.fill(0);
      const m = Math.min(B, n - s);
      for (let j = 0; j < m; j++) {
        const i = order[s + j];
        std(X[i], z);
        let mx = -Infinity;
        for (let c = 0; c < 10; c++) {
          let a = b[c];
          const row = c * D;
          for (let k = 0; k < D; k++) a += W[row + k] * z[k];
          logits[c] = a;
          if (a > mx) mx = a;
        }
        let sum = 0;
        for (let c = 0; c < 10; c++) sum += logits[c] = Math.exp(logits[c] - mx);
        for (let c = 0; c < 10; c++) {
          const g = logits[c] / sum - (c === y[i] ? 1 : 0);
          gb[c] += g;
          const row = c * D;
          for (let k = 0; k < D; k++) gW[row + k] += g * z[k];
        }
      }
      for (let k = 0; k < W.length; k++) {
        vW[k] = 0.9 * vW[k] - lr * (gW[k] / m + l2 * W[k]);
        W[k] += vW[k];
      }
      for (let c = 0; c < 10; c++) {
        vb[c] = 0.9 * vb[c] - lr * (gb[c] / m);
        b[c] += vb[c];
      }
    }
  }
  return (x: Float32Array) => {
    std(x, z);
    let best = 0;
    let bestA = -Infinity;
    for (let c = 0; c < 10; c++) {
      let a = b[c];
      for (let k = 0; k < D; k++) a += W[c * D + k] * z[k];
      if (a > bestA) {
        bestA = a;
        best = c;
      }
    }
    return best;
  };
}

function accuracy(predict: (x: Float32Array) => number, data: { X: Float32Array[]; y: number[] }): number {
  let ok = 0;
  data.X.forEach((x, i) => {
    if (predict(x) === data.y[i]) ok++;
  });
  return (100 * ok) / data.X.length;
}

const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const synthTrain = await load(await openNmnistDataset({ root: synthDir, split: 'train' }));
const synthTest = existsSync(resolve(synthDir, 'Test')) ? await load(await openNmnistDataset({ root: synthDir, split: 'test' })) : null;
const realAll = await openNmnistDataset({ root: realDir, split: 'train' });
const [realTrainDs, realTestDs] = splitDataset(realAll, { fraction: 0.8, seed: 1 });
const realTrain = await load(realTrainDs);
const realTest = await load(realTestDs);
const realEverything = { X: [...realTrain.X, ...realTest.X], y: [...realTrain.y, ...realTest.y] };

const t0 = performance.now();
const fromSynth = train(synthTrain.X, synthTrain.y, 1);
const fromReal = train(realTrain.X, realTrain.y, 1);
const seconds = (performance.now() - t0) / 1000;
const baseline = accuracy(fromReal, realTest);
const s2r = accuracy(fromSynth, realTest);
emit({ name: 'sim2real.linear.real_test_accuracy', value: +s2r.toFixed(1), unit: '%', trainedOn: `synthetic ${synthDir} (${synthTrain.X.length} samples)`, testedOn: `${realTest.X.length} held-out real`, baseline: +baseline.toFixed(1), baselineMeaning: `same model trained on ${realTrain.X.length} real recordings`, ratio: +(s2r / baseline).toFixed(3) });
emit({ name: 'sim2real.linear.real_all_accuracy', value: +accuracy(fromSynth, realEverything).toFixed(1), unit: '%', testedOn: `all ${realEverything.X.length} real` });
if (synthTest) emit({ name: 'sim2real.linear.synthetic_test_accuracy', value: +accuracy(fromSynth, synthTest).toFixed(1), unit: '%', testedOn: `${synthTest.X.length} synthetic test (disjoint digits)` });
emit({ name: 'sim2real.linear.real_to_synthetic_accuracy', value: +accuracy(fromReal, synthTest ?? synthTrain).toFixed(1), unit: '%', meaning: 'model trained on real, tested on synthetic' });
emit({ name: 'sim2real.linear.train_seconds', value: +seconds.toFixed(1), unit: 's', epochs: EPOCHS, features: D });
