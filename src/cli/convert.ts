/**
 * `spikestream convert IN OUT`: streams a recording into another format, chosen by OUT's
 * extension (or --to). Written to a temporary file and renamed, so OUT is never half-written.
 */
import { open, rename, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { EventFormat } from '../events/batch.js';
import { createEncoder, outputFormatFor, OUTPUT_FORMATS, type OutputFormat } from '../events/create-encoder.js';
import { openEventFile } from '../events/open-event-file.js';
import { CliError } from './errors.js';
import { parseFormat, parsePositiveInt } from './parse.js';

export interface ConvertOptions {
  to?: OutputFormat;
  format?: EventFormat;
  width?: number;
  height?: number;
}

export interface ConvertResult {
  events: number;
  bytes: number;
  to: OutputFormat;
  width: number;
  height: number;
}

/** Sensor size for the output header: the input header's, else the options', else a first pass over the events. */
async function geometryOf(input: string, o: ConvertOptions): Promise<{ width: number; height: number }> {
  const probe = await openEventFile(input, { format: o.format, width: o.width, height: o.height, decoder: { reuseOutput: true } });
  try {
    const m0 = probe.meta();
    if (m0.geometry === 'header' || m0.geometry === 'option') return { width: m0.width, height: m0.height };
    for await (const _ of probe) { /* one pass to find the largest coordinates */ }
    const m = probe.meta();
    return { width: Math.max(1, m.width), height: Math.max(1, m.height) };
  } finally {
    await probe.close();
  }
}

export async function convertFile(input: string, output: string, o: ConvertOptions = {}): Promise<ConvertResult> {
  const to = o.to ?? outputFormatFor(output);
  if (!to) throw new CliError(`${output}: cannot tell the output format from the extension (use .csv, .raw (EVT 3.0), .bin (N-MNIST) or --to)`);
  const geometry = to === 'csv' ? { width: 0, height: 0 } : await geometryOf(input, o);
  // Borrowed batches: each is encoded (into new bytes) inside the loop body and never kept.
  const stream = await openEventFile(input, { format: o.format, width: o.width, height: o.height, decoder: { reuseOutput: true } });
  const encoder = createEncoder(to, geometry);
  const tmp = `${output}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  let events = 0;
  let bytes = 0;
  try {
    for await (const b of stream) {
      let out: Uint8Array;
      try {
        out = encoder.write(b);
      } catch (e) {
        throw new CliError(`${output}: cannot encode as ${to}: ${(e as Error).message}`);
      }
      await fh.write(out);
      events += b.t.length;
      bytes += out.length;
    }
    // An empty recording still gets its header.
    if (events === 0) {
      const head = encoder.write({ t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0) });
      await fh.write(head);
      bytes += head.length;
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, output);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  return { events, bytes, to, ...geometry };
}

function parseOutputFormat(v: string): OutputFormat {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown output format "${v}" (one of ${OUTPUT_FORMATS.join(', ')})`);
  return v as OutputFormat;
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('Convert a recording to another format, chosen by the output extension: .csv (t,x,y,p), .raw (EVT 3.0), .bin (N-MNIST ATIS)')
    .argument('<in>', 'input recording (any supported format)')
    .argument('<out>', 'output file')
    .option('--to <format>', `output format, overriding the extension (${OUTPUT_FORMATS.join(', ')})`, parseOutputFormat)
    .option('--format <format>', 'skip detection and decode the input as this format', parseFormat)
    .option('--width <n>', 'sensor width when the input does not declare it', parsePositiveInt)
    .option('--height <n>', 'sensor height when the input does not declare it', parsePositiveInt)
    .action(async (input: string, output: string, o: ConvertOptions) => {
      const r = await convertFile(input, output, o);
      process.stderr.write(`wrote ${r.events.toLocaleString('en-US')} events to ${output} (${r.to}${r.to === 'csv' ? '' : `, ${r.width}x${r.height}`}, ${r.bytes.toLocaleString('en-US')} bytes)\n`);
    });
}
