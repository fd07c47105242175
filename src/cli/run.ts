/**
 * `spikestream run MODEL IN [--json] [--engine dense|sparse] [--time-window-us N]`: decodes a
 * recording (any supported format, streamed), bins it with the model's binning (or 1 ms-style
 * time windows of N us when the flag is given), runs it through the model and reports per-node
 * spikes and SynOps, output counts, scores and the label.
 *
 * The recording is one stream: the engine is reset once, then stepped through every timestep the
 * binning emits, including those that only the end of the recording completes.
 */
import { stat } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { EventFormat } from '../events/batch.js';
import { openEventFile } from '../events/open-event-file.js';
import { readModelFile } from '../model/model-file.js';
import type { BinningSpec, Model } from '../model/model.js';
import { createBinner } from '../serve/binner.js';
import { createEngine } from '../snn/create-engine.js';
import type { EngineKind, RunResult } from '../snn/engine.js';
import { DEFAULT_BINNING_LIMITS } from '../stream/binning-limits.js';
import { parseFormat, parsePositiveInt } from './parse.js';
import { createProgress } from './progress.js';

export interface RunOptions {
  readonly engine?: EngineKind;
  /** Replaces the model's binning with time windows of this many microseconds. */
  readonly timeWindowUs?: number;
  readonly format?: EventFormat;
  /** Sensor size for files whose header does not declare one (events beyond the model input are ignored and counted). */
  readonly width?: number;
  readonly height?: number;
}

/** The `--json` object (exactly these keys). */
export interface RunJson {
  engine: EngineKind;
  timesteps: number;
  label: string;
  index: number;
  scores: number[];
  outputCounts: number[];
  spikesPerNode: Record<string, number>;
  synopsPerNode: Record<string, number>;
  denseMacs: number;
}

export interface RunReport {
  readonly model: Model;
  readonly modelPath: string;
  readonly recording: string;
  readonly format: EventFormat;
  readonly binning: BinningSpec;
  readonly result: RunResult;
}

function describeBinning(b: BinningSpec): string {
  switch (b.mode) {
    case 'time_window': return `time_window ${b.windowUs} us${b.strideUs !== undefined ? `, stride ${b.strideUs} us` : ''}${b.includeIncomplete ? ', incomplete kept' : ''}`;
    case 'event_count': return `event_count ${b.count}${b.overlap ? `, overlap ${b.overlap}` : ''}`;
    default: return `${b.mode} ${b.bins}${b.overlap ? `, overlap ${b.overlap}` : ''}${b.spikingjelly ? ', spikingjelly' : ''}`;
  }
}

export async function runRecording(modelPath: string, recording: string, o: RunOptions = {}): Promise<RunReport> {
  const model = await readModelFile(modelPath);
  const binning: BinningSpec = o.timeWindowUs !== undefined ? { mode: 'time_window', windowUs: o.timeWindowUs } : model.input.binning;
  const engine = createEngine(o.engine ?? 'sparse', model.graph, { labels: model.labels, outOfRange: 'ignore' });
  const size = (await stat(recording)).size;
  const stream = await openEventFile(recording, { format: o.format, width: o.width, height: o.height });
  // Timesteps carry the model's input geometry: that is the frame the engine maps events onto.
  const binner = createBinner(binning, {
    width: model.input.width, height: model.input.height,
    maxGapWindows: DEFAULT_BINNING_LIMITS.maxGapWindows, maxSampleEvents: DEFAULT_BINNING_LIMITS.maxRecordingEvents,
  });
  const progress = size > 64 << 20 ? createProgress('run', size) : undefined;
  engine.reset();
  try {
    for await (const batch of stream) {
      for (const ts of binner.push(batch)) engine.step(ts);
      progress?.update(stream.info.bytes);
    }
    for (const ts of binner.end()) engine.step(ts);
  } finally {
    progress?.stop();
    await stream.close();
  }
  return { model, modelPath, recording, format: stream.format, binning, result: engine.result() };
}

export function runJson(r: RunResult): RunJson {
  return {
    engine: r.engine, timesteps: r.timesteps, label: r.label, index: r.index, scores: r.scores, outputCounts: r.outputCounts,
    spikesPerNode: r.spikesPerNode, synopsPerNode: r.synopsPerNode, denseMacs: r.denseMacs,
  };
}

export function formatRun(rep: RunReport): string {
  const r = rep.result;
  const num = (v: number) => v.toLocaleString('en-US');
  const lines = [
    `model         ${rep.model.name} (${rep.modelPath})`,
    `recording     ${rep.recording} (${rep.format}, ${num(r.events)} events on the ${rep.model.input.width}x${rep.model.input.height} input)`,
    `binning       ${describeBinning(rep.binning)}`,
    `engine        ${r.engine}, ${num(r.timesteps)} timesteps`,
    `label         ${r.label} (index ${r.index})`,
    `scores        ${r.scores.map((s, i) => `${rep.model.labels[i] ?? i}=${Number(s.toFixed(6))}`).join(' ')}`,
    `output counts ${r.outputCounts.map((s) => Number(s.toFixed(6))).join(' ')}`,
    '',
    `${'node'.padEnd(20)}${'spikes'.padStart(14)}${'SynOps'.padStart(16)}`,
  ];
  for (const node of rep.model.graph.nodes) {
    const s = r.spikesPerNode[node.id];
    const o = r.synopsPerNode[node.id];
    if (s === undefined && o === undefined) continue;
    lines.push(`${`${node.id} (${node.op})`.padEnd(20)}${(s === undefined ? '-' : num(s)).padStart(14)}${(o === undefined ? '-' : num(o)).padStart(16)}`);
  }
  const synops = Object.values(r.synopsPerNode).reduce((a, b) => a + b, 0);
  lines.push('', `SynOps        ${num(synops)} (${r.denseMacs > 0 ? ((100 * synops) / r.denseMacs).toFixed(3) : '0'}% of ${num(r.denseMacs)} dense MACs, ${num(r.denseMacsPerTimestep)} per timestep)`);
  return lines.join('\n');
}

function parseEngine(v: string): EngineKind {
  if (v !== 'dense' && v !== 'sparse') throw new InvalidArgumentError(`expected dense or sparse, got "${v}"`);
  return v;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('Run a recording through a model: per-node spikes and SynOps, output counts, scores and the predicted label')
    .argument('<model>', 'model file (.msgpack)')
    .argument('<recording>', 'recording in any supported format')
    .option('--json', 'print one JSON object { engine, timesteps, label, index, scores, outputCounts, spikesPerNode, synopsPerNode, denseMacs }')
    .option('--engine <engine>', 'dense (reference) or sparse (event-driven)', parseEngine, 'sparse' as EngineKind)
    .option('--time-window-us <n>', "bin into time windows of n microseconds instead of the model's binning", parsePositiveInt)
    .option('--format <format>', 'skip detection and decode as this format', parseFormat)
    .option('--width <n>', 'sensor width when the file does not declare it', parsePositiveInt)
    .option('--height <n>', 'sensor height when the file does not declare it', parsePositiveInt)
    .action(async (modelPath: string, recording: string, o: { json?: boolean; engine: EngineKind; timeWindowUs?: number; format?: EventFormat; width?: number; height?: number }) => {
      const rep = await runRecording(modelPath, recording, o);
      if (rep.result.eventsOutOfRange > 0) {
        process.stderr.write(`spikestream: warning: ${rep.result.eventsOutOfRange} events outside the model's ${rep.model.input.width}x${rep.model.input.height} input were ignored\n`);
      }
      process.stdout.write(o.json ? `${JSON.stringify(runJson(rep.result))}\n` : `${formatRun(rep)}\n`);
    });
}
