/**
 * Decode throughput per format on the shared fixtures, through the streaming decoders with their
 * chunk handling (64 KiB chunks), next to a plain DataView loop over the same bytes measured in
 * the same run (the cost of merely touching the data with the simplest possible decoder).
 *
 * Two output modes, both real: `decode.<format>` is the default (every write returns fresh
 * memory the caller may keep: what a binning pipeline gets), `decode.<format>.borrowed` is
 * `reuseOutput: true` (each batch valid until the next write: what `spikestream info` and
 * `convert` use), for the decoders that implement it. The borrowed figure is the decoder's own
 * speed; the default one adds the allocation, page faults and GC of fresh output memory.
 *
 *   npx tsx bench/decode.ts [--seconds 1] [--only evt3,csv]
 *
 * Prints one JSON line per figure: { name, value, unit, mode, format, file, events, cpuValue, ... }.
 * `value` is events per wall-clock second (best slice); `cpuValue` per second of this process's
 * CPU time in the same slice, steadier when other processes share the cores.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { allocBatch, concatBatches } from '../src/events/batch.js';
import { createDecoder } from '../src/events/create-decoder.js';
import { encodeCsv } from '../src/events/csv.js';
import { detectFormat } from '../src/events/detect-format.js';
import type { EventFormat } from '../src/events/batch.js';
import { projectRoot } from './_root.js';

const root = projectRoot(import.meta.url);
const fixtures = resolve(root, '../shared/fixtures/events');
const CHUNK = 64 * 1024;
const argSeconds = process.argv.indexOf('--seconds');
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 1;
const argOnly = process.argv.indexOf('--only');
/** Formats to measure (all when not given). */
const ONLY = argOnly > 0 ? new Set(process.argv[argOnly + 1].split(',')) : undefined;

const FILES = [
  'expelliarmus/evt2_sample.raw',
  'expelliarmus/evt3_sample.raw',
  'tonic/sample.aedat4',
  'aer/chessboard.aedat',
  'tonic/sample_nmnist.bin',
  'tonic/sample_ncars.dat',
];

/** Decoders that implement `reuseOutput` (the others ignore it, so measuring them twice says nothing). */
const BORROWING: ReadonlySet<EventFormat> = new Set(['evt2', 'evt21', 'evt3', 'dat', 'csv']);

function decodeOnce(format: EventFormat, bytes: Uint8Array, reuseOutput = false): number {
  const dec = createDecoder(format, { reuseOutput });
  let n = 0;
  for (let i = 0; i < bytes.length; i += CHUNK) n += dec.write(bytes.subarray(i, i + CHUNK)).t.length;
  return n + dec.end().t.length;
}

/**
 * Baseline: one pass over the bytes as little-endian 32-bit words through a DataView, writing
 * EVT 2.0-style fields of every word into preallocated columns. No state, no validation.
 */
function dataViewLoop(bytes: Uint8Array): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = bytes.byteLength >>> 2;
  const out = allocBatch(words);
  const { t, x, y, p } = out;
  for (let i = 0; i < words; i++) {
    const w = dv.getUint32(i << 2, true);
    x[i] = (w >>> 11) & 0x7ff;
    y[i] = w & 0x7ff;
    p[i] = (w >>> 28) & 1;
    t[i] = (w >>> 22) & 0x3f;
  }
  return words;
}

const SLICES = 6;

/**
 * Items per second of each fn: the best of SLICES slices, the fns taking turns slice by slice so
 * that a decoder and its baseline see the same machine load (figures from runs minutes apart on a
 * shared machine are not comparable). Each fn runs about SECONDS in all, after one warm-up call.
 * `cpuPerS` is per second of process CPU time (all threads: GC helpers count) in the same slices.
 */
function rates(fns: readonly (() => number)[]): { perS: number; cpuPerS: number; items: number }[] {
  const out = fns.map((fn) => ({ perS: 0, cpuPerS: 0, items: fn() }));
  for (let slice = 0; slice < SLICES; slice++) {
    fns.forEach((fn, k) => {
      let total = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let el: number;
      do {
        out[k].items = fn();
        total += out[k].items;
        el = performance.now() - t0;
      } while (el < (SECONDS * 1000) / SLICES);
      const c = process.cpuUsage(c0);
      out[k].perS = Math.max(out[k].perS, total / (el / 1000));
      out[k].cpuPerS = Math.max(out[k].cpuPerS, total / ((c.user + c.system) / 1e6));
    });
  }
  return out;
}

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

if (!existsSync(fixtures)) {
  process.stderr.write(`bench/decode: ${fixtures} is missing; nothing to measure\n`);
  process.exit(0);
}

const inputs: { file: string; format: EventFormat; bytes: Uint8Array }[] = [];
for (const rel of FILES) {
  const path = resolve(fixtures, rel);
  if (!existsSync(path)) continue;
  const bytes = new Uint8Array(readFileSync(path));
  const d = detectFormat(bytes.subarray(0, 65536), rel);
  if (!d) throw new Error(`bench/decode: cannot detect ${rel}`);
  inputs.push({ file: rel, format: d.format, bytes });
}
// CSV has no fixture: encode real events with the project's CSV encoder. The EVT 2.0 sample gives
// realistic lines (a Gen3 sensor's 640x480 addresses, 8-digit microsecond times, ~19 bytes a line);
// the N-MNIST sample (34x34, short lines) stands in when it is missing.
const csvSource = inputs.find((i) => i.format === 'evt2') ?? inputs.find((i) => i.format === 'nmnist');
if (csvSource && (!ONLY || ONLY.has('csv'))) {
  const dec = createDecoder(csvSource.format);
  const b = concatBatches([dec.write(csvSource.bytes), dec.end()]);
  inputs.push({ file: `${csvSource.file} as CSV`, format: 'csv', bytes: encodeCsv(b) });
}

for (const { file, format, bytes } of inputs) {
  if (ONLY && !ONLY.has(format)) continue;
  const borrowing = BORROWING.has(format);
  const fns = [() => dataViewLoop(bytes), () => decodeOnce(format, bytes)];
  if (borrowing) fns.push(() => decodeOnce(format, bytes, true));
  const [base, ...rs] = rates(fns);
  const baseBytesPerS = base.perS * 4;
  const m = (v: number) => +(v / 1e6).toFixed(2);
  rs.forEach((r, k) => {
    // Same bytes: compare bytes per second, so formats with different bytes/event compare fairly.
    const bytesPerS = (r.perS * bytes.length) / r.items;
    emit({
      name: `decode.${format}${k === 1 ? '.borrowed' : ''}`, value: m(r.perS), unit: 'Mevents/s', cpuValue: m(r.cpuPerS),
      mode: k === 1 ? 'borrowed (reuseOutput: batch valid until the next write)' : 'fresh (default: batches may be kept)',
      format, file, events: r.items, bytes: bytes.length, mbPerS: +(bytesPerS / 1e6).toFixed(1),
      ratio: +(bytesPerS / baseBytesPerS).toFixed(3), ratioMeaning: 'bytes/s over the DataView baseline\'s bytes/s in the same run',
      ...(borrowing && k === 0 ? { borrowedRatio: +(rs[0].perS / rs[1].perS).toFixed(3) } : {}),
    });
  });
  const bytesPerS = (rs[0].perS * bytes.length) / rs[0].items;
  emit({ name: `decode.${format}.dataview_baseline`, value: m(base.perS), unit: 'Mwords/s', cpuValue: m(base.cpuPerS), format, file, mbPerS: +(baseBytesPerS / 1e6).toFixed(1), ratio: +(bytesPerS / baseBytesPerS).toFixed(3), ratioMeaning: 'decoder (default mode) bytes/s over baseline bytes/s' });
}
