/**
 * The tfjs op around neuron-sequence.ts: a neuron layer over T timesteps on a time-major tensor
 * [T*B, ...sample], with the hand-written BPTT as its gradient. The loops read tensors in place
 * (heap-io.ts); results are copied into new tensors. (Training fuses a neuron layer fed by a
 * convolution into the convolution's op instead: conv-neuron-op.ts.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.js';
import { checkAttached, readValues } from './heap-io.js';
import { neuronBackward, neuronForward, type NearTieCounter, type NeuronLayer, type Scratch } from './neuron-sequence.js';
import { poolBackward, poolForward, type PoolGeometry } from './pool-sequence.js';
import type { Surrogate } from './surrogate.js';

export interface NeuronOpOptions {
  readonly surrogate: Surrogate;
  readonly detachReset: boolean;
  /** Keep what the backward pass needs (training); off for evaluation. */
  readonly train: boolean;
  /** Evaluation only: count near-threshold updates per sample. */
  readonly ties?: NearTieCounter;
  /** Receives the time spent in the hand-written loops (profiling). */
  readonly onTime?: (group: 'neuron-forward' | 'neuron-backward', ms: number) => void;
}

interface LayerScratch {
  /** Arrays of the training forward pass, read again by its backward pass. */
  readonly train: Scratch;
  /** Set between a training forward pass and its backward pass: a second forward then gets fresh arrays. */
  busy: boolean;
  readonly evaluation: Scratch;
  pooled?: Float32Array;
  gOut?: Float32Array;
}

// Per layer, reused from step to step (see neuron-sequence.ts's Scratch for why).
const scratchOf = new WeakMap<NeuronLayer, LayerScratch>();

function scratchFor(layer: NeuronLayer): LayerScratch {
  let s = scratchOf.get(layer);
  if (!s) scratchOf.set(layer, (s = { train: {}, busy: false, evaluation: {} }));
  return s;
}

/**
 * Runs the layer on x [T*B, ...sample]; with `pool`, returns the pooled outputs
 * [T*B, ho, wo, c] instead (see pool-sequence.ts).
 */
export function neuronOp(x: tf.Tensor, T: number, layer: NeuronLayer, o: NeuronOpOptions, pool?: PoolGeometry): tf.Tensor {
  const time = o.onTime;
  const TB = x.shape[0];
  const outShape = pool ? [TB, Math.floor(pool.h / pool.kh), Math.floor(pool.w / pool.kw), pool.c] : x.shape;
  const sc = scratchFor(layer);
  const finish = (out: Float32Array) => {
    if (!pool) return out;
    sc.pooled = poolForward(out, TB, pool, sc.pooled);
    return sc.pooled;
  };
  if (!o.train) {
    const t0 = time ? performance.now() : 0;
    const xv = readValues(x);
    const { out } = neuronForward(layer, xv, T, false, o.ties, sc.evaluation);
    checkAttached(xv);
    // tf.tensor copies the values (after the loop: it may grow the heap), so the arrays can be reused by the next call.
    const y = tf.tensor(finish(out), outShape, 'float32');
    if (time) time('neuron-forward', performance.now() - t0);
    return y;
  }
  const op = customOp<tf.Tensor>(([xIn]) => {
    const t0 = time ? performance.now() : 0;
    const own: Scratch | undefined = sc.busy ? undefined : sc.train;
    sc.busy = own !== undefined;
    const xv = readValues(xIn);
    const { out, u } = neuronForward(layer, xv, T, true, undefined, own);
    checkAttached(xv);
    const value = tf.tensor(finish(out), outShape, 'float32');
    if (time) time('neuron-forward', performance.now() - t0);
    return {
      value,
      gradFunc: (dy: tf.Tensor) => {
        const t1 = time ? performance.now() : 0;
        const gy = readValues(dy);
        let gOut = gy;
        if (pool) gOut = sc.gOut = poolBackward(gy, TB, pool, sc.gOut);
        const g = neuronBackward(layer, u as Float32Array, out, gOut, T, o.surrogate, o.detachReset, own);
        checkAttached(gy);
        const gt = tf.tensor(g, xIn.shape, 'float32');
        if (own) sc.busy = false;
        if (time) time('neuron-backward', performance.now() - t1);
        return gt;
      },
    };
  });
  return op(x);
}
