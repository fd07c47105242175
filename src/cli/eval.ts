/**
 * `spikestream eval --model M --data DIR [--split test|train|all] [--heldout] [--json]`: accuracy,
 * per-class accuracy, confusion matrix, connection density per layer, SynOps and spikes per sample
 * (from the sparse engine) and latency per sample. `--compare-tfjs` also runs the trainer's tfjs
 * forward pass and reports how often it agrees with the engine (differences only at float ties).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Dataset } from '../data/dataset.js';
import { SubsetDataset, shuffledIndices } from '../data/dataset.js';
import { openNmnistDataset } from '../data/nmnist-dataset.js';
import { readModelFile } from '../model/model-file.js';
import type { Model } from '../model/model.js';
import { openHeldOut, type DataSpec } from '../train/data-spec.js';
import { evaluateWithEngine, type EngineEvalResult } from '../train/engine-eval.js';
import { CliError } from './errors.js';
import { createProgress } from './progress.js';

interface EvalCmdOptions {
  model: string;
  data?: string;
  split?: 'train' | 'test' | 'all';
  heldout?: boolean;
  holdout?: number;
  splitSeed: number;
  limit?: number;
  engine: 'sparse' | 'dense';
  compareTfjs?: boolean;
  json?: boolean;
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

function parseFraction(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`expected a fraction in (0, 1), got "${v}"`);
  return n;
}

function parseSeed(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`expected an integer seed in [0, 2^32), got "${v}"`);
  return n;
}

const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(2)}%`);

/** The data a model was trained on, as recorded in its training record (for --heldout). */
function recordedSpec(model: Model): DataSpec | null {
  const d = model.training?.dataset as Partial<DataSpec> | null | undefined;
  if (!d || typeof d !== 'object' || typeof d.root !== 'string') return null;
  return { root: d.root, split: d.split ?? 'train', valFraction: d.valFraction ?? 0, splitSeed: d.splitSeed ?? 0, limit: 0 };
}

async function openEvalData(model: Model, o: EvalCmdOptions): Promise<{ ds: Dataset; what: string }> {
  if (o.heldout) {
    const spec = recordedSpec(model);
    if (!spec) throw new CliError(`eval: ${o.model} records no training data, so it has no held-out part; use --split`);
    const root = o.data ? resolve(o.data) : spec.root;
    return { ds: await openHeldOut({ ...spec, root }), what: `held-out ${pct(spec.valFraction)} of ${root} (${spec.split}, split seed ${spec.splitSeed})` };
  }
  if (!o.data) throw new CliError('eval: --data DIR is required (or --heldout to use the model\'s recorded training data)');
  const root = resolve(o.data);
  if (o.holdout !== undefined) {
    const split = o.split ?? 'train';
    const ds = await openHeldOut({ root, split, valFraction: o.holdout, splitSeed: o.splitSeed, limit: 0 });
    return { ds, what: `held-out ${pct(o.holdout)} of ${root} (${split}, split seed ${o.splitSeed})` };
  }
  const split = o.split ?? 'test';
  if (split === 'test' && !existsSync(resolve(root, 'Test'))) {
    throw new CliError(`eval: ${root} has no Test/ folder; use --split train, or --heldout for the part training held out`);
  }
  return { ds: await openNmnistDataset({ root, split }), what: `${root} (${split})` };
}

function report(model: Model, r: EngineEvalResult, what: string, tfjs: { accuracy: number; agree: number; tied: number; untied: number } | null): string {
  const lines: string[] = [];
  lines.push(`model ${model.name} on ${what}: ${r.samples} samples, ${r.engine} engine`);
  lines.push(`accuracy ${pct(r.accuracy)}`);
  lines.push(`per class: ${r.perClass.map((a, c) => `${r.labels[c]} ${pct(a)}`).join(', ')}`);
  lines.push(`density ${pct(r.density.overall)} (${Object.entries(r.density.perLayer).map(([k, v]) => `${k} ${pct(v)}`).join(', ')})`);
  lines.push(`per sample: ${r.synopsPerSample.mean.toFixed(0)} SynOps (dense MACs ${r.denseMacsPerSample.toFixed(0)}, ratio ${(r.synopsPerSample.mean / Math.max(1, r.denseMacsPerSample)).toFixed(4)}), ${r.spikesPerSample.mean.toFixed(0)} spikes, ${r.eventsPerSample.mean.toFixed(0)} events, ${r.timestepsPerSample.toFixed(1)} timesteps`);
  lines.push(`latency per sample: mean ${r.latencyMs.mean.toFixed(2)} ms, p50 ${r.latencyMs.p50.toFixed(2)} ms, p95 ${r.latencyMs.p95.toFixed(2)} ms`);
  if (tfjs) lines.push(`tfjs forward: accuracy ${pct(tfjs.accuracy)}, same prediction as the engine on ${tfjs.agree}/${r.samples}; ${tfjs.tied} differ at counted float ties, ${tfjs.untied} without`);
  const w = Math.max(4, ...r.labels.map((l) => l.length));
  lines.push('confusion (rows: true, columns: predicted):');
  lines.push(`${' '.repeat(w)} ${r.labels.map((l) => l.padStart(5)).join('')}`);
  r.confusion.forEach((row, c) => lines.push(`${r.labels[c].padStart(w)} ${row.map((v) => String(v).padStart(5)).join('')}`));
  return lines.join('\n');
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('Evaluate a model file on labelled recordings in the sparse engine: accuracy, confusion, density, SynOps, spikes and latency per sample')
    .requiredOption('--model <file>', 'model file (.msgpack)')
    .option('--data <dir>', 'folder in the N-MNIST layout (Train/ and/or Test/)')
    .addOption(new Option('--split <s>', 'which folder(s) to evaluate (default test)').choices(['train', 'test', 'all']))
    .option('--heldout', 'evaluate the part of the training data the model\'s training held out (from its training record; --data overrides the folder)')
    .option('--holdout <f>', 'evaluate the seeded, class-stratified fraction f of the split (default train) that `train --val-fraction f --split-seed S` holds out', parseFraction)
    .option('--split-seed <s>', 'seed of --holdout\'s split (train\'s default: its --seed)', parseSeed, 1)
    .option('--limit <n>', 'evaluate a seeded subset of n samples', parseLimit)
    .addOption(new Option('--engine <e>', 'inference engine').choices(['sparse', 'dense']).default('sparse'))
    .option('--compare-tfjs', 'also run the tfjs forward pass and count disagreements with the engine (float ties)')
    .option('--json', 'print the result as JSON')
    .action(async (o: EvalCmdOptions) => {
      const model = await readModelFile(o.model);
      let { ds, what } = await openEvalData(model, o);
      if (o.limit !== undefined && o.limit < ds.length) {
        ds = new SubsetDataset(ds, shuffledIndices(ds.length, 1).slice(0, o.limit), `${ds.name}[${o.limit}]`);
        what += `, ${o.limit} samples (seeded subset)`;
      }
      if (ds.labels.length !== model.labels.length) throw new CliError(`eval: the data has ${ds.labels.length} classes, the model ${model.labels.length}`);
      const progress = o.json ? null : createProgress('eval', ds.length);
      const r = await evaluateWithEngine(model, ds, { engine: o.engine, onProgress: (d) => progress?.update(d) });
      progress?.stop();
      let tfjs: { accuracy: number; agree: number; tied: number; untied: number } | null = null;
      if (o.compareTfjs) {
        const { compareWithTfjs } = await import('../train/compare-tfjs.js');
        tfjs = await compareWithTfjs(model, ds, r.predictions);
      }
      if (o.json) {
        const out = {
          model: resolve(o.model), name: model.name, data: what, engine: r.engine, samples: r.samples, accuracy: r.accuracy,
          perClass: Object.fromEntries(r.perClass.map((a, c) => [r.labels[c], a])), confusion: r.confusion, labels: r.labels,
          density: r.density, synopsPerSample: r.synopsPerSample, spikesPerSample: r.spikesPerSample, eventsPerSample: r.eventsPerSample,
          denseMacsPerSample: r.denseMacsPerSample, timestepsPerSample: r.timestepsPerSample, latencyMs: r.latencyMs, tfjs,
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else {
        process.stdout.write(`${report(model, r, what, tfjs)}\n`);
      }
    });
}
