/**
 * The tfjs op around neuron-sequence.ts: a neuron layer over T timesteps on a time-major tensor
 * [T*B, ...sample], with the hand-written BPTT as its gradient. Values cross between tfjs and the
 * typed-array loops with dataSync (a copy; the loops themselves are the cost that matters).
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.js';
import { neuronBackward, neuronForward, type NearTieCounter, type NeuronLayer } from './neuron-sequence.js';
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

/**
 * Runs the layer on x [T*B, ...sample]; with `pool`, returns the pooled outputs
 * [T*B, ho, wo, c] instead (see pool-sequence.ts).
 */
export function neuronOp(x: tf.Tensor, T: number, layer: NeuronLayer, o: NeuronOpOptions, pool?: PoolGeometry): tf.Tensor {
  const time = o.onTime;
  const TB = x.shape[0];
  const outShape = pool ? [TB, Math.floor(pool.h / pool.kh), Math.floor(pool.w / pool.kw), pool.c] : x.shape;
  const finish = (out: Float32Array) => (pool ? poolForward(out, TB, pool) : out);
  if (!o.train) {
    const t0 = time ? performance.now() : 0;
    const { out } = neuronForward(layer, x.dataSync() as Float32Array, T, false, o.ties);
    const y = tf.tensor(finish(out), outShape, 'float32');
    if (time) time('neuron-forward', performance.now() - t0);
    return y;
  }
  const op = customOp<tf.Tensor>(([xIn]) => {
    const t0 = time ? performance.now() : 0;
    const { out, u } = neuronForward(layer, xIn.dataSync() as Float32Array, T, true);
    const value = tf.tensor(finish(out), outShape, 'float32');
    if (time) time('neuron-forward', performance.now() - t0);
    return {
      value,
      gradFunc: (dy: tf.Tensor) => {
        const t1 = time ? performance.now() : 0;
        const gy = dy.dataSync() as Float32Array;
        const gOut = pool ? poolBackward(gy, TB, pool) : gy;
        const g = neuronBackward(layer, u as Float32Array, out, gOut, T, o.surrogate, o.detachReset);
        const gt = tf.tensor(g, xIn.shape, 'float32');
        if (time) time('neuron-backward', performance.now() - t1);
        return gt;
      },
    };
  });
  return op(x);
}
