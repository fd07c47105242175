/** `spikestream info FILE [--json]`: what a recording holds, decoded in one streaming pass. */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { EventFormat } from '../events/batch.js';
import { EMPTY_STATS, accumulateStats } from '../events/event-stats.js';
import { openEventFile } from '../events/open-event-file.js';
import { createProgress } from './progress.js';
import { parseFormat, parsePositiveInt } from './parse.js';

export interface InfoReport {
  file: string;
  format: EventFormat;
  detectedBy: string;
  width: number;
  height: number;
  geometry: string;
  events: number;
  tFirst: number | null;
  tLast: number | null;
  durationUs: number;
  meanRateEventsPerS: number;
  onFraction: number | null;
  backwardSteps: number;
  largestBackwardStepUs: number;
  skippedWords: number;
  skippedPackets: number;
  bytes: number;
  header: string[];
  details: Record<string, string | number | boolean>;
}

export async function infoReport(file: string, opts: { format?: EventFormat; width?: number; height?: number } = {}): Promise<InfoReport> {
  const size = (await stat(file)).size;
  // Borrowed batches: each is counted inside the loop body and never kept.
  const stream = await openEventFile(file, { format: opts.format, width: opts.width, height: opts.height, decoder: { reuseOutput: true } });
  const progress = size > 64 << 20 ? createProgress('info', size) : undefined;
  let s = EMPTY_STATS;
  for await (const b of stream) {
    s = accumulateStats(s, b);
    progress?.update(stream.info.bytes);
  }
  progress?.stop();
  const meta = stream.meta();
  const duration = s.count > 0 ? s.tMax - s.tMin : 0;
  return {
    file, format: stream.format, detectedBy: stream.detectedBy, width: meta.width, height: meta.height, geometry: meta.geometry,
    events: s.count, tFirst: s.count ? s.tFirst : null, tLast: s.count ? s.tLast : null, durationUs: duration,
    meanRateEventsPerS: duration > 0 ? (s.count / duration) * 1e6 : 0, onFraction: s.count ? s.on / s.count : null,
    backwardSteps: s.backwardSteps, largestBackwardStepUs: s.largestBackwardStep,
    skippedWords: stream.info.skippedWords, skippedPackets: stream.info.skippedPackets, bytes: stream.info.bytes,
    header: stream.info.headerLines, details: stream.info.details,
  };
}

export function formatInfo(r: InfoReport): string {
  const num = (v: number) => v.toLocaleString('en-US');
  const lines = [
    `file          ${r.file}`,
    `format        ${r.format} (detected by ${r.detectedBy})`,
    `sensor        ${r.width}x${r.height} (${r.geometry === 'inferred' ? 'inferred from the largest coordinate' : `from ${r.geometry}`})`,
    `events        ${num(r.events)}`,
    `first t       ${r.tFirst ?? '-'} us`,
    `last t        ${r.tLast ?? '-'} us`,
    `duration      ${num(r.durationUs)} us (${(r.durationUs / 1e6).toFixed(6)} s)`,
    `mean rate     ${num(Math.round(r.meanRateEventsPerS))} events/s`,
    `ON fraction   ${r.onFraction === null ? '-' : r.onFraction.toFixed(4)}`,
    `backward t    ${num(r.backwardSteps)} steps${r.backwardSteps ? ` (largest ${num(r.largestBackwardStepUs)} us)` : ''}`,
    `skipped       ${num(r.skippedWords)} words, ${num(r.skippedPackets)} packets`,
  ];
  for (const [k, v] of Object.entries(r.details)) lines.push(`${k.padEnd(14)}${String(v)}`);
  return lines.join('\n');
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('Decode a recording and summarise it: format, sensor size, events, time span, rate, backward time steps, skipped words')
    .argument('<file>', 'recording (.bin .aedat .aedat4 .raw .dat .csv .txt)')
    .option('--json', 'print one JSON object')
    .option('--format <format>', 'skip detection and decode as this format', parseFormat)
    .option('--width <n>', 'sensor width when the file does not declare it', parsePositiveInt)
    .option('--height <n>', 'sensor height when the file does not declare it', parsePositiveInt)
    .action(async (file: string, o: { json?: boolean; format?: EventFormat; width?: number; height?: number }) => {
      const r = await infoReport(file, o);
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `${formatInfo(r)}\n`);
    });
}
