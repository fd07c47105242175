/**
 * Training throughput of the reference network (input 2x34x34, conv 2->16 k5, LIF, avgpool 2,
 * conv 16->32 k5, LIF, avgpool 2, linear 800->10, LI; T = 10, batch 32) on every tfjs backend
 * available here, dense and at ESL density 0.1, plus a profile of where a step's time goes.
 *
 * Baseline, measured in the same run: the same trainer with the neuron layers written the
 * straightforward way, as per-timestep tfjs ops (v = beta v + I; s = spike(v - thr) with a
 * surrogate-gradient op; v -= s thr; tf.stack; tf.avgPool), instead of the trainer's fused
 * conv-neuron-pool op (src/train/conv-neuron-op.ts, wasm SIMD kernels on the wasm backend). It
 * runs in one thread (its tfjs-ops neurons are a hook that cannot cross to gradient workers), so
 * the trainer is measured in one thread too ("1 thread") and with its default gradient workers
 * (one thread per core, src/train/gradient-pool.ts); both ratios are against the baseline.
 *
 *   npx tsx bench/train.ts [--steps 3] [--backends wasm,cpu]
 *
 * One JSON line per figure: { name, value, unit, backend, variant, threads, stepMs, cpuMsPerStep,
 * baseline?, ratio?, cpuRatio? (baseline CPU time / this one's) }
 * and, for the profile (one thread), { name: "train_step_profile", group, value (ms/step), share }.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_ADAM } from '../src/train/adam.js';
import { buildArch } from '../src/train/arch.js';
import { availableBackends, selectBackend, type BackendName } from '../src/train/backend.js';
import { customOp } from '../src/train/custom-op.js';
import { DEFAULT_ESL_SCHEDULE } from '../src/train/esl.js';
import type { FrameSet } from '../src/train/frame-set.js';
import type { NeuronLayer } from '../src/train/neuron-sequence.js';
import type { PoolGeometry } from '../src/train/pool-sequence.js';
import { surrogate } from '../src/train/surrogate.js';
import type { ForwardOptions } from '../src/train/tf-graph.js';
import { defaultWorkerCount } from '../src/train/gradient-pool.js';
import { Trainer, type TrainConfig } from '../src/train/trainer.js';
import { Prng } from '../src/data/prng.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const STEPS = Number(arg('steps', '3'));
const T = 10;
const BATCH = 32;

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

/** Event frames of N-MNIST-like density (about 8% of pixel-bins hold 1-3 events), 10 classes. */
function randomFrames(n: number, seed: number): FrameSet {
  const rng = new Prng(seed);
  const plane = 2 * 34 * 34;
  const index: number[] = [];
  const count: number[] = [];
  const offsets = new Int32Array(n + 1);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < T * plane; i++) {
      if (rng.next() < 0.08) {
        index.push(i);
        count.push(1 + rng.int(3));
      }
    }
    offsets[s + 1] = index.length;
  }
  return {
    length: n, T, channels: 2, height: 34, width: 34, labels: Int32Array.from({ length: n }, (_, i) => i % 10), offsets,
    index: Int32Array.from(index), count: Float32Array.from(count), events: new Int32Array(n),
  };
}

/** The straightforward neuron layer: per-timestep tfjs ops, autodiff through them. Decay-form single-spike LIF / LI with uniform params (the reference network's). */
function tfjsOpsNeuron(x: tf.Tensor, steps: number, layer: NeuronLayer, o: ForwardOptions, pool?: PoolGeometry): tf.Tensor {
  const beta = layer.a[0];
  const thr = layer.vThreshold[0];
  const alpha = o.surrogate.slope;
  const spike = customOp<tf.Tensor>(([u], save) => {
    save([u]);
    return {
      value: tf.cast(tf.greater(u, thr), 'float32'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const z = tf.mul(tf.sub(saved[0], thr), (Math.PI / 2) * alpha);
        return tf.div(tf.mul(dy, alpha / 2), tf.add(tf.mul(z, z), 1));
      }),
    };
  });
  const detach = customOp<tf.Tensor>(([s]) => ({ value: tf.clone(s), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));
  const TB = x.shape[0];
  const rest = x.shape.slice(1);
  const xs = tf.unstack(tf.reshape(x, [steps, TB / steps, ...rest]));
  let v: tf.Tensor = tf.zeros(xs[0].shape);
  const outs: tf.Tensor[] = [];
  for (let t = 0; t < steps; t++) {
    const u = tf.add(tf.mul(v, beta), xs[t]);
    if (!layer.spiking) {
      outs.push(u);
      v = u;
      continue;
    }
    const s = spike(u);
    v = tf.sub(u, tf.mul(detach(s), thr));
    outs.push(s);
  }
  const y = tf.reshape(tf.stack(outs), x.shape);
  if (!pool) return y;
  const avg = tf.avgPool(y as tf.Tensor4D, [pool.kh, pool.kw], [pool.kh, pool.kw], 'valid');
  return pool.average ? avg : tf.mul(avg, pool.kh * pool.kw);
}

function config(density: number): TrainConfig {
  return {
    method: density < 1 ? 'esl' : 'dense', density, allocation: 'er', rule: 'gradient', schedule: { ...DEFAULT_ESL_SCHEDULE, updateEvery: 2 },
    keepFirstDense: false, keepLastDense: false, epochs: 100, batch: BATCH, seed: 1, adam: DEFAULT_ADAM, loss: 'ce', surrogate: surrogate('atan'), detachReset: true,
  };
}

/**
 * Median samples/s over `steps` steps after a warm-up step, and the median process CPU time per
 * step (all threads): on a machine shared with other jobs the wall time varies with their load,
 * the CPU time much less.
 */
function measure(density: number, data: FrameSet, plain: boolean, steps: number, threads: number): { sps: number; stepMs: number; cpuMs: number } {
  const graph = buildArch('nmnist-small', [2, 34, 34], { output: 'membrane', beta: 0.9, gain: 1, seed: 1 });
  const t = new Trainer(graph, config(density), data, null, { threads });
  const hooks = plain ? { neuronImpl: tfjsOpsNeuron } : {};
  t.trainStep(hooks);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    t.trainStep(hooks);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const median = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
  const stepMs = median(times);
  return { sps: (BATCH * 1000) / stepMs, stepMs, cpuMs: median(cpu) };
}

/** Mean time per op group over `steps` steps (one thread: the timing hook runs in this thread only). */
function profile(data: FrameSet, steps: number): Map<string, number> {
  const graph = buildArch('nmnist-small', [2, 34, 34], { output: 'membrane', beta: 0.9, gain: 1, seed: 1 });
  const t = new Trainer(graph, config(1), data, null, { threads: 1 });
  const groups = new Map<string, number>();
  t.trainStep();
  for (let i = 0; i < steps; i++) t.trainStep({ onTime: (g, ms) => groups.set(g, (groups.get(g) ?? 0) + ms / steps) });
  return groups;
}

const wanted = arg('backends', '').split(',').filter(Boolean) as BackendName[];
const backends = (await availableBackends()).filter((b) => wanted.length === 0 || wanted.includes(b));
const data = randomFrames(BATCH * 4, 7);
const threads = 1 + defaultWorkerCount();
for (const backend of backends) {
  await selectBackend(backend);
  // The cpu backend's convolutions are slow: fewer steps there.
  const steps = backend === 'cpu' ? Math.max(1, Math.ceil(STEPS / 3)) : STEPS;
  const base = measure(1, data, true, steps, 1);
  emit({ name: 'train_samples_per_s', backend, variant: 'dense, tfjs-ops neurons (baseline)', threads: 1, value: +base.sps.toFixed(2), unit: 'samples/s', stepMs: +base.stepMs.toFixed(0), cpuMsPerStep: +base.cpuMs.toFixed(0) });
  for (const density of [1, 0.1]) {
    for (const n of threads > 1 ? [1, threads] : [1]) {
      const r = measure(density, data, false, steps, n);
      const variant = `${density < 1 ? `esl ${density}` : 'dense'}${n === 1 ? ', 1 thread' : ''}`;
      emit({ name: 'train_samples_per_s', backend, variant, threads: n, value: +r.sps.toFixed(2), unit: 'samples/s', stepMs: +r.stepMs.toFixed(0), cpuMsPerStep: +r.cpuMs.toFixed(0), baseline: +base.sps.toFixed(2), ratio: +(r.sps / base.sps).toFixed(3), cpuRatio: +(base.cpuMs / r.cpuMs).toFixed(3) });
    }
  }
  {
    const groups = profile(data, steps);
    // Op groups inside forward-backward; "other" is what tfjs does around them (pads, transposes, matMul, loss, autodiff bookkeeping).
    const fb = groups.get('forward-backward') ?? 0;
    const inner = ['conv-forward', 'conv-input-grad', 'conv-filter-grad', 'neuron-forward', 'neuron-backward'];
    const innerSum = inner.reduce((a, g) => a + (groups.get(g) ?? 0), 0);
    const total = [...groups.entries()].filter(([g]) => !inner.includes(g)).reduce((a, [, v]) => a + v, 0);
    const rows: [string, number][] = [...inner.map((g) => [g, groups.get(g) ?? 0] as [string, number]), ['other tfjs (forward-backward)', fb - innerSum],
      ...['input', 'readback', 'optimizer', 'esl'].map((g) => [g, groups.get(g) ?? 0] as [string, number])];
    for (const [group, ms] of rows) emit({ name: 'train_step_profile', backend, variant: 'dense, 1 thread', group, value: +ms.toFixed(1), unit: 'ms/step', share: +(ms / total).toFixed(3) });
  }
  // Kernel-level view of one dense step (tf.profile), top kernels by time.
  const graph = buildArch('nmnist-small', [2, 34, 34], { output: 'membrane', beta: 0.9, gain: 1, seed: 1 });
  const t = new Trainer(graph, config(1), data, null, { threads: 1 });
  t.trainStep();
  const prof = await tf.profile(() => {
    t.trainStep();
    return tf.scalar(0);
  });
  const byKernel = new Map<string, number>();
  for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
  const top = [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  for (const [kernel, ms] of top) emit({ name: 'train_step_kernel_ms', backend, variant: 'dense, 1 thread', kernel: kernel === 'forward' ? 'custom ops (fused conv-neuron-pool, neuron loops)' : kernel, value: +ms.toFixed(1), unit: 'ms/step' });
}
