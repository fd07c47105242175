import { DenseEngine } from './dense-engine.js';
import type { Engine, EngineKind, EngineOptions } from './engine.js';
import type { Graph } from './graph.js';
import { SparseEngine } from './sparse-engine.js';
import type { GraphPlan } from './validate-graph.js';

/** An engine of the given kind for a graph (validated here unless a plan is passed). */
export function createEngine(kind: EngineKind, graph: Graph | GraphPlan, options: EngineOptions = {}): Engine {
  return kind === 'dense' ? new DenseEngine(graph, options) : new SparseEngine(graph, options);
}
