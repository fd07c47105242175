/**
 * A session's filters (hello.filters), in order, over the stream module's pure filter cores
 * (tonic semantics): center_crop, downsample, denoise, refractory, flip_lr, flip_ud. Each maps the
 * geometry on to the next; the last geometry is what binning and the engine see, so a 640x480
 * camera can feed a model trained on a smaller grid. Stateful filters (denoise, refractory) keep
 * one float64 per pixel, bounded by the maxFilterPixels limit; `reset` clears them.
 */
import type { EventBatch } from '../events/batch.js';
import { centerCropEvents } from '../stream/center-crop.js';
import { denoiseEvents, initDenoise, type DenoiseState } from '../stream/denoise.js';
import { downsampleEvents } from '../stream/downsample.js';
import { flipLREvents } from '../stream/flip-lr.js';
import { flipUDEvents } from '../stream/flip-ud.js';
import { initRefractoryPeriod, refractoryPeriodEvents, type RefractoryPeriodState } from '../stream/refractory-period.js';
import type { FilterSpec } from './protocol.js';
import { ServeError } from './serve-error.js';

export interface FilterChain {
  /** Geometry after the last filter. */
  readonly width: number;
  readonly height: number;
  readonly length: number;
  /**
   * Events in, survivors out (the clock is the caller's business). With `inPlace`, the caller owns
   * `b`'s storage and nothing else reads it: the leading coordinate maps (downsample) rewrite its
   * columns instead of allocating new ones (the server's per-message garbage, see event-pool.ts).
   */
  apply(b: EventBatch, inPlace?: boolean): EventBatch;
  /** Forgets the stateful filters' memory. */
  reset(): void;
}

interface Stage {
  apply(b: EventBatch): EventBatch;
  /** Same result as apply, written into b's own columns (stages that only map coordinates). */
  applyInPlace?(b: EventBatch): EventBatch;
  reset(): void;
}

/**
 * downsampleEvents (stream/downsample.ts, tonic's Downsample: x' = floor(x * width / sensorWidth))
 * into the batch's own x and y, through a table per axis built once (the same expression, so the
 * same values; test/serve/event-pool.test.ts holds the two equal): a load per coordinate instead
 * of a float multiply and floor, on the server's per-message path.
 */
function downsampler(sw: number, sh: number, w: number, h: number): (b: EventBatch) => EventBatch {
  const fx = w / sw;
  const fy = h / sh;
  const mapX = Uint16Array.from({ length: sw }, (_, x) => Math.floor(x * fx));
  const mapY = Uint16Array.from({ length: sh }, (_, y) => Math.floor(y * fy));
  return (b) => {
    const { x, y } = b;
    const n = x.length;
    for (let i = 0; i < n; i++) {
      const xi = x[i];
      const yi = y[i];
      if (xi >= sw || yi >= sh) {
        // downsampleEvents' error for this event (the batch, half rewritten, is discarded with the segment).
        downsampleEvents({ t: b.t.subarray(i, i + 1), x: x.subarray(i, i + 1), y: y.subarray(i, i + 1), p: b.p.subarray(i, i + 1) }, { sensorWidth: sw, sensorHeight: sh, width: w, height: h });
      }
      x[i] = mapX[xi];
      y[i] = mapY[yi];
    }
    return b;
  };
}

/** The geometry after the filters; throws a ServeError (OUT_OF_RANGE) naming a filter that cannot apply. */
export function filteredGeometry(specs: readonly FilterSpec[], sensor: { width: number; height: number }, maxFilterPixels: number): { width: number; height: number } {
  let w = sensor.width;
  let h = sensor.height;
  specs.forEach((f, i) => {
    const at = `hello.filters[${i}] (${f.op})`;
    if (f.op === 'downsample' && (f.width > w || f.height > h)) {
      throw new ServeError('OUT_OF_RANGE', `${at}: ${f.width}x${f.height} is larger than the ${w}x${h} it receives`);
    }
    if ((f.op === 'denoise' || f.op === 'refractory') && w * h > maxFilterPixels) {
      throw new ServeError('OUT_OF_RANGE', `${at}: keeps one value per pixel, and ${w}x${h} is more than the limit maxFilterPixels (${maxFilterPixels}); crop or downsample first`);
    }
    if (f.op === 'center_crop' || f.op === 'downsample') {
      w = f.width;
      h = f.height;
    }
  });
  return { width: w, height: h };
}

/** Builds the chain for a sensor (check it with filteredGeometry first). */
export function createFilterChain(specs: readonly FilterSpec[], sensor: { width: number; height: number }, maxFilterPixels: number): FilterChain {
  const out = filteredGeometry(specs, sensor, maxFilterPixels);
  let w = sensor.width;
  let h = sensor.height;
  const stages: Stage[] = [];
  specs.forEach((f) => {
    const sw = w;
    const sh = h;
    switch (f.op) {
      case 'center_crop': {
        const o = { sensorWidth: sw, sensorHeight: sh, width: f.width, height: f.height };
        stages.push({ apply: (b) => centerCropEvents(b, o), reset() {} });
        w = f.width;
        h = f.height;
        break;
      }
      case 'downsample': {
        const o = { sensorWidth: sw, sensorHeight: sh, width: f.width, height: f.height };
        stages.push({ apply: (b) => downsampleEvents(b, o), applyInPlace: downsampler(sw, sh, f.width, f.height), reset() {} });
        w = f.width;
        h = f.height;
        break;
      }
      case 'denoise':
      case 'refractory': {
        if (f.op === 'denoise') {
          const opts = { filterTimeUs: f.filterUs, width: sw, height: sh, neighbourhood: f.neighbourhood ?? 4 };
          let s: DenoiseState = initDenoise(opts);
          stages.push({
            apply: (b) => {
              const r = denoiseEvents(s, b);
              s = r.state;
              return r.events;
            },
            reset: () => {
              s = initDenoise(opts);
            },
          });
        } else {
          const opts = { refractoryUs: f.refractoryUs, width: sw, height: sh };
          let s: RefractoryPeriodState = initRefractoryPeriod(opts);
          stages.push({
            apply: (b) => {
              const r = refractoryPeriodEvents(s, b);
              s = r.state;
              return r.events;
            },
            reset: () => {
              s = initRefractoryPeriod(opts);
            },
          });
        }
        break;
      }
      case 'flip_lr':
        stages.push({ apply: (b) => flipLREvents(b, { width: sw }), reset() {} });
        break;
      case 'flip_ud':
        stages.push({ apply: (b) => flipUDEvents(b, { height: sh }), reset() {} });
        break;
    }
  });
  return {
    width: out.width,
    height: out.height,
    length: stages.length,
    apply(b, inPlace = false) {
      let out = b;
      // In place only while every stage so far rewrote b itself: a stage's fresh output may share
      // columns with its input (unfiltered ones pass through as views) and is not ours to rewrite.
      let own = inPlace;
      for (let i = 0; i < stages.length && out.t.length > 0; i++) {
        const s = stages[i];
        if (own && s.applyInPlace !== undefined) {
          out = s.applyInPlace(out);
        } else {
          own = false;
          out = s.apply(out);
        }
      }
      return out;
    },
    reset() {
      for (const s of stages) s.reset();
    },
  };
}
