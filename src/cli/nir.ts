/**
 * `spikestream nir import IN.nir OUT.msgpack [--as nir|sinabs|snntorch|norse] [--dt S] [--reset
 * zero|subtract] [--spike single|multi] [--v-min V|threshold|none] [--labels a,b,..|@file]
 * [--binning SPEC] [--name NAME] [--json]` and `spikestream nir export IN.msgpack OUT.nir [--json]`.
 * The semantics of each preset are in src/model/nir/presets.ts and docs/nir.md; the import records
 * them in the model (training.method 'nir-import', meta.nir).
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { readModelFile, writeModelFile } from '../model/model-file.js';
import { isModelError } from '../model/model-error.js';
import type { BinningSpec } from '../model/model.js';
import { isNirError } from '../model/nir/nir-error.js';
import { NIR_WRITE_VERSION } from '../model/nir/export-nir.js';
import { exportNirModel, importNirModel } from '../model/nir/nir-model.js';
import { isNirPreset, NIR_PRESETS, PRESET_SPECS, type NirPreset } from '../model/nir/presets.js';
import type { ResetMode, SpikeMode } from '../snn/graph.js';
import { CliError } from './errors.js';

function parsePreset(v: string): NirPreset {
  if (!isNirPreset(v)) throw new InvalidArgumentError(`expected one of ${NIR_PRESETS.join(', ')}, got "${v}"`);
  return v;
}

function parsePositiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got "${v}"`);
  return n;
}

function parseReset(v: string): ResetMode {
  if (v !== 'zero' && v !== 'subtract') throw new InvalidArgumentError(`expected zero or subtract, got "${v}"`);
  return v;
}

function parseSpike(v: string): SpikeMode {
  if (v !== 'single' && v !== 'multi') throw new InvalidArgumentError(`expected single or multi, got "${v}"`);
  return v;
}

function parseVMin(v: string): number | 'threshold' | 'none' {
  if (v === 'threshold' || v === 'none') return v;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, "threshold" (-v_threshold) or "none", got "${v}"`);
  return n;
}

/**
 * Binning as MODE:ARGS: time_window:US[:STRIDE_US], event_count:N[:OVERLAP], n_time_bins:N,
 * n_event_bins:N (tonic's ToFrame parameters), or the model file's JSON form.
 */
export function parseBinningSpec(v: string): BinningSpec {
  const bad = (why: string) => new InvalidArgumentError(`${why} (e.g. time_window:1000, event_count:2000, n_time_bins:10), got "${v}"`);
  if (v.trim().startsWith('{')) {
    let j: unknown;
    try {
      j = JSON.parse(v);
    } catch {
      throw bad('invalid JSON');
    }
    const s = j as Record<string, unknown>;
    const str = (m: string, ...nums: string[]) => `${m}:${nums.map((k) => s[k]).filter((x) => x !== undefined).join(':')}`;
    if (s.mode === 'time_window') return parseBinningSpec(str('time_window', 'windowUs', 'strideUs'));
    if (s.mode === 'event_count') return parseBinningSpec(str('event_count', 'count', 'overlap'));
    if (s.mode === 'n_time_bins' || s.mode === 'n_event_bins') return parseBinningSpec(str(s.mode, 'bins'));
    throw bad('unknown mode');
  }
  const [mode, ...rest] = v.split(':');
  const nums = rest.map(Number);
  if (nums.some((n) => !Number.isFinite(n) || n < 0)) throw bad('arguments must be non-negative numbers');
  const pos = (n: number | undefined) => n !== undefined && Number.isInteger(n) && n > 0;
  switch (mode) {
    case 'time_window':
      if (!pos(nums[0]) || nums.length > 2 || (nums.length === 2 && !pos(nums[1]))) throw bad('time_window needs a window and an optional stride in whole microseconds');
      return nums.length === 2 ? { mode, windowUs: nums[0], strideUs: nums[1] } : { mode, windowUs: nums[0] };
    case 'event_count':
      if (!pos(nums[0]) || nums.length > 2 || (nums.length === 2 && (!Number.isInteger(nums[1]) || nums[1] >= nums[0]))) throw bad('event_count needs a count and an optional smaller overlap');
      return nums.length === 2 ? { mode, count: nums[0], overlap: nums[1] } : { mode, count: nums[0] };
    case 'n_time_bins':
    case 'n_event_bins':
      if (!pos(nums[0]) || nums.length !== 1) throw bad(`${mode} needs a number of bins`);
      return { mode, bins: nums[0] };
    default:
      throw bad('unknown binning mode');
  }
}

async function labelsOf(v: string | undefined): Promise<string[] | undefined> {
  if (v === undefined) return undefined;
  const text = v.startsWith('@') ? await readFile(v.slice(1), 'utf8').catch((e: Error) => { throw new CliError(`--labels: cannot read ${v.slice(1)}: ${e.message}`); }) : v;
  const list = (v.startsWith('@') ? text.split(/\r?\n/) : text.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) throw new CliError('--labels: no labels given');
  return list;
}

/** NIR and model errors as one line that also names the file. */
function asCliError(file: string, e: unknown): unknown {
  if (isNirError(e) || isModelError(e)) return new CliError(`${file}: ${e.message}`);
  return e;
}

interface ImportFlags {
  as?: NirPreset;
  dt?: number;
  reset?: ResetMode;
  spike?: SpikeMode;
  vMin?: number | 'threshold' | 'none';
  labels?: string;
  binning?: BinningSpec;
  name?: string;
  json?: boolean;
}

export async function nirImport(input: string, output: string, o: ImportFlags): Promise<string> {
  const labels = await labelsOf(o.labels);
  let imported: Awaited<ReturnType<typeof importNirModel>>;
  try {
    imported = await importNirModel(input, {
      as: o.as, dt: o.dt, reset: o.reset, spike: o.spike, vMin: o.vMin, labels, binning: o.binning, name: o.name,
    });
    await writeModelFile(output, imported.model);
  } catch (e) {
    if (isNirError(e) && e.field === 'labels') throw new CliError(`--labels: ${e.reason}`);
    throw asCliError(input, e);
  }
  const { model, result } = imported;
  const counts = new Map<string, number>();
  for (const n of model.graph.nodes) counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
  if (o.json) {
    return JSON.stringify({
      file: input, out: output, nirVersion: result.nirVersion ?? null, preset: result.mode, dt: result.dt ?? null,
      nodes: model.graph.nodes.map((n) => ({ id: n.id, op: n.op })), labels: model.labels, binning: model.input.binning,
      input: { width: model.input.width, height: model.input.height, channels: model.input.channels }, provenance: result.provenance,
    });
  }
  const spec = result.mode === 'spikestream' ? undefined : PRESET_SPECS[result.mode];
  const lines = [
    `imported      ${input} (NIR ${result.nirVersion ?? 'version not stated'}) -> ${output}`,
    `semantics     ${result.mode === 'spikestream' ? 'restored exactly (a file spikestream wrote)' : `--as ${result.mode}: ${spec?.source}`}`,
    ...(result.dt !== undefined && spec ? [`dt            ${result.dt} ${spec.dtUnit === 's' ? 's' : 'timesteps (tau counted in steps)'}`] : []),
    `nodes         ${model.graph.nodes.length}: ${[...counts].map(([op, k]) => `${op} ${k}`).join(', ')}`,
    `input         ${model.input.channels}x${model.input.height}x${model.input.width}, binning ${JSON.stringify(model.input.binning)}`,
    `labels        ${model.labels.join(' ')}`,
  ];
  const mapping = result.provenance.mapping as Record<string, string> | undefined;
  if (mapping) for (const rule of Object.values(mapping)) lines.push(`mapping       ${rule}`);
  for (const n of result.notes) lines.push(`note          ${n}`);
  return lines.join('\n');
}

export async function nirExport(input: string, output: string, o: { json?: boolean }): Promise<string> {
  let model: Awaited<ReturnType<typeof readModelFile>>;
  try {
    model = await readModelFile(input);
  } catch (e) {
    throw asCliError(input, e);
  }
  try {
    await exportNirModel(model, output);
  } catch (e) {
    throw asCliError(output, e);
  }
  const masked = model.graph.nodes.filter((n) => 'mask' in n && n.mask).length;
  if (o.json) return JSON.stringify({ file: input, out: output, nirVersion: NIR_WRITE_VERSION, name: model.name, nodes: model.graph.nodes.length, maskedNodes: masked });
  return [
    `exported      ${model.name} (${input}, ${model.graph.nodes.length} nodes) -> ${output}`,
    `layout        nir ${NIR_WRITE_VERSION} (h5py-compatible; float32 parameters, int64 shapes, UTF-8 strings)`,
    ...(masked > 0 ? [`masks         ${masked} ESL-masked weight tensors written with zeros where connections are absent`] : []),
    'metadata      spikestream options (spike, reset, vMin, dt, beta), masks and model facts kept for an exact re-import',
  ].join('\n');
}

export function registerNir(program: Command): void {
  const nir = program.command('nir').description('Import and export NIR graphs (Neuromorphic Intermediate Representation, HDF5 .nir files)');
  nir
    .command('import')
    .description('Import a NIR graph into a spikestream model, running it with the semantics of the chosen framework')
    .argument('<in>', 'NIR file (.nir)')
    .argument('<out>', 'model file to write (.msgpack)')
    .option('--as <preset>', `whose semantics to run: ${NIR_PRESETS.join(' | ')} (default nir; files spikestream wrote are restored exactly)`, parsePreset)
    .option('--dt <dt>', 'timestep in the unit of tau (default: nir 1e-4 s, sinabs 1 step, snntorch 1e-4 s, norse 1e-3 s)', parsePositiveNumber)
    .option('--reset <mode>', 'reset of every IF/LIF: zero (to v_reset) or subtract (v_threshold)', parseReset)
    .option('--spike <mode>', 'spikes per step of every IF/LIF: single (v > v_threshold) or multi (floor(v / v_threshold))', parseSpike)
    .option('--v-min <v>', 'lower bound on v of every IF/LIF: a number, "threshold" (-v_threshold, as Sinabs) or "none"', parseVMin)
    .option('--labels <labels>', 'class names: comma-separated, or @FILE with one per line')
    .option('--binning <spec>', 'how recordings are cut into timesteps: time_window:US[:STRIDE] | event_count:N[:OVERLAP] | n_time_bins:N | n_event_bins:N (default time_window:1000)', parseBinningSpec)
    .option('--name <name>', 'model name (default: the file name)')
    .option('--json', 'print one JSON object')
    .action(async (input: string, output: string, o: ImportFlags) => {
      process.stdout.write(`${await nirImport(input, output, o)}\n`);
    });
  nir
    .command('export')
    .description('Export a spikestream model (dense or ESL-masked) to a NIR file that Python\'s nir.read accepts')
    .argument('<in>', 'model file (.msgpack)')
    .argument('<out>', 'NIR file to write (.nir)')
    .option('--json', 'print one JSON object')
    .action(async (input: string, output: string, o: { json?: boolean }) => {
      process.stdout.write(`${await nirExport(input, output, o)}\n`);
    });
}
