/**
 * The SNN graph IR: nodes and edges whose types and parameter names follow NIR (the Neuromorphic
 * Intermediate Representation, github neuromorphs/NIR), so that a NIR importer maps node for node
 * and the tfjs trainer builds the same graph. Shapes never include a batch dimension.
 *
 * Semantics (DESIGN.md section 4), one update per timestep:
 * - Every node's input is the sum of the outputs of its predecessors (NIR: multiple edges into a
 *   node sum), added in edge order.
 * - Synaptic nodes (Conv2d, Linear, Affine, SumPool2d, AvgPool2d, Flatten, Scale, Threshold) are
 *   stateless and act within the timestep.
 * - Neuron nodes (IF, LIF, LI) carry a float32 membrane potential across timesteps; their dynamics
 *   live in neuron.ts and nowhere else.
 * - A Conv2d/Linear/Affine node may carry an ESL connectivity mask: a connection whose mask bit is
 *   0 does not exist (its weight reads as 0).
 *
 * NIR parameter names are kept verbatim (snake_case: v_threshold, kernel_size...); spikestream's own
 * options use the names of DESIGN.md (spike, reset, vMin) and beta for an exact discrete decay.
 */
import type { ParamValue, Tensor } from './tensor.js';

export type SpikeMode = 'single' | 'multi';
export type ResetMode = 'zero' | 'subtract';
export type Readout = 'sum' | 'last' | 'max';

/** Event-camera input: shape [C, H, W] with C = 2 (channel = polarity) or 1 (polarities merged). */
export interface InputNode {
  readonly id: string;
  readonly op: 'Input';
  readonly params: { readonly shape: readonly number[] };
}

/**
 * The graph's result. `readout` turns the per-timestep output values into class scores:
 * `sum` (default: spike counts for a spiking output, time-integrated membrane for LI), `last`
 * (final value), `max` (largest value over time).
 */
export interface OutputNode {
  readonly id: string;
  readonly op: 'Output';
  readonly params: { readonly readout?: Readout };
}

/** NIR Conv2d. weight [Cout, Cin/groups, kh, kw]; out = sum_in w * x (ascending input order) + bias. */
export interface Conv2dNode {
  readonly id: string;
  readonly op: 'Conv2d';
  readonly params: {
    readonly weight: Tensor;
    readonly bias?: Tensor;
    /** [sh, sw], >= 1. */
    readonly stride: readonly [number, number];
    /** [ph, pw] zeros on each side, >= 0. NIR's 'same'/'valid' are resolved by the importer. */
    readonly padding: readonly [number, number];
    /** [dh, dw], >= 1. */
    readonly dilation: readonly [number, number];
    readonly groups: number;
  };
  /** ESL mask, one byte (0/1) per weight element, same row-major order as weight. */
  readonly mask?: Uint8Array;
}

/** NIR Linear: weight [out, in], input must be rank 1 [in] (put a Flatten in front). */
export interface LinearNode {
  readonly id: string;
  readonly op: 'Linear';
  readonly params: { readonly weight: Tensor };
  readonly mask?: Uint8Array;
}

/** NIR Affine: Linear plus bias [out], added after the weighted sum. */
export interface AffineNode {
  readonly id: string;
  readonly op: 'Affine';
  readonly params: { readonly weight: Tensor; readonly bias: Tensor };
  readonly mask?: Uint8Array;
}

/** NIR SumPool2d / AvgPool2d over windows [kh, kw]; AvgPool divides the window sum by kh*kw (zero padding counts). */
export interface PoolNode {
  readonly id: string;
  readonly op: 'SumPool2d' | 'AvgPool2d';
  readonly params: {
    readonly kernel_size: readonly [number, number];
    readonly stride: readonly [number, number];
    readonly padding: readonly [number, number];
  };
}

/** NIR Flatten: merges dims start_dim..end_dim (negative counts from the end) of the input shape. Values are unchanged (row-major). */
export interface FlattenNode {
  readonly id: string;
  readonly op: 'Flatten';
  readonly params: { readonly start_dim: number; readonly end_dim: number };
}

/** NIR Scale: out = scale * x, elementwise (scale broadcast to the input shape). */
export interface ScaleNode {
  readonly id: string;
  readonly op: 'Scale';
  readonly params: { readonly scale: ParamValue };
}

/** NIR Threshold: out = 1 where x > threshold, else 0 (stateless Heaviside). */
export interface ThresholdNode {
  readonly id: string;
  readonly op: 'Threshold';
  readonly params: { readonly threshold: ParamValue };
}

/** Options shared by the spiking neurons (all stored in the model file). */
export interface SpikingOptions {
  /** 'single' (default): one spike when v > v_threshold. 'multi': floor(v / v_threshold) spikes when v >= v_threshold (Sinabs MultiSpike). */
  readonly spike?: SpikeMode;
  /** 'zero' (default, NIR): v <- v_reset after a spike. 'subtract': v <- v - spikes * v_threshold. */
  readonly reset?: ResetMode;
  /** Optional lower bound on v, applied every step after reset (Sinabs clamps at -threshold). */
  readonly vMin?: ParamValue;
}

/** NIR IF: v <- v + r*I. Units are those of the model; r is dimensionless gain on the input. */
export interface IFNode {
  readonly id: string;
  readonly op: 'IF';
  readonly params: SpikingOptions & {
    readonly r: ParamValue;
    readonly v_threshold: ParamValue;
    /** Default 0 (NIR). */
    readonly v_reset?: ParamValue;
  };
}

/**
 * Leak parameters shared by LIF and LI. Two discretisations:
 * - Euler (default, NIR's ODE tau dv/dt = (v_leak - v) + r I with step dt):
 *     v <- v + (dt/tau) * ((v_leak - v) + r*I)
 * - exact discrete decay, when `beta` is given (Sinabs, snnTorch and exact-ZOH importers):
 *     v <- v_leak + beta * (v - v_leak) + r*I
 *   beta is the per-step decay factor itself (e.g. exp(-dt/tau) computed by the importer), stored so
 *   that nothing recomputes it with different rounding; tau and dt stay for documentation/export.
 */
export interface LeakParams {
  /** Time constant, same unit as dt, > 0. */
  readonly tau: ParamValue;
  readonly r: ParamValue;
  readonly v_leak: ParamValue;
  /** Duration of one timestep in the unit of tau (e.g. seconds for NIR, 1 for tau counted in steps). */
  readonly dt: number;
  /** Per-step decay factor; when present it replaces the Euler step (see above). */
  readonly beta?: ParamValue;
}

/** NIR LIF (see LeakParams for the integration step). */
export interface LIFNode {
  readonly id: string;
  readonly op: 'LIF';
  readonly params: SpikingOptions & LeakParams & {
    readonly v_threshold: ParamValue;
    readonly v_reset?: ParamValue;
  };
}

/** NIR LI: leaky integrator without spikes; its output each step is v (a readout layer). */
export interface LINode {
  readonly id: string;
  readonly op: 'LI';
  readonly params: LeakParams;
}

export type GraphNode =
  | InputNode | OutputNode | Conv2dNode | LinearNode | AffineNode | PoolNode | FlattenNode
  | ScaleNode | ThresholdNode | IFNode | LIFNode | LINode;

export type NodeOp = GraphNode['op'];

/** Every op the IR knows, including NIR ops it reserves names for but cannot run yet. */
export const NODE_OPS: readonly NodeOp[] = [
  'Input', 'Output', 'Conv2d', 'Linear', 'Affine', 'SumPool2d', 'AvgPool2d', 'Flatten', 'Scale', 'Threshold', 'IF', 'LIF', 'LI',
];

/** NIR node types recognised but not supported yet: validation names them instead of calling them unknown. */
export const RESERVED_OPS: readonly string[] = ['CubaLIF', 'CubaLI', 'I', 'Delay', 'Conv1d', 'NIRGraph'];

export const NEURON_OPS: readonly NodeOp[] = ['IF', 'LIF', 'LI'];
export const WEIGHTED_OPS: readonly NodeOp[] = ['Conv2d', 'Linear', 'Affine'];

export type WeightedNode = Conv2dNode | LinearNode | AffineNode;
export type NeuronNode = IFNode | LIFNode | LINode;

/** An edge [from, to]: the output of `from` is added into the input of `to`. */
export type Edge = readonly [string, string];

export interface Graph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly Edge[];
}

export function isWeighted(n: GraphNode): n is WeightedNode {
  return n.op === 'Conv2d' || n.op === 'Linear' || n.op === 'Affine';
}

export function isNeuron(n: GraphNode): n is NeuronNode {
  return n.op === 'IF' || n.op === 'LIF' || n.op === 'LI';
}

/** Nodes whose output values are spike counts (listed in spikesPerNode). */
export function emitsSpikes(n: GraphNode): boolean {
  return n.op === 'Input' || n.op === 'IF' || n.op === 'LIF' || n.op === 'Threshold';
}
