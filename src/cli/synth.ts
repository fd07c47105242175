/**
 * `spikestream synth nmnist --out DIR --count N --seed S [--split train=0.8] [--include-real-digits]`
 * writes synthetic N-MNIST (DVS emulator over moving MNIST digits) in the N-MNIST layout;
 * `spikestream synth stats DIR [--real DIR]` prints its statistics beside real recordings'.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { collectFolderStats, formatComparison, type FolderStats } from '../data/nmnist-compare.js';
import { resolveNmnistSimParams } from '../data/nmnist-sim.js';
import { synthesizeNmnist } from '../data/nmnist-synth.js';
import { createProgress } from './progress.js';
import { parsePositiveInt } from './parse.js';

function parseSplit(v: string): number {
  const m = /^train=(0(\.\d+)?|1(\.0+)?)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected train=<fraction in [0, 1]>, e.g. train=0.8, got "${v}"`);
  return Number(m[1]);
}

function parseSeed(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`expected an integer seed in [0, 2^32), got "${v}"`);
  return n;
}

function parseWorkers(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new InvalidArgumentError(`expected 0-16 workers, got "${v}"`);
  return n;
}

interface NmnistCmdOptions {
  out: string;
  count: number;
  seed: number;
  split: number;
  includeRealDigits?: boolean;
  balanced?: boolean;
  workers?: number;
  overwrite?: boolean;
  params?: string;
  stats?: boolean;
  real?: string;
  register?: boolean;
  json?: boolean;
}

async function statsPair(synthDir: string, o: { real?: string; register?: boolean; limit?: number }): Promise<{ synth: FolderStats; real?: FolderStats }> {
  const synth = await collectFolderStats(synthDir, { register: o.register, limit: o.limit });
  const real = o.real ? await collectFolderStats(o.real, { register: o.register, limit: o.limit }) : undefined;
  return { synth, real };
}

export function registerSynth(program: Command): void {
  const synth = program.command('synth').description('Synthetic event data from the DVS emulator');

  synth
    .command('nmnist')
    .description('Write synthetic N-MNIST (MNIST digits moved in three saccades, rendered through the DVS emulator) as DIR/Train|Test/<label>/<id>.bin + labels.csv + manifest.json')
    .requiredOption('--out <dir>', 'output directory (must be empty unless --overwrite)')
    .requiredOption('--count <n>', 'number of samples (train + test)', parsePositiveInt)
    .requiredOption('--seed <s>', 'seed: the same seed and options reproduce the files byte for byte', parseSeed)
    .option('--split <train=f>', 'fraction of samples (and of source digits) in Train', parseSplit, 0.8)
    .option('--include-real-digits', 'also use the MNIST digits that the real recordings in ../shared/fixtures/nmnist-real show (left out by default)')
    .option('--balanced', 'equal numbers of samples per class (default: MNIST\'s class frequencies)')
    .option('--workers <n>', 'worker threads (default: 2 for 500+ samples, else in-process)', parseWorkers)
    .option('--overwrite', 'write into a non-empty directory')
    .option('--params <file.json>', 'JSON overrides of the simulation parameters (see manifest.json "params")')
    .option('--stats', 'print statistics of the generated data afterwards (with --real: beside real recordings)')
    .option('--real <dir>', 'real N-MNIST folder to compare with (e.g. ../shared/fixtures/nmnist-real)')
    .option('--register', 'with --stats: also measure the digit path by registration against the source digits')
    .option('--json', 'print the result as JSON')
    .action(async (o: NmnistCmdOptions) => {
      const overrides = o.params ? (JSON.parse(await readFile(o.params, 'utf8')) as Parameters<typeof resolveNmnistSimParams>[0]) : {};
      const params = resolveNmnistSimParams(overrides);
      const progress = createProgress('synth nmnist', o.count);
      const t0 = performance.now();
      const manifest = await synthesizeNmnist({
        outDir: o.out, count: o.count, seed: o.seed, trainFraction: o.split, includeRealDigits: o.includeRealDigits ?? false, balanced: o.balanced,
        workers: o.workers, overwrite: o.overwrite, params, onProgress: (d) => progress.update(d),
      });
      progress.stop();
      const seconds = (performance.now() - t0) / 1000;
      const train = manifest.samples.filter((s) => s.split === 'Train').length;
      const summary = {
        out: o.out, samples: manifest.samples.length, train, test: manifest.samples.length - train,
        trainDigits: manifest.trainDigits, testDigits: manifest.testDigits, seconds: Number(seconds.toFixed(2)),
        samplesPerSecond: Number((manifest.samples.length / seconds).toFixed(1)),
      };
      const stats = o.stats ? await statsPair(o.out, o) : undefined;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...summary, stats: stats && { synthetic: stats.synth, real: stats.real } })}\n`);
        return;
      }
      process.stdout.write(`wrote ${summary.samples} samples (${train} train from ${summary.trainDigits} digits, ${summary.test} test from ${summary.testDigits} digits) to ${o.out} in ${summary.seconds} s (${summary.samplesPerSecond} samples/s)\n`);
      if (stats) process.stdout.write(`${formatComparison(stats.synth, stats.real)}\n`);
    });

  synth
    .command('stats')
    .description('Statistics of a folder in the N-MNIST layout, beside a real one (events, duration, ON fraction, events per saccade, motion, noise)')
    .argument('<dir>', 'synthetic (or any) N-MNIST folder')
    .option('--real <dir>', 'real N-MNIST folder to compare with (e.g. ../shared/fixtures/nmnist-real)')
    .option('--limit <n>', 'use at most n recordings of each folder, spread evenly', parsePositiveInt)
    .option('--register', 'also measure the digit path by registration against the source digits')
    .option('--json', 'print JSON')
    .action(async (dir: string, o: { real?: string; limit?: number; register?: boolean; json?: boolean }) => {
      const { synth: s, real } = await statsPair(dir, o);
      process.stdout.write(o.json ? `${JSON.stringify({ synthetic: s, real })}\n` : `${formatComparison(s, real)}\n`);
    });
}
