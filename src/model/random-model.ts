/**
 * Seeded models for tests, benches and servers that need a model without training one: the
 * N-MNIST-sized reference network (or any sequential spec) with exact-density random masks.
 */
import type { Graph } from '../snn/graph.js';
import { sequentialGraph, type LayerSpec } from '../snn/random-graph.js';
import { numel } from '../snn/tensor.js';
import { validateGraph } from '../snn/validate-graph.js';
import type { BinningSpec, Model, PlainValue, TrainingInfo } from './model.js';

export const DEFAULT_BINNING: BinningSpec = Object.freeze({ mode: 'time_window', windowUs: 1000 });

/** Wraps a graph into a model; input geometry comes from the Input node ([C, H, W]). */
export function modelFromGraph(graph: Graph, o: { name?: string; labels?: readonly string[]; binning?: BinningSpec; training?: TrainingInfo | null; created?: string; meta?: { [key: string]: PlainValue } } = {}): Model {
  const plan = validateGraph(graph);
  const shape = plan.inShapes[plan.inputIndex];
  const [channels, height, width] = shape.length === 3 ? shape : [1, 1, numel(shape)];
  const nOut = numel(plan.outShapes[plan.outputIndex]);
  return {
    name: o.name ?? 'model',
    labels: o.labels ? [...o.labels] : Array.from({ length: nOut }, (_, i) => String(i)),
    input: { width, height, channels, binning: o.binning ?? DEFAULT_BINNING },
    graph,
    training: o.training ?? null,
    created: o.created ?? new Date().toISOString(),
    ...(o.meta ? { meta: o.meta } : {}),
  };
}

/** The N-MNIST-sized network of the engine bench: 2x34x34 -> conv 16 k5 s2 -> IF -> conv 32 k3 -> IF -> sumpool 2 -> linear 10 -> IF. */
export const NMNIST_LAYERS: readonly LayerSpec[] = [
  { op: 'Conv2d', out: 16, kernel: 5, stride: 2 }, { op: 'IF' },
  { op: 'Conv2d', out: 32, kernel: 3 }, { op: 'IF' },
  { op: 'SumPool2d', kernel: 2 }, { op: 'Flatten' },
  { op: 'Linear', out: 10 }, { op: 'IF' },
];

export interface RandomModelOptions {
  readonly seed: number;
  /** Mask density of every weighted layer (default 1: dense). */
  readonly density?: number;
  readonly input?: readonly [number, number, number];
  readonly layers?: readonly LayerSpec[];
  /** Weight std = gain / sqrt(existing fan-in), per weighted layer or for all. */
  readonly gain?: number | readonly number[];
  readonly labels?: readonly string[];
  readonly binning?: BinningSpec;
  readonly name?: string;
}

export function randomModel(o: RandomModelOptions): Model {
  const graph = sequentialGraph({ input: o.input ?? [2, 34, 34], layers: o.layers ?? NMNIST_LAYERS, seed: o.seed, density: o.density, gain: o.gain });
  return modelFromGraph(graph, {
    name: o.name ?? `random-${o.seed}`,
    labels: o.labels,
    binning: o.binning,
    training: { method: 'random', density: o.density ?? 1, seed: o.seed },
    created: new Date(0).toISOString(),
  });
}
