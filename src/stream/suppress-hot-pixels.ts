/**
 * Hot-pixel suppression, causal and streaming (tonic's DropPixel(hot_pixel_frequency) needs the
 * whole recording; this is its online counterpart).
 *
 * Definition: time is cut into tumbling windows of `windowUs`, the first starting at `originUs`
 * (default: the first event's t). A pixel's rate over a window is its event count / windowUs.
 * With `threshold = maxRateHz * windowUs / 1e6` events, an event is dropped when its pixel's count
 * in the current window (this event included) exceeds the threshold, or when the pixel's count
 * over the whole previous window did. So a pixel that fires above the rate loses the rest of
 * that window and all of the next one; one quiet window rehabilitates it. Every event counts,
 * dropped or not, so a pixel that keeps firing stays suppressed.
 *
 * Late events (t before the current window's start): counted in the current window; the window
 * never moves back.
 *
 * State is O(1) per event: counts are stamped with their window index, so advancing a window
 * costs nothing (no sensor-sized reset per window).
 */
import type { OperatorFunction } from 'rxjs';
import { allocBatch, trimBatch, type EventBatch } from '../events/batch.js';
import { batchOperator } from './batch-operator.js';
import { withClock, type ClockedBatch } from './clocked-batch.js';
import { requireFiniteNumber, requirePositiveNumber, requireSize, StreamError } from './stream-error.js';

export interface SuppressHotPixelsOptions {
  /** Largest sustained rate per pixel, in events per second. */
  readonly maxRateHz: number;
  /** Window over which the rate is measured, in microseconds (default 100 000 = 100 ms). */
  readonly windowUs?: number;
  readonly width: number;
  readonly height: number;
  /** Start of the first window; default: the first event's t. */
  readonly originUs?: number;
}

export interface SuppressHotPixelsState {
  readonly windowUs: number;
  readonly width: number;
  readonly height: number;
  /** Largest count per window a pixel may have. */
  readonly threshold: number;
  /** Start of window 0 (undefined until the first event, unless an origin was given). */
  readonly originUs: number | undefined;
  /** Index of the current window. */
  readonly window: number;
  /** Per pixel: window index of `count`, its count there, and its count in the window before. */
  readonly stamp: Float64Array;
  readonly count: Uint32Array;
  readonly prevCount: Uint32Array;
  /** Events dropped so far. */
  readonly dropped: number;
}

const STAGE = 'suppressHotPixels';

export function initSuppressHotPixels(options: SuppressHotPixelsOptions): SuppressHotPixelsState {
  const maxRateHz = requirePositiveNumber(STAGE, 'maxRateHz', options.maxRateHz);
  const windowUs = requirePositiveNumber(STAGE, 'windowUs', options.windowUs ?? 100_000);
  const width = requireSize(STAGE, 'width', options.width);
  const height = requireSize(STAGE, 'height', options.height);
  const originUs = options.originUs === undefined ? undefined : requireFiniteNumber(STAGE, 'originUs', options.originUs);
  const n = width * height;
  return {
    windowUs, width, height, threshold: (maxRateHz * windowUs) / 1e6, originUs, window: 0,
    stamp: new Float64Array(n).fill(-2), count: new Uint32Array(n), prevCount: new Uint32Array(n), dropped: 0,
  };
}

export function suppressHotPixelsEvents(state: SuppressHotPixelsState, batch: EventBatch): { state: SuppressHotPixelsState; events: EventBatch } {
  const { windowUs, width: w, height: h, threshold, stamp, count, prevCount } = state;
  const { t, x, y, p } = batch;
  const n = t.length;
  if (n === 0) return { state, events: batch };
  const origin = state.originUs ?? t[0];
  let win = state.window;
  let winEnd = origin + (win + 1) * windowUs;
  const out = allocBatch(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    const ti = t[i];
    if (xi >= w || yi >= h) {
      throw new StreamError('OUT_OF_RANGE', STAGE, `event at (${xi}, ${yi}) t=${ti} is outside the ${w}x${h} sensor`);
    }
    if (ti >= winEnd) {
      win = Math.floor((ti - origin) / windowUs);
      winEnd = origin + (win + 1) * windowUs;
    }
    const k = yi * w + xi;
    const s = stamp[k];
    let c: number;
    if (s === win) {
      c = ++count[k];
    } else {
      prevCount[k] = s === win - 1 ? count[k] : 0;
      stamp[k] = win;
      c = count[k] = 1;
    }
    if (c <= threshold && prevCount[k] <= threshold) {
      out.t[m] = ti;
      out.x[m] = xi;
      out.y[m] = yi;
      out.p[m] = p[i];
      m++;
    }
  }
  return { state: { ...state, originUs: origin, window: win, dropped: state.dropped + n - m }, events: trimBatch(out, m) };
}

export function suppressHotPixels(options: SuppressHotPixelsOptions): OperatorFunction<EventBatch, ClockedBatch> {
  initSuppressHotPixels({ ...options, width: 1, height: 1 }); // validate the rest now
  requireSize(STAGE, 'width', options.width);
  requireSize(STAGE, 'height', options.height);
  return batchOperator<SuppressHotPixelsState, EventBatch, ClockedBatch>(
    () => initSuppressHotPixels(options),
    (s, b) => {
      const r = suppressHotPixelsEvents(s, b);
      return { state: r.state, outputs: [withClock(r.events, b)] };
    },
  );
}
