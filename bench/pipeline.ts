/**
 * Pipeline throughput at speed 'max': file -> EVT 2.0 decode -> binByTime -> dense (2, H, W)
 * frames for every timestep, through the RxJS operators (fromEventFile, binByTime, then
 * Timestep.toDense into one reused Float32 frame, or EventTimestep.toDenseInt16 into an Int16 one),
 * next to a plain-loop baseline measured in the same run for each dtype: read the file, decode the
 * words and count each event straight into the current frame of the same dtype (saturating at
 * 32767 for Int16, as toDenseInt16 does) in one hand-written loop.
 *
 *   npx tsx bench/pipeline.ts [--seconds 1] [--window-us 10000] [--file PATH] [--chunk-bytes N]
 *
 * Before timing, each path's frames are compared cell for cell with its baseline's
 * (`"framesMatch"` in the output). Runs of the four paths are interleaved for about SECONDS each;
 * the machine is shared, so figures use each path's fastest run (least disturbed), with the median
 * run alongside. Prints one JSON line per figure: { name, value, unit, ... } with the ratio
 * pipeline / baseline.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { concatBatches, type EventBatch } from '../src/events/batch.js';
import { createDecoder } from '../src/events/create-decoder.js';
import { markOrdered } from '../src/events/ordered-batches.js';
import { binByTime, binEventsByTime } from '../src/stream/bin-by-time.js';
import { INT16_COUNT_MAX, type EventTimestep } from '../src/stream/event-timestep.js';
import { fromEventFile, REPLAY_CHUNK_BYTES } from '../src/stream/from-event-file.js';
import { probeGeometry } from '../src/stream/probe-geometry.js';
import { projectRoot } from './_root.js';

const root = projectRoot(import.meta.url);
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const FILE = resolve(arg('--file', resolve(root, '../shared/fixtures/events/expelliarmus/evt2_sample.raw')));
const SECONDS = Number(arg('--seconds', '1'));
const WINDOW_US = Number(arg('--window-us', '10000'));
const CHUNK_BYTES = Number(arg('--chunk-bytes', String(REPLAY_CHUNK_BYTES)));

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

type Dtype = 'float32' | 'int16';
type Frame = Float32Array | Int16Array;

interface RunResult {
  events: number;
  frames: number;
  /** Events lost to Int16 saturation. */
  saturated: number;
  /** Copies of every frame, when asked to keep them (the cell-for-cell check). */
  kept?: Frame[];
}

let width = 0;
let height = 0;

/** The RxJS pipeline. */
function pipelineOnce(dtype: Dtype, keep = false): Promise<RunResult> {
  return new Promise((res, rej) => {
    const size = 2 * width * height;
    const f32 = new Float32Array(dtype === 'float32' ? size : 0);
    const i16 = new Int16Array(dtype === 'int16' ? size : 0);
    const r: RunResult = { events: 0, frames: 0, saturated: 0, kept: keep ? [] : undefined };
    fromEventFile(FILE, { speed: 'max', chunkBytes: CHUNK_BYTES }).pipe(binByTime({ windowUs: WINDOW_US, width, height })).subscribe({
      next: (ts) => {
        const frame = dtype === 'float32' ? ts.toDense(f32) : (ts as EventTimestep).toDenseInt16(i16, r);
        r.events += (ts as EventTimestep).eventCount;
        r.frames++;
        if (r.kept) r.kept.push(frame.slice());
      },
      error: rej,
      complete: () => res(r),
    });
  });
}

/** Baseline: one hand loop over the file's words, counting into the current frame. */
async function baselineOnce(dtype: Dtype, keep = false): Promise<RunResult> {
  const bytes = await readFile(FILE);
  // Header: lines starting with '%'.
  let off = 0;
  while (off < bytes.length && bytes[off] === 0x25) {
    while (off < bytes.length && bytes[off] !== 0x0a) off++;
    off++;
  }
  const aligned = new Uint8Array(bytes.length - off);
  aligned.set(bytes.subarray(off));
  const words = new Uint32Array(aligned.buffer, 0, aligned.length >>> 2);
  const r: RunResult = { events: 0, frames: 0, saturated: 0, kept: keep ? [] : undefined };
  if (dtype === 'float32') countFloat32(words, r);
  else countInt16(words, r);
  return r;
}

// The two baseline loops are written out separately so each stays monomorphic in its frame type,
// as the pipeline's accumulateCounts and accumulateCountsInt16 are. One loop over either frame
// (saturating at Infinity for Float32) was measured 10-15% slower for both kinds (polymorphic
// element access): a slower baseline would flatter the pipeline's ratios, so keep the copies.
function countFloat32(words: Uint32Array, r: RunResult): void {
  const w = width;
  const hw = width * height;
  const frame = new Float32Array(2 * hw);
  let base = -1;
  let origin = -1;
  let end = 0;
  let inFrame = 0;
  for (let i = 0; i < words.length; i++) {
    const wd = words[i];
    const type = wd >>> 28;
    if (type < 2) {
      if (base < 0) continue;
      const t = base + ((wd >>> 22) & 63);
      if (origin < 0) {
        origin = t;
        end = t + WINDOW_US;
      }
      while (t >= end) {
        r.frames++;
        r.events += inFrame;
        if (r.kept) r.kept.push(frame.slice());
        frame.fill(0);
        inFrame = 0;
        end += WINDOW_US;
      }
      frame[type * hw + (wd & 0x7ff) * w + ((wd >>> 11) & 0x7ff)]++;
      inFrame++;
    } else if (type === 8) {
      base = (wd & 0x0fffffff) * 64;
    }
  }
}

function countInt16(words: Uint32Array, r: RunResult): void {
  const w = width;
  const hw = width * height;
  const frame = new Int16Array(2 * hw);
  let base = -1;
  let origin = -1;
  let end = 0;
  let inFrame = 0;
  let saturated = 0;
  for (let i = 0; i < words.length; i++) {
    const wd = words[i];
    const type = wd >>> 28;
    if (type < 2) {
      if (base < 0) continue;
      const t = base + ((wd >>> 22) & 63);
      if (origin < 0) {
        origin = t;
        end = t + WINDOW_US;
      }
      while (t >= end) {
        r.frames++;
        r.events += inFrame;
        if (r.kept) r.kept.push(frame.slice());
        frame.fill(0);
        inFrame = 0;
        end += WINDOW_US;
      }
      const k = type * hw + (wd & 0x7ff) * w + ((wd >>> 11) & 0x7ff);
      const v = frame[k];
      if (v === INT16_COUNT_MAX) saturated++;
      else frame[k] = v + 1;
      inFrame++;
    } else if (type === 8) {
      base = (wd & 0x0fffffff) * 64;
    }
  }
  r.saturated = saturated;
}

/** Per-run wall times (ms) of each path, interleaved, for about SECONDS each. */
async function timeRuns(paths: readonly (() => Promise<RunResult>)[]): Promise<number[][]> {
  const times = paths.map((): number[] => []);
  for (let i = 0; i < 3; i++) for (const p of paths) await p();
  const until = performance.now() + paths.length * SECONDS * 1000;
  while (performance.now() < until || times[0].length < 5) {
    for (let k = 0; k < paths.length; k++) {
      const t0 = performance.now();
      await paths[k]();
      times[k].push(performance.now() - t0);
    }
  }
  return times;
}

/** Fastest of `reps` runs of a synchronous step, in ms. */
function minTime(fn: () => void, reps = 40): number {
  for (let i = 0; i < 3; i++) fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Where the pipeline's time goes: decoding alone, binning alone and dense counting alone, on in-memory data. */
function components(): { decodeMs: number; binMs: number; binOrderedMs: number; denseMs: number; denseInt16Ms: number } {
  const bytes = new Uint8Array(readFileSync(FILE));
  const decode = (): EventBatch[] => {
    const d = createDecoder('evt2');
    const out: EventBatch[] = [];
    for (let i = 0; i < bytes.length; i += CHUNK_BYTES) out.push(d.write(bytes.subarray(i, i + CHUNK_BYTES)));
    out.push(d.end());
    return out;
  };
  const decodeMs = minTime(() => void decode());
  const all = concatBatches(decode());
  const binMs = minTime(() => void binEventsByTime(all, { windowUs: WINDOW_US, width, height }));
  // The same batch marked ordered, as the EVT 2.0 decoder marks its output (events/ordered-batches.ts).
  const marked = markOrdered({ t: all.t, x: all.x, y: all.y, p: all.p });
  const binOrderedMs = minTime(() => void binEventsByTime(marked, { windowUs: WINDOW_US, width, height }));
  const ts = binEventsByTime(all, { windowUs: WINDOW_US, width, height }).timesteps as EventTimestep[];
  const f32 = new Float32Array(2 * width * height);
  const denseMs = minTime(() => {
    for (const t of ts) t.toDense(f32);
  });
  const i16 = new Int16Array(2 * width * height);
  const denseInt16Ms = minTime(() => {
    for (const t of ts) t.toDenseInt16(i16);
  });
  return { decodeMs, binMs, binOrderedMs, denseMs, denseInt16Ms };
}

const median = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1];

function sameFrames(a: RunResult, b: RunResult): boolean {
  if (a.frames !== b.frames || a.events !== b.events || a.saturated !== b.saturated) return false;
  for (let k = 0; k < a.frames; k++) {
    const fa = a.kept?.[k] as Frame;
    const fb = b.kept?.[k] as Frame;
    if (fa.length !== fb.length) return false;
    for (let i = 0; i < fa.length; i++) if (fa[i] !== fb[i]) return false;
  }
  return true;
}

async function main(): Promise<void> {
  if (!existsSync(FILE)) {
    emit({ name: 'pipeline.skipped', value: 0, unit: 'none', reason: `missing ${FILE}` });
    return;
  }
  ({ width, height } = await probeGeometry(FILE));
  const check = await pipelineOnce('float32', true);
  const match = sameFrames(check, await baselineOnce('float32', true));
  const match16 = sameFrames(await pipelineOnce('int16', true), await baselineOnce('int16', true));
  const [tb, tp, tb16, tp16] = await timeRuns([
    () => baselineOnce('float32'), () => pipelineOnce('float32'), () => baselineOnce('int16'), () => pipelineOnce('int16'),
  ]);
  const n = check.events;
  const mev = (ms: number) => +(n / ms / 1e3).toFixed(2);
  const common = {
    file: FILE.replace(`${resolve(root, '..')}/`, '../'), windowUs: WINDOW_US, chunkBytes: CHUNK_BYTES, width, height,
    eventsPerRun: n, framesPerRun: check.frames, runs: tp.length,
  };
  const pair = (suffix: string, dtype: Dtype, base: number[], pipe: number[], framesMatch: boolean): void => {
    emit({ name: `pipeline.baseline_hand_loop${suffix}`, value: mev(Math.min(...base)), unit: 'Mevents/s', median: mev(median(base)), dtype, framesMatch, ...common });
    emit({
      name: `pipeline.rxjs_file_to_dense${suffix}`, value: mev(Math.min(...pipe)), unit: 'Mevents/s', median: mev(median(pipe)),
      baseline: mev(Math.min(...base)), ratio: +(Math.min(...base) / Math.min(...pipe)).toFixed(3),
      medianRatio: +(median(base) / median(pipe)).toFixed(3), target: 100, dtype, framesMatch, ...common,
    });
  };
  pair('', 'float32', tb, tp, match);
  pair('_int16', 'int16', tb16, tp16, match16);
  const c = components();
  emit({ name: 'pipeline.component_evt2_decode', value: mev(c.decodeMs), unit: 'Mevents/s', ms: +c.decodeMs.toFixed(3), note: `Evt2Decoder on in-memory bytes, ${CHUNK_BYTES >> 10} KiB chunks` });
  emit({ name: 'pipeline.component_bin_by_time', value: mev(c.binMs), unit: 'Mevents/s', ms: +c.binMs.toFixed(3), note: 'binEventsByTime on the decoded recording, order unknown (every t read)' });
  emit({ name: 'pipeline.component_bin_by_time_ordered', value: mev(c.binOrderedMs), unit: 'Mevents/s', ms: +c.binOrderedMs.toFixed(3), note: 'binEventsByTime on the same batch marked ordered, as decoders mark theirs (binary search)' });
  emit({ name: 'pipeline.component_to_dense', value: mev(c.denseMs), unit: 'Mevents/s', ms: +c.denseMs.toFixed(3), note: 'toDense of every timestep into one reused Float32 frame' });
  emit({ name: 'pipeline.component_to_dense_int16', value: mev(c.denseInt16Ms), unit: 'Mevents/s', ms: +c.denseInt16Ms.toFixed(3), note: 'toDenseInt16 of every timestep into one reused Int16 frame' });
  if (!match || !match16) process.exitCode = 1;
}

await main();
