/**
 * The recordings the demo replays, decoded once at start: a folder with `labels.csv` (columns
 * `file` and `label`, as the project's synthesiser writes it) or, without one, every event file
 * under the folder (no labels). The package's default is fixtures/nmnist-synth, ten synthetic
 * N-MNIST digits the project generates itself (fixtures/README.md).
 *
 * Everything is held in memory so the loop never touches the disk again; the limits bound that
 * memory and are checked before each file is decoded (bytes) and after (events).
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventBatch } from '../../events/batch.js';
import { readEventFile } from '../../events/open-event-file.js';
import { ServeConfigError } from '../serve-config-error.js';

/** fixtures/nmnist-synth of the package (src/serve/demo and dist/serve/demo are three levels below the root). */
export const DEFAULT_DEMO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/nmnist-synth');

export interface DemoRecordingLimits {
  /** Recordings loaded at most. */
  readonly maxRecordings: number;
  /** Total size of the files decoded (bytes). */
  readonly maxBytes: number;
  /** Total events held in memory (13 bytes each). */
  readonly maxEvents: number;
}

export const DEFAULT_DEMO_RECORDING_LIMITS: DemoRecordingLimits = Object.freeze({
  maxRecordings: 1000,
  maxBytes: 64 << 20,
  maxEvents: 4_000_000,
});

export interface DemoRecording {
  /** Path relative to the folder. */
  readonly file: string;
  /** Ground truth from labels.csv, if any. */
  readonly label?: string;
  readonly events: EventBatch;
  /** Smallest and largest timestamp (recordings may step backwards). */
  readonly tMin: number;
  readonly tMax: number;
}

export interface DemoSet {
  readonly dir: string;
  readonly recordings: readonly DemoRecording[];
  /** Sensor size covering every recording. */
  readonly width: number;
  readonly height: number;
}

/** Extensions of the formats spikestream decodes (labels.csv is the index, not a recording). */
const EVENT_EXTENSIONS = new Set(['.bin', '.aedat', '.aedat4', '.raw', '.dat']);

/** Loads a demo folder; errors name the folder and what is wrong with it. */
export async function loadDemoSet(dir: string, l: Partial<DemoRecordingLimits> = {}): Promise<DemoSet> {
  const limits = { ...DEFAULT_DEMO_RECORDING_LIMITS, ...l };
  const root = resolve(dir);
  if (!existsSync(root) || !(await stat(root)).isDirectory()) throw new ServeConfigError(`demo: ${root} is not a folder of recordings`);
  const listed = existsSync(join(root, 'labels.csv')) ? await fromLabels(root) : (await findEventFiles(root, limits.maxRecordings)).map((file) => ({ file, label: undefined }));
  if (listed.length === 0) throw new ServeConfigError(`demo: no recordings in ${root} (expected labels.csv or files ending in ${[...EVENT_EXTENSIONS].join(' ')})`);
  if (listed.length > limits.maxRecordings) throw new ServeConfigError(`demo: ${root} lists ${listed.length} recordings, more than ${limits.maxRecordings} (limit maxRecordings)`);
  const recordings: DemoRecording[] = [];
  let bytes = 0;
  let events = 0;
  let width = 0;
  let height = 0;
  for (const { file, label } of listed) {
    const path = resolve(root, file);
    if (!path.startsWith(root + sep)) throw new ServeConfigError(`demo: ${file} in labels.csv is outside ${root}`);
    if (!existsSync(path)) throw new ServeConfigError(`demo: ${file} is listed in labels.csv but missing from ${root}`);
    bytes += (await stat(path)).size;
    if (bytes > limits.maxBytes) throw new ServeConfigError(`demo: the recordings in ${root} exceed ${limits.maxBytes} bytes (limit maxBytes) at ${file}`);
    let decoded;
    try {
      decoded = await readEventFile(path);
    } catch (e) {
      throw new ServeConfigError(`demo: ${(e as Error).message}`);
    }
    const ev = decoded.events;
    events += ev.t.length;
    if (events > limits.maxEvents) throw new ServeConfigError(`demo: the recordings in ${root} hold more than ${limits.maxEvents} events (limit maxEvents) at ${file}`);
    if (ev.t.length === 0) continue;
    let tMin = Infinity;
    let tMax = -Infinity;
    for (let i = 0; i < ev.t.length; i++) {
      const t = ev.t[i];
      if (t < tMin) tMin = t;
      if (t > tMax) tMax = t;
    }
    width = Math.max(width, decoded.meta.width);
    height = Math.max(height, decoded.meta.height);
    recordings.push({ file: relative(root, path), ...(label !== undefined ? { label } : {}), events: ev, tMin, tMax });
  }
  if (recordings.length === 0) throw new ServeConfigError(`demo: every recording in ${root} is empty`);
  return { dir: root, recordings, width, height };
}

/** labels.csv: a header naming `file` and `label` columns, then one row per recording. */
async function fromLabels(root: string): Promise<{ file: string; label: string }[]> {
  const text = await readFile(join(root, 'labels.csv'), 'utf8');
  const lines = text.split(/\r?\n/).filter((s) => s.trim() !== '');
  const head = (lines[0] ?? '').split(',').map((s) => s.trim());
  const fi = head.indexOf('file');
  const li = head.indexOf('label');
  if (fi < 0 || li < 0) throw new ServeConfigError(`demo: ${join(root, 'labels.csv')} needs a header with "file" and "label" columns, got "${lines[0] ?? ''}"`);
  return lines.slice(1).map((line, i) => {
    const cols = line.split(',').map((s) => s.trim());
    if (cols.length <= Math.max(fi, li) || cols[fi] === '') throw new ServeConfigError(`demo: ${join(root, 'labels.csv')} line ${i + 2} has no file or label: "${line}"`);
    return { file: cols[fi], label: cols[li] };
  });
}

/** Event files under `root`, sorted, stopping once more than `max` are found. */
async function findEventFiles(root: string, max: number): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 8 || out.length > max) return;
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (out.length > max) return;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile() && EVENT_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(relative(root, p));
    }
  };
  await walk(root, 0);
  return out;
}
