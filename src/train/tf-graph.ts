/**
 * The graph IR compiled to a tfjs forward pass over a whole recording batch at once.
 *
 * Synaptic nodes are stateless, so every timestep of every sample goes through them in one call:
 * activations are time-major batches [T*B, H, W, C] (NHWC) or [T*B, F]. Only neuron nodes carry
 * state across timesteps; they run as one op each over [T, B, ...] (neuron-op.ts). So a forward
 * pass is one conv per Conv2d node instead of T, and BPTT is the neuron ops' backward loops.
 *
 * Semantics follow the engines (DESIGN.md section 4, dense-engine.ts): a node's input is the sum
 * of its predecessors' outputs in edge order; weighted sums then bias; AvgPool is the window sum
 * divided by the window area (zero padding counts); neurons step through neuron.ts. Float sums
 * inside convolutions and matMuls run in tfjs's order, not the engines' ascending order, so values
 * can differ in the last bits: a spike decided by a near-tie at threshold is the only place that
 * shows (counted by the equivalence check).
 */
import * as tf from '@tensorflow/tfjs-core';
import { isNeuron, isWeighted, type Graph, type GraphNode, type Readout } from '../snn/graph.js';
import { neuronArrays } from '../snn/neuron.js';
import { expandParam, numel } from '../snn/tensor.js';
import { validateGraph, type GraphPlan } from '../snn/validate-graph.js';
import { conv2dOp } from './conv2d-op.js';
import { convNeuronOp } from './conv-neuron-op.js';
import { customOp } from './custom-op.js';
import { registerTrainerGradients } from './gradients.js';
import { activationPerm, trainerWeightShape, weightPerm } from './layout.js';
import { neuronLayer, type NearTieCounter, type NeuronLayer } from './neuron-sequence.js';
import { neuronOp } from './neuron-op.js';
import type { PoolGeometry } from './pool-sequence.js';
import type { Surrogate } from './surrogate.js';
import { TrainError } from './train-error.js';

/** One trainable tensor: `<node>.weight` or `<node>.bias`. */
export interface ParamSpec {
  readonly key: string;
  readonly node: string;
  readonly kind: 'weight' | 'bias';
  readonly op: 'Conv2d' | 'Linear' | 'Affine';
  readonly irShape: readonly number[];
  readonly shape: readonly number[];
  /** IR index of each trainer-layout element (null: same order). */
  readonly perm: Int32Array | null;
  /** Weights fan-in (inputs per output) and fan-out, for allocation and init. */
  readonly fanIn: number;
  readonly fanOut: number;
}

export type TimeGroup = 'neuron-forward' | 'neuron-backward' | 'conv-forward' | 'conv-input-grad' | 'conv-filter-grad';

/** A neuron layer implementation (neuron-op.ts's by default); benchmarks plug in alternatives. */
export type NeuronImpl = (x: tf.Tensor, T: number, layer: NeuronLayer, o: ForwardOptions, pool?: PoolGeometry) => tf.Tensor;

export interface ForwardOptions {
  readonly surrogate: Surrogate;
  readonly detachReset: boolean;
  readonly train: boolean;
  /** Evaluation only: near-threshold updates per sample (see neuron-sequence.ts). */
  readonly ties?: NearTieCounter;
  /** Profiling: time per op group (ops run synchronously on the cpu, wasm and tensorflow backends). */
  readonly onTime?: (group: TimeGroup, ms: number) => void;
  /** Replaces the neuron layer implementation (for comparisons in bench/train.ts). */
  readonly neuronImpl?: NeuronImpl;
}

interface Compiled {
  readonly node: GraphNode;
  readonly preds: readonly number[];
  readonly inShape: readonly number[];
  readonly outShape: readonly number[];
  readonly weight?: number;
  readonly bias?: number;
  readonly neuron?: NeuronLayer;
  /** A spiking neuron node whose only consumer is a non-overlapping pool: the pool runs inside its op. */
  readonly fusedPool?: PoolGeometry;
  /** A pool node computed by its neuron predecessor: passes values through. */
  readonly fusedAway?: boolean;
  readonly elementwise?: Float32Array;
  /** Index of the first trainable weighted node (its input is data: no input gradient needed). */
  readonly isFirstWeighted?: boolean;
  /** A Conv2d whose only consumer is a neuron node: in training it runs that node (and its fused pool) too. */
  readonly convNeuron?: { readonly layer: NeuronLayer; readonly pool?: PoolGeometry };
  /** A neuron node computed, in training, by its Conv2d predecessor: passes values through. */
  readonly fusedIntoConv?: boolean;
}

export class TfGraph {
  readonly plan: GraphPlan;
  readonly params: readonly ParamSpec[];
  readonly readout: Readout;
  readonly inputShape: readonly number[];
  readonly outputSize: number;
  private readonly compiled: readonly Compiled[];

  constructor(graph: Graph | GraphPlan) {
    registerTrainerGradients();
    this.plan = 'preds' in graph ? graph : validateGraph(graph);
    const plan = this.plan;
    const params: ParamSpec[] = [];
    const compiled: Compiled[] = [];
    // Nodes fed only by the Input through stateless synaptic nodes see data: no input gradient.
    const dataOnly = new Array<boolean>(plan.nodes.length).fill(false);
    plan.nodes.forEach((node, p) => {
      const inShape = plan.inShapes[p];
      const outShape = plan.outShapes[p];
      const preds = plan.preds[p];
      dataOnly[p] = node.op === 'Input' || (!isNeuron(node) && preds.length > 0 && preds.every((q) => dataOnly[q]));
      if (inShape.length !== 1 && inShape.length !== 3) {
        throw new TrainError('UNSUPPORTED', `node "${node.id}": the trainer handles [C,H,W] and flat [F] values, not ${inShape.length}-d ones`);
      }
      const c: { -readonly [K in keyof Compiled]: Compiled[K] } = { node, preds, inShape, outShape };
      if (isWeighted(node)) {
        const w = node.params.weight;
        if (node.op === 'Conv2d' && node.params.groups !== 1) {
          throw new TrainError('UNSUPPORTED', `node "${node.id}": grouped convolutions (groups = ${node.params.groups}) cannot be trained yet`);
        }
        const fanIn = node.op === 'Conv2d' ? w.shape[1] * w.shape[2] * w.shape[3] : w.shape[1];
        const fanOut = node.op === 'Conv2d' ? w.shape[0] * w.shape[2] * w.shape[3] : w.shape[0];
        c.weight = params.length;
        c.isFirstWeighted = preds.every((q) => dataOnly[q]);
        params.push({ key: `${node.id}.weight`, node: node.id, kind: 'weight', op: node.op, irShape: w.shape, shape: trainerWeightShape(w.shape), perm: weightPerm(w.shape), fanIn, fanOut });
        const bias = node.op === 'Affine' ? node.params.bias : node.op === 'Conv2d' ? node.params.bias : undefined;
        if (bias) {
          c.bias = params.length;
          params.push({ key: `${node.id}.bias`, node: node.id, kind: 'bias', op: node.op, irShape: bias.shape, shape: [numel(bias.shape)], perm: null, fanIn, fanOut });
        }
      } else if (isNeuron(node)) {
        c.neuron = neuronLayer(neuronArrays(node, inShape), activationPerm(inShape));
      } else if (node.op === 'Scale' || node.op === 'Threshold') {
        const v = expandParam(node.op === 'Scale' ? node.params.scale : node.params.threshold, inShape);
        const perm = activationPerm(inShape);
        c.elementwise = perm ? Float32Array.from(perm, (k) => v[k]) : v;
      } else if (node.op === 'Flatten' && outShape.length !== 1) {
        throw new TrainError('UNSUPPORTED', `node "${node.id}": only a full Flatten (to one dimension) can be trained`);
      }
      compiled.push(c);
    });
    // Fuse neuron -> pool pairs (see pool-sequence.ts).
    const succs = plan.nodes.map(() => [] as number[]);
    plan.preds.forEach((ps, q) => ps.forEach((p) => succs[p].push(q)));
    compiled.forEach((c, p) => {
      if (!c.neuron || !c.neuron.spiking || c.inShape.length !== 3 || succs[p].length !== 1) return;
      const q = succs[p][0];
      const pn = plan.nodes[q];
      if (pn.op !== 'SumPool2d' && pn.op !== 'AvgPool2d') return;
      if (plan.preds[q].length !== 1) return;
      const [kh, kw] = pn.params.kernel_size;
      const [sh, sw] = pn.params.stride;
      const [ph, pw] = pn.params.padding;
      if (kh !== sh || kw !== sw || ph !== 0 || pw !== 0) return;
      const [ch, h, w] = c.inShape;
      compiled[p] = { ...c, fusedPool: { h, w, c: ch, kh, kw, average: pn.op === 'AvgPool2d' } };
      compiled[q] = { ...compiled[q], fusedAway: true };
    });
    // Fuse Conv2d -> neuron (-> pool) for training (see conv-neuron-op.ts).
    compiled.forEach((c, q) => {
      if (!c.neuron || c.inShape.length !== 3 || plan.preds[q].length !== 1) return;
      const p = plan.preds[q][0];
      if (plan.nodes[p].op !== 'Conv2d' || succs[p].length !== 1) return;
      compiled[p] = { ...compiled[p], convNeuron: { layer: c.neuron, ...(c.fusedPool ? { pool: c.fusedPool } : {}) } };
      compiled[q] = { ...c, fusedIntoConv: true };
    });
    this.params = params;
    this.compiled = compiled;
    const out = plan.nodes[plan.outputIndex];
    this.readout = (out.op === 'Output' && out.params.readout) || 'sum';
    this.inputShape = plan.inShapes[plan.inputIndex];
    this.outputSize = numel(plan.outShapes[plan.outputIndex]);
  }

  /**
   * The Output node's values for every step: [T, B, K]. `input` is [T*B, H, W, C] (or [T*B, F]),
   * time-major; `values[i]` holds params[i] in trainer layout.
   */
  forward(values: readonly tf.Tensor[], input: tf.Tensor, T: number, o: ForwardOptions): tf.Tensor3D {
    const outs: tf.Tensor[] = new Array(this.compiled.length);
    const TB = input.shape[0];
    for (let p = 0; p < this.compiled.length; p++) {
      const c = this.compiled[p];
      const node = c.node;
      if (node.op === 'Input') {
        outs[p] = input;
        continue;
      }
      let x = outs[c.preds[0]];
      for (let k = 1; k < c.preds.length; k++) x = tf.add(x, outs[c.preds[k]]);
      outs[p] = this.apply(c, x, values, TB, T, o);
    }
    const y = outs[this.plan.outputIndex];
    return tf.reshape(y, [T, TB / T, this.outputSize]);
  }

  private apply(c: Compiled, x: tf.Tensor, values: readonly tf.Tensor[], TB: number, T: number, o: ForwardOptions): tf.Tensor {
    const node = c.node;
    switch (node.op) {
      case 'Conv2d': {
        const { padding, stride, dilation } = node.params;
        let xin = x as tf.Tensor4D;
        if (padding[0] > 0 || padding[1] > 0) xin = tf.pad(xin, [[0, 0], [padding[0], padding[0]], [padding[1], padding[1]], [0, 0]]);
        if (c.convNeuron && fusedTraining(o)) {
          const bias = c.bias !== undefined ? values[c.bias] as tf.Tensor1D : null;
          const spec = { T, layer: c.convNeuron.layer, conv: { stride, dilation }, inputGrad: !c.isFirstWeighted, ...(c.convNeuron.pool ? { pool: c.convNeuron.pool } : {}) };
          return convNeuronOp(xin, values[c.weight as number] as tf.Tensor4D, bias, spec, o);
        }
        let y: tf.Tensor = conv2dOp(xin, values[c.weight as number] as tf.Tensor4D, { stride, dilation }, !c.isFirstWeighted, o.onTime);
        if (c.bias !== undefined) y = tf.add(y, values[c.bias]);
        return y;
      }
      case 'Linear':
      case 'Affine': {
        let y: tf.Tensor = tf.matMul(x as tf.Tensor2D, values[c.weight as number] as tf.Tensor2D);
        if (c.bias !== undefined) y = tf.add(y, values[c.bias]);
        return y;
      }
      case 'SumPool2d':
      case 'AvgPool2d':
        return c.fusedAway ? x : pool(node, x as tf.Tensor4D, c.outShape);
      case 'Flatten':
        if (c.inShape.length === 3) return tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [TB, numel(c.inShape)]);
        return x;
      case 'Scale': {
        const s = tf.tensor(c.elementwise as Float32Array, [1, ...x.shape.slice(1)]);
        // Zero inputs stay exactly zero in the engines (they skip them); s * 0 is 0 too.
        return tf.mul(x, s);
      }
      case 'Threshold':
        return threshold(x, c.elementwise as Float32Array);
      case 'IF':
      case 'LIF':
      case 'LI': {
        if (c.fusedIntoConv && fusedTraining(o)) return x;
        const impl = o.neuronImpl ?? neuronOp;
        if (c.fusedPool) return impl(x, T, c.neuron as NeuronLayer, o, c.fusedPool);
        const y = impl(tf.reshape(x, [TB, -1]), T, c.neuron as NeuronLayer, o);
        return tf.reshape(y, x.shape);
      }
      case 'Output':
        return x;
      default:
        throw new TrainError('UNSUPPORTED', `node "${node.id}": op ${node.op} cannot be trained`);
    }
  }
}

/** Training with the trainer's own neuron ops: Conv2d -> neuron pairs run as one op (conv-neuron-op.ts). */
function fusedTraining(o: ForwardOptions): boolean {
  return o.train && !o.neuronImpl;
}

/**
 * Sum or average pooling as the engines define it: window sum (zero padding counts), AvgPool
 * divided by the area. With a power-of-two area, tfjs's AvgPool (sum times 1/area) is exact and
 * is the fastest path on every backend; otherwise non-overlapping windows sum by reshape, which
 * divides exactly like the engines.
 */
function pool(node: Extract<GraphNode, { op: 'SumPool2d' | 'AvgPool2d' }>, x: tf.Tensor4D, outShape: readonly number[]): tf.Tensor {
  const [kh, kw] = node.params.kernel_size;
  const [sh, sw] = node.params.stride;
  const [ph, pw] = node.params.padding;
  const [, ho, wo] = outShape;
  const area = kh * kw;
  let xin = x;
  if (ph > 0 || pw > 0) xin = tf.pad(xin, [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
  if ((area & (area - 1)) === 0 || !(kh === sh && kw === sw)) {
    const avg = tf.avgPool(xin, [kh, kw], [sh, sw], 'valid');
    return node.op === 'AvgPool2d' ? avg : tf.mul(avg, area);
  }
  const n = xin.shape[0];
  const c = xin.shape[3];
  const cropped = tf.slice(xin, [0, 0, 0, 0], [n, ho * kh, wo * kw, c]);
  const sum = tf.sum(tf.reshape(cropped, [n, ho, kh, wo, kw, c]), [2, 4]);
  return node.op === 'AvgPool2d' ? tf.div(sum, area) : sum;
}

/** Stateless Heaviside (NIR Threshold): no gradient flows through it. */
function threshold(x: tf.Tensor, th: Float32Array): tf.Tensor {
  const op = customOp<tf.Tensor>(([xIn]) => ({
    value: tf.cast(tf.greater(xIn, tf.tensor(th, [1, ...xIn.shape.slice(1)])), 'float32'),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return op(x);
}
