/**
 * A dataset binned into T timesteps per sample, held in memory as sparse counts so every epoch
 * after the first costs no decoding or binning: per sample, the nonzero entries of its dense
 * [T, C, H, W] count tensor (IR layout: channel 0 = OFF, 1 = ON, or one merged channel).
 *
 * Binning is the model's (BinningSpec) through the stream module's pure cores, exactly what the
 * engines see at inference: a sample gets the first T timesteps its binning produces, padded with
 * empty ones when it produces fewer.
 */
import type { EventBatch } from '../events/batch.js';
import type { Dataset } from '../data/dataset.js';
import { iterateSamples } from '../data/iterate-samples.js';
import type { BinningSpec } from '../model/model.js';
import { binEventsByCount } from '../stream/bin-by-count.js';
import { binEventsByTime } from '../stream/bin-by-time.js';
import { binEventsToNEventBins } from '../stream/bin-to-n-event-bins.js';
import { binEventsToNTimeBins } from '../stream/bin-to-n-time-bins.js';
import { timestepEventCount, type Timestep } from '../stream/timestep.js';
import { TrainError } from './train-error.js';

export interface FrameSet {
  readonly length: number;
  readonly T: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly labels: Int32Array;
  /** Entries of sample i: offsets[i] .. offsets[i+1]. */
  readonly offsets: Int32Array;
  /** Flat index into [T, C, H, W]. */
  readonly index: Int32Array;
  readonly count: Float32Array;
  /** Events per sample that landed in its T timesteps. */
  readonly events: Int32Array;
}

/** A whole recording cut into timesteps by a model's binning. */
export function binRecording(events: EventBatch, spec: BinningSpec, width: number, height: number): Timestep[] {
  switch (spec.mode) {
    case 'time_window':
      return binEventsByTime(events, { windowUs: spec.windowUs, strideUs: spec.strideUs, includeIncomplete: spec.includeIncomplete, width, height }).timesteps;
    case 'event_count':
      return binEventsByCount(events, { count: spec.count, overlap: spec.overlap, includeIncomplete: spec.includeIncomplete, width, height }).timesteps;
    case 'n_time_bins':
      return binEventsToNTimeBins(events, spec.bins, { overlap: spec.overlap, spikingjelly: spec.spikingjelly, width, height }).timesteps;
    case 'n_event_bins':
      return binEventsToNEventBins(events, spec.bins, { overlap: spec.overlap, spikingjelly: spec.spikingjelly, width, height }).timesteps;
  }
}

/** The dense [C, H, W] counts of one timestep (C = 1 merges polarities, as the engines' input map does). */
export function timestepCounts(ts: Timestep, channels: number, out: Float32Array): void {
  const hw = ts.width * ts.height;
  if (channels === 2) {
    ts.toDense(out);
    return;
  }
  const two = ts.toDense();
  for (let i = 0; i < hw; i++) out[i] = two[i] + two[hw + i];
}

export interface BinDatasetOptions {
  readonly binning: BinningSpec;
  readonly T: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Which samples (default all). */
  readonly indices?: readonly number[];
  readonly concurrency?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export async function binDataset(ds: Dataset, o: BinDatasetOptions): Promise<FrameSet> {
  if (ds.width > o.width || ds.height > o.height) {
    throw new TrainError('BAD_DATA', `${ds.name}: recordings are ${ds.width}x${ds.height}, the model input is ${o.width}x${o.height}`);
  }
  const indices = o.indices ?? Array.from({ length: ds.length }, (_, i) => i);
  const n = indices.length;
  const labels = new Int32Array(n);
  const offsets = new Int32Array(n + 1);
  const events = new Int32Array(n);
  let index = new Int32Array(1 << 16);
  let count = new Float32Array(1 << 16);
  let used = 0;
  const plane = o.channels * o.height * o.width;
  const frame = new Float32Array(plane);
  let k = 0;
  for await (const s of iterateSamples(ds, { indices, concurrency: o.concurrency ?? 8 })) {
    const steps = binRecording(s.events, o.binning, o.width, o.height);
    labels[k] = s.label;
    let ev = 0;
    for (let t = 0; t < Math.min(o.T, steps.length); t++) {
      ev += timestepEventCount(steps[t]);
      timestepCounts(steps[t], o.channels, frame);
      for (let i = 0; i < plane; i++) {
        const c = frame[i];
        if (c === 0) continue;
        if (used === index.length) {
          const ni = new Int32Array(used * 2);
          ni.set(index);
          index = ni;
          const nc = new Float32Array(used * 2);
          nc.set(count);
          count = nc;
        }
        index[used] = t * plane + i;
        count[used] = c;
        used++;
      }
    }
    events[k] = ev;
    k++;
    offsets[k] = used;
    o.onProgress?.(k, n);
  }
  return { length: n, T: o.T, channels: o.channels, height: o.height, width: o.width, labels, offsets, index: index.slice(0, used), count: count.slice(0, used), events };
}

/**
 * The trainer's input for a batch: time-major NHWC values [T * B, H, W, C] (channel last), the
 * layout of tf-graph.ts. `shifts` (optional, [dx0, dy0, dx1, dy1, ...] per sample, in pixels)
 * translates each sample; what moves off the sensor is dropped, as a camera that moved would lose it.
 */
export function batchInput(fs: FrameSet, samples: readonly number[], out?: Float32Array, shifts?: Int8Array): Float32Array {
  const B = samples.length;
  const { T, channels: C, height: H, width: W } = fs;
  const plane = C * H * W;
  const x = out ?? new Float32Array(T * B * plane);
  x.fill(0);
  const hw = H * W;
  for (let b = 0; b < B; b++) {
    const s = samples[b];
    const dx = shifts ? shifts[2 * b] : 0;
    const dy = shifts ? shifts[2 * b + 1] : 0;
    for (let e = fs.offsets[s]; e < fs.offsets[s + 1]; e++) {
      const flat = fs.index[e];
      const t = Math.floor(flat / plane);
      const r = flat - t * plane;
      const c = Math.floor(r / hw);
      let yx = r - c * hw;
      if (dx !== 0 || dy !== 0) {
        const y0 = Math.floor(yx / W);
        const y = y0 + dy;
        const xs = yx - y0 * W + dx;
        if (y < 0 || y >= H || xs < 0 || xs >= W) continue;
        yx = y * W + xs;
      }
      x[((t * B + b) * hw + yx) * C + c] = fs.count[e];
    }
  }
  return x;
}

/** One timestep of sample s as the dense [C, H, W] counts the engines' stepValues takes. */
export function sampleStep(fs: FrameSet, s: number, t: number, out: Float32Array): Float32Array {
  const plane = fs.channels * fs.height * fs.width;
  out.fill(0);
  for (let e = fs.offsets[s]; e < fs.offsets[s + 1]; e++) {
    const flat = fs.index[e];
    if (flat >= t * plane && flat < (t + 1) * plane) out[flat - t * plane] = fs.count[e];
  }
  return out;
}
