/**
 * `spikestream train --data DIR|synthetic --density 0.1 --rule gradient --out M.msgpack ...`:
 * surrogate-gradient training with ESL prune-and-regrow (or a baseline), checkpoints and resume.
 * A progress bar on a TTY, one line per epoch otherwise. The work is src/train/run-training.ts.
 */
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_ADAM } from '../train/adam.js';
import { ARCH_NAMES, DEFAULT_ARCH_OPTIONS, type ArchName, type OutputKind } from '../train/arch.js';
import { synthesizedNmnist } from '../train/data-spec.js';
import { ALLOCATIONS, DEFAULT_ESL_SCHEDULE, GROWTH_RULES, type Allocation, type GrowthRule } from '../train/esl.js';
import { BACKEND_NAMES, LOSS_KINDS, METHODS, type BackendName, type LossKind, type Method } from '../train/options.js';
import type { TrainRunOptions } from '../train/run-training.js';
import { SURROGATE_KINDS, type SurrogateKind } from '../train/surrogate.js';
import { CliError } from './errors.js';
import { parsePositiveInt } from './parse.js';

function parseFraction(lo: number, hi: number, loOpen: boolean, hiOpen: boolean) {
  return (v: string): number => {
    const n = Number(v);
    const ok = Number.isFinite(n) && (loOpen ? n > lo : n >= lo) && (hiOpen ? n < hi : n <= hi);
    if (!ok) throw new InvalidArgumentError(`expected a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, got "${v}"`);
    return n;
  };
}

function parsePositive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${v}"`);
  return n;
}

function parseNonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${v}"`);
  return n;
}

function parseShift(v: string): number {
  const n = parseNonNegativeInt(v);
  if (n > 127) throw new InvalidArgumentError(`${v} is more than 127 pixels`);
  return n;
}

function parseSeed(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`expected an integer seed in [0, 2^32), got "${v}"`);
  return n;
}

interface TrainCmdOptions {
  data?: string;
  synthCount: number;
  arch: ArchName;
  method?: Method;
  density: number;
  rule: GrowthRule;
  allocation: Allocation;
  updateEvery: number;
  stopFraction: number;
  zeta: number;
  keepFirstDense?: boolean;
  keepLastDense?: boolean;
  epochs: number;
  timesteps: number;
  batch: number;
  seed: number;
  lr: number;
  lrMin: number;
  loss: LossKind;
  surrogate: SurrogateKind;
  slope?: number;
  detachReset: boolean;
  shift: number;
  output: OutputKind;
  beta: number;
  gain: number;
  split: 'train' | 'test' | 'all';
  valFraction: number;
  splitSeed?: number;
  limit: number;
  out?: string;
  name?: string;
  init?: string;
  resume?: string;
  checkpoint?: string;
  checkpointEvery: number;
  keepCheckpoint?: boolean;
  backend?: BackendName;
  threads?: number;
  test: boolean;
  verbose?: boolean;
  json?: boolean;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('Train an SNN with surrogate gradients (tfjs) and ESL prune-and-regrow, or a dense/static/pruning baseline')
    .option('--data <dir|synthetic>', 'folder in the N-MNIST layout (Train/<class>/*.bin, Test/...), or "synthetic" to synthesise one (cached)')
    .option('--synth-count <n>', 'samples to synthesise for --data synthetic (train + test)', parsePositiveInt, 2000)
    .addOption(new Option('--arch <name>', 'architecture').choices(ARCH_NAMES as string[]).default('nmnist-small'))
    .addOption(new Option('--method <m>', 'esl (default when density < 1), dense (default at density 1), static (fixed random mask), prune (one-shot magnitude pruning of --init, then fine-tuning)').choices(METHODS as string[]))
    .option('--density <d>', 'connection density of the sparse layers, (0, 1]', parseFraction(0, 1, true, false), 1)
    .addOption(new Option('--rule <r>', 'ESL regrowth rule').choices(GROWTH_RULES as string[]).default('gradient'))
    .addOption(new Option('--allocation <a>', 'per-layer density allocation (er: the ESL paper\'s Erdős–Rényi; erk: RigL\'s, with kernel dims; uniform)').choices(ALLOCATIONS as string[]).default('er'))
    .option('--update-every <steps>', 'steps between ESL updates', parsePositiveInt, DEFAULT_ESL_SCHEDULE.updateEvery)
    .option('--stop-fraction <f>', 'fraction of training after which the structure is frozen', parseFraction(0, 1, true, false), DEFAULT_ESL_SCHEDULE.stopFraction)
    .option('--zeta <f>', 'initial prune fraction zeta0 (cosine-decayed)', parseFraction(0, 1, false, true), DEFAULT_ESL_SCHEDULE.zeta0)
    .option('--keep-first-dense', 'keep the first weighted layer dense')
    .option('--keep-last-dense', 'keep the last weighted layer dense')
    .option('--epochs <n>', 'epochs', parsePositiveInt, 5)
    .option('--timesteps <T>', 'timesteps per sample (n_time_bins binning)', parsePositiveInt, 10)
    .option('--batch <n>', 'batch size', parsePositiveInt, 32)
    .option('--seed <s>', 'seed of initialisation, masks, sample order and ESL', parseSeed, 1)
    .option('--lr <x>', 'peak learning rate (Adam, cosine decay)', parsePositive, DEFAULT_ADAM.lr)
    .option('--lr-min <x>', 'final learning rate', parseFraction(0, Infinity, false, true), DEFAULT_ADAM.lrMin)
    .addOption(new Option('--loss <l>', 'ce: cross-entropy on the readout; mse: firing-rate MSE').choices(LOSS_KINDS as string[]).default('ce'))
    .addOption(new Option('--surrogate <s>', 'surrogate gradient').choices(SURROGATE_KINDS as string[]).default('atan'))
    .option('--slope <x>', 'surrogate slope (atan alpha, default 2; fast-sigmoid k, default 25)', parsePositive)
    .option('--no-detach-reset', 'let the gradient flow through the reset')
    .addOption(new Option('--output <o>', 'output layer: LI membrane or LIF spike counts').choices(['membrane', 'spikes']).default(DEFAULT_ARCH_OPTIONS.output))
    .option('--beta <x>', 'LIF/LI decay per timestep', parseFraction(0, 1, false, false), DEFAULT_ARCH_OPTIONS.beta)
    .option('--gain <x>', 'initial weight scale (x He)', parsePositive, DEFAULT_ARCH_OPTIONS.gain)
    .option('--shift <px>', 'augmentation: translate each training sample by up to px pixels per axis, new every epoch (0 = none)', parseShift, 0)
    .addOption(new Option('--split <s>', 'folder(s) of the N-MNIST layout to train on').choices(['train', 'test', 'all']).default('train'))
    .option('--val-fraction <f>', 'seeded, class-stratified part of the training split held out for validation', parseFraction(0, 1, false, true), 0.1)
    .option('--split-seed <s>', 'seed of the validation split and of --limit (default: --seed)', parseSeed)
    .option('--limit <n>', 'train on at most n samples (seeded subset; 0 = all)', parseNonNegativeInt, 0)
    .option('--out <file>', 'model file to write (.msgpack)')
    .option('--name <name>', 'model name (default: the output file name)')
    .option('--init <model>', 'start from this model (fine-tuning; ESL continues from its masks)')
    .option('--resume <checkpoint>', 'resume a run from its checkpoint (all other settings come from it)')
    .option('--checkpoint <file>', 'checkpoint path (default: <out>.ckpt)')
    .option('--checkpoint-every <steps>', 'steps between checkpoints (also after every epoch; 0 = epochs only)', parseNonNegativeInt, 200)
    .option('--keep-checkpoint', 'keep the checkpoint after the run completes')
    .addOption(new Option('--backend <b>', 'tfjs backend (default: tensorflow if installed, else wasm, else cpu)').choices(BACKEND_NAMES as string[]))
    .option('--threads <n>', 'threads computing each batch: this one plus gradient workers (default: one per core; 1 = this thread only); results do not depend on it', parsePositiveInt)
    .option('--no-test', 'skip the final evaluation on Test/')
    .option('--verbose', 'print every ESL update')
    .option('--json', 'print the result as JSON')
    .action(async (o: TrainCmdOptions) => {
      const err = process.stderr;
      const log = (line: string) => err.write(`${line}\n`);
      let opts: TrainRunOptions | { resume: string };
      if (o.resume) {
        // A resumed run takes every setting from its checkpoint, the thread count included.
        if (o.threads !== undefined) throw new CliError('train: --threads cannot be combined with --resume (the run keeps the settings in its checkpoint)');
        opts = { resume: o.resume };
      } else {
        if (!o.data) throw new CliError('train: --data DIR|synthetic is required (or --resume CHECKPOINT)');
        if (!o.out) throw new CliError('train: --out FILE is required');
        const method: Method = o.method ?? (o.density < 1 ? 'esl' : 'dense');
        if (method !== 'dense' && o.density >= 1) throw new CliError(`train: --method ${method} needs --density below 1`);
        if (method === 'prune' && !o.init) throw new CliError('train: --method prune prunes a trained model: give it with --init');
        let root = o.data;
        if (o.data === 'synthetic') {
          log(`synthesising N-MNIST (${o.synthCount} samples, seed ${o.seed}) into the cache...`);
          root = await synthesizedNmnist({ count: o.synthCount, seed: o.seed });
        }
        const out = resolve(o.out);
        opts = {
          data: { root: resolve(root), split: o.split, valFraction: o.valFraction, splitSeed: o.splitSeed ?? o.seed, limit: o.limit },
          arch: o.arch, output: o.output, beta: o.beta, gain: o.gain, timesteps: o.timesteps,
          method, density: method === 'dense' ? 1 : o.density, allocation: o.allocation, rule: o.rule,
          schedule: { updateEvery: o.updateEvery, stopFraction: o.stopFraction, zeta0: o.zeta },
          keepFirstDense: o.keepFirstDense ?? false, keepLastDense: o.keepLastDense ?? false,
          epochs: o.epochs, batch: o.batch, seed: o.seed,
          adam: { ...DEFAULT_ADAM, lr: o.lr, lrMin: o.lrMin }, loss: o.loss, surrogate: o.surrogate, ...(o.slope !== undefined ? { slope: o.slope } : {}),
          detachReset: o.detachReset, ...(o.shift > 0 ? { shift: o.shift } : {}), out, name: o.name ?? out.replace(/^.*[\\/]/, '').replace(/\.msgpack$/, ''),
          ...(o.init ? { init: resolve(o.init) } : {}),
          checkpoint: resolve(o.checkpoint ?? `${out}.ckpt`), checkpointEvery: o.checkpointEvery, keepCheckpoint: o.keepCheckpoint ?? false,
          ...(o.backend ? { backend: o.backend } : {}), ...(o.threads !== undefined ? { threads: o.threads } : {}), evalTest: o.test,
          command: ['spikestream', ...process.argv.slice(2)].join(' '),
        };
      }

      const tty = err.isTTY === true;
      let bar: cliProgress.SingleBar | null = null;
      let stop = false;
      const onSignal = () => {
        if (stop) process.exit(130);
        stop = true;
        log('stopping after this step; writing a checkpoint (Ctrl-C again to quit at once)');
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let total = 0;
      let startStep = 0;
      let t0 = performance.now();
      let recent = { loss: 0, correct: 0, samples: 0 };
      let payload: Record<string, string> = { epoch: '-', loss: '-', acc: '-', density: '-', sps: '-', etaText: '-' };
      try {
        // Loaded here, not at startup: it brings tfjs.
        const { runTraining } = await import('../train/run-training.js');
        const result = await runTraining(opts, {
          log,
          onBinning: (d, n, what) => {
            if (tty && d === n) err.write(`\rbinned ${n} ${what} samples${' '.repeat(10)}\n`);
            else if (tty && d % 50 === 0) err.write(`\rbinning ${what}: ${d}/${n}`);
          },
          onStart: (i) => {
            total = i.totalSteps;
            startStep = i.step;
            t0 = performance.now();
            log(`training on ${i.trainSamples} samples (${i.valSamples} held out), ${i.stepsPerEpoch} steps/epoch, ${i.totalSteps} steps, backend ${i.backend}, density ${pct(i.density.overall)} (${Object.entries(i.density.perNode).map(([k, v]) => `${k} ${pct(v)}`).join(', ')})`);
            if (tty) {
              bar = new cliProgress.SingleBar({ stream: err, format: 'epoch {epoch} [{bar}] {value}/{total} loss {loss} acc {acc} density {density} {sps} samples/s ETA {etaText}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
              payload = { ...payload, density: pct(i.density.overall) };
              bar.start(i.totalSteps, i.step, payload);
            }
          },
          onStep: (r, t) => {
            recent = { loss: recent.loss * 0.9 + r.loss * 0.1, correct: recent.correct * 0.9 + r.correct, samples: recent.samples * 0.9 + r.samples };
            if (!bar) return;
            const elapsed = (performance.now() - t0) / 1000;
            const rate = (r.step - startStep) / Math.max(elapsed, 1e-9);
            const eta = rate > 0 ? (total - r.step) / rate : 0;
            payload = {
              epoch: `${r.epoch + 1}/${t.config.epochs}`, loss: recent.loss.toFixed(3), acc: pct(recent.correct / Math.max(recent.samples, 1)),
              density: pct(t.density().overall), sps: (rate * t.config.batch).toFixed(1), etaText: `${Math.floor(eta / 60)}m${Math.round(eta % 60).toString().padStart(2, '0')}s`,
            };
            (bar as cliProgress.SingleBar).update(r.step, payload);
          },
          onEpoch: (l, t) => {
            const line = `epoch ${l.epoch}/${t.config.epochs} step ${l.step} loss ${l.loss.toFixed(4)} train ${pct(l.trainAccuracy)} val ${pct(l.valAccuracy)} lr ${l.lr.toExponential(2)} density ${pct(t.density().overall)}${l.explored !== null ? ` explored ${pct(l.explored)}` : ''} ${l.samplesPerSecond.toFixed(1)} samples/s ${l.seconds.toFixed(0)} s`;
            if (bar) (bar as cliProgress.SingleBar).stop();
            log(line);
            if (bar) (bar as cliProgress.SingleBar).start(total, l.step, payload);
          },
          onEsl: (u) => {
            if (!o.verbose) return;
            const layers = u.layers.map((l) => `${l.key} -${l.pruned}/+${l.regrown} of ${l.active}`).join(', ');
            log(`esl step ${u.step} zeta ${u.zeta.toFixed(3)}: ${layers}; replaced ${pct(u.replaced)}, explored ${pct(u.explored)}`);
          },
          shouldStop: () => stop,
        });
        if (bar) (bar as cliProgress.SingleBar).stop();
        if (!result.completed) {
          const ck = 'resume' in opts ? resolve(opts.resume) : opts.checkpoint;
          log(`stopped; resume with: spikestream train --resume ${ck}`);
          process.exitCode = 130;
          return;
        }
        const m = result.model;
        const metrics = m.training?.metrics as Record<string, unknown> | undefined;
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ model: 'resume' in opts ? null : opts.out, name: m.name, training: { ...m.training, history: undefined } }, null, 2)}\n`);
        } else {
          process.stdout.write(`wrote ${m.name}: val ${pct(result.valAccuracy)} test ${pct(result.testAccuracy)} density ${pct(m.training?.density)} explored ${pct(metrics?.explored as number | null)} in ${result.seconds.toFixed(0)} s\n`);
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
