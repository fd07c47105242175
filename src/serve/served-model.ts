/**
 * A model as the server uses it: validated once at start, its stream-mode defaults resolved, and a
 * small pool of engines so that a new session does not rebuild the sparse connectivity.
 *
 * Stream-mode defaults (DESIGN.md section 7 leaves them to the model): the model file has no field
 * for them, so they are read from the free-form `meta.serve` map when present
 * (`{ decisionUs, windowUs, idleResetUs, mode }`), else derived from the model's binning:
 * decisionUs = DEFAULT_DECISION_US and windowUs = DEFAULT_WINDOW_US, both rounded up to a multiple
 * of the time bin's stride; idleResetUs = windowUs. Whole-sample binnings (n_time_bins,
 * n_event_bins) cannot run continuously, so their default (and only) mode is `sample`.
 */
import { basename } from 'node:path';
import { z } from 'zod';
import { connectionDensity, type BinningSpec, type Model } from '../model/model.js';
import { readModelFile } from '../model/model-file.js';
import { createEngine } from '../snn/create-engine.js';
import type { Engine } from '../snn/engine.js';
import type { Readout } from '../snn/graph.js';
import { eventInputShape } from '../snn/input-map.js';
import { validateGraph, type GraphPlan } from '../snn/validate-graph.js';
import type { ModelSummary, SessionMode } from './protocol.js';
import { ServeConfigError } from './serve-config-error.js';

/** Stream mode: one prediction per 50 ms of event time (20 per second of a live camera). */
export const DEFAULT_DECISION_US = 50_000;
/** Stream mode: predictions cover the output of the trailing 100 ms. */
export const DEFAULT_WINDOW_US = 100_000;

export interface StreamDefaults {
  readonly mode: SessionMode;
  readonly decisionUs: number;
  readonly windowUs: number;
  readonly idleResetUs: number;
}

export interface ServedModel {
  readonly name: string;
  readonly model: Model;
  readonly plan: GraphPlan;
  readonly binning: BinningSpec;
  /** Whether the binning can run on a live stream (time_window, event_count). */
  readonly live: boolean;
  /** Time-bin stride (time_window) that stream-mode durations must be multiples of; 1 otherwise. */
  readonly stepUs: number;
  readonly readout: Readout;
  readonly outputs: number;
  readonly density: number;
  readonly defaults: StreamDefaults;
  readonly summary: ModelSummary;
  /** Memory of one engine (typed arrays), measured when the model was loaded. */
  readonly engineBytes: number;
  /** Idle engines kept for the next session at most (in each worker thread, when sessions run there). */
  readonly maxPooledEngines: number;
  /** Engines held by sessions, and idle ones kept for the next session. */
  readonly activeEngines: number;
  readonly pooledEngines: number;
  acquireEngine(): Engine;
  releaseEngine(engine: Engine): void;
  /** Frees the idle engines (to make room under the maxEngineBytes budget), those kept in worker threads too. */
  dropPooled(): void;
  /**
   * Accounting for engines that live in worker threads (worker-pool.ts), so that activeEngines,
   * pooledEngines and the maxEngineBytes budget cover them: one taken there (from that worker's
   * idle engines or built anew), one given back there (kept idle or freed).
   */
  countRemoteAcquire(fromPool: boolean): void;
  countRemoteRelease(kept: boolean): void;
  /** Called by dropPooled: frees the idle engines kept in worker threads. */
  onDropPooled: (() => void) | undefined;
}

export interface ServeModelOptions {
  /** Served name (default: the model's own). */
  readonly name?: string;
  /** Idle engines kept for the next session (default 4). */
  readonly maxPooledEngines?: number;
  /**
   * Memory of one engine when already known (a worker thread gets it from the main thread): then no
   * engine is built up front; otherwise one is built, measured and kept idle.
   */
  readonly engineBytes?: number;
}

const serveMetaSchema = z.object({
  decisionUs: z.number().int().positive().optional(),
  windowUs: z.number().int().positive().optional(),
  idleResetUs: z.number().int().positive().optional(),
  mode: z.enum(['stream', 'sample']).optional(),
});

const roundUp = (v: number, step: number): number => Math.ceil(v / step) * step;

function resolveDefaults(model: Model, live: boolean, stepUs: number): StreamDefaults {
  const raw = model.meta?.serve;
  let m: z.infer<typeof serveMetaSchema> = {};
  if (raw !== undefined) {
    const parsed = serveMetaSchema.safeParse(raw);
    if (!parsed.success) {
      throw new ServeConfigError(`model "${model.name}": meta.serve is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    m = parsed.data;
  }
  const decisionUs = m.decisionUs ?? roundUp(DEFAULT_DECISION_US, stepUs);
  const windowUs = m.windowUs ?? roundUp(DEFAULT_WINDOW_US, stepUs);
  const mode: SessionMode = live ? (m.mode ?? 'stream') : 'sample';
  return { mode, decisionUs, windowUs, idleResetUs: m.idleResetUs ?? windowUs };
}

export function serveModel(model: Model, o: ServeModelOptions = {}): ServedModel {
  const name = o.name ?? model.name;
  let plan: GraphPlan;
  try {
    plan = validateGraph(model.graph);
  } catch (e) {
    throw new ServeConfigError(`model "${name}": ${(e as Error).message}`);
  }
  const shape = eventInputShape(plan.inShapes[plan.inputIndex]);
  if (shape instanceof Error) throw new ServeConfigError(`model "${name}": ${shape.message}`);
  const binning = model.input.binning;
  const live = binning.mode === 'time_window' || binning.mode === 'event_count';
  const stepUs = binning.mode === 'time_window' ? (binning.strideUs ?? binning.windowUs) : 1;
  const out = plan.nodes[plan.outputIndex];
  const readout: Readout = (out.op === 'Output' && out.params.readout) || 'sum';
  const outputs = plan.outShapes[plan.outputIndex].reduce((a, b) => a * b, 1);
  const density = connectionDensity(model.graph).overall;
  const defaults = resolveDefaults(model, live, stepUs);
  const pool: Engine[] = [];
  const maxPooled = o.maxPooledEngines ?? 4;
  const create = (): Engine => createEngine('sparse', plan, { labels: model.labels, outOfRange: 'ignore' });
  let engineBytes = o.engineBytes ?? 0;
  if (o.engineBytes === undefined) {
    // An engine's memory is almost all typed arrays (neuron state, connectivity): measure one.
    const before = process.memoryUsage().arrayBuffers;
    const first = create();
    engineBytes = Math.max(1, process.memoryUsage().arrayBuffers - before);
    pool.push(first);
  }
  let active = 0;
  let remotePooled = 0;
  const served: ServedModel = {
    name, model, plan, binning, live, stepUs, readout, outputs, density, defaults, engineBytes, maxPooledEngines: maxPooled,
    summary: {
      name, labels: model.labels,
      input: { width: model.input.width, height: model.input.height, channels: model.input.channels, binning: { ...binning } },
      density,
    },
    get activeEngines() {
      return active;
    },
    get pooledEngines() {
      return pool.length + remotePooled;
    },
    acquireEngine() {
      active++;
      return pool.pop() ?? create();
    },
    releaseEngine(engine) {
      active--;
      engine.reset();
      if (pool.length < maxPooled) pool.push(engine);
    },
    dropPooled() {
      pool.length = 0;
      remotePooled = 0;
      served.onDropPooled?.();
    },
    countRemoteAcquire(fromPool) {
      active++;
      if (fromPool) remotePooled--;
    },
    countRemoteRelease(kept) {
      active--;
      if (kept) remotePooled++;
    },
    onDropPooled: undefined,
  };
  return served;
}

/** Loads and validates a model file; the served name defaults to the model's own name. */
export async function loadServedModel(path: string, o: ServeModelOptions = {}): Promise<ServedModel> {
  let model: Model;
  try {
    model = await readModelFile(path);
  } catch (e) {
    throw new ServeConfigError(`${basename(path)}: ${(e as Error).message}`);
  }
  return serveModel(model, o);
}
