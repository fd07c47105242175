/**
 * Refractory period with tonic's `RefractoryPeriod` semantics (tonic/functional/refractory_period.py),
 * verified against tonic's output on the N-MNIST sample:
 *
 * - Per pixel the time of its last event, initialised to -refractoryUs.
 * - An event survives when t - last > refractoryUs (strict), and *every* event, kept or not,
 *   sets last = t. So a pixel firing faster than the period stays silent until it pauses for
 *   longer than the period (the period restarts on dropped events too). With the initial value an
 *   event at t = 0 is dropped (0 - (-r) > r is false), as in tonic.
 *
 * Late events: processed as tonic processes an unsorted array (no reordering): a late event has
 * t - last < 0, so it is dropped, and it still sets last = t (the pixel's memory goes back).
 */
import type { OperatorFunction } from 'rxjs';
import { allocBatch, trimBatch, type EventBatch } from '../events/batch.js';
import { batchOperator } from './batch-operator.js';
import { withClock, type ClockedBatch } from './clocked-batch.js';
import { requireFiniteNumber, requireSize, StreamError } from './stream-error.js';

export interface RefractoryPeriodOptions {
  /** tonic's refractory_period, in microseconds (>= 0). */
  readonly refractoryUs: number;
  readonly width: number;
  readonly height: number;
}

export interface RefractoryPeriodState {
  readonly options: Required<RefractoryPeriodOptions>;
  /** Per pixel (y * width + x): time of its last event. Updated in place; use the returned state. */
  readonly last: Float64Array;
}

const STAGE = 'refractoryPeriod';

export function resolveRefractoryPeriodOptions(options: RefractoryPeriodOptions): Required<RefractoryPeriodOptions> {
  const refractoryUs = requireFiniteNumber(STAGE, 'refractoryUs', options.refractoryUs);
  if (refractoryUs < 0) throw new StreamError('BAD_OPTION', STAGE, `refractoryUs must be >= 0, got ${refractoryUs}`);
  const width = requireSize(STAGE, 'width', options.width);
  const height = requireSize(STAGE, 'height', options.height);
  return { refractoryUs, width, height };
}

export function initRefractoryPeriod(options: RefractoryPeriodOptions): RefractoryPeriodState {
  const o = resolveRefractoryPeriodOptions(options);
  return { options: o, last: new Float64Array(o.width * o.height).fill(-o.refractoryUs) };
}

export function refractoryPeriodEvents(state: RefractoryPeriodState, batch: EventBatch): { state: RefractoryPeriodState; events: EventBatch } {
  const { refractoryUs: r, width: w, height: h } = state.options;
  const last = state.last;
  const { t, x, y, p } = batch;
  const n = t.length;
  const out = allocBatch(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    const ti = t[i];
    if (xi >= w || yi >= h) {
      throw new StreamError('OUT_OF_RANGE', STAGE, `event at (${xi}, ${yi}) t=${ti} is outside the ${w}x${h} sensor`);
    }
    const k = yi * w + xi;
    if (ti - last[k] > r) {
      out.t[m] = ti;
      out.x[m] = xi;
      out.y[m] = yi;
      out.p[m] = p[i];
      m++;
    }
    last[k] = ti;
  }
  return { state, events: trimBatch(out, m) };
}

export function refractoryPeriod(options: RefractoryPeriodOptions): OperatorFunction<EventBatch, ClockedBatch> {
  resolveRefractoryPeriodOptions(options);
  return batchOperator<RefractoryPeriodState, EventBatch, ClockedBatch>(
    () => initRefractoryPeriod(options),
    (s, b) => {
      const r = refractoryPeriodEvents(s, b);
      return { state: r.state, outputs: [withClock(r.events, b)] };
    },
  );
}
