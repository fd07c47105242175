/**
 * `spikestream frames IN --out OUT.npy <binning flags>`: bins a recording into dense frames and
 * writes them as a NumPy (T, 2, H, W) int16 array (channel 0 = OFF, 1 = ON), the layout tonic's
 * ToFrame and SpikingJelly produce, so `numpy.load` gives what those tools would.
 *
 * Pipeline (streaming, memory bounded by one decoder chunk and the open windows):
 * decode -> [--denoise-us] -> [--refractory-us] -> [--downsample WxH] -> binning -> int16 frames.
 *
 * Counts above 32767 in a frame cell saturate at 32767 with a warning naming how many cells and
 * the largest count (tonic's int16 frames would wrap around silently).
 */
import { stat } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { tap, type Observable, type OperatorFunction, type Subscription } from 'rxjs';
import type { EventBatch, EventFormat, GeometrySource } from '../events/batch.js';
import { binByCount } from '../stream/bin-by-count.js';
import { binByTime } from '../stream/bin-by-time.js';
import { binToNEventBins } from '../stream/bin-to-n-event-bins.js';
import { binToNTimeBins } from '../stream/bin-to-n-time-bins.js';
import { createBinningStats, type BinningStats } from '../stream/binning-stats.js';
import { denoise } from '../stream/denoise.js';
import { downsample } from '../stream/downsample.js';
import { fromEventFile } from '../stream/from-event-file.js';
import { NpyFrameWriter } from '../stream/npy.js';
import { probeGeometry } from '../stream/probe-geometry.js';
import { refractoryPeriod } from '../stream/refractory-period.js';
import { StreamError } from '../stream/stream-error.js';
import type { Timestep } from '../stream/timestep.js';
import { CliError } from './errors.js';
import { parseFormat, parsePositiveInt } from './parse.js';
import { createProgress } from './progress.js';

export interface FramesOptions {
  readonly out: string;
  readonly timeWindowUs?: number;
  readonly strideUs?: number;
  readonly eventCount?: number;
  readonly overlap?: number;
  readonly nTimeBins?: number;
  readonly nEventBins?: number;
  readonly includeIncomplete?: boolean;
  readonly spikingjelly?: boolean;
  readonly downsample?: { readonly width: number; readonly height: number };
  readonly denoiseUs?: number;
  readonly refractoryUs?: number;
  readonly width?: number;
  readonly height?: number;
  readonly format?: EventFormat;
}

export interface FramesSummary {
  readonly out: string;
  readonly shape: [number, number, number, number];
  readonly mode: string;
  readonly sensor: { readonly width: number; readonly height: number; readonly geometry: GeometrySource };
  /** Events decoded, and events that reached the binning (after filters). */
  readonly eventsDecoded: number;
  readonly eventsBinned: number;
  readonly late: number;
  readonly dropped: number;
  readonly saturatedCells: number;
  readonly maxCount: number;
}

const INT16_MAX = 32767;

function parsePositiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${v}"`);
  return n;
}

function parseNonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative number, got "${v}"`);
  return n;
}

export function parseSize(v: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/i.exec(v.trim());
  const w = m ? Number(m[1]) : 0;
  const h = m ? Number(m[2]) : 0;
  if (!m || w < 1 || h < 1 || w > 65536 || h > 65536) throw new InvalidArgumentError(`expected WIDTHxHEIGHT such as 17x17, got "${v}"`);
  return { width: w, height: h };
}

/** Checks the flag combination and returns the binning operator and a name for the mode. */
export function planBinning(o: FramesOptions, width: number, height: number, stats: BinningStats): { mode: string; op: OperatorFunction<EventBatch, Timestep> } {
  const modes = [
    o.timeWindowUs !== undefined && '--time-window-us',
    o.eventCount !== undefined && '--event-count',
    o.nTimeBins !== undefined && '--n-time-bins',
    o.nEventBins !== undefined && '--n-event-bins',
  ].filter((m): m is string => typeof m === 'string');
  if (modes.length !== 1) {
    throw new CliError(modes.length === 0
      ? 'choose a binning: one of --time-window-us, --event-count, --n-time-bins, --n-event-bins'
      : `choose one binning, not ${modes.join(' and ')}`);
  }
  const mode = modes[0];
  if (o.strideUs !== undefined && mode !== '--time-window-us') throw new CliError('--stride-us goes with --time-window-us');
  if (o.includeIncomplete && (mode === '--n-time-bins' || mode === '--n-event-bins')) {
    throw new CliError(`--include-incomplete goes with --time-window-us or --event-count, not ${mode} (tonic ignores it there)`);
  }
  if (o.spikingjelly && (mode === '--time-window-us' || mode === '--event-count')) {
    throw new CliError(`--spikingjelly reproduces integrate_events_by_fixed_frames_number: use it with --n-time-bins or --n-event-bins, not ${mode}`);
  }
  const geo = { width, height, stats };
  const overlap = o.overlap ?? 0;
  switch (mode) {
    case '--time-window-us': {
      const w = o.timeWindowUs as number;
      if (o.strideUs !== undefined && o.overlap !== undefined) throw new CliError('give --stride-us or --overlap, not both');
      const stride = o.strideUs ?? w - overlap;
      if (!(stride > 0)) throw new CliError(`--overlap (${overlap} us) must be smaller than --time-window-us (${w})`);
      return { mode: `time_window=${w}us stride=${stride}us${o.includeIncomplete ? ' include_incomplete' : ''}`, op: binByTime({ windowUs: w, strideUs: stride, includeIncomplete: o.includeIncomplete, ...geo }) };
    }
    case '--event-count': {
      const c = o.eventCount as number;
      if (!Number.isInteger(overlap) || overlap >= c) throw new CliError(`--overlap with --event-count is a whole number of events below ${c}, got ${overlap}`);
      return { mode: `event_count=${c} overlap=${overlap}${o.includeIncomplete ? ' include_incomplete' : ''}`, op: binByCount({ count: c, overlap, includeIncomplete: o.includeIncomplete, ...geo }) };
    }
    default: {
      if (overlap >= 1) throw new CliError(`--overlap with ${mode} is a fraction of a bin in [0, 1), got ${overlap}`);
      if (o.spikingjelly && overlap !== 0) throw new CliError('--spikingjelly has no --overlap');
      const n = (mode === '--n-time-bins' ? o.nTimeBins : o.nEventBins) as number;
      const flavour = o.spikingjelly ? ' (spikingjelly)' : '';
      return mode === '--n-time-bins'
        ? { mode: `n_time_bins=${n} overlap=${overlap}${flavour}`, op: binToNTimeBins(n, { overlap, spikingjelly: o.spikingjelly, ...geo }) }
        : { mode: `n_event_bins=${n} overlap=${overlap}${flavour}`, op: binToNEventBins(n, { overlap, spikingjelly: o.spikingjelly, ...geo }) };
    }
  }
}

/** Runs the pipeline and writes the .npy; `note` receives human-readable remarks (stderr in the CLI). */
export async function writeFrames(input: string, o: FramesOptions, note: (line: string) => void = () => undefined): Promise<FramesSummary> {
  if ((o.width === undefined) !== (o.height === undefined)) throw new CliError('give both --width and --height, or neither');
  planBinning(o, 1, 1, createBinningStats()); // flag conflicts fail before any file is touched
  let sensor: { width: number; height: number; geometry: GeometrySource };
  if (o.width !== undefined && o.height !== undefined) {
    sensor = { width: o.width, height: o.height, geometry: 'option' };
  } else {
    const m = await probeGeometry(input, { format: o.format });
    if (m.width < 1 || m.height < 1) throw new CliError(`${input}: no sensor size in the file and no events to infer it from; pass --width and --height`);
    if (m.geometry === 'inferred') note(`sensor size ${m.width}x${m.height} inferred from the largest coordinates (the format declares none); pass --width/--height to set it`);
    sensor = { width: m.width, height: m.height, geometry: m.geometry };
  }
  const frameW = o.downsample?.width ?? sensor.width;
  const frameH = o.downsample?.height ?? sensor.height;
  const stats = createBinningStats();
  const { mode, op } = planBinning(o, frameW, frameH, stats);

  let decoded = 0;
  const size = (await stat(input)).size;
  const progress = size > 64 << 20 ? createProgress('frames', size) : undefined;
  let openStream: { info: { bytes: number } } | undefined;
  let src: Observable<EventBatch> = fromEventFile(input, { format: o.format, speed: 'max', onOpen: (s) => (openStream = s) });
  src = src.pipe(tap((b) => {
    decoded += b.t.length;
    progress?.update(openStream?.info.bytes ?? 0);
  }));
  const geo = { width: sensor.width, height: sensor.height };
  if (o.denoiseUs !== undefined) src = src.pipe(denoise({ filterTimeUs: o.denoiseUs, ...geo }));
  if (o.refractoryUs !== undefined) src = src.pipe(refractoryPeriod({ refractoryUs: o.refractoryUs, ...geo }));
  if (o.downsample) src = src.pipe(downsample({ sensorWidth: sensor.width, sensorHeight: sensor.height, ...o.downsample }));

  const writer = NpyFrameWriter.create(o.out, '<i2', [2, frameH, frameW]);
  const dense = new Float32Array(2 * frameW * frameH);
  const i16 = new Int16Array(dense.length);
  let saturated = 0;
  let maxCount = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const held: { sub?: Subscription } = {};
      let failed = false;
      held.sub = src.pipe(op).subscribe({
        next: (ts) => {
          if (failed) return;
          try {
            ts.toDense(dense);
            for (let i = 0; i < dense.length; i++) {
              const v = dense[i];
              if (v > INT16_MAX) {
                saturated++;
                if (v > maxCount) maxCount = v;
                i16[i] = INT16_MAX;
              } else {
                i16[i] = v;
              }
            }
            writer.write(i16);
          } catch (e) {
            // A write or geometry failure: stop reading (sub is unset if this ran during subscribe).
            failed = true;
            held.sub?.unsubscribe();
            reject(e);
          }
        },
        error: reject,
        complete: resolve,
      });
      if (failed) held.sub.unsubscribe();
    });
    writer.close();
  } catch (e) {
    writer.abort();
    if (e instanceof StreamError && e.code === 'OUT_OF_RANGE') {
      throw new CliError(`${e.message}; the sensor is ${sensor.width}x${sensor.height} (${sensor.geometry === 'option' ? 'from --width/--height' : `from the ${sensor.geometry}`}): pass --width/--height`);
    }
    if (e instanceof StreamError) throw new CliError(e.message);
    throw e;
  } finally {
    progress?.stop();
  }
  if (saturated > 0) note(`warning: ${saturated} frame cells counted more than ${INT16_MAX} events (largest ${maxCount}); saturated at ${INT16_MAX}`);
  if (stats.late > 0) note(`${stats.late} events arrived with timestamps before their window (late) and were put in the oldest open window`);
  return {
    out: o.out, shape: [writer.count, 2, frameH, frameW], mode, sensor, eventsDecoded: decoded, eventsBinned: stats.eventsIn,
    late: stats.late, dropped: stats.dropped, saturatedCells: saturated, maxCount: Math.max(maxCount, 0),
  };
}

interface FramesFlags extends Omit<FramesOptions, 'out'> {
  readonly out: string;
  readonly json?: boolean;
}

export function registerFrames(program: Command): void {
  program
    .command('frames')
    .description('Bin a recording into dense (T, 2, H, W) int16 frames (channel 0 = OFF, 1 = ON) and write a NumPy .npy file, with tonic ToFrame / SpikingJelly semantics')
    .argument('<in>', 'recording (.bin .aedat .aedat4 .raw .dat .csv .txt)')
    .requiredOption('--out <file.npy>', 'output .npy file')
    .option('--time-window-us <us>', 'time bins of this length (tonic time_window)', parsePositiveNumber)
    .option('--stride-us <us>', 'with --time-window-us: distance between bin starts (default: the window)', parsePositiveNumber)
    .option('--event-count <n>', 'bins of this many events (tonic event_count)', parsePositiveInt)
    .option('--n-time-bins <n>', 'this many time bins over the recording (tonic n_time_bins)', parsePositiveInt)
    .option('--n-event-bins <n>', 'this many event-count bins over the recording (tonic n_event_bins)', parsePositiveInt)
    .option('--overlap <x>', 'tonic overlap: us for --time-window-us, events for --event-count, fraction of a bin for --n-*-bins', parseNonNegative)
    .option('--include-incomplete', 'keep the last partial bin (tonic include_incomplete)')
    .option('--spikingjelly', 'with --n-time-bins/--n-event-bins: SpikingJelly integrate_events_by_fixed_frames_number (last frame takes the remainder)')
    .option('--downsample <WxH>', 'scale coordinates to this sensor size (tonic Downsample)', parseSize)
    .option('--denoise-us <us>', 'drop events without a 4-neighbour event within this time (tonic Denoise)', parsePositiveNumber)
    .option('--refractory-us <us>', 'per-pixel refractory period (tonic RefractoryPeriod)', parseNonNegative)
    .option('--width <n>', 'sensor width (overrides the file)', parsePositiveInt)
    .option('--height <n>', 'sensor height (overrides the file)', parsePositiveInt)
    .option('--format <format>', 'skip detection and decode as this format', parseFormat)
    .option('--json', 'print a JSON summary')
    .action(async (input: string, flags: FramesFlags) => {
      const s = await writeFrames(input, flags, (line) => process.stderr.write(`spikestream: ${line}\n`));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(s)}\n`);
      } else {
        process.stdout.write(`wrote ${s.out}: int16 (${s.shape.join(', ')}), ${s.mode}; ${s.eventsBinned} of ${s.eventsDecoded} events binned, ${s.dropped} in no frame, ${s.late} late\n`);
      }
    });
}
