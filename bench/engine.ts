/**
 * SNN engines on a real recording: the event-driven sparse engine, the dense reference engine and
 * dense tfjs inference (wasm backend) of the same network, in one run.
 *
 *   npx tsx bench/engine.ts [--seconds 0.3]
 *
 * Network (N-MNIST sized): input 2x34x34 -> conv 2->16 k5 s2 -> neurons -> conv 16->32 k3 ->
 * neurons -> sumpool 2 -> flatten -> linear 1152->10 -> output neurons, with random ESL masks at
 * density 0.1 and 1.0, in two variants: multi-spike IF everywhere (Sinabs style, subtract reset),
 * and single-spike LIF (tau 20 steps, zero reset) with an LI readout. Input: the 1 ms timesteps
 * of ../shared/fixtures/events/tonic/sample_nmnist.bin (tonic ToFrame(time_window=1000) binning).
 * Random weights are scaled per layer (bisection on a gain, in this run) so that the hidden
 * layers fire at about 1% of neurons per step (10 Hz) and the output layer at about 5%: realistic
 * sparse activity rather than silence or saturation (a single-spike LIF layer at density 0.1
 * saturates near 1.5%). Spikes per layer are printed.
 *
 * tfjs runs the same weights (masked weights as zeros) and the same neuron equations, one 1 ms
 * timestep at a time as a live stream must ("tfjs-step", the baseline of the ratios). (Batching
 * each convolution over all T frames, stepping only the neuron recurrences, was measured slower
 * than stepping on this backend, 5-7 s per recording, so it is not run.) "sparse" runs its hot
 * loops as WebAssembly kernels; "sparse-js" is the same engine on its JavaScript fallback paths
 * (`wasm: false`, used where WebAssembly SIMD is missing).
 *
 * Timing: the median of whole runs, and (shared machines preempt long runs) the sum over
 * timesteps of each step's fastest time across runs, for the sparse engine and tfjs-step; for the
 * sparse engine also the process CPU time per recording (`cpuMs`), which preemption does not
 * inflate either.
 *
 * One JSON line per figure: { name, value, unit, variant, density, engine, baseline, ratio, ... }.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { concatBatches } from '../src/events/batch.js';
import { NmnistDecoder } from '../src/events/nmnist.js';
import { DenseEngine } from '../src/snn/dense-engine.js';
import { runEngine, type Engine, type RunResult } from '../src/snn/engine.js';
import type { Graph, GraphNode, LIFNode, IFNode, LINode } from '../src/snn/graph.js';
import { sequentialGraph, type LayerSpec } from '../src/snn/random-graph.js';
import { SparseEngine } from '../src/snn/sparse-engine.js';
import { binEventsByTime } from '../src/stream/bin-by-time.js';
import type { Timestep } from '../src/stream/timestep.js';
import { projectRoot } from './_root.js';

const root = projectRoot(import.meta.url);
const FIXTURE = resolve(root, '../shared/fixtures/events/tonic/sample_nmnist.bin');
const argSeconds = process.argv.indexOf('--seconds');
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 0.3;

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

// ---------------------------------------------------------------------------------- input

if (!existsSync(FIXTURE)) {
  process.stderr.write(`bench/engine.ts: missing ${FIXTURE} (the shared fixtures)\n`);
  process.exit(1);
}
const dec = new NmnistDecoder();
const events = concatBatches([dec.write(new Uint8Array(readFileSync(FIXTURE))), dec.end()]);
const timesteps: Timestep[] = binEventsByTime(events, { windowUs: 1000, width: 34, height: 34 }).timesteps;
for (const ts of timesteps) void ts.events; // join parts once, outside every timing
const T = timesteps.length;
const recordingMs = (events.t[events.t.length - 1] - events.t[0]) / 1000;

// ---------------------------------------------------------------------------------- network

type Variant = 'if-multi' | 'lif-single';
/** Spikes per neuron per 1 ms step: hidden layers 1% (a 10 Hz mean rate), output 5%. */
const TARGET_RATES = [0.01, 0.01, 0.05];

function layers(variant: Variant): LayerSpec[] {
  const hidden: LayerSpec = variant === 'if-multi'
    ? { op: 'IF', threshold: 1, spike: 'multi', reset: 'subtract', vMin: -1 }
    : { op: 'LIF', threshold: 1, tau: 20, spike: 'single', reset: 'zero' };
  const out: LayerSpec = variant === 'if-multi' ? hidden : { op: 'LI', tau: 20 };
  return [
    { op: 'Conv2d', out: 16, kernel: 5, stride: 2 }, hidden,
    { op: 'Conv2d', out: 32, kernel: 3 }, hidden,
    { op: 'SumPool2d', kernel: 2 }, { op: 'Flatten' },
    { op: 'Linear', out: 10 }, out,
  ];
}

const NEURON_IDS: Record<Variant, string[]> = { 'if-multi': ['if1', 'if2', 'if3'], 'lif-single': ['lif1', 'lif2', 'li1'] };

function build(variant: Variant, density: number, gains: number[]): Graph {
  return sequentialGraph({ input: [2, 34, 34], layers: layers(variant), seed: 2024, density, gain: gains });
}

function spikeRate(r: RunResult, graph: Graph, id: string): number {
  const n = graph.nodes.find((x) => x.id === id) as GraphNode;
  const shape = n.op === 'IF' || n.op === 'LIF' ? sizeOf(graph, id) : 1;
  return r.spikesPerNode[id] / (shape * r.timesteps);
}

function sizeOf(graph: Graph, id: string): number {
  const plan = new SparseEngine(graph).plan;
  return plan.outShapes[plan.ids.indexOf(id)].reduce((a, b) => a * b, 1);
}

/** Per weighted layer in turn, bisect log2(gain) so that the following neuron layer fires at its target rate. */
function calibrate(variant: Variant, density: number): number[] {
  const gains = [1, 1, 1];
  for (let k = 0; k < 3; k++) {
    const id = NEURON_IDS[variant][k];
    if (build(variant, density, gains).nodes.find((n) => n.id === id)?.op === 'LI') break; // an LI readout does not spike: gain 1
    let lo = -4;
    let hi = 14;
    for (let it = 0; it < 12; it++) {
      const mid = (lo + hi) / 2;
      gains[k] = 2 ** mid;
      const g = build(variant, density, gains);
      const rate = spikeRate(runEngine(new SparseEngine(g), timesteps), g, id);
      if (rate < TARGET_RATES[k]) lo = mid;
      else hi = mid;
    }
    gains[k] = 2 ** ((lo + hi) / 2);
  }
  return gains;
}

// ---------------------------------------------------------------------------------- tfjs

interface TfNet {
  w1: tf.Tensor4D; w2: tf.Tensor4D; w3: tf.Tensor2D;
  neurons: (IFNode | LIFNode | LINode)[];
}

/** [Cout, Cin, kh, kw] (masked entries zero) -> tfjs [kh, kw, Cin, Cout]. */
function tfConv(node: Extract<GraphNode, { op: 'Conv2d' }>): tf.Tensor4D {
  const w = node.params.weight;
  const data = Float32Array.from(w.data, (v, i) => (node.mask && node.mask[i] === 0 ? 0 : v));
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, w.shape as [number, number, number, number]), [2, 3, 1, 0]) as tf.Tensor4D);
}

function tfNet(graph: Graph): TfNet {
  const byId = (id: string) => graph.nodes.find((n) => n.id === id) as GraphNode;
  const fc = byId('fc1') as Extract<GraphNode, { op: 'Linear' }>;
  const wf = Float32Array.from(fc.params.weight.data, (v, i) => (fc.mask && fc.mask[i] === 0 ? 0 : v));
  return {
    w1: tfConv(byId('conv1') as Extract<GraphNode, { op: 'Conv2d' }>),
    w2: tfConv(byId('conv2') as Extract<GraphNode, { op: 'Conv2d' }>),
    w3: tf.tidy(() => tf.transpose(tf.tensor2d(wf, [10, 1152])) as tf.Tensor2D),
    neurons: graph.nodes.filter((n) => n.op === 'IF' || n.op === 'LIF' || n.op === 'LI') as (IFNode | LIFNode | LINode)[],
  };
}

/** The neuron equations of src/snn/neuron.ts in tfjs ops (scalar parameters). Returns [output, new v]. */
function tfNeuron(n: IFNode | LIFNode | LINode, v: tf.Tensor, input: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (n.op === 'LI') {
    // v_leak = 0, r = 1: v + a * ((0 - v) + I), as in neuron.ts.
    const u = tf.add(v, tf.mul(n.params.dt / (n.params.tau as number), tf.add(tf.neg(v), input)));
    return [tf.clone(u), u];
  }
  const thr = n.params.v_threshold as number;
  let u: tf.Tensor;
  if (n.op === 'IF') u = tf.add(v, input);
  else u = tf.add(v, tf.mul(n.params.dt / (n.params.tau as number), tf.add(tf.neg(v), input)));
  let s: tf.Tensor;
  let after: tf.Tensor;
  if (n.params.spike === 'multi') {
    s = tf.mul(tf.cast(tf.greaterEqual(u, thr), 'float32'), tf.floor(tf.div(u, thr)));
    after = n.params.reset === 'subtract' ? tf.sub(u, tf.mul(s, thr)) : tf.where(tf.greater(s, 0), tf.zerosLike(u), u);
  } else {
    s = tf.cast(tf.greater(u, thr), 'float32');
    after = n.params.reset === 'subtract' ? tf.sub(u, tf.mul(s, thr)) : tf.where(tf.greater(s, 0), tf.zerosLike(u), u);
  }
  if (n.params.vMin !== undefined) after = tf.maximum(after, n.params.vMin as number);
  return [s, after];
}

/** NHWC input frames [T, 34, 34, 2] (channel = polarity) from the timesteps. */
function frame(ts: Timestep, out: Float32Array): Float32Array {
  out.fill(0);
  const { x, y, p } = ts.events;
  for (let i = 0; i < x.length; i++) out[(y[i] * 34 + x[i]) * 2 + (p[i] ? 1 : 0)] += 1;
  return out;
}

/** Live-stream tfjs: one timestep at a time, output read every step. Returns the summed output. */
function runTfStep(net: TfNet, tick?: (k: number) => void): Float32Array {
  const buf = new Float32Array(34 * 34 * 2);
  let v = [tf.zeros([1, 15, 15, 16]), tf.zeros([1, 13, 13, 32]), tf.zeros([1, 10])];
  const sum = new Float32Array(10);
  for (const ts of timesteps) {
    const [out, ...next] = tf.tidy(() => {
      const x = tf.tensor4d(frame(ts, buf), [1, 34, 34, 2]);
      const [s1, v1] = tfNeuron(net.neurons[0], v[0], tf.conv2d(x, net.w1, 2, 'valid'));
      const [s2, v2] = tfNeuron(net.neurons[1], v[1], tf.conv2d(s1 as tf.Tensor4D, net.w2, 1, 'valid'));
      const pooled = tf.mul(tf.avgPool(s2 as tf.Tensor4D, 2, 2, 'valid'), 4);
      const flat = tf.reshape(tf.transpose(pooled, [0, 3, 1, 2]), [1, 1152]);
      const [s3, v3] = tfNeuron(net.neurons[2], v[2], tf.matMul(flat as tf.Tensor2D, net.w3));
      return [s3, v1, v2, v3];
    });
    tf.dispose(v);
    v = next;
    const o = out.dataSync();
    for (let i = 0; i < 10; i++) sum[i] += o[i];
    out.dispose();
    tick?.(ts.index);
  }
  tf.dispose(v);
  return sum;
}

// ---------------------------------------------------------------------------------- timing

/**
 * Sum over timesteps of the fastest time each step took across `runs` runs of the recording: on a
 * shared machine a whole run is often preempted, a 30 us step rarely, so this estimates the
 * uncontended cost of a recording. `stepAll` runs the recording calling `tick(k)` after step k.
 */
function stepMinima(runs: number, stepAll: (tick: (k: number) => void) => void): number {
  const best = new Float64Array(T).fill(Infinity);
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    stepAll((k) => {
      const now = performance.now();
      if (now - t0 < best[k]) best[k] = now - t0;
      t0 = now;
    });
  }
  return best.reduce((a, b) => a + b, 0);
}

/** Process CPU ms (user + system) per call over `reps` calls. */
function cpuTime(fn: () => void, reps: number): number {
  const c0 = process.cpuUsage();
  for (let r = 0; r < reps; r++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / reps;
}

/** Median ms per call over at least `minReps` calls and about SECONDS of wall time. */
function time(fn: () => void, minReps: number, maxReps = 1000, warmUp = true): number {
  if (warmUp) fn(); // JIT, caches
  const samples: number[] = [];
  const stopAt = performance.now() + SECONDS * 1000;
  while (samples.length < minReps || (performance.now() < stopAt && samples.length < maxReps)) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  emit({
    name: 'engine.input', value: T, unit: 'timesteps', events: events.t.length, recordingMs, file: 'tonic/sample_nmnist.bin', binning: 'time_window 1000 us',
    tfBackend: tf.getBackend(), cpus: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2))),
  });
  for (const variant of ['if-multi', 'lif-single'] as Variant[]) {
    for (const density of [0.1, 1.0]) {
      const gains = calibrate(variant, density);
      const graph = build(variant, density, gains);
      const sparse = new SparseEngine(graph);
      const sparseJs = new SparseEngine(graph, { wasm: false });
      const dense = new DenseEngine(graph);
      const ref = runEngine(sparse, timesteps);
      const denseResult = runEngine(dense, timesteps);
      const jsResult = runEngine(sparseJs, timesteps);
      const synops = Object.values(ref.synopsPerNode).reduce((a, b) => a + b, 0);
      const common = { variant, density };
      const rates = Object.fromEntries(NEURON_IDS[variant].filter((id) => graph.nodes.find((n) => n.id === id)?.op !== 'LI').map((id) => [id, Number(spikeRate(ref, graph, id).toFixed(4))]));
      emit({
        name: 'engine.spikes', value: Object.entries(ref.spikesPerNode).filter(([k]) => k !== 'input').reduce((a, [, b]) => a + b, 0), unit: 'spikes/recording', ...common,
        perNode: ref.spikesPerNode, ratePerNeuronStep: rates, synopsPerNode: ref.synopsPerNode, denseMacs: ref.denseMacs, gains: gains.map((g) => Number(g.toFixed(4))),
        lazyNodes: sparse.lazyNodes(), wasm: sparse.wasm, kernelNodes: sparse.kernelNodes(),
        identicalToDense: JSON.stringify({ ...denseResult, engine: 'sparse' }) === JSON.stringify(ref),
        jsFallbackIdenticalToDense: JSON.stringify({ ...denseResult, engine: 'sparse' }) === JSON.stringify(jsResult), label: ref.label,
      });

      const net = tfNet(graph);
      const tfStepCounts = runTfStep(net);
      const diff = (a: Float32Array) => a.reduce((n, v, i) => n + (Math.abs(v - ref.outputCounts[i]) > 1e-3 * Math.max(1, Math.abs(v)) ? 1 : 0), 0);
      const tfStepMs = time(() => runTfStep(net), 3, 10);
      const sparseMs = time(() => runEngine(sparse as Engine, timesteps), 20);
      const sparseCpuMs = cpuTime(() => runEngine(sparse as Engine, timesteps), Math.max(20, Math.round((SECONDS * 1000) / sparseMs)));
      const sparseJsMs = time(() => runEngine(sparseJs as Engine, timesteps), 3, 100);
      // Already warm from the run above; seconds per run, so one timed run.
      const denseMs = time(() => runEngine(dense as Engine, timesteps), 1, 1, false);
      const sparseMinMs = stepMinima(60, (tick) => {
        sparse.reset();
        for (let k = 0; k < T; k++) {
          sparse.step(timesteps[k]);
          tick(k);
        }
      });
      const tfStepMinMs = stepMinima(4, (tick) => runTfStep(net, tick));
      tf.dispose([net.w1, net.w2, net.w3]);

      const figures: [string, number, Record<string, unknown>][] = [
        ['sparse', sparseMs, { cpuMs: Number(sparseCpuMs.toFixed(3)) }], ['sparse-js', sparseJsMs, {}], ['dense-reference', denseMs, {}],
        ['tfjs-step', tfStepMs, { outputCountsDifferingFromEngine: diff(tfStepCounts) }],
      ];
      for (const [engine, ms, extra] of figures) {
        const base = { ...common, engine, baseline: 'tfjs-step', ratio: Number((tfStepMs / ms).toFixed(2)), ...extra };
        emit({ name: 'engine.timesteps_per_s', value: Math.round((T / ms) * 1000), unit: 'timesteps/s', ...base });
        emit({ name: 'engine.synops_per_s', value: Math.round((synops / ms) * 1000), unit: 'synops/s', synopsPerRecording: synops, ...base });
        emit({ name: 'engine.ms_per_recording', value: Number(ms.toFixed(3)), unit: 'ms', realTimeFactor: Number((recordingMs / ms).toFixed(1)), ...base });
      }
      for (const [engine, ms] of [['sparse', sparseMinMs], ['tfjs-step', tfStepMinMs]] as const) {
        emit({
          name: 'engine.ms_per_recording_step_minima', value: Number(ms.toFixed(3)), unit: 'ms', ...common, engine, baseline: 'tfjs-step',
          ratio: Number((tfStepMinMs / ms).toFixed(2)), note: 'sum over timesteps of the fastest run of each step (robust to preemption)',
        });
      }
      emit({ name: 'engine.sparse_vs_dense_reference', value: Number((denseMs / sparseMs).toFixed(1)), unit: 'x', ...common, baseline: 'dense-reference' });
      emit({ name: 'engine.sparse_vs_js_fallback', value: Number((sparseJsMs / sparseMs).toFixed(1)), unit: 'x', ...common, baseline: 'sparse-js' });
      if (density === 0.1) {
        emit({ name: 'engine.target.sparse_vs_tfjs_step', value: Number((tfStepMs / sparseMs).toFixed(1)), unit: 'x', target: '>= 10', met: tfStepMs / sparseMs >= 10, ...common });
        emit({
          name: 'engine.target.sparse_ms_per_recording', value: Number(sparseMs.toFixed(3)), unit: 'ms', stepMinimaMs: Number(sparseMinMs.toFixed(3)),
          cpuMs: Number(sparseCpuMs.toFixed(3)), target: '< 3', met: sparseMs < 3, metByStepMinima: sparseMinMs < 3, metByCpu: sparseCpuMs < 3, ...common,
        });
      }
    }
  }
}

await main();
