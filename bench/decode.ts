/**
 * Decode throughput per format on the shared fixtures, through the streaming decoders with their
 * chunk handling (64 KiB chunks), next to a plain DataView loop over the same bytes measured in
 * the same run (the cost of merely touching the data with the simplest possible decoder).
 *
 *   npx tsx bench/decode.ts [--seconds 1]
 *
 * Prints one JSON line per figure: { name, value, unit, format, file, events, baseline, ratio }.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { allocBatch } from '../src/events/batch.js';
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

const FILES = [
  'expelliarmus/evt2_sample.raw',
  'expelliarmus/evt3_sample.raw',
  'tonic/sample.aedat4',
  'aer/chessboard.aedat',
  'tonic/sample_nmnist.bin',
  'tonic/sample_ncars.dat',
];

function decodeOnce(format: EventFormat, bytes: Uint8Array): number {
  const dec = createDecoder(format);
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

/** Runs fn repeatedly for about SECONDS and returns items per second (best of 3 slices). */
function rate(fn: () => number): { perS: number; items: number } {
  let items = fn(); // warm-up
  let best = 0;
  for (let slice = 0; slice < 3; slice++) {
    let total = 0;
    const t0 = performance.now();
    let el: number;
    do {
      items = fn();
      total += items;
      el = performance.now() - t0;
    } while (el < (SECONDS * 1000) / 3);
    best = Math.max(best, total / (el / 1000));
  }
  return { perS: best, items };
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
// CSV has no fixture: encode the N-MNIST sample's events as text.
const nm = inputs.find((i) => i.format === 'nmnist');
if (nm) {
  const dec = createDecoder('nmnist');
  const b = dec.write(nm.bytes);
  inputs.push({ file: 'tonic/sample_nmnist.bin as CSV', format: 'csv', bytes: encodeCsv(b) });
}

for (const { file, format, bytes } of inputs) {
  const base = rate(() => dataViewLoop(bytes));
  const r = rate(() => decodeOnce(format, bytes));
  const mev = r.perS / 1e6;
  // Same bytes: compare bytes per second, so formats with different bytes/event compare fairly.
  const bytesPerS = (r.perS * bytes.length) / r.items;
  const baseBytesPerS = base.perS * 4;
  emit({ name: `decode.${format}`, value: +mev.toFixed(2), unit: 'Mevents/s', format, file, events: r.items, bytes: bytes.length, mbPerS: +(bytesPerS / 1e6).toFixed(1) });
  emit({ name: `decode.${format}.dataview_baseline`, value: +(base.perS / 1e6).toFixed(2), unit: 'Mwords/s', format, file, mbPerS: +(baseBytesPerS / 1e6).toFixed(1), ratio: +(bytesPerS / baseBytesPerS).toFixed(3), ratioMeaning: 'decoder bytes/s over baseline bytes/s' });
}
