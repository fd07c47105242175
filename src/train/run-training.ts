/**
 * One training run end to end, as the `train` command performs it: open and bin the data, build
 * the architecture (or load --init, or a checkpoint for --resume), train with checkpoints, write
 * the model file with its training record. The CLI adds only argument parsing and display.
 *
 * Everything that defines the run is a plain record (TrainRunOptions) stored in every checkpoint,
 * so `--resume` needs nothing but the checkpoint.
 */
import { existsSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { cpus, platform } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { readModelFile, writeModelFile } from '../model/model-file.js';
import type { BinningSpec, Model, PlainValue, TrainingInfo } from '../model/model.js';
import { modelFromGraph } from '../model/random-model.js';
import { isWeighted } from '../snn/graph.js';
import { numel } from '../snn/tensor.js';
import { buildArch, type ArchName, type OutputKind } from './arch.js';
import { selectBackend } from './backend.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { openNmnistDataset } from '../data/nmnist-dataset.js';
import { openTrainingData, type DataSpec } from './data-spec.js';
import { binDataset, type FrameSet } from './frame-set.js';
import type { BackendName } from './options.js';
import { surrogate, type SurrogateKind } from './surrogate.js';
import { TrainError } from './train-error.js';
import { Trainer, type EpochLog, type EslUpdateLog, type StepResult, type TrainConfig, type TrainState } from './trainer.js';

/** A run: the trainer's configuration (with the surrogate named, not built) plus data, model and files. */
export interface TrainRunOptions extends Omit<TrainConfig, 'surrogate'> {
  readonly data: DataSpec;
  readonly arch: ArchName;
  readonly output: OutputKind;
  readonly beta: number;
  readonly gain: number;
  readonly timesteps: number;
  /** Default: n_time_bins with `timesteps` bins (tonic). */
  readonly binning?: BinningSpec;
  readonly surrogate: SurrogateKind;
  readonly slope?: number;
  readonly out: string;
  readonly name: string;
  /** A model to start from (fine-tuning; ESL continues from its masks). */
  readonly init?: string;
  readonly checkpoint: string;
  /** Steps between checkpoints (0: only after each epoch). */
  readonly checkpointEvery: number;
  /** Keep the checkpoint after a successful run (default: removed). */
  readonly keepCheckpoint: boolean;
  readonly backend?: BackendName;
  /** Threads computing each batch (default one per core; results do not depend on it, see trainer.ts). */
  readonly threads?: number;
  /** Evaluate on the Test/ split at the end when it exists (default true). */
  readonly evalTest: boolean;
  /** The command line that started the run (recorded in the model). */
  readonly command: string;
}

export interface RunHooks {
  log?(line: string): void;
  onStart?(info: { trainSamples: number; valSamples: number; stepsPerEpoch: number; totalSteps: number; step: number; backend: string; density: ReturnType<Trainer['density']> }): void;
  onStep?(r: StepResult, t: Trainer): void;
  onEpoch?(log: EpochLog, t: Trainer): void;
  onEsl?(u: EslUpdateLog): void;
  onBinning?(done: number, total: number, what: string): void;
  shouldStop?(): boolean;
}

export interface RunResult {
  readonly model: Model;
  /** False when stopped early (a checkpoint holds the state). */
  readonly completed: boolean;
  readonly testAccuracy: number | null;
  readonly valAccuracy: number | null;
  readonly seconds: number;
}

function trainConfig(o: TrainRunOptions): TrainConfig {
  return {
    method: o.method, density: o.method === 'dense' ? 1 : o.density, allocation: o.allocation, rule: o.rule, schedule: o.schedule,
    keepFirstDense: o.keepFirstDense, keepLastDense: o.keepLastDense, epochs: o.epochs, batch: o.batch, seed: o.seed,
    adam: o.adam, loss: o.loss, surrogate: surrogate(o.surrogate, o.slope), detachReset: o.detachReset,
    ...(o.shift ? { shift: o.shift } : {}),
  };
}

async function bin(ds: Dataset, binning: BinningSpec, T: number, shape: readonly number[], hooks: RunHooks, what: string): Promise<FrameSet> {
  return binDataset(ds, { binning, T, channels: shape[0], height: shape[1], width: shape[2], onProgress: (d, n) => hooks.onBinning?.(d, n, what) });
}

/** The model file for the current state, with its training record. */
export function trainedModel(t: Trainer, base: Model, o: TrainRunOptions, extra: { testAccuracy?: number | null; seconds: number; backend: string; trainSamples: number; valSamples: number }): Model {
  const s = t.state;
  const last = s.epochs[s.epochs.length - 1];
  const d = t.density();
  const history = { epochs: s.epochs as unknown as PlainValue, esl: s.esl as unknown as PlainValue };
  const training: TrainingInfo = {
    method: o.method,
    density: d.overall,
    rules: o.method === 'dense' ? null : {
      allocation: o.allocation, rule: o.method === 'esl' ? o.rule : null, updateEvery: o.schedule.updateEvery, stopFraction: o.schedule.stopFraction,
      zeta0: o.schedule.zeta0, keepFirstDense: o.keepFirstDense, keepLastDense: o.keepLastDense, targetDensity: o.density,
    },
    dataset: {
      root: o.data.root, split: o.data.split, valFraction: o.data.valFraction, splitSeed: o.data.splitSeed, limit: o.data.limit,
      trainSamples: extra.trainSamples, valSamples: extra.valSamples, timesteps: o.timesteps,
    },
    epochs: s.epochs.length,
    metrics: {
      trainAccuracy: last?.trainAccuracy ?? null, valAccuracy: last?.valAccuracy ?? null, testAccuracy: extra.testAccuracy ?? null,
      densityPerLayer: d.perNode, explored: t.exploredFraction(), eslUpdates: s.esl.length, seconds: extra.seconds,
      samplesPerSecond: s.epochs.length ? s.epochs.reduce((a, e) => a + e.samplesPerSecond, 0) / s.epochs.length : null,
    },
    history,
    seed: o.seed, arch: o.arch, batch: o.batch, lr: o.adam.lr, loss: o.loss, surrogate: o.surrogate, slope: t.config.surrogate.slope,
    detachReset: o.detachReset, shift: o.shift ?? 0, init: o.init ?? null, backend: extra.backend, command: o.command, steps: s.step,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, platform: platform(), node: process.version },
  };
  return { ...base, name: o.name, graph: t.exportGraph(), training, created: new Date().toISOString() };
}

export async function runTraining(opts: TrainRunOptions | { resume: string }, hooks: RunHooks = {}): Promise<RunResult> {
  const log = hooks.log ?? (() => undefined);
  let o: TrainRunOptions;
  let base: Model | null = null;
  let state: TrainState | undefined;
  let fromTrained = false;
  if ('resume' in opts) {
    const ck = await readCheckpoint(opts.resume);
    o = ck.run as unknown as TrainRunOptions;
    if (!o || typeof o !== 'object' || !o.data || !o.out) throw new TrainError('BAD_CHECKPOINT', `checkpoint ${opts.resume}: no run settings`);
    o = { ...o, checkpoint: resolve(opts.resume) };
    base = ck.model;
    state = ck.state;
    fromTrained = o.init !== undefined;
    log(`resuming ${o.name} from ${opts.resume} at step ${state.step}`);
  } else {
    o = opts;
    if (o.init) {
      base = await readModelFile(o.init);
      fromTrained = true;
    }
  }
  await mkdir(dirname(o.out), { recursive: true });
  await mkdir(dirname(o.checkpoint), { recursive: true });
  const backend = await selectBackend(o.backend);
  const data = await openTrainingData(o.data);
  if (!base) {
    const graph = buildArch(o.arch, [2, data.train.height, data.train.width], { output: o.output, beta: o.beta, gain: o.gain, seed: o.seed });
    base = modelFromGraph(graph, { name: o.name, labels: data.train.labels, binning: o.binning ?? { mode: 'n_time_bins', bins: o.timesteps } });
  } else if (data.train.labels.length !== base.labels.length) {
    throw new TrainError('BAD_DATA', `${o.data.root} has ${data.train.labels.length} classes, the model ${base.labels.length}`);
  }
  const shape = [base.input.channels, base.input.height, base.input.width];
  const binning = base.input.binning;
  const trainFs = await bin(data.train, binning, o.timesteps, shape, hooks, 'train');
  const valFs = data.val ? await bin(data.val, binning, o.timesteps, shape, hooks, 'validation') : null;

  const config = trainConfig(o);
  // A resumed run's masks and weights come from the checkpoint state; the graph only gives shapes.
  const trainer = new Trainer(base.graph, config, trainFs, valFs, { state, fromTrained, ...(o.threads !== undefined ? { threads: o.threads } : {}) });
  hooks.onStart?.({ trainSamples: trainFs.length, valSamples: valFs?.length ?? 0, stepsPerEpoch: trainer.stepsPerEpoch, totalSteps: trainer.totalSteps, step: trainer.state.step, backend, density: trainer.density() });

  const t0 = performance.now();
  const priorSeconds = trainer.state.epochs.reduce((a, e) => a + e.seconds, 0) + trainer.state.epochAcc.seconds;
  const seconds = () => priorSeconds + (performance.now() - t0) / 1000;
  const model0 = base;
  const snapshot = (t: Trainer) => trainedModel(t, model0, o, { seconds: seconds(), backend, trainSamples: trainFs.length, valSamples: valFs?.length ?? 0 });
  const checkpoint = async (t: Trainer) => writeCheckpoint(o.checkpoint, { model: snapshot(t), run: o as unknown as PlainValue, state: t.state });
  let stopped = false;
  await trainer.run({
    onStep: (r, t) => {
      if (r.esl) hooks.onEsl?.(r.esl);
      hooks.onStep?.(r, t);
    },
    onEpoch: (l, t) => hooks.onEpoch?.(l, t),
    onCheckpoint: checkpoint,
    shouldStop: () => {
      stopped = hooks.shouldStop?.() ?? false;
      return stopped;
    },
  }, o.checkpointEvery);
  if (!trainer.done) {
    await checkpoint(trainer);
    return { model: snapshot(trainer), completed: false, testAccuracy: null, valAccuracy: null, seconds: seconds() };
  }

  let testAccuracy: number | null = null;
  if (o.evalTest && o.data.split === 'train' && existsSync(resolve(o.data.root, 'Test'))) {
    const test = await openNmnistDataset({ root: o.data.root, split: 'test' });
    if (test.length > 0) {
      const testFs = await bin(test, binning, o.timesteps, shape, hooks, 'test');
      testAccuracy = trainer.evaluate(testFs).accuracy;
    }
  }
  const model = trainedModel(trainer, model0, o, { testAccuracy, seconds: seconds(), backend, trainSamples: trainFs.length, valSamples: valFs?.length ?? 0 });
  await writeModelFile(o.out, model);
  if (!o.keepCheckpoint) await unlink(o.checkpoint).catch(() => undefined);
  const last = trainer.state.epochs[trainer.state.epochs.length - 1];
  return { model, completed: true, testAccuracy, valAccuracy: last?.valAccuracy ?? null, seconds: seconds() };
}

/** Number of weights (connections possible) and existing connections of a model. */
export function connectionCounts(m: Model): { possible: number; existing: number } {
  let possible = 0;
  let existing = 0;
  for (const n of m.graph.nodes) {
    if (!isWeighted(n)) continue;
    const k = numel(n.params.weight.shape);
    possible += k;
    existing += n.mask ? n.mask.reduce((a, b) => a + b, 0) : k;
  }
  return { possible, existing };
}
