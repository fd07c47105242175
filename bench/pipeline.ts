/**
 * Pipeline throughput at speed 'max': file -> EVT 2.0 decode -> binByTime -> dense (2, H, W)
 * frames, through the RxJS operators (fromEventFile, binByTime, Timestep.toDense into one reused
 * buffer), next to a plain-loop baseline measured in the same run: read the file, decode the
 * words and count each event straight into the current frame in one hand-written loop.
 *
 *   npx tsx bench/pipeline.ts [--seconds 1] [--window-us 10000] [--file PATH]
 *
 * Before timing, both paths' frames are compared cell for cell (`"framesMatch"` in the output).
 * Runs of the two paths are interleaved for about SECONDS each; the machine is shared, so figures
 * use each path's fastest run (least disturbed), with the median run alongside. Prints one JSON
 * line per figure: { name, value, unit, ... } with the ratio pipeline / baseline.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { concatBatches, type EventBatch } from '../src/events/batch.js';
import { createDecoder } from '../src/events/create-decoder.js';
import { binByTime, binEventsByTime } from '../src/stream/bin-by-time.js';
import type { EventTimestep } from '../src/stream/event-timestep.js';
import { fromEventFile } from '../src/stream/from-event-file.js';
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

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

interface RunResult {
  events: number;
  frames: number;
  /** Per frame, a cheap fingerprint (sum of index-weighted counts); full frames when `keep`. */
  kept?: Float32Array[];
}

let width = 0;
let height = 0;

/** The RxJS pipeline. */
function pipelineOnce(keep = false): Promise<RunResult> {
  return new Promise((res, rej) => {
    let out: Float32Array | undefined;
    const r: RunResult = { events: 0, frames: 0, kept: keep ? [] : undefined };
    fromEventFile(FILE, { speed: 'max' }).pipe(binByTime({ windowUs: WINDOW_US, width, height })).subscribe({
      next: (ts) => {
        out ??= new Float32Array(2 * ts.width * ts.height);
        ts.toDense(out);
        r.events += (ts as EventTimestep).eventCount;
        r.frames++;
        if (r.kept) r.kept.push(out.slice());
      },
      error: rej,
      complete: () => res(r),
    });
  });
}

/** Baseline: one hand loop over the file's words, counting into the current frame. */
async function baselineOnce(keep = false): Promise<RunResult> {
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
  const w = width;
  const hw = width * height;
  const frame = new Float32Array(2 * hw);
  const r: RunResult = { events: 0, frames: 0, kept: keep ? [] : undefined };
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
  return r;
}

/** Per-run wall times (ms) of the two paths, interleaved, for about SECONDS each. */
async function timeRuns(a: () => Promise<RunResult>, b: () => Promise<RunResult>): Promise<[number[], number[]]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < 3; i++) {
    await a();
    await b();
  }
  const until = performance.now() + 2 * SECONDS * 1000;
  while (performance.now() < until || ta.length < 5) {
    let t0 = performance.now();
    await a();
    ta.push(performance.now() - t0);
    t0 = performance.now();
    await b();
    tb.push(performance.now() - t0);
  }
  return [ta, tb];
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

/** Where the pipeline's time goes: decoding alone, and dense counting alone, on in-memory data. */
function components(): { decodeMs: number; binMs: number; denseMs: number } {
  const bytes = new Uint8Array(readFileSync(FILE));
  const CH = 1 << 20;
  const decode = (): EventBatch[] => {
    const d = createDecoder('evt2');
    const out: EventBatch[] = [];
    for (let i = 0; i < bytes.length; i += CH) out.push(d.write(bytes.subarray(i, i + CH)));
    out.push(d.end());
    return out;
  };
  const decodeMs = minTime(() => void decode());
  const all = concatBatches(decode());
  const binMs = minTime(() => void binEventsByTime(all, { windowUs: WINDOW_US, width, height }));
  const ts = binEventsByTime(all, { windowUs: WINDOW_US, width, height }).timesteps;
  const frame = new Float32Array(2 * width * height);
  const denseMs = minTime(() => {
    for (const t of ts) t.toDense(frame);
  });
  return { decodeMs, binMs, denseMs };
}

const median = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1];

async function main(): Promise<void> {
  if (!existsSync(FILE)) {
    emit({ name: 'pipeline.skipped', value: 0, unit: 'none', reason: `missing ${FILE}` });
    return;
  }
  ({ width, height } = await probeGeometry(FILE));
  const check = await pipelineOnce(true);
  const hand = await baselineOnce(true);
  let match = check.frames === hand.frames && check.events === hand.events;
  for (let k = 0; match && k < check.frames; k++) {
    const a = check.kept?.[k] as Float32Array;
    const b = hand.kept?.[k] as Float32Array;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { match = false; break; }
  }
  const [tb, tp] = await timeRuns(() => baselineOnce(), () => pipelineOnce());
  const n = check.events;
  const mev = (ms: number) => +(n / ms / 1e3).toFixed(2);
  const base = Math.min(...tb);
  const pipe = Math.min(...tp);
  const common = {
    file: FILE.replace(`${resolve(root, '..')}/`, '../'), windowUs: WINDOW_US, width, height, eventsPerRun: n, framesPerRun: check.frames,
    framesMatch: match, runs: tp.length,
  };
  emit({ name: 'pipeline.baseline_hand_loop', value: mev(base), unit: 'Mevents/s', median: mev(median(tb)), ...common });
  emit({
    name: 'pipeline.rxjs_file_to_dense', value: mev(pipe), unit: 'Mevents/s', median: mev(median(tp)), baseline: mev(base),
    ratio: +(base / pipe).toFixed(3), medianRatio: +(median(tb) / median(tp)).toFixed(3), target: 100, ...common,
  });
  const c = components();
  emit({ name: 'pipeline.component_evt2_decode', value: mev(c.decodeMs), unit: 'Mevents/s', ms: +c.decodeMs.toFixed(3), note: 'Evt2Decoder on in-memory bytes, 1 MiB chunks' });
  emit({ name: 'pipeline.component_bin_by_time', value: mev(c.binMs), unit: 'Mevents/s', ms: +c.binMs.toFixed(3), note: 'binEventsByTime on the decoded recording' });
  emit({ name: 'pipeline.component_to_dense', value: mev(c.denseMs), unit: 'Mevents/s', ms: +c.denseMs.toFixed(3), note: 'toDense of every timestep into one reused frame' });
  if (!match) process.exitCode = 1;
}

await main();
