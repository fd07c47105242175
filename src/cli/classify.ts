/**
 * `spikestream classify IN... [--model M] [--json]`: the label a model gives each recording, with
 * its scores. The default model is the shipped default (what `npm start` serves); --model takes a
 * path or the name of a shipped model. One line (or one JSON object) per recording.
 */
import type { Command } from 'commander';
import type { EventFormat } from '../events/batch.js';
import type { EngineKind } from '../snn/engine.js';
import { parseFormat, parsePositiveInt } from './parse.js';
import { runRecording } from './run.js';
import { DEFAULT_MODEL, resolveModelPaths } from './serve.js';

export interface ClassifyJson {
  file: string;
  model: string;
  label: string;
  index: number;
  labels: string[];
  /** The model's readout per class (e.g. output spike counts or integrated membrane). */
  scores: number[];
  /** Softmax of the scores: a confidence, not a calibrated probability. */
  softmax: number[];
  timesteps: number;
  events: number;
}

function softmax(v: readonly number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export async function classifyFile(file: string, modelSpec: string | undefined, o: { engine?: EngineKind; format?: EventFormat; width?: number; height?: number } = {}): Promise<ClassifyJson> {
  const [modelPath] = resolveModelPaths([modelSpec ?? DEFAULT_MODEL]);
  const rep = await runRecording(modelPath, file, o);
  const r = rep.result;
  return { file, model: rep.model.name, label: r.label, index: r.index, labels: [...rep.model.labels], scores: r.scores, softmax: softmax(r.scores), timesteps: r.timesteps, events: r.events };
}

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description(`Classify recordings with a model (default: the shipped ${DEFAULT_MODEL})`)
    .argument('<recordings...>', 'recordings in any supported format')
    .option('--model <model>', 'model file, or the name of a shipped model (models/NAME.msgpack)')
    .option('--json', 'one JSON object per recording { file, model, label, index, labels, scores, softmax, timesteps, events }')
    .option('--format <format>', 'skip detection and decode as this format', parseFormat)
    .option('--width <n>', 'sensor width when the file does not declare it', parsePositiveInt)
    .option('--height <n>', 'sensor height when the file does not declare it', parsePositiveInt)
    .action(async (files: string[], o: { model?: string; json?: boolean; format?: EventFormat; width?: number; height?: number }) => {
      for (const file of files) {
        const c = await classifyFile(file, o.model, o);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(c)}\n`);
        } else {
          const top = c.softmax.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3);
          process.stdout.write(`${file}: ${c.label} (${top.map(([p, i]) => `${c.labels[i] ?? i}: ${(100 * p).toFixed(1)}%`).join(', ')}; ${c.timesteps} timesteps, ${c.events} events, model ${c.model})\n`);
        }
      }
    });
}
