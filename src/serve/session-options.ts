/**
 * hello -> the settings of one session, checked against the chosen model and the server limits.
 * Fails with a ServeError naming the field (OUT_OF_RANGE for values the model or limits cannot
 * take, BAD_MESSAGE for a mode the model cannot run).
 */
import type { ServeLimits } from './limits.js';
import { filteredGeometry } from './filter-chain.js';
import type { FilterSpec, HelloOptions, OverflowPolicy, SessionMode } from './protocol.js';
import type { ServedModel } from './served-model.js';
import { ServeError } from './serve-error.js';

export interface SessionSettings {
  readonly mode: SessionMode;
  readonly sensor: { readonly width: number; readonly height: number };
  readonly decisionUs: number;
  readonly windowUs: number;
  readonly idleResetUs: number;
  readonly overflow: OverflowPolicy;
  readonly filters: readonly FilterSpec[];
  /** Geometry after the filters: what binning and the engine see. */
  readonly filtered: { readonly width: number; readonly height: number };
}

export function resolveSessionSettings(hello: HelloOptions, model: ServedModel, limits: ServeLimits): SessionSettings {
  const mode = hello.mode ?? model.defaults.mode;
  if (mode === 'stream' && !model.live) {
    throw new ServeError('BAD_MESSAGE', `hello.mode: model "${model.name}" bins whole samples (${model.binning.mode}), so it runs in mode "sample" only`);
  }
  const decisionUs = hello.decisionUs ?? model.defaults.decisionUs;
  const windowUs = hello.windowUs ?? model.defaults.windowUs;
  const idleResetUs = hello.idleResetUs ?? (hello.windowUs !== undefined ? windowUs : model.defaults.idleResetUs);
  if (mode === 'stream') {
    const step = model.stepUs;
    for (const [k, v] of [['decisionUs', decisionUs], ['windowUs', windowUs]] as const) {
      if (v % step !== 0) throw new ServeError('OUT_OF_RANGE', `hello.${k}: ${v} us is not a multiple of the model's time-bin stride (${step} us)`);
    }
    if (model.binning.mode === 'time_window' && windowUs / step > limits.maxWindowSteps) {
      throw new ServeError('OUT_OF_RANGE', `hello.windowUs: ${windowUs} us is ${windowUs / step} timesteps, more than the limit maxWindowSteps (${limits.maxWindowSteps})`);
    }
    if (model.binning.mode === 'time_window' && idleResetUs / step > limits.maxGapWindows) {
      throw new ServeError('OUT_OF_RANGE', `hello.idleResetUs: ${idleResetUs} us is ${idleResetUs / step} timesteps, more than the limit maxGapWindows (${limits.maxGapWindows})`);
    }
  }
  const sensor = { width: hello.sensor.width, height: hello.sensor.height };
  const filters = hello.filters ?? [];
  const filtered = filteredGeometry(filters, sensor, limits.maxFilterPixels);
  return { mode, sensor, decisionUs, windowUs, idleResetUs, overflow: hello.overflow ?? 'drop-oldest', filters, filtered };
}
