/** spikestream/snn: the graph IR, neuron dynamics, and the dense reference and event-driven sparse engines. */
export type {
  Graph, GraphNode, NodeOp, Edge, InputNode, OutputNode, Conv2dNode, LinearNode, AffineNode, PoolNode, FlattenNode,
  ScaleNode, ThresholdNode, IFNode, LIFNode, LINode, SpikingOptions, LeakParams, SpikeMode, ResetMode, Readout,
  WeightedNode, NeuronNode,
} from './graph.js';
export { NODE_OPS, NEURON_OPS, WEIGHTED_OPS, RESERVED_OPS, isWeighted, isNeuron, emitsSpikes } from './graph.js';
export { validateGraph, type GraphPlan } from './validate-graph.js';
export { GraphError, type GraphErrorCode } from './graph-error.js';
export { createEngine } from './create-engine.js';
export { runEngine, runEngineAsync, argmax, type Engine, type EngineKind, type EngineOptions, type StepOutput, type RunResult } from './engine.js';
export { neuronStep } from './neuron.js';
