/**
 * What both engines share: the Engine interface, per-run counters, the readout (class scores and
 * label) and the batch runners. The engines differ only in how they compute a step.
 */
import type { Timestep } from '../stream/timestep.js';
import { emitsSpikes, isWeighted, type GraphNode, type Readout } from './graph.js';
import type { OutOfRangePolicy } from './input-map.js';
import type { GraphPlan } from './validate-graph.js';

export type EngineKind = 'dense' | 'sparse';

export interface EngineOptions {
  /** Events outside the Input node's width/height: 'ignore' (default; counted) or 'error'. */
  readonly outOfRange?: OutOfRangePolicy;
  /** Class names, index-aligned with the Output node's values; labels default to the index. */
  readonly labels?: readonly string[];
}

/** One timestep's result. `output` is a copy; it stays valid after later steps. */
export interface StepOutput {
  /** Steps since the last reset, 0-based. */
  readonly index: number;
  /** The Output node's values this step (spike counts for a spiking output, v for LI). */
  readonly output: Float32Array;
  /** Synaptic operations this step over all weighted nodes. */
  readonly synops: number;
  /** Spikes emitted this step by IF/LIF/Threshold nodes (input events excluded). */
  readonly spikes: number;
}

/** A recording's (or a stream's, since reset) totals and prediction. */
export interface RunResult {
  readonly engine: EngineKind;
  readonly timesteps: number;
  /** Argmax of scores; ties go to the lowest index. -1 when there are no timesteps. */
  readonly index: number;
  readonly label: string;
  readonly scores: number[];
  /** Sum over timesteps of the Output node's values (spike counts for a spiking output). */
  readonly outputCounts: number[];
  /** Per spiking node (Input, IF, LIF, Threshold): spikes (for Input: events) over the run. */
  readonly spikesPerNode: Record<string, number>;
  /** Per weighted node (Conv2d, Linear, Affine): synaptic operations over the run. */
  readonly synopsPerNode: Record<string, number>;
  /** Multiply-accumulates a dense implementation performs over the run (every weight, every step). */
  readonly denseMacs: number;
  readonly denseMacsPerTimestep: number;
  /** Input events that landed on a pixel / fell outside the Input node (ignored). */
  readonly events: number;
  readonly eventsOutOfRange: number;
}

export interface Engine {
  readonly kind: EngineKind;
  readonly plan: GraphPlan;
  /** Advances every neuron one timestep with this timestep's events as input. */
  step(ts: Timestep): StepOutput;
  /** Same with an explicit input vector of the Input node's shape (row-major), for non-event inputs. */
  stepValues(input: Float32Array): StepOutput;
  /** Clears all neuron state and counters: the next step starts a new stream. */
  reset(): void;
  /** One whole recording: reset, step through every timestep, return the result. */
  run(timesteps: Iterable<Timestep>): RunResult;
  /** Totals and prediction since the last reset. */
  result(): RunResult;
  /** The membrane potentials of a neuron node, brought up to date (a copy). */
  membrane(id: string): Float32Array;
  /** The values a node output in the last step (a copy). */
  nodeOutput(id: string): Float32Array;
}

/** Resets the engine, steps through every timestep and returns the result: one recording. */
export function runEngine(engine: Engine, timesteps: Iterable<Timestep>): RunResult {
  engine.reset();
  for (const ts of timesteps) engine.step(ts);
  return engine.result();
}

export async function runEngineAsync(engine: Engine, timesteps: AsyncIterable<Timestep> | Iterable<Timestep>): Promise<RunResult> {
  engine.reset();
  for await (const ts of timesteps) engine.step(ts);
  return engine.result();
}

/** Index of the largest value; ties go to the lowest index; -1 for an empty array. */
export function argmax(values: ArrayLike<number>): number {
  let best = -1;
  let bestV = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (best < 0 || values[i] > bestV) {
      best = i;
      bestV = values[i];
    }
  }
  return best;
}

/** Dense multiply-accumulates per timestep of one node (0 for unweighted nodes). */
export function denseMacsOf(node: GraphNode, inShape: readonly number[], outShape: readonly number[]): number {
  if (!isWeighted(node)) return 0;
  const w = node.params.weight.shape;
  if (node.op === 'Conv2d') return outShape[0] * outShape[1] * outShape[2] * w[1] * w[2] * w[3];
  return w[0] * w[1];
}

/**
 * Counters and readout accumulators, identical for both engines so their results can only differ
 * through the values they compute.
 */
export class RunCounters {
  timesteps = 0;
  events = 0;
  eventsOutOfRange = 0;
  readonly spikes: Float64Array;
  readonly synops: Float64Array;
  private readonly outSum: Float64Array;
  private readonly outLast: Float64Array;
  private readonly outMax: Float64Array;
  private readonly readout: Readout;
  private readonly denseMacsPerStep: number;

  constructor(readonly plan: GraphPlan, private readonly kind: EngineKind, private readonly labels: readonly string[] | undefined) {
    const n = plan.nodes.length;
    this.spikes = new Float64Array(n);
    this.synops = new Float64Array(n);
    const outN = plan.outShapes[plan.outputIndex].reduce((a, b) => a * b, 1);
    this.outSum = new Float64Array(outN);
    this.outLast = new Float64Array(outN);
    this.outMax = new Float64Array(outN);
    const out = plan.nodes[plan.outputIndex];
    this.readout = (out.op === 'Output' && out.params.readout) || 'sum';
    this.denseMacsPerStep = plan.nodes.reduce((a, node, p) => a + denseMacsOf(node, plan.inShapes[p], plan.outShapes[p]), 0);
  }

  reset(): void {
    this.timesteps = 0;
    this.events = 0;
    this.eventsOutOfRange = 0;
    this.spikes.fill(0);
    this.synops.fill(0);
    this.outSum.fill(0);
    this.outLast.fill(0);
    this.outMax.fill(-Infinity);
  }

  /** Records the Output node's values for one finished step. */
  recordOutput(values: Float32Array): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      this.outSum[i] += v;
      this.outLast[i] = v;
      if (v > this.outMax[i]) this.outMax[i] = v;
    }
    this.timesteps++;
  }

  result(): RunResult {
    const plan = this.plan;
    const outputCounts = Array.from(this.outSum);
    const scores = this.timesteps === 0 ? outputCounts.map(() => 0)
      : Array.from(this.readout === 'sum' ? this.outSum : this.readout === 'last' ? this.outLast : this.outMax);
    const index = this.timesteps === 0 ? -1 : argmax(scores);
    const spikesPerNode: Record<string, number> = {};
    const synopsPerNode: Record<string, number> = {};
    plan.nodes.forEach((node, p) => {
      if (emitsSpikes(node)) spikesPerNode[node.id] = this.spikes[p];
      if (isWeighted(node)) synopsPerNode[node.id] = this.synops[p];
    });
    return {
      engine: this.kind,
      timesteps: this.timesteps,
      index,
      label: index < 0 ? '' : (this.labels?.[index] ?? String(index)),
      scores,
      outputCounts,
      spikesPerNode,
      synopsPerNode,
      denseMacs: this.denseMacsPerStep * this.timesteps,
      denseMacsPerTimestep: this.denseMacsPerStep,
      events: this.events,
      eventsOutOfRange: this.eventsOutOfRange,
    };
  }
}
