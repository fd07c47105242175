/**
 * Gradients for the tfjs kernels the trainer's forward pass uses outside its custom ops.
 *
 * Why here: under Node, @tensorflow/tfjs-core's CommonJS bundle registers no gradients at all (the
 * @tensorflow/tfjs umbrella package bundles them, and tfjs-core's own ESM gradient files cannot be
 * imported by Node: extensionless specifiers). So tf.grads fails with "gradient function not
 * found" unless someone registers them. The trainer needs few: its convolutions and neuron layers
 * carry their own gradients (customGrad), the losses too; what remains is shape plumbing and a
 * few elementwise and reduction kernels. Each is registered only when no gradient is registered
 * for that kernel yet, so a full tfjs install keeps its own.
 */
import * as tf from '@tensorflow/tfjs-core';

type Attrs = Record<string, unknown>;

/** Sums `dy` over the axes along which `shape` was broadcast to dy's shape, then reshapes to `shape`. */
export function unbroadcast(dy: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const rank = dy.shape.length;
  const axes: number[] = [];
  const lead = rank - shape.length;
  for (let i = 0; i < rank; i++) {
    const s = i < lead ? 1 : shape[i - lead];
    if (i < lead || (s === 1 && dy.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return tf.reshape(summed, shape as number[]);
}

/** The reduction's output shape with the reduced axes kept as size 1. */
function keptShape(inShape: readonly number[], axis: unknown): number[] {
  const rank = inShape.length;
  const list = axis === undefined || axis === null ? [...Array(rank).keys()] : (Array.isArray(axis) ? axis : [axis]) as number[];
  const norm = new Set(list.map((a) => (a < 0 ? a + rank : a)));
  return inShape.map((d, i) => (norm.has(i) ? 1 : d));
}

const CONFIGS: tf.GradConfig[] = [
  {
    kernelName: 'Add', inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const d = dy as tf.Tensor;
      return { a: () => unbroadcast(d, a.shape), b: () => unbroadcast(d, b.shape) };
    },
  },
  {
    kernelName: 'Sub', inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const d = dy as tf.Tensor;
      return { a: () => unbroadcast(d, a.shape), b: () => tf.neg(unbroadcast(d, b.shape)) };
    },
  },
  {
    kernelName: 'Multiply', inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const d = dy as tf.Tensor;
      return { a: () => unbroadcast(tf.mul(d, b), a.shape), b: () => unbroadcast(tf.mul(d, a), b.shape) };
    },
  },
  {
    kernelName: 'RealDiv', inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const d = dy as tf.Tensor;
      return {
        a: () => unbroadcast(tf.div(d, b), a.shape),
        b: () => unbroadcast(tf.neg(tf.div(tf.mul(d, a), tf.mul(b, b))), b.shape),
      };
    },
  },
  {
    kernelName: 'Reshape', inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as tf.Tensor, saved[0].shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs) => {
      const perm = (attrs as Attrs).perm as number[];
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return { x: () => tf.transpose(dy as tf.Tensor, inv) };
    },
  },
  {
    kernelName: 'Slice', inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      const begin = (attrs as Attrs).begin as number[];
      const d = dy as tf.Tensor;
      const pads = x.shape.map((n, i) => [begin[i], n - begin[i] - d.shape[i]] as [number, number]);
      return { x: () => tf.pad(d, pads) };
    },
  },
  {
    kernelName: 'PadV2', inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      const paddings = (attrs as Attrs).paddings as [number, number][];
      return { x: () => tf.slice(dy as tf.Tensor, paddings.map((p) => p[0]), x.shape) };
    },
  },
  {
    kernelName: 'Sum', inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      const kept = keptShape(x.shape, (attrs as Attrs).axis);
      return { x: () => tf.mul(tf.reshape(dy as tf.Tensor, kept), tf.ones(x.shape)) };
    },
  },
  {
    kernelName: 'Mean', inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      const kept = keptShape(x.shape, (attrs as Attrs).axis);
      const count = x.size / kept.reduce((a, b) => a * b, 1);
      return { x: () => tf.div(tf.mul(tf.reshape(dy as tf.Tensor, kept), tf.ones(x.shape)), count) };
    },
  },
  {
    kernelName: 'BatchMatMul', inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
      const d = dy as tf.Tensor;
      if (a.rank !== 2 || b.rank !== 2) throw new Error('BatchMatMul gradient: only rank-2 operands are supported');
      const A = a as tf.Tensor2D, Bm = b as tf.Tensor2D, D = d as tf.Tensor2D;
      // Transposed operands are transposed explicitly: the wasm backend sends a matMul with a
      // transpose flag to a naive loop, an untransposed one to XNNPACK (5x faster on the
      // reference network's linear layer, counting the transposes).
      const mm = (x: tf.Tensor2D, y: tf.Tensor2D, tx: boolean, ty: boolean) => tf.matMul(tx ? tf.transpose(x) : x, ty ? tf.transpose(y) : y);
      if (!transposeA && !transposeB) return { a: () => mm(D, Bm, false, true), b: () => mm(A, D, true, false) };
      if (!transposeA && transposeB) return { a: () => mm(D, Bm, false, false), b: () => mm(D, A, true, false) };
      if (transposeA && !transposeB) return { a: () => mm(Bm, D, false, true), b: () => mm(A, D, false, false) };
      return { a: () => mm(Bm, D, true, true), b: () => mm(D, A, true, true) };
    },
  },
  // tf.unstack / tf.stack (per-timestep loops written with tfjs ops, as bench/train.ts's baseline).
  {
    kernelName: 'Unpack',
    gradFunc: (dy, _saved, attrs) => {
      const axis = (attrs as Attrs).axis as number;
      return { value: () => tf.stack(dy as tf.Tensor[], axis) };
    },
  },
  {
    kernelName: 'Pack',
    gradFunc: (dy, _saved, attrs) => {
      const axis = (attrs as Attrs).axis as number;
      const parts = tf.unstack(dy as tf.Tensor, axis);
      return Object.fromEntries(parts.map((p, i) => [String(i), () => p]));
    },
  },
  // Float-to-float casts and identities pass the gradient through (tf.avgPool casts its result).
  { kernelName: 'Cast', gradFunc: (dy) => ({ x: () => tf.clone(dy as tf.Tensor) }) },
  { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => tf.clone(dy as tf.Tensor) }) },
  {
    kernelName: 'AvgPool', inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      const { filterSize, strides, pad } = attrs as { filterSize: number[]; strides: number[]; pad: unknown };
      return { x: () => tf.engine().runKernel('AvgPoolGrad', { dy: dy as tf.Tensor, input: x }, { filterSize, strides, pad } as unknown as tf.NamedAttrMap) as tf.Tensor };
    },
  },
];

let registered = false;

/** Registers the gradients above for kernels that have none (idempotent). */
export function registerTrainerGradients(): void {
  if (registered) return;
  for (const c of CONFIGS) if (!tf.getGradient(c.kernelName)) tf.registerGradient(c);
  registered = true;
}
