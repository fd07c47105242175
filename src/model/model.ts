/**
 * A spikestream model in memory: the graph IR plus what it takes to use it (labels, input geometry,
 * binning) and where it came from (training record, free-form meta). model-codec.ts maps it to the
 * versioned msgpack file of DESIGN.md section 5.
 */
import type { Graph } from '../snn/graph.js';
import { isWeighted } from '../snn/graph.js';
import { countOnes } from './mask-bits.js';

export const MODEL_FORMAT = 'spikestream.model';
export const MODEL_VERSION = 1;

/**
 * How a recording is cut into timesteps for this model (the stream module's binning modes, tonic
 * names in comments). time_window: windowUs (time_window), strideUs (time_window - overlap),
 * includeIncomplete; event_count: count (event_count), overlap (events), includeIncomplete;
 * n_time_bins / n_event_bins: bins (n_time_bins / n_event_bins), overlap (fraction), spikingjelly.
 */
export type BinningSpec =
  | { readonly mode: 'time_window'; readonly windowUs: number; readonly strideUs?: number; readonly includeIncomplete?: boolean }
  | { readonly mode: 'event_count'; readonly count: number; readonly overlap?: number; readonly includeIncomplete?: boolean }
  | { readonly mode: 'n_time_bins' | 'n_event_bins'; readonly bins: number; readonly overlap?: number; readonly spikingjelly?: boolean };

export const BINNING_MODES = ['time_window', 'event_count', 'n_time_bins', 'n_event_bins'] as const;

export interface ModelInput {
  /** Sensor geometry the Input node expects: its shape is [channels, height, width]. */
  readonly width: number;
  readonly height: number;
  /** 2: channel = polarity (0 OFF, 1 ON); 1: polarities merged. */
  readonly channels: number;
  readonly binning: BinningSpec;
}

/** JSON-like data (msgpack maps/arrays/strings/numbers/booleans/nil). */
export type PlainValue = null | boolean | number | string | PlainValue[] | { [key: string]: PlainValue };

/** What training produced this model (DESIGN.md section 6); free-form beyond `method`. */
export interface TrainingInfo {
  /** e.g. 'esl', 'dense', 'static-sparse', 'magnitude-pruning', 'nir-import', 'random'. */
  readonly method: string;
  readonly density?: number;
  readonly rules?: PlainValue;
  readonly dataset?: PlainValue;
  readonly epochs?: number;
  readonly metrics?: PlainValue;
  readonly history?: PlainValue;
  readonly [key: string]: PlainValue | undefined;
}

export interface Model {
  readonly name: string;
  /** Class names, one per element of the Output node. */
  readonly labels: readonly string[];
  readonly input: ModelInput;
  readonly graph: Graph;
  readonly training: TrainingInfo | null;
  /** ISO 8601 time of creation. */
  readonly created: string;
  /** Free-form provenance, e.g. the conventions a NIR import assumed (dt, preset). */
  readonly meta?: { readonly [key: string]: PlainValue };
}

/** Connection density of each masked weighted node (existing / possible) and over all weighted nodes. */
export function connectionDensity(graph: Graph): { perNode: Record<string, number>; overall: number } {
  const perNode: Record<string, number> = {};
  let ones = 0;
  let total = 0;
  for (const n of graph.nodes) {
    if (!isWeighted(n)) continue;
    const size = n.params.weight.data.length;
    const on = n.mask ? countOnes(n.mask) : size;
    perNode[n.id] = size === 0 ? 1 : on / size;
    ones += on;
    total += size;
  }
  return { perNode, overall: total === 0 ? 1 : ones / total };
}
