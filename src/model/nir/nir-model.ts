/**
 * NIR files <-> spikestream models (model.ts). Import wraps the imported graph into a model and
 * records how it was imported: `training` = { method: 'nir-import', source, preset, dt } and
 * `meta.nir` = the full provenance (NIR version, preset, dt and its unit, the exact mapping rule of
 * every neuron type present, overrides, notes). Export writes the graph (export-nir.ts) plus the
 * model-level facts (name, labels, input, training, meta, created) into the graph metadata, so a
 * spikestream -> NIR -> spikestream trip gives back the same model.
 */
import { basename, extname } from 'node:path';
import { validateGraph } from '../../snn/validate-graph.js';
import { numel } from '../../snn/tensor.js';
import { checkModel } from '../model-codec.js';
import { BINNING_MODES, type BinningSpec, type Model, type PlainValue, type TrainingInfo } from '../model.js';
import { DEFAULT_BINNING, modelFromGraph } from '../random-model.js';
import { ModelError } from '../model-error.js';
import type { NirImportOptions, NirImportResult } from './import-nir.js';
import { NirError } from './nir-error.js';
import { readNirFile } from './read-nir.js';
import { writeNirFile } from './write-nir.js';

export interface NirModelImportOptions extends NirImportOptions {
  readonly name?: string;
  /** One label per Output value; default: restored labels of a spikestream file, else "0".."n-1". */
  readonly labels?: readonly string[];
  /** Default: restored binning of a spikestream file, else 1 ms time windows (the NIR paper's N-MNIST setup). */
  readonly binning?: BinningSpec;
}

export interface NirModelImport {
  readonly model: Model;
  readonly result: NirImportResult;
}

type Plain = { readonly [key: string]: PlainValue };

function isRecord(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function importNirModel(path: string, options: NirModelImportOptions = {}): Promise<NirModelImport> {
  const result = await readNirFile(path, options);
  const plan = validateGraph(result.graph);
  const nOut = numel(plan.outShapes[plan.outputIndex]);
  if (options.labels && options.labels.length !== nOut) {
    throw new NirError('SHAPE', undefined, 'labels', `${options.labels.length} labels given, the Output node has ${nOut} values`);
  }
  const extras = result.extras;
  const restored = extras ? restoredModelFacts(extras, nOut) : {};
  const source = basename(path);
  const training: TrainingInfo = restored.training ?? {
    method: 'nir-import', source, preset: result.mode, ...(result.dt !== undefined ? { dt: result.dt } : {}),
  };
  // An exact restore keeps the model's own record (including how it was first imported) and notes
  // the file it came back from; any preset mapping records its provenance under meta.nir.
  const exact = result.mode === 'spikestream' && result.dt === undefined;
  const meta: { [key: string]: PlainValue } = exact
    ? { ...(restored.meta ?? {}), restoredFrom: { file: source, format: 'nir', nirVersion: result.nirVersion ?? null, notes: [...result.notes] } }
    : { ...(restored.meta ?? {}), nir: { ...result.provenance, file: source } };
  let model = modelFromGraph(result.graph, {
    name: options.name ?? restored.name ?? basename(path, extname(path)),
    labels: options.labels ?? restored.labels,
    binning: options.binning ?? restored.binning ?? DEFAULT_BINNING,
    training,
    meta,
    ...(restored.created ? { created: restored.created } : {}),
  });
  if (restored.input) {
    const withInput = { ...model, input: { ...restored.input, binning: model.input.binning } };
    try {
      checkModel(withInput, 'model');
      model = withInput;
    } catch (e) {
      if (!(e instanceof ModelError)) throw e;
    }
  }
  return { model, result };
}

interface RestoredFacts {
  name?: string;
  labels?: string[];
  binning?: BinningSpec;
  input?: { width: number; height: number; channels: number };
  training?: TrainingInfo;
  meta?: { [key: string]: PlainValue };
  created?: string;
}

/** The model facts a spikestream-written NIR file carries, each kept only when well-formed. */
function restoredModelFacts(x: Plain, nOut: number): RestoredFacts {
  const out: RestoredFacts = {};
  if (typeof x.name === 'string' && x.name.length > 0) out.name = x.name;
  if (Array.isArray(x.labels) && x.labels.length === nOut && x.labels.every((l) => typeof l === 'string')) out.labels = x.labels as string[];
  if (isRecord(x.input)) {
    const { width, height, channels, binning } = x.input;
    if ([width, height, channels].every((v) => Number.isInteger(v) && (v as number) > 0)) out.input = { width: width as number, height: height as number, channels: channels as number };
    const b = binningOf(binning);
    if (b) out.binning = b;
  }
  if (isRecord(x.training) && typeof x.training.method === 'string') out.training = x.training as TrainingInfo;
  if (isRecord(x.meta)) out.meta = { ...x.meta };
  if (typeof x.created === 'string') out.created = x.created;
  return out;
}

function binningOf(v: unknown): BinningSpec | undefined {
  if (!isRecord(v) || !(BINNING_MODES as readonly string[]).includes(v.mode as string)) return undefined;
  const pos = (k: string) => v[k] === undefined || (typeof v[k] === 'number' && Number.isFinite(v[k]) && (v[k] as number) >= 0);
  if (!['windowUs', 'strideUs', 'count', 'overlap', 'bins'].every(pos)) return undefined;
  return v as unknown as BinningSpec;
}

export async function exportNirModel(model: Model, path: string): Promise<void> {
  checkModel(model, 'model');
  const extras: { [key: string]: PlainValue } = {
    name: model.name,
    labels: [...model.labels],
    input: { width: model.input.width, height: model.input.height, channels: model.input.channels, binning: plainOf(model.input.binning) },
    training: model.training === null ? null : plainOf(model.training),
    created: model.created,
    ...(model.meta ? { meta: plainOf(model.meta) } : {}),
  };
  await writeNirFile(path, model.graph, { extras });
}

/** Drops undefined members (JSON has no undefined). */
function plainOf(v: unknown): PlainValue {
  return JSON.parse(JSON.stringify(v)) as PlainValue;
}
