/**
 * Training checkpoints: one msgpack file holding the model file (weights and masks, readable by
 * `spikestream eval` after extraction) and everything else a resumed run needs: optimizer
 * moments, the ESL generator state and bookkeeping, the step, the history and the run's own
 * settings. One file written atomically (temp + rename), so a kill at any moment leaves either
 * the previous checkpoint or the new one.
 *
 *   { format: "spikestream.checkpoint", version: 1, model: bin (a model file), step, run: map,
 *     adam: [{ m: bin f32 LE, v: bin f32 LE }], ema: [bin | nil], explored: [bin | nil],
 *     eslRng: { s: [u32 x4], spareNormal }, epochs: [map], esl: [map], epochAcc: map }
 *
 * Tensors are listed in TfGraph.params order of the model's graph.
 */
import { Packr, Unpackr } from 'msgpackr';
import { readFile, stat } from 'node:fs/promises';
import type { PrngState } from '../data/prng.js';
import { decodeModel, encodeModel, f32ToLE, leToF32 } from '../model/model-codec.js';
import { writeFileAtomic } from '../model/model-file.js';
import type { Model, PlainValue } from '../model/model.js';
import { isWeighted, type Graph } from '../snn/graph.js';
import { validateGraph } from '../snn/validate-graph.js';
import { TrainError } from './train-error.js';
import type { EpochLog, EslUpdateLog, TrainState } from './trainer.js';

export const CHECKPOINT_FORMAT = 'spikestream.checkpoint';
export const CHECKPOINT_VERSION = 1;
/** Checkpoints larger than this are refused before reading (1 GiB). */
export const MAX_CHECKPOINT_BYTES = 1 << 30;

const packr = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false, structuredClone: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, structuredClone: false });

export interface Checkpoint {
  readonly model: Model;
  /** The run's settings as the CLI stored them (data, architecture, config...). */
  readonly run: PlainValue;
  readonly state: TrainState;
}

/** Weights and masks of a model's graph in TfGraph.params order (weight, then bias, per weighted node in plan order). */
function graphTensors(graph: Graph): { weights: Float32Array[]; masks: (Uint8Array | null)[] } {
  const weights: Float32Array[] = [];
  const masks: (Uint8Array | null)[] = [];
  for (const n of validateGraph(graph).nodes) {
    if (!isWeighted(n)) continue;
    weights.push(n.params.weight.data.slice());
    masks.push(n.mask ? n.mask.slice() : null);
    const bias = n.op === 'Affine' ? n.params.bias : n.op === 'Conv2d' ? n.params.bias : undefined;
    if (bias) {
      weights.push(bias.data.slice());
      masks.push(null);
    }
  }
  return { weights, masks };
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const s = c.state;
  return packr.pack({
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: encodeModel(c.model),
    run: c.run,
    step: s.step,
    adam: s.adam.map((a) => ({ m: f32ToLE(a.m), v: f32ToLE(a.v) })),
    ema: s.ema.map((e) => (e ? f32ToLE(e) : null)),
    explored: s.explored.map((e) => (e ? Uint8Array.from(e) : null)),
    eslRng: { s: [...s.eslRng.s].map((w) => w >>> 0), spareNormal: s.eslRng.spareNormal },
    epochs: s.epochs,
    esl: s.esl,
    epochAcc: s.epochAcc,
  });
}

function fail(path: string, why: string): never {
  throw new TrainError('BAD_CHECKPOINT', `checkpoint ${path}: ${why}`);
}

function bytes(v: unknown, path: string, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(path, `${field} must be binary`);
  return v;
}

export function decodeCheckpoint(data: Uint8Array, path = '<memory>'): Checkpoint {
  let raw: unknown;
  try {
    raw = unpackr.unpack(data);
  } catch (e) {
    fail(path, `not msgpack (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) fail(path, 'not a map');
  const r = raw as Record<string, unknown>;
  if (r.format !== CHECKPOINT_FORMAT) fail(path, `format is ${JSON.stringify(r.format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (r.version !== CHECKPOINT_VERSION) fail(path, `version ${String(r.version)} is not supported (expected ${CHECKPOINT_VERSION})`);
  const model = decodeModel(bytes(r.model, path, 'model'));
  const { weights, masks } = graphTensors(model.graph);
  const n = weights.length;
  const list = (field: string): unknown[] => {
    const v = r[field];
    if (!Array.isArray(v) || v.length !== n) fail(path, `${field} must list ${n} tensors`);
    return v;
  };
  const adam = list('adam').map((a, i) => {
    const o = a as { m?: unknown; v?: unknown };
    const m = leToF32(bytes(o?.m, path, `adam[${i}].m`));
    const v = leToF32(bytes(o?.v, path, `adam[${i}].v`));
    if (m.length !== weights[i].length || v.length !== weights[i].length) fail(path, `adam[${i}] has the wrong size`);
    return { m, v };
  });
  const ema = list('ema').map((e, i) => {
    if (e === null || e === undefined) return null;
    const a = leToF32(bytes(e, path, `ema[${i}]`));
    if (a.length !== weights[i].length) fail(path, `ema[${i}] has the wrong size`);
    return a;
  });
  const explored = list('explored').map((e, i) => {
    if (e === null || e === undefined) return null;
    const a = Uint8Array.from(bytes(e, path, `explored[${i}]`));
    if (a.length !== weights[i].length) fail(path, `explored[${i}] has the wrong size`);
    return a;
  });
  const step = r.step;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) fail(path, 'step must be a non-negative integer');
  const rng = r.eslRng as { s?: unknown; spareNormal?: unknown } | undefined;
  if (!rng || !Array.isArray(rng.s) || rng.s.length !== 4 || !rng.s.every((w) => Number.isInteger(w))) fail(path, 'eslRng.s must be 4 integers');
  const eslRng: PrngState = { s: [rng.s[0], rng.s[1], rng.s[2], rng.s[3]] as [number, number, number, number], spareNormal: typeof rng.spareNormal === 'number' ? rng.spareNormal : null };
  const acc = r.epochAcc as TrainState['epochAcc'] | undefined;
  if (!acc || typeof acc.lossSum !== 'number' || typeof acc.seen !== 'number') fail(path, 'epochAcc is missing');
  return {
    model,
    run: (r.run ?? null) as PlainValue,
    state: {
      step,
      weights,
      masks,
      adam,
      ema,
      explored,
      eslRng,
      epochs: Array.isArray(r.epochs) ? (r.epochs as EpochLog[]) : [],
      esl: Array.isArray(r.esl) ? (r.esl as EslUpdateLog[]) : [],
      epochAcc: { lossSum: acc.lossSum, correct: acc.correct, seen: acc.seen, seconds: acc.seconds },
    },
  };
}

export async function writeCheckpoint(path: string, c: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(c));
}

export async function readCheckpoint(path: string): Promise<Checkpoint> {
  const { size } = await stat(path);
  if (size > MAX_CHECKPOINT_BYTES) fail(path, `${size} bytes exceed the limit of ${MAX_CHECKPOINT_BYTES}`);
  return decodeCheckpoint(await readFile(path), path);
}
