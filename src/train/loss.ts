/**
 * Losses on the readout, each one tfjs op with its own gradient (customGrad), so no registered
 * kernel gradient is needed for them (see gradients.ts).
 *
 * - `ce`: softmax cross-entropy, mean over the batch, on logits = the readout scores (output spike
 *   counts, or the LI membrane averaged over time: see trainer.ts).
 * - `mse`: mean-squared error of the output firing rate (counts / T) against a target rate, 0.8
 *   for the true class and 0.2 for the others (snnTorch's mse_count_loss defaults), mean over
 *   batch and classes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.js';

export { LOSS_KINDS, type LossKind } from './options.js';

export interface MseRates {
  readonly correct: number;
  readonly incorrect: number;
}

export const DEFAULT_MSE_RATES: MseRates = Object.freeze({ correct: 0.8, incorrect: 0.2 });

/** Softmax cross-entropy; `onehot` [B, K], `logits` [B, K]. dL/dlogits = (softmax - onehot) / B. */
export function crossEntropy(logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar {
  const op = customOp<tf.Scalar>(([z, y], save) => {
    const logp = tf.logSoftmax(z as tf.Tensor2D);
    save([logp, y]);
    const B = z.shape[0];
    const value = tf.div(tf.neg(tf.sum(tf.mul(y, logp))), B) as tf.Scalar;
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [lp, yy] = saved;
        const g = tf.mul(tf.div(tf.sub(tf.exp(lp), yy), B), dy);
        return [g, tf.zerosLike(yy)];
      },
    };
  });
  return op(logits, onehot);
}

/** Rate MSE: rates [B, K] in [0, 1] against the target rates implied by `onehot`. */
export function rateMse(rates: tf.Tensor2D, onehot: tf.Tensor2D, r: MseRates = DEFAULT_MSE_RATES): tf.Scalar {
  const op = customOp<tf.Scalar>(([x, y], save) => {
    const target = tf.add(tf.mul(y, r.correct - r.incorrect), r.incorrect);
    const diff = tf.sub(x, target);
    save([diff, y]);
    return {
      value: tf.mean(tf.square(diff)) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(tf.mul(saved[0], 2 / x.size), dy), tf.zerosLike(saved[1])],
    };
  });
  return op(rates, onehot);
}
