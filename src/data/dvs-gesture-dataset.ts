/**
 * IBM DVS128 Gesture on disk (the DvsGesture/ folder of the original download): recordings
 * `user<NN>_<lighting>.aedat` (AEDAT 3.1, 128x128) with `user<NN>_<lighting>_labels.csv` listing
 * `class,startTime_usec,endTime_usec` (classes 1-11). One sample per labelled segment: the events
 * with start <= t < end, label class - 1 (as SpikingJelly and tonic do).
 *
 * Train/test follow `trials_to_train.txt` / `trials_to_test.txt` when present, else the official
 * split by subject (users 1-23 train, 24-29 test).
 *
 * A recording holds a dozen segments; decoding it once per segment would read it a dozen times, so
 * a small cache keeps the segments of the most recently decoded recordings (they are fetched in
 * order, so consecutive segments share one decode). Files are decoded with a bounded number in flight.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BatchBuilder, type EventBatch } from '../events/batch.js';
import { openEventFile } from '../events/open-event-file.js';
import { checkIndex, type Dataset, type Sample, type SampleSource } from './dataset.js';
import { byNumericName } from './nmnist-dataset.js';
import { Semaphore } from './semaphore.js';

/** Class names of gesture_mapping.csv, in class order 1-11. */
export const DVS_GESTURE_CLASSES: readonly string[] = Object.freeze([
  'hand_clapping', 'right_hand_wave', 'left_hand_wave', 'right_arm_clockwise', 'right_arm_counter_clockwise',
  'left_arm_clockwise', 'left_arm_counter_clockwise', 'arm_roll', 'air_drums', 'air_guitar', 'other_gestures',
]);

export interface DvsGestureOptions {
  /** The folder holding the .aedat and _labels.csv files (or its parent with a DvsGesture/ folder). */
  readonly root: string;
  readonly split?: 'train' | 'test' | 'all';
  /** Recordings whose segments are kept decoded (default 2). */
  readonly maxCachedRecordings?: number;
  /** Files being decoded at once (default 2; recordings are large). */
  readonly maxOpenFiles?: number;
}

interface Segment {
  readonly file: string;
  readonly label: number;
  readonly start: number;
  readonly end: number;
  /** Position among the recording's segments. */
  readonly k: number;
}

const USER_RE = /^user(\d+)_.*\.aedat$/i;

/** Parses a DVS Gesture labels file: header line, then class,start,end (comma, tab or spaces). */
export function parseGestureLabels(text: string, origin: string): { label: number; start: number; end: number }[] {
  const rows: { label: number; start: number; end: number }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, n) => {
    const s = line.trim();
    if (s === '' || (n === 0 && /[a-z]/i.test(s))) return;
    const f = s.split(/[,\t ]+/).map(Number);
    if (f.length < 3 || f.some((v) => !Number.isFinite(v))) throw new Error(`${origin}:${n + 1}: expected class,startTime_usec,endTime_usec, got "${s}"`);
    const [cls, start, end] = f;
    if (!Number.isInteger(cls) || cls < 1 || cls > DVS_GESTURE_CLASSES.length) throw new Error(`${origin}:${n + 1}: class ${cls} is not in 1-${DVS_GESTURE_CLASSES.length}`);
    if (!(end > start)) throw new Error(`${origin}:${n + 1}: endTime_usec ${end} is not after startTime_usec ${start}`);
    rows.push({ label: cls - 1, start, end });
  });
  return rows;
}

export class DvsGestureDataset implements Dataset {
  readonly name: string;
  readonly labels = DVS_GESTURE_CLASSES;
  readonly width = 128;
  readonly height = 128;
  private readonly sem: Semaphore;
  /** file -> events of each of its segments (insertion order = recency). */
  private readonly cache = new Map<string, Promise<EventBatch[]>>();
  private readonly maxCached: number;

  constructor(readonly root: string, private readonly segments: readonly Segment[], private readonly byFile: ReadonlyMap<string, readonly Segment[]>, o: DvsGestureOptions) {
    this.name = `dvs-gesture(${root}, ${o.split ?? 'train'})`;
    this.sem = new Semaphore(o.maxOpenFiles ?? 2);
    this.maxCached = Math.max(1, o.maxCachedRecordings ?? 2);
  }

  get length(): number {
    return this.segments.length;
  }

  label(i: number): number {
    checkIndex(this, i);
    return this.segments[i].label;
  }

  source(i: number): SampleSource {
    checkIndex(this, i);
    const s = this.segments[i];
    return { file: s.file, tStartUs: s.start, tEndUs: s.end };
  }

  async get(i: number): Promise<Sample> {
    checkIndex(this, i);
    const s = this.segments[i];
    const events = (await this.recording(s.file))[s.k];
    return { events, label: s.label, meta: { index: i, source: this.source(i), width: this.width, height: this.height, className: this.labels[s.label] } };
  }

  private recording(file: string): Promise<EventBatch[]> {
    let p = this.cache.get(file);
    if (p) {
      this.cache.delete(file);
      this.cache.set(file, p);
      return p;
    }
    p = this.sem.run(() => this.decodeSegments(file));
    this.cache.set(file, p);
    p.catch(() => this.cache.delete(file));
    while (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value as string);
    return p;
  }

  /** One streaming pass over the file, routing each event to every segment that contains it. */
  private async decodeSegments(file: string): Promise<EventBatch[]> {
    const segs = this.byFile.get(file) ?? [];
    const builders = segs.map(() => new BatchBuilder());
    const stream = await openEventFile(file, { width: this.width, height: this.height });
    for await (const b of stream) {
      const { t } = b;
      for (let i = 0; i < t.length; i++) {
        const ti = t[i];
        for (let k = 0; k < segs.length; k++) if (ti >= segs[k].start && ti < segs[k].end) builders[k].push(ti, b.x[i], b.y[i], b.p[i]);
      }
    }
    return builders.map((bb) => bb.take());
  }
}

export async function openDvsGestureDataset(o: DvsGestureOptions): Promise<DvsGestureDataset> {
  let root = o.root;
  if (!(await readdir(root)).some((f) => USER_RE.test(f)) && existsSync(join(root, 'DvsGesture'))) root = join(root, 'DvsGesture');
  const all = (await readdir(root)).filter((f) => USER_RE.test(f)).sort(byNumericName);
  if (all.length === 0) throw new Error(`${o.root}: no user*_*.aedat recordings (expected the DvsGesture folder layout)`);
  const split = o.split ?? 'train';
  let chosen = all;
  if (split !== 'all') {
    const list = join(root, split === 'train' ? 'trials_to_train.txt' : 'trials_to_test.txt');
    if (existsSync(list)) {
      const names = new Set((await readFile(list, 'utf8')).split(/\r?\n/).map((l) => basename(l.trim())).filter(Boolean));
      chosen = all.filter((f) => names.has(f));
    } else {
      chosen = all.filter((f) => {
        const user = Number((USER_RE.exec(f) as RegExpExecArray)[1]);
        return split === 'train' ? user <= 23 : user >= 24;
      });
    }
  }
  const segments: Segment[] = [];
  const byFile = new Map<string, Segment[]>();
  for (const f of chosen) {
    const file = join(root, f);
    const csv = join(root, f.replace(/\.aedat$/i, '_labels.csv'));
    if (!existsSync(csv)) throw new Error(`${file}: its labels file ${basename(csv)} is missing`);
    const rows = parseGestureLabels(await readFile(csv, 'utf8'), csv);
    const segs = rows.map((r, k) => ({ file, label: r.label, start: r.start, end: r.end, k }));
    byFile.set(file, segs);
    segments.push(...segs);
  }
  return new DvsGestureDataset(root, segments, byFile, { ...o, split });
}
