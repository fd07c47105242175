/**
 * Background-activity denoise with tonic's `Denoise` semantics (tonic/functional/denoise.py),
 * verified against tonic's output on the N-MNIST sample (../shared/fixtures/reference):
 *
 * - Per pixel a memory of "last event time + filterTimeUs", initialised to filterTimeUs (as if
 *   every pixel had fired at t = 0: tonic's initial value, so early events pass easily).
 * - For each event, in arrival order: first its own pixel's memory is set to t + filterTimeUs,
 *   then the event survives if a 4-neighbour (left, right, up, down; not diagonals, not the pixel
 *   itself) has memory > t, strictly, i.e. that neighbour's last event t' satisfies
 *   t - t' < filterTimeUs. Dropped events still update the memory.
 * - `neighbourhood: 8` adds the diagonals (not tonic; jAER-style BA filters use 8).
 * - Borders: tonic takes the frame from the largest coordinate in the recording; here it is the
 *   sensor size given in the options. They differ only for events earlier than filterTimeUs next
 *   to the largest coordinate seen (the initial memory counts as a fired neighbour).
 *
 * Late events (t earlier than an earlier event): processed exactly as tonic processes an unsorted
 * array, with no reordering: the memory is overwritten with the late event's t + filterTimeUs (it
 * can go down), and a late event easily survives because its neighbours' memories are newer.
 */
import { allocBatch, trimBatch, type EventBatch } from '../events/batch.js';
import type { OperatorFunction } from 'rxjs';
import { batchOperator } from './batch-operator.js';
import { withClock, type ClockedBatch } from './clocked-batch.js';
import { requirePositiveNumber, requireSize, StreamError } from './stream-error.js';

export interface DenoiseOptions {
  /** tonic's filter_time, in microseconds. */
  readonly filterTimeUs: number;
  /** Sensor size; events must lie inside it. */
  readonly width: number;
  readonly height: number;
  /** 4 (tonic, default) or 8 neighbours. */
  readonly neighbourhood?: 4 | 8;
}

export interface DenoiseState {
  readonly options: Required<DenoiseOptions>;
  /**
   * Per pixel (y * width + x): last event time + filterTimeUs. Updated in place by
   * `denoiseEvents` (copying a sensor-sized map per batch would dominate the cost), so a state
   * is consumed by the step it is passed to: use the returned one.
   */
  readonly memory: Float64Array;
}

const STAGE = 'denoise';

/** Validated options with defaults; throws a BAD_OPTION StreamError naming the bad one. */
export function resolveDenoiseOptions(options: DenoiseOptions): Required<DenoiseOptions> {
  const filterTimeUs = requirePositiveNumber(STAGE, 'filterTimeUs', options.filterTimeUs);
  const width = requireSize(STAGE, 'width', options.width);
  const height = requireSize(STAGE, 'height', options.height);
  const neighbourhood = options.neighbourhood ?? 4;
  if (neighbourhood !== 4 && neighbourhood !== 8) {
    throw new StreamError('BAD_OPTION', STAGE, `neighbourhood must be 4 or 8, got ${String(neighbourhood)}`);
  }
  return { filterTimeUs, width, height, neighbourhood };
}

export function initDenoise(options: DenoiseOptions): DenoiseState {
  const o = resolveDenoiseOptions(options);
  return { options: o, memory: new Float64Array(o.width * o.height).fill(o.filterTimeUs) };
}

/** Pure core: the survivors of `batch`, and the state to pass with the next batch. */
export function denoiseEvents(state: DenoiseState, batch: EventBatch): { state: DenoiseState; events: EventBatch } {
  const { filterTimeUs: ft, width: w, height: h, neighbourhood } = state.options;
  const mem = state.memory;
  const { t, x, y, p } = batch;
  const n = t.length;
  const out = allocBatch(n);
  const diag = neighbourhood === 8;
  let m = 0;
  // Hot loop over the columns: one memory write and up to 8 reads per event.
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    const ti = t[i];
    if (xi >= w || yi >= h) {
      throw new StreamError('OUT_OF_RANGE', STAGE, `event at (${xi}, ${yi}) t=${ti} is outside the ${w}x${h} sensor`);
    }
    const k = yi * w + xi;
    mem[k] = ti + ft;
    const left = xi > 0;
    const right = xi < w - 1;
    const up = yi > 0;
    const down = yi < h - 1;
    let keep = (left && mem[k - 1] > ti) || (right && mem[k + 1] > ti) || (up && mem[k - w] > ti) || (down && mem[k + w] > ti);
    if (!keep && diag) {
      keep = (left && up && mem[k - w - 1] > ti) || (right && up && mem[k - w + 1] > ti)
        || (left && down && mem[k + w - 1] > ti) || (right && down && mem[k + w + 1] > ti);
    }
    if (keep) {
      out.t[m] = ti;
      out.x[m] = xi;
      out.y[m] = yi;
      out.p[m] = p[i];
      m++;
    }
  }
  return { state, events: trimBatch(out, m) };
}

/** Operator: one output batch per input batch (possibly empty), clock passed through. */
export function denoise(options: DenoiseOptions): OperatorFunction<EventBatch, ClockedBatch> {
  resolveDenoiseOptions(options); // fail where the pipeline is built, not at subscription
  return batchOperator<DenoiseState, EventBatch, ClockedBatch>(
    () => initDenoise(options),
    (s, b) => {
      const r = denoiseEvents(s, b);
      return { state: r.state, outputs: [withClock(r.events, b)] };
    },
  );
}
