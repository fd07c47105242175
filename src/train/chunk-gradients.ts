/**
 * Loss, gradients and readout scores of one chunk of a training batch: the forward pass
 * (tf-graph.ts), the loss on the readout, and tfjs autodiff. A batch is split into chunks of at
 * most CHUNK_SAMPLES samples, each computed on its own (in this thread or a gradient worker,
 * gradient-pool.ts) and combined in chunk order, so the result is the same bit for bit however
 * many threads computed it.
 *
 * Logits for the loss (the readout the engines use, DESIGN.md section 4): `sum` readout -> the
 * output's spike counts (spiking output) or its membrane averaged over the T steps (LI output,
 * same argmax as the sum); `last` -> the last step's values.
 */
import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy, rateMse } from './loss.js';
import type { LossKind } from './options.js';
import type { Surrogate } from './surrogate.js';
import type { ForwardOptions, NeuronImpl, TfGraph, TimeGroup } from './tf-graph.js';

/**
 * Samples per chunk. Smaller chunks let more threads share a batch but add a fixed cost per chunk
 * (about 5% at 16 on the reference network, batch 32, in one thread).
 */
export const CHUNK_SAMPLES = 16;

/** Chunk boundaries of a batch of `B` samples: [start, end) pairs in order. */
export function chunkBounds(B: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < B; s += CHUNK_SAMPLES) out.push([s, Math.min(B, s + CHUNK_SAMPLES)]);
  return out;
}

/** What a chunk's computation needs besides the graph and the weights (plain data: it crosses to workers). */
export interface ChunkSpec {
  readonly T: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly loss: LossKind;
  readonly surrogate: Surrogate;
  readonly detachReset: boolean;
}

export interface ChunkResult {
  /** Mean loss over the chunk's samples. */
  readonly loss: number;
  /** Gradients of the mean loss, per param, in the trainer's layout. */
  readonly grads: Float32Array[];
  /** Logits [B, K]. */
  readonly scores: Float32Array;
}

export interface ChunkHooks {
  readonly onTime?: (group: TimeGroup | 'forward-backward' | 'readback', ms: number) => void;
  readonly neuronImpl?: NeuronImpl;
}

/** Whether the Output node reads a spiking layer (counts) rather than a membrane. */
export function outputSpikes(tfg: TfGraph): boolean {
  const plan = tfg.plan;
  let p = plan.outputIndex;
  while (plan.nodes[p].op === 'Output' || plan.nodes[p].op === 'Flatten') p = plan.preds[p][0];
  const op = plan.nodes[p].op;
  return op === 'IF' || op === 'LIF' || op === 'Threshold';
}

/** Loss logits [B, K] from the Output node's per-step values [T, B, K]. */
function logits(tfg: TfGraph, out: tf.Tensor3D, T: number, spikes: boolean): tf.Tensor2D {
  if (tfg.readout === 'last') {
    const [, B, K] = out.shape;
    return tf.reshape(tf.slice(out, [T - 1, 0, 0], [1, B, K]), [B, K]);
  }
  const sum = tf.sum(out, 0) as tf.Tensor2D;
  return spikes ? sum : (tf.div(sum, T) as tf.Tensor2D);
}

/**
 * One chunk: `weights` per param in the trainer's layout, `x` the chunk's input [T*B, H, W, C]
 * (time-major), `onehot` [B, K].
 */
export function chunkGradients(tfg: TfGraph, weights: readonly Float32Array[], x: Float32Array, onehot: Float32Array, B: number, spec: ChunkSpec, hooks: ChunkHooks = {}): ChunkResult {
  const time = hooks.onTime;
  const { T } = spec;
  const K = tfg.outputSize;
  const spikes = outputSpikes(tfg);
  const o: ForwardOptions = {
    surrogate: spec.surrogate, detachReset: spec.detachReset, train: true,
    ...(time ? { onTime: time } : {}), ...(hooks.neuronImpl ? { neuronImpl: hooks.neuronImpl } : {}),
  };
  let loss = 0;
  let grads: Float32Array[] = [];
  let scores = new Float32Array(0);
  const mark = performance.now();
  tf.tidy(() => {
    const xt = tf.tensor4d(x, [T * B, spec.height, spec.width, spec.channels]);
    const y = tf.tensor2d(onehot, [B, K]);
    const vals = tfg.params.map((p, i) => tf.tensor(weights[i], p.shape as number[]));
    let kept: tf.Tensor | null = null;
    const f = (...v: tf.Tensor[]): tf.Scalar => {
      const z = logits(tfg, tfg.forward(v, xt, T, o), T, spikes);
      kept = tf.keep(z);
      return spec.loss === 'ce' ? crossEntropy(z, y) : rateMse(spikes ? (tf.div(z, T) as tf.Tensor2D) : z, y);
    };
    const r = tf.valueAndGrads(f)(vals);
    const m2 = performance.now();
    time?.('forward-backward', m2 - mark);
    loss = r.value.dataSync()[0];
    grads = r.grads.map((g) => (g.dataSync() as Float32Array).slice());
    const z = kept as unknown as tf.Tensor;
    scores = (z.dataSync() as Float32Array).slice();
    z.dispose();
    time?.('readback', performance.now() - m2);
  });
  return { loss, grads, scores };
}

/**
 * A batch's loss, gradients (float32) and scores from its chunks' (in chunk order): the chunk
 * means weighted by chunk size, summed in float64 in chunk order.
 */
export function combineChunks(parts: readonly ChunkResult[], sizes: readonly number[]): ChunkResult {
  const B = sizes.reduce((a, b) => a + b, 0);
  if (parts.length === 1) return parts[0];
  const grads = parts[0].grads.map((g) => new Float64Array(g.length));
  let loss = 0;
  const K = parts[0].scores.length / sizes[0];
  const scores = new Float32Array(B * K);
  let row = 0;
  parts.forEach((p, c) => {
    const w = sizes[c] / B;
    loss += w * p.loss;
    p.grads.forEach((g, i) => {
      const acc = grads[i];
      for (let j = 0; j < g.length; j++) acc[j] += w * g[j];
    });
    scores.set(p.scores, row * K);
    row += sizes[c];
  });
  return { loss, grads: grads.map((g) => Float32Array.from(g)), scores };
}
