/**
 * Synthetic-vs-real N-MNIST comparison: statistics of one or two folders in the N-MNIST layout,
 * optionally with the digit-registration path (which needs each recording's source digit: from
 * a synthetic folder's manifest.json, or from a labels.csv with an `mnist_index` column as in
 * ../shared/fixtures/nmnist-real), and a plain-text table putting them side by side.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { iterateSamples } from './iterate-samples.js';
import { digitPixels, loadMnistDigits, type DigitRef } from './mnist-digits.js';
import { openNmnistDataset } from './nmnist-dataset.js';
import { registerDigit } from './nmnist-register.js';
import { NmnistStats, type Dist, type NmnistStatsSummary } from './nmnist-stats.js';
import type { SynthManifest } from './nmnist-synth.js';

export interface FolderStatsOptions {
  /** Use at most this many recordings, spread evenly over the folder (default all). */
  readonly limit?: number;
  /** Also register each recording against its source digit (needs digit identities). */
  readonly register?: boolean;
  readonly registerWindowUs?: number;
}

export interface RegistrationPoint {
  readonly tUs: number;
  /** Mean offset of the digit's top-left corner over recordings registered in this window. */
  readonly x: number;
  readonly y: number;
  readonly recordings: number;
}

export interface FolderStats {
  readonly root: string;
  readonly summary: NmnistStatsSummary;
  readonly registration?: readonly RegistrationPoint[];
}

/**
 * Source digit of each recording, keyed by path relative to the root with '/' separators, or an
 * empty map when the folder does not say.
 */
export async function digitRefsForFolder(root: string): Promise<Map<string, DigitRef>> {
  const refs = new Map<string, DigitRef>();
  const manifestPath = join(root, 'manifest.json');
  if (existsSync(manifestPath)) {
    const m = JSON.parse(await readFile(manifestPath, 'utf8')) as SynthManifest;
    for (const s of m.samples ?? []) refs.set(s.file, { label: s.label, index: s.mnistClassIndex });
    return refs;
  }
  const csvPath = join(root, 'labels.csv');
  if (!existsSync(csvPath)) return refs;
  const lines = (await readFile(csvPath, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== '');
  const head = lines[0].split(',').map((h) => h.trim());
  const fi = head.indexOf('file');
  const li = head.indexOf('label');
  const mi = head.indexOf('mnist_index');
  if (fi < 0 || li < 0 || mi < 0) return refs;
  // MNIST training-set indices -> index within class: the package keeps each class in MNIST order,
  // so a digit's rank among same-class digits of lower MNIST index is its package index.
  const rows = lines.slice(1).map((l) => l.split(',')).map((c) => ({ file: c[fi].trim(), label: Number(c[li]), m: Number(c[mi]) }));
  rows.sort((a, b) => a.m - b.m);
  const seen = new Map<number, number>();
  for (const r of rows) {
    const k = seen.get(r.label) ?? 0;
    seen.set(r.label, k + 1);
    refs.set(r.file, { label: r.label, index: k });
  }
  return refs;
}

export async function collectFolderStats(root: string, o: FolderStatsOptions = {}): Promise<FolderStats> {
  const ds = await openNmnistDataset({ root, split: 'all' });
  const n = ds.length;
  const limit = Math.min(n, o.limit ?? n);
  const indices = Array.from({ length: limit }, (_, k) => Math.floor((k * n) / limit));
  const stats = new NmnistStats();
  const windowUs = o.registerWindowUs ?? 5000;
  const nW = Math.ceil(320_000 / windowUs);
  const acc = o.register ? { x: new Float64Array(nW), y: new Float64Array(nW), n: new Float64Array(nW) } : null;
  const refs = acc ? await digitRefsForFolder(root) : new Map<string, DigitRef>();
  if (acc && refs.size === 0) throw new Error(`${root}: no manifest.json or labels.csv with mnist_index, so the source digits (needed for --register) are unknown`);
  const digits = acc ? await loadMnistDigits() : null;
  for await (const s of iterateSamples(ds, { indices, concurrency: 8 })) {
    stats.add(s.events);
    if (acc && digits) {
      const ref = refs.get(relative(root, s.meta.source.file).split(sep).join('/'));
      if (!ref) continue;
      const g = registerDigit(s.events, digitPixels(digits, ref), { windowUs });
      for (let w = 0; w < nW; w++) {
        if (Number.isNaN(g.x[w])) continue;
        acc.x[w] += g.x[w];
        acc.y[w] += g.y[w];
        acc.n[w]++;
      }
    }
  }
  const registration = acc
    ? Array.from({ length: nW }, (_, w) => ({ tUs: (w + 0.5) * windowUs, x: acc.x[w] / acc.n[w], y: acc.y[w] / acc.n[w], recordings: acc.n[w] })).filter((p) => p.recordings > 0)
    : undefined;
  return { root, summary: stats.summary(), registration };
}

const PER_SAMPLE_ROWS: [string, string, number][] = [
  ['events', 'events per sample', 0],
  ['durationMs', 'duration (ms)', 1],
  ['firstEventMs', 'first event (ms)', 2],
  ['lastEventMs', 'last event (ms)', 1],
  ['onFraction', 'ON fraction', 3],
  ['saccade1Events', 'saccade 1 events (0-90 ms)', 0],
  ['saccade2Events', 'saccade 2 events (90-224 ms)', 0],
  ['saccade3Events', 'saccade 3 events (224 ms-)', 0],
  ['saccade1OnFraction', 'saccade 1 ON fraction', 3],
  ['saccade2OnFraction', 'saccade 2 ON fraction', 3],
  ['saccade3OnFraction', 'saccade 3 ON fraction', 3],
  ['activePixels', 'active pixels', 0],
  ['eventsPerActivePixel', 'events per active pixel', 2],
  ['spreadX', 'spatial spread x (std, px)', 2],
  ['spreadY', 'spatial spread y (std, px)', 2],
];

function fmtDist(d: Dist | undefined, digits: number): string {
  if (!d) return '-';
  const f = (v: number) => v.toFixed(digits);
  return `${f(d.median)} [${f(d.p5)}, ${f(d.p95)}]`;
}

/** Side-by-side text table; `real` may be absent (synthetic statistics alone). */
export function formatComparison(synth: FolderStats, real?: FolderStats): string {
  const cols = real ? ['real', 'synthetic'] : ['synthetic'];
  const sets = real ? [real, synth] : [synth];
  const W = 30;
  const lines: string[] = [];
  lines.push(`samples: ${sets.map((s, k) => `${cols[k]} ${s.summary.samples} (${s.root})`).join(', ')}`);
  lines.push('per sample: median [5th, 95th percentile]');
  lines.push(['figure'.padEnd(30), ...cols.map((c) => c.padEnd(W))].join(' '));
  for (const [key, name, digits] of PER_SAMPLE_ROWS) {
    lines.push([name.padEnd(30), ...sets.map((s) => fmtDist(s.summary.perSample[key], digits).padEnd(W))].join(' '));
  }
  lines.push('pooled over all events');
  for (const key of Object.keys(synth.summary.pooled)) {
    lines.push([key.padEnd(30), ...sets.map((s) => (s.summary.pooled[key] ?? NaN).toFixed(3).padEnd(W))].join(' '));
  }
  for (const s of sets) {
    const hp = s.summary.hotPixels.map((h) => `(${h.x},${h.y}) ${h.perSample.toFixed(1)}/sample ON ${h.on.toFixed(2)}`).join('; ');
    lines.push(`hot pixels ${s === synth ? 'synthetic' : 'real'}: ${hp || 'none'}`);
  }
  lines.push('profile per 10 ms: events per sample | ON fraction | centroid dx, dy | ON-OFF centroid x, y');
  const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  for (let k = 0; k < synth.summary.profile.length; k++) {
    const row = [`${String(synth.summary.profile[k].tUs / 1000).padStart(4)} ms`];
    for (const s of sets) {
      const p = s.summary.profile[k];
      row.push(`${f(p.events, 0).padStart(5)} ${f(p.on)} ${f(p.dx).padStart(6)} ${f(p.dy).padStart(6)} ${f(p.onOffX).padStart(6)} ${f(p.onOffY).padStart(6)}`.padEnd(44));
    }
    lines.push(row.join(' | '));
  }
  if (synth.registration && (!real || real.registration)) {
    lines.push('digit position (top-left corner, px) registered against the source digit, mean over recordings');
    const byT = new Map<number, string[]>();
    sets.forEach((s, k) => {
      for (const p of s.registration ?? []) {
        const row = byT.get(p.tUs) ?? sets.map(() => '-'.padEnd(22));
        row[k] = `${p.x.toFixed(2)} ${p.y.toFixed(2)} (n=${p.recordings})`.padEnd(22);
        byT.set(p.tUs, row);
      }
    });
    for (const t of [...byT.keys()].sort((a, b) => a - b)) lines.push(`${(t / 1000).toFixed(1).padStart(6)} ms  ${(byT.get(t) as string[]).join(' | ')}`);
  }
  return lines.join('\n');
}
