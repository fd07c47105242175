/**
 * The training loop: surrogate-gradient BPTT through the graph (tf-graph.ts), Adam with cosine
 * decay (adam.ts), and ESL prune-and-regrow (esl.ts), with the baselines from the same code:
 *
 * - `dense`: no masks.
 * - `esl`: sparse from step 0 at the target density (allocation over the layers not kept dense),
 *   structure updated every `updateEvery` steps until `stopFraction` of training.
 * - `static`: the same initial random masks, never updated.
 * - `prune`: one-shot magnitude pruning of the initial (trained, dense) weights to the target
 *   density with the same allocation, then training with the masks fixed (fine-tuning).
 *
 * All state lives in `TrainState` as typed arrays in the graph IR's layout, so a checkpoint is a
 * copy of it and resuming continues bit for bit: the epoch order is a pure function of (seed,
 * epoch), the ESL generator's state is saved, and the math is deterministic on one backend.
 *
 * A step computes its batch in chunks (chunk-gradients.ts, which also defines the loss on the
 * readout), spread over this thread and gradient worker threads (gradient-pool.ts) and combined
 * in chunk order: the same result for any number of threads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mixSeed, Prng, type PrngState } from '../data/prng.js';
import { shuffledIndices } from '../data/dataset.js';
import type { Graph, GraphNode } from '../snn/graph.js';
import { isWeighted } from '../snn/graph.js';
import { adamState, adamStep, cosineLr, emaStep, type AdamParams, type AdamState } from './adam.js';
import { allocateCounts, isUpdateStep, magnitudeMask, pruneFraction, pruneRegrow, randomMaskExact, type Allocation, type EslSchedule, type GrowthRule } from './esl.js';
import { sampleShifts } from './augment.js';
import { batchInput, type FrameSet } from './frame-set.js';
import { toIr, toTrainer } from './layout.js';
import type { LossKind, Method } from './options.js';
import { argmaxRow, classificationMetrics, type ClassificationMetrics } from './metrics.js';
import type { Surrogate } from './surrogate.js';
import type { BackendName } from './backend.js';
import { chunkBounds, chunkGradients, combineChunks, type ChunkResult, type ChunkSpec } from './chunk-gradients.js';
import { DEFAULT_WORKER_TIMEOUT_MS, defaultWorkerCount, gradientWorkers, postChunks } from './gradient-pool.js';
import { TfGraph, type NeuronImpl, type TimeGroup } from './tf-graph.js';
import { TrainError } from './train-error.js';

export { METHODS, type Method } from './options.js';

export interface TrainConfig {
  readonly method: Method;
  /** Target connection density of the masked layers, (0, 1]; 1 for dense. */
  readonly density: number;
  readonly allocation: Allocation;
  readonly rule: GrowthRule;
  readonly schedule: EslSchedule;
  readonly keepFirstDense: boolean;
  readonly keepLastDense: boolean;
  readonly epochs: number;
  readonly batch: number;
  readonly seed: number;
  readonly adam: AdamParams;
  readonly loss: LossKind;
  readonly surrogate: Surrogate;
  readonly detachReset: boolean;
  /**
   * Augmentation: translate each training sample by whole pixels, up to this many per axis, new
   * every epoch (augment.ts). 0 (the default; absent in older checkpoints) = none.
   */
  readonly shift?: number;
}

export interface EslLayerLog {
  readonly key: string;
  readonly active: number;
  readonly pruned: number;
  readonly regrown: number;
}

export interface EslUpdateLog {
  readonly step: number;
  readonly zeta: number;
  readonly layers: readonly EslLayerLog[];
  /** Regrown / active connections over all masked layers: the fraction of the structure replaced. */
  readonly replaced: number;
  /** Fraction of all possible connections (of masked layers) that have ever been active. */
  readonly explored: number;
}

export interface EpochLog {
  readonly epoch: number;
  readonly step: number;
  readonly loss: number;
  readonly trainAccuracy: number;
  readonly valAccuracy: number | null;
  readonly lr: number;
  readonly seconds: number;
  readonly samplesPerSecond: number;
  readonly explored: number | null;
}

/** Everything a resumed run needs (besides the config and the data). */
export interface TrainState {
  step: number;
  /** Per param of TfGraph.params, IR layout. */
  readonly weights: Float32Array[];
  readonly masks: (Uint8Array | null)[];
  readonly adam: AdamState[];
  /** Dense-gradient moving average per masked weight (momentum rule only). */
  readonly ema: (Float32Array | null)[];
  /** Ever-active positions per masked weight. */
  readonly explored: (Uint8Array | null)[];
  eslRng: PrngState;
  readonly epochs: EpochLog[];
  readonly esl: EslUpdateLog[];
  /** Running totals of the epoch in progress. */
  epochAcc: { lossSum: number; correct: number; seen: number; seconds: number };
}

export interface StepResult {
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly correct: number;
  readonly samples: number;
  readonly lr: number;
  readonly seconds: number;
  readonly esl: EslUpdateLog | null;
}

/**
 * The tfjs forward pass (no gradients) of a compiled graph with the given IR-layout weights over a
 * frame set, in batches; scores are the readout as the engines compute it (float64 sums of the
 * float32 per-step outputs, or the last step), predictions their argmax (ties to the lowest index).
 */
export function evaluateFrames(tfg: TfGraph, weights: readonly Float32Array[], fs: FrameSet, o: { batch?: number; tieTolerance?: number; surrogate?: Surrogate } = {}): EvalResult {
  const batch = o.batch ?? 64;
  const K = tfg.outputSize;
  const T = fs.T;
  const n = fs.length;
  const predictions = new Int32Array(n);
  const scores = new Float64Array(n * K);
  const tol = o.tieTolerance;
  const nearTies = tol !== undefined ? new Int32Array(n) : null;
  const scoreTies = tol !== undefined ? new Uint8Array(n) : null;
  const sg = o.surrogate ?? { kind: 'atan', slope: 2 };
  const vals = tfg.params.map((p, i) => tf.tensor(toTrainer(weights[i], p.perm), p.shape as number[]));
  try {
    for (let start = 0; start < n; start += batch) {
      const samples = Array.from({ length: Math.min(batch, n - start) }, (_, k) => start + k);
      const B = samples.length;
      const ties = tol !== undefined ? { tolerance: tol, perSample: new Int32Array(B) } : undefined;
      const out = tf.tidy(() => {
        const x = tf.tensor4d(batchInput(fs, samples), [T * B, fs.height, fs.width, fs.channels]);
        return tfg.forward(vals, x, T, { surrogate: sg, detachReset: true, train: false, ...(ties ? { ties } : {}) }).dataSync() as Float32Array;
      });
      for (let b = 0; b < B; b++) {
        const row = (start + b) * K;
        for (let k = 0; k < K; k++) {
          if (tfg.readout === 'last') {
            scores[row + k] = out[((T - 1) * B + b) * K + k];
            continue;
          }
          let acc = 0;
          for (let t = 0; t < T; t++) acc += out[(t * B + b) * K + k];
          scores[row + k] = acc;
        }
        predictions[start + b] = argmaxRow(scores, row, K);
        if (ties && nearTies && scoreTies) {
          nearTies[start + b] = ties.perSample[b];
          const sorted = Array.from(scores.subarray(row, row + K)).sort((x, z) => z - x);
          if (K > 1 && sorted[0] - sorted[1] <= (tol as number) * Math.max(1, Math.abs(sorted[0]))) scoreTies[start + b] = 1;
        }
      }
    }
  } finally {
    tf.dispose(vals);
  }
  return { ...classificationMetrics(fs.labels, predictions, K), predictions, scores, nearTies, scoreTies };
}

/** A graph's trainable tensors (IR layout) in TfGraph.params order. */
export function graphWeights(tfg: TfGraph, graph: Graph): Float32Array[] {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  return tfg.params.map((p) => {
    const node = nodes.get(p.node) as GraphNode;
    const t = p.kind === 'weight' ? (node as Extract<GraphNode, { op: 'Conv2d' | 'Linear' | 'Affine' }>).params.weight : biasOf(node);
    return t.data;
  });
}

export interface EvalResult extends ClassificationMetrics {
  readonly predictions: Int32Array;
  /** Readout scores [n, K] as the engines compute them (float64 sums of the float32 outputs). */
  readonly scores: Float64Array;
  /** Per sample: near-threshold neuron updates (ties at tolerance), when asked for. */
  readonly nearTies: Int32Array | null;
  /** Per sample: 1 when the top two scores are within the tolerance. */
  readonly scoreTies: Uint8Array | null;
}

export interface TrainHooks {
  onStep?(r: StepResult, t: Trainer): void | Promise<void>;
  onEpoch?(log: EpochLog, t: Trainer): void | Promise<void>;
  /** Called every `checkpointEvery` steps and after every epoch. */
  onCheckpoint?(t: Trainer): void | Promise<void>;
  /** Profiling: time per op group of every step. */
  onTime?(group: TimeGroup | 'input' | 'forward-backward' | 'readback' | 'optimizer' | 'esl', ms: number): void;
  /** Checked between steps: returning true stops the run (state stays consistent, checkpoint first). */
  shouldStop?(): boolean;
  /** Replaces the neuron layer implementation (bench/train.ts compares against a plain tfjs-ops one). */
  neuronImpl?: NeuronImpl;
}

function countOnes(m: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < m.length; i++) n += m[i];
  return n;
}

export interface TrainerOptions {
  /** Resume from this state. */
  readonly state?: TrainState;
  /** The graph's weights are trained (masks by magnitude, see initState). */
  readonly fromTrained?: boolean;
  /**
   * Threads computing each batch (this one plus gradient workers); default one per core. Results
   * are the same bit for bit for any count (chunk-gradients.ts).
   */
  readonly threads?: number;
  /** How long a step waits for a gradient worker before computing its chunks itself (default 5 minutes). */
  readonly workerTimeoutMs?: number;
}

export class Trainer {
  readonly tfg: TfGraph;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly state: TrainState;
  private readonly masked: boolean[];
  private rng: Prng;
  private xBuf: Float32Array | null = null;
  /** Threads that compute a batch's chunks (this one and gradient workers, gradient-pool.ts). */
  readonly threads: number;
  private readonly workerTimeoutMs: number;
  /** The last gradient worker failure (its chunks were then computed in this thread), for diagnostics. */
  workerError: string | null = null;

  constructor(
    readonly graph: Graph,
    readonly config: TrainConfig,
    readonly train: FrameSet,
    readonly val: FrameSet | null,
    o: TrainerOptions = {},
  ) {
    this.tfg = new TfGraph(graph);
    this.threads = o.threads ?? 1 + defaultWorkerCount();
    this.workerTimeoutMs = o.workerTimeoutMs ?? DEFAULT_WORKER_TIMEOUT_MS;
    if (!(Number.isInteger(this.threads) && this.threads >= 1)) throw new TrainError('BAD_OPTION', `threads must be a positive integer, got ${this.threads}`);
    if (train.length === 0) throw new TrainError('BAD_DATA', 'the training set is empty');
    if (!(Number.isInteger(config.batch) && config.batch >= 1)) throw new TrainError('BAD_OPTION', `batch must be a positive integer, got ${config.batch}`);
    if (config.shift !== undefined && !(Number.isInteger(config.shift) && config.shift >= 0 && config.shift <= 127)) throw new TrainError('BAD_OPTION', `shift must be an integer in [0, 127], got ${config.shift}`);
    if (!(Number.isInteger(config.epochs) && config.epochs >= 1)) throw new TrainError('BAD_OPTION', `epochs must be a positive integer, got ${config.epochs}`);
    if (this.tfg.readout === 'max') throw new TrainError('UNSUPPORTED', 'the Output readout "max" cannot be trained (use sum or last)');
    const K = this.tfg.outputSize;
    for (let i = 0; i < train.length; i++) {
      if (train.labels[i] < 0 || train.labels[i] >= K) throw new TrainError('BAD_DATA', `sample ${i} has label ${train.labels[i]}, the model has ${K} outputs`);
    }
    const inShape = this.tfg.inputShape;
    if (inShape.length !== 3 || inShape[0] !== train.channels || inShape[1] !== train.height || inShape[2] !== train.width) {
      throw new TrainError('BAD_DATA', `the data is ${train.channels}x${train.height}x${train.width}, the model input is ${inShape.join('x')}`);
    }
    this.stepsPerEpoch = Math.ceil(train.length / config.batch);
    this.totalSteps = this.stepsPerEpoch * config.epochs;
    this.masked = this.maskedParams();
    if (config.method === 'prune' && !o.fromTrained) throw new TrainError('BAD_OPTION', 'method "prune" prunes a trained model: give it one to start from (--init)');
    this.state = o.state ?? this.initState(o.fromTrained ?? false);
    this.rng = Prng.fromState(this.state.eslRng);
    this.checkState();
  }

  /** Which params carry masks under the config (weights of weighted nodes, minus kept-dense layers). */
  private maskedParams(): boolean[] {
    const c = this.config;
    const weights = this.tfg.params.map((p, i) => (p.kind === 'weight' ? i : -1)).filter((i) => i >= 0);
    return this.tfg.params.map((p, i) => {
      if (c.method === 'dense' || p.kind !== 'weight') return false;
      if (c.keepFirstDense && i === weights[0]) return false;
      if (c.keepLastDense && i === weights[weights.length - 1]) return false;
      return true;
    });
  }

  /**
   * Initial state. Masks: a model's stored masks when it has them (--init continues ESL from them;
   * not for `prune`), magnitude pruning when starting from a trained model without masks (and
   * always for `prune`), else random exact-density masks with the surviving weights rescaled.
   */
  private initState(fromTrained: boolean): TrainState {
    const c = this.config;
    const params = this.tfg.params;
    const nodes = new Map(this.graph.nodes.map((n) => [n.id, n]));
    const weights = graphWeights(this.tfg, this.graph).map((w) => Float32Array.from(w));
    const rng = new Prng(mixSeed(c.seed, 0x65736c));
    const masks: (Uint8Array | null)[] = params.map(() => null);
    const idx = params.map((_, i) => i).filter((i) => this.masked[i]);
    if (idx.length > 0) {
      const stored = idx.map((i) => (nodes.get(params[i].node) as { mask?: Uint8Array }).mask ?? null);
      const counts = allocateCounts(idx.map((i) => ({ key: params[i].key, shape: params[i].irShape })), c.density, c.allocation);
      idx.forEach((i, k) => {
        const n = weights[i].length;
        let mask: Uint8Array;
        if (stored[k] && c.method !== 'prune') {
          mask = Uint8Array.from(stored[k] as Uint8Array); // --init: continue from the model's masks
        } else if (c.method === 'prune' || fromTrained) {
          mask = magnitudeMask(weights[i], counts[k]);
        } else {
          mask = randomMaskExact(n, counts[k], rng);
          // Keep the expected input variance of a neuron: fewer connections, larger weights.
          const scale = 1 / Math.sqrt(counts[k] / n);
          for (let j = 0; j < n; j++) weights[i][j] *= scale;
        }
        for (let j = 0; j < n; j++) if (!mask[j]) weights[i][j] = 0;
        masks[i] = mask;
      });
    }
    return {
      step: 0,
      weights,
      masks,
      adam: weights.map((w) => adamState(w.length)),
      ema: params.map((p, i) => (this.masked[i] && c.method === 'esl' && c.rule === 'momentum' ? new Float32Array(weights[i].length) : null)),
      explored: masks.map((m) => (m ? Uint8Array.from(m) : null)),
      eslRng: rng.state(),
      epochs: [],
      esl: [],
      epochAcc: { lossSum: 0, correct: 0, seen: 0, seconds: 0 },
    };
  }

  private checkState(): void {
    const s = this.state;
    const params = this.tfg.params;
    if (s.weights.length !== params.length) throw new TrainError('BAD_CHECKPOINT', `the state has ${s.weights.length} tensors, the model ${params.length}`);
    params.forEach((p, i) => {
      const n = p.irShape.reduce((a, b) => a * b, 1);
      if (s.weights[i].length !== n) throw new TrainError('BAD_CHECKPOINT', `${p.key}: ${s.weights[i].length} values, expected ${n}`);
      const m = s.masks[i];
      if (this.masked[i] !== (m !== null)) throw new TrainError('BAD_CHECKPOINT', `${p.key}: mask ${m ? 'present' : 'missing'} but the config says ${this.masked[i] ? 'masked' : 'dense'}`);
    });
  }

  /** Fraction of possible connections of masked layers ever active (null without masks). */
  exploredFraction(): number | null {
    let on = 0;
    let all = 0;
    for (const e of this.state.explored) {
      if (!e) continue;
      on += countOnes(e);
      all += e.length;
    }
    return all === 0 ? null : on / all;
  }

  /** Connection density per weighted node and overall (all weights of weighted nodes). */
  density(): { perNode: Record<string, number>; overall: number } {
    const perNode: Record<string, number> = {};
    let on = 0;
    let all = 0;
    this.tfg.params.forEach((p, i) => {
      if (p.kind !== 'weight') return;
      const m = this.state.masks[i];
      const n = this.state.weights[i].length;
      const k = m ? countOnes(m) : n;
      perNode[p.node] = k / n;
      on += k;
      all += n;
    });
    return { perNode, overall: all === 0 ? 1 : on / all };
  }

  /** Sample indices of epoch `e`, in order. */
  epochOrder(e: number): number[] {
    return shuffledIndices(this.train.length, mixSeed(this.config.seed, 0x65706f63, e));
  }

  get epoch(): number {
    return Math.floor(this.state.step / this.stepsPerEpoch);
  }

  get done(): boolean {
    return this.state.step >= this.totalSteps;
  }

  /** Runs until the last step (or until hooks.shouldStop). */
  async run(hooks: TrainHooks = {}, checkpointEvery = 0): Promise<void> {
    while (!this.done) {
      if (hooks.shouldStop?.()) return;
      const r = this.trainStep(hooks);
      await hooks.onStep?.(r, this);
      const endOfEpoch = this.state.step % this.stepsPerEpoch === 0;
      if (endOfEpoch) {
        const log = this.finishEpoch();
        await hooks.onEpoch?.(log, this);
        await hooks.onCheckpoint?.(this);
      } else if (checkpointEvery > 0 && this.state.step % checkpointEvery === 0) {
        await hooks.onCheckpoint?.(this);
      }
      // Let timers, signals and progress output run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private finishEpoch(): EpochLog {
    const s = this.state;
    const acc = s.epochAcc;
    const valAccuracy = this.val && this.val.length > 0 ? this.evaluate(this.val).accuracy : null;
    const log: EpochLog = {
      epoch: this.epoch,
      step: s.step,
      loss: acc.seen > 0 ? acc.lossSum / acc.seen : 0,
      trainAccuracy: acc.seen > 0 ? acc.correct / acc.seen : 0,
      valAccuracy,
      lr: cosineLr(this.config.adam, s.step, this.totalSteps),
      seconds: acc.seconds,
      samplesPerSecond: acc.seconds > 0 ? acc.seen / acc.seconds : 0,
      explored: this.exploredFraction(),
    };
    s.epochs.push(log);
    s.epochAcc = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
    return log;
  }

  /** One optimisation step on the next batch of the epoch order. */
  trainStep(hooks: TrainHooks = {}): StepResult {
    const c = this.config;
    const s = this.state;
    const t0 = performance.now();
    const time = hooks.onTime;
    const epoch = this.epoch;
    const within = s.step - epoch * this.stepsPerEpoch;
    const order = this.epochOrder(epoch);
    const samples = order.slice(within * c.batch, Math.min(order.length, (within + 1) * c.batch));
    const B = samples.length;
    const T = this.train.T;
    const K = this.tfg.outputSize;

    let mark = performance.now();
    const params = this.tfg.params;
    const plane = this.train.channels * this.train.height * this.train.width;
    const weights = params.map((p, i) => toTrainer(s.weights[i], p.perm));
    const spec: ChunkSpec = { T, height: this.train.height, width: this.train.width, channels: this.train.channels, loss: c.loss, surrogate: c.surrogate, detachReset: c.detachReset };
    const chunks = chunkBounds(B);
    const shifts = c.shift ? sampleShifts(c.seed, epoch, samples, c.shift) : undefined;
    const inputOf = (k: number, into?: Float32Array) => {
      const [a, b] = chunks[k];
      const part = samples.slice(a, b);
      const onehot = new Float32Array(part.length * K);
      part.forEach((i, j) => (onehot[j * K + this.train.labels[i]] = 1));
      return { x: batchInput(this.train, part, into, shifts?.subarray(2 * a, 2 * b)), onehot, B: part.length };
    };
    // Chunk k goes to thread (k + 1) mod threads (0: this one, which so gets the last, possibly
    // partial chunk). Hooks cannot cross threads; tfjs-node runs multi-threaded itself (and its
    // addon is not for worker threads).
    const backend = tf.getBackend() as BackendName;
    const pooled = !hooks.onTime && !hooks.neuronImpl && (backend === 'wasm' || backend === 'cpu');
    const threads = pooled ? 1 + gradientWorkers(Math.min(this.threads, chunks.length) - 1) : 1;
    const ofThread = (w: number) => chunks.map((_, k) => k).filter((k) => (k + 1) % threads === w);
    const waits: (() => ChunkResult[])[] = [];
    for (let w = 1; w < threads; w++) {
      waits.push(postChunks(w - 1, this.tfg, { graph: this.graph, backend, weights, spec, chunks: ofThread(w).map((k) => inputOf(k)) }, this.workerTimeoutMs));
    }
    time?.('input', performance.now() - mark);
    const results: ChunkResult[] = new Array(chunks.length);
    const local = (k: number) => {
      mark = performance.now();
      const size = (chunks[k][1] - chunks[k][0]) * T * plane;
      if (!this.xBuf || this.xBuf.length !== size) this.xBuf = new Float32Array(size);
      const input = inputOf(k, this.xBuf);
      time?.('input', performance.now() - mark);
      results[k] = chunkGradients(this.tfg, weights, input.x, input.onehot, input.B, spec, hooks);
    };
    ofThread(0).forEach(local);
    waits.forEach((wait, j) => {
      const mine = ofThread(j + 1);
      let got: ChunkResult[];
      try {
        got = wait();
      } catch (e) {
        // A worker failure costs time, not the step: its chunks are computed here (same results).
        this.workerError = e instanceof Error ? e.message : String(e);
        mine.forEach(local);
        return;
      }
      mine.forEach((k, i) => (results[k] = got[i]));
    });
    const all = combineChunks(results, chunks.map(([a, b]) => b - a));
    const lossValue = all.loss;
    const scores = all.scores;
    if (!Number.isFinite(lossValue)) throw new TrainError('INVARIANT', `the loss became ${lossValue} at step ${s.step}; lower the learning rate`);

    mark = performance.now();
    const stepNo = s.step + 1;
    const lr = cosineLr(c.adam, s.step, this.totalSteps);
    const dense = params.map((p, i) => toIr(all.grads[i], p.perm));
    params.forEach((_, i) => {
      const ema = s.ema[i];
      if (ema) emaStep(ema, dense[i], c.adam.beta1);
      adamStep(s.weights[i], dense[i], s.adam[i], s.masks[i], lr, stepNo, c.adam);
    });
    time?.('optimizer', performance.now() - mark);

    mark = performance.now();
    let esl: EslUpdateLog | null = null;
    if (c.method === 'esl' && isUpdateStep(stepNo, this.totalSteps, c.schedule)) esl = this.eslUpdate(stepNo, dense);
    time?.('esl', performance.now() - mark);

    let correct = 0;
    for (let b = 0; b < B; b++) if (argmaxRow(scores, b * K, K) === this.train.labels[samples[b]]) correct++;
    s.step = stepNo;
    const seconds = (performance.now() - t0) / 1000;
    s.epochAcc.lossSum += lossValue * B;
    s.epochAcc.correct += correct;
    s.epochAcc.seen += B;
    s.epochAcc.seconds += seconds;
    return { step: stepNo, epoch, loss: lossValue, correct, samples: B, lr, seconds, esl };
  }

  /** Prune and regrow every masked layer (esl.ts), zeroing the weights and moments that change. */
  private eslUpdate(step: number, denseGrads: Float32Array[]): EslUpdateLog {
    const c = this.config;
    const s = this.state;
    const zeta = pruneFraction(step, this.totalSteps, c.schedule);
    const layers: EslLayerLog[] = [];
    let regrownAll = 0;
    let activeAll = 0;
    this.tfg.params.forEach((p, i) => {
      const mask = s.masks[i];
      if (!mask) return;
      const w = s.weights[i];
      const active = countOnes(mask);
      const score = c.rule === 'gradient' ? denseGrads[i] : c.rule === 'momentum' ? s.ema[i] : null;
      const { pruned, regrown } = pruneRegrow({ mask, weight: w, count: Math.round(zeta * active), rule: c.rule, score, rng: this.rng });
      const { m, v } = s.adam[i];
      const explored = s.explored[i] as Uint8Array;
      for (const j of pruned) {
        mask[j] = 0;
        w[j] = 0;
        m[j] = 0;
        v[j] = 0;
      }
      for (const j of regrown) {
        mask[j] = 1;
        w[j] = 0;
        m[j] = 0;
        v[j] = 0;
        explored[j] = 1;
      }
      const after = countOnes(mask);
      if (after !== active) throw new TrainError('INVARIANT', `ESL changed the connection count of ${p.key} from ${active} to ${after}`);
      layers.push({ key: p.key, active, pruned: pruned.length, regrown: regrown.length });
      regrownAll += regrown.length;
      activeAll += active;
    });
    s.eslRng = this.rng.state();
    const log: EslUpdateLog = { step, zeta, layers, replaced: activeAll === 0 ? 0 : regrownAll / activeAll, explored: this.exploredFraction() ?? 1 };
    s.esl.push(log);
    return log;
  }

  /**
   * Forward pass (no gradients) over a frame set in batches: predictions from the readout
   * computed as the engines do. `tieTolerance` also counts near-ties (see EvalResult).
   */
  evaluate(fs: FrameSet, o: { batch?: number; tieTolerance?: number } = {}): EvalResult {
    return evaluateFrames(this.tfg, this.state.weights, fs, { batch: o.batch ?? Math.max(this.config.batch, 64), tieTolerance: o.tieTolerance, surrogate: this.config.surrogate });
  }

  /** The trained graph: the original with current weights and masks. */
  exportGraph(): Graph {
    const s = this.state;
    const byNode = new Map<string, { weight?: number; bias?: number }>();
    this.tfg.params.forEach((p, i) => {
      const e = byNode.get(p.node) ?? {};
      if (p.kind === 'weight') e.weight = i;
      else e.bias = i;
      byNode.set(p.node, e);
    });
    const nodes = this.graph.nodes.map((n): GraphNode => {
      const e = byNode.get(n.id);
      if (!e || !isWeighted(n)) return n;
      const wi = e.weight as number;
      const weight = { shape: [...n.params.weight.shape], data: s.weights[wi].slice() };
      const mask = s.masks[wi];
      const base = { ...n, params: { ...n.params, weight } } as GraphNode & { mask?: Uint8Array };
      if (e.bias !== undefined) (base.params as { bias?: unknown }).bias = { shape: [...biasOf(n).shape], data: s.weights[e.bias].slice() };
      if (mask) base.mask = mask.slice();
      else delete base.mask;
      return base;
    });
    return { nodes, edges: this.graph.edges };
  }
}

/**
 * Default tolerance (relative to max(1, |threshold|)) within which evaluate() counts a potential as
 * a float tie: far above float32 rounding of the sums, far below the spacing of real potentials.
 */
export const EVAL_TIE_TOLERANCE = 1e-4;

function biasOf(n: GraphNode): { shape: readonly number[]; data: Float32Array } {
  if ((n.op === 'Conv2d' || n.op === 'Affine') && n.params.bias) return n.params.bias;
  throw new TrainError('INVARIANT', `node "${n.id}" has no bias`);
}
