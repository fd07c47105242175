/**
 * tf.customGrad with typed inputs: tfjs passes the inputs followed by a save function as one rest
 * parameter list, which TypeScript cannot check against named parameters.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface CustomOpResult<T extends tf.Tensor> {
  readonly value: T;
  readonly gradFunc: (dy: T, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

export function customOp<T extends tf.Tensor>(f: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => CustomOpResult<T>): (...xs: tf.Tensor[]) => T {
  const g = tf.customGrad<T>((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    return f(args.slice(0, -1) as tf.Tensor[], save);
  });
  return (...xs: tf.Tensor[]) => g(...xs);
}
