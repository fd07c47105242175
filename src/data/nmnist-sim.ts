/**
 * Synthetic N-MNIST: one MNIST digit on a monitor, seen by a 34x34 ATIS camera that makes three
 * saccades (about 300 ms), rendered through the DVS emulator.
 *
 * The defaults are measured on the 1,000 real N-MNIST recordings in ../shared/fixtures/nmnist-real
 * (nmnist-stats.ts, nmnist-register.ts, shown by `spikestream synth stats`); see
 * DEFAULT_NMNIST_SIM_PARAMS for what each was fitted to.
 */
import { allocBatch, concatBatches, type EventBatch } from '../events/batch.js';
import { DvsEmulator } from './emulator.js';
import { resolveEmulatorParams, type DvsEmulatorParams } from './emulator-params.js';
import { prepareDigitField, renderDigit, type DisplayParams } from './digit-render.js';
import { jitterPath, pathAt, validatePath, type PathJitter, type SaccadePath } from './saccade-path.js';
import { Prng, mixSeed } from './prng.js';

/** A pixel that fires on its own, whatever the scene (a defect of one particular sensor). */
export interface HotPixel {
  readonly x: number;
  readonly y: number;
  /** Mean event rate, Hz. */
  readonly rateHz: number;
  /** Fraction of its events that are ON. */
  readonly onFraction: number;
}

export interface NmnistSimParams {
  readonly width: number;
  readonly height: number;
  /** Time between rendered frames, microseconds (1000 = 1 kHz). */
  readonly frameIntervalUs: number;
  /** Recording length is drawn uniformly from [min, max] microseconds; frames cover [0, length]. */
  readonly durationMinUs: number;
  readonly durationMaxUs: number;
  /** Nominal motion of the digit's top-left corner on the sensor. */
  readonly path: SaccadePath;
  readonly jitter: PathJitter;
  readonly display: DisplayParams;
  /** Optical blur (Gaussian PSF std dev), sensor pixels. */
  readonly psfSigmaPx: number;
  /** Fine-grid oversampling of the rendered digit. */
  readonly oversample: number;
  readonly emulator: DvsEmulatorParams;
  /** Per-sample std dev of a common factor on both thresholds (illumination / bias drift between recordings), as a fraction. */
  readonly thresholdScaleSigma: number;
  readonly hotPixels: readonly HotPixel[];
}

/**
 * Motion measured on the real recordings by registering each recording's events against its own
 * MNIST digit every 5 ms (nmnist-register.ts), averaging over recordings, and adjusting until
 * synthetic recordings registered the same way give the same trace (within ~0.2 px): saccade 1
 * moves down then right, saccade 2 right then up, saccade 3 left, closing the triangle; the
 * camera creeps slowly between saccades (the real recordings keep firing there). The event-rate
 * profile over time (a proxy for speed) shaped the acceleration phases.
 */
export const NMNIST_SACCADE_PATH: SaccadePath = Object.freeze({
  startX: 0.4,
  startY: 1.3,
  moves: Object.freeze([
    // Saccade 1: down (slow start), then right; a slow creep after it.
    { axis: 'y', t0Us: 3_000, t1Us: 66_000, deltaPx: 4.95, ramp: 0.6, rampDown: 0.2 },
    { axis: 'x', t0Us: 44_000, t1Us: 74_000, deltaPx: 1.6, ramp: 0.5 },
    { axis: 'y', t0Us: 66_000, t1Us: 100_000, deltaPx: 0.1, ramp: 0.5 },
    { axis: 'x', t0Us: 74_000, t1Us: 100_000, deltaPx: 0.1, ramp: 0.5 },
    // Saccade 2: right (slowly at first), then up; drift right and up until saccade 3.
    { axis: 'x', t0Us: 100_000, t1Us: 128_000, deltaPx: 0.6, ramp: 0.5 },
    { axis: 'x', t0Us: 119_000, t1Us: 162_000, deltaPx: 2.3, ramp: 0.35 },
    { axis: 'y', t0Us: 124_000, t1Us: 172_000, deltaPx: -4.5, ramp: 0.3 },
    { axis: 'x', t0Us: 162_000, t1Us: 225_000, deltaPx: 0.75, ramp: 0.5 },
    { axis: 'y', t0Us: 172_000, t1Us: 225_000, deltaPx: -0.3, ramp: 0.5 },
    // Saccade 3: left (abrupt start), a little up.
    { axis: 'x', t0Us: 223_000, t1Us: 284_000, deltaPx: -4.9, ramp: 0.2, rampDown: 0.25 },
    { axis: 'x', t0Us: 284_000, t1Us: 300_000, deltaPx: -0.1, ramp: 0.5 },
    { axis: 'y', t0Us: 225_000, t1Us: 245_000, deltaPx: -0.2, ramp: 0.5 },
    { axis: 'y', t0Us: 245_000, t1Us: 290_000, deltaPx: -0.15, ramp: 0.5 },
  ] as const),
});

/**
 * Defaults, each fitted to the 1,000 real recordings (figures: `spikestream synth stats DIR --real
 * ../shared/fixtures/nmnist-real --register`):
 * - 1 kHz frames: the digit moves at most ~0.12 px/ms, so a frame moves it 0.12 px and the
 *   interpolated timestamps fall within one frame of the true crossing.
 * - duration: last real event at 303-312 ms (5th-95th percentile), so recordings end uniformly in
 *   [302, 314] ms.
 * - jitter: per-recording spread of the registered digit position (sd 0.22-0.27 px at mid-saccade,
 *   estimator noise included); the saccade timing of the real rig is very repeatable.
 * - display: dark digit on a bright screen. In the real recordings ON events trail a moving stroke
 *   and OFF events lead it (ON-minus-OFF event centroid opposite to the motion), which is what a
 *   dark digit gives (or a bright one with the polarity bit inverted; in log space the two are the
 *   same). Black level 0.05 (contrast ratio 20:1) and thresholds together set events per pixel.
 * - psfSigmaPx, thresholds, refractory period, cutoff: fitted jointly to events per sample and per
 *   saccade (real median 4,163), events per active pixel (9.3), the same-pixel inter-event interval
 *   histogram (real: <0.3% below 1 ms, 38% in 2-4 ms) and the event-rate profile over time. ON is
 *   slightly harder to fire than OFF so signal events lean OFF the way the real ones do (the real
 *   ON fraction is 0.498 with mostly-ON noise).
 * - noise: 0.53 events/s per pixel in the 3-pixel border, 85% ON, measured where the digit never is.
 * - hot pixel: (18, 30) fires ~15 events per recording (56% ON) in every real recording, 4x its
 *   neighbours; the other pixels are unremarkable.
 */
export const DEFAULT_NMNIST_SIM_PARAMS: NmnistSimParams = Object.freeze({
  width: 34,
  height: 34,
  frameIntervalUs: 1000,
  durationMinUs: 302_000,
  durationMaxUs: 314_000,
  path: NMNIST_SACCADE_PATH,
  jitter: Object.freeze({ placementPx: 0.15, amplitudeFraction: 0.02, timeShiftUs: 500, moveTimeUs: 800 }),
  display: Object.freeze({ black: 0.05, gamma: 1, darkDigit: true }),
  psfSigmaPx: 0.3,
  oversample: 4,
  emulator: resolveEmulatorParams({
    thresholdOn: 0.3,
    thresholdOff: 0.28,
    thresholdSigma: 0.04,
    refractoryUs: 1000,
    cutoffHz: 50,
    noiseRateHz: 0.43,
    noiseOnFraction: 0.9,
  }),
  thresholdScaleSigma: 0.05,
  hotPixels: Object.freeze([{ x: 18, y: 30, rateHz: 49, onFraction: 0.56 }]),
});

/** Defaults with overrides (one level deep for the nested records), validated. */
export function resolveNmnistSimParams(o: Partial<Omit<NmnistSimParams, 'emulator' | 'display' | 'jitter'>> & {
  emulator?: Partial<DvsEmulatorParams>;
  display?: Partial<DisplayParams>;
  jitter?: Partial<PathJitter>;
} = {}): NmnistSimParams {
  const d = DEFAULT_NMNIST_SIM_PARAMS;
  const p: NmnistSimParams = {
    ...d,
    ...o,
    emulator: resolveEmulatorParams({ ...d.emulator, ...(o.emulator ?? {}) }),
    display: { ...d.display, ...(o.display ?? {}) },
    jitter: { ...d.jitter, ...(o.jitter ?? {}) },
  };
  const pos = (name: string, v: number): void => {
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`nmnist sim parameter ${name}=${v}: must be a finite number > 0`);
  };
  pos('width', p.width);
  pos('height', p.height);
  pos('frameIntervalUs', p.frameIntervalUs);
  pos('durationMinUs', p.durationMinUs);
  if (!(p.durationMaxUs >= p.durationMinUs)) throw new RangeError('nmnist sim: durationMaxUs must be >= durationMinUs');
  if (!(p.psfSigmaPx >= 0)) throw new RangeError('nmnist sim: psfSigmaPx must be >= 0');
  if (!(p.thresholdScaleSigma >= 0 && p.thresholdScaleSigma < 0.5)) throw new RangeError('nmnist sim: thresholdScaleSigma must be in [0, 0.5)');
  validatePath(p.path);
  for (const h of p.hotPixels) {
    if (!(h.x >= 0 && h.x < p.width && h.y >= 0 && h.y < p.height) || !(h.rateHz >= 0) || !(h.onFraction >= 0 && h.onFraction <= 1)) {
      throw new RangeError(`nmnist sim: bad hot pixel ${JSON.stringify(h)}`);
    }
  }
  return p;
}

export interface NmnistSample {
  readonly events: EventBatch;
  /** The jittered path actually used (for registration checks and the manifest). */
  readonly path: SaccadePath;
  readonly durationUs: number;
}

/**
 * Simulates one recording of `pixels` (784 MNIST bytes). Deterministic in (pixels, params, seed).
 */
export function simulateNmnist(pixels: ArrayLike<number>, params: NmnistSimParams, seed: number): NmnistSample {
  const rng = new Prng(mixSeed(seed, 0x4e4d));
  const path = jitterPath(params.path, params.jitter, () => rng.normal());
  const durationUs = Math.round(params.durationMinUs + (params.durationMaxUs - params.durationMinUs) * rng.next());
  const scale = Math.max(0.5, 1 + params.thresholdScaleSigma * rng.normal());
  const em = params.emulator;
  const emu = new DvsEmulator({
    width: params.width,
    height: params.height,
    params: { ...em, thresholdOn: em.thresholdOn * scale, thresholdOff: em.thresholdOff * scale },
    seed: mixSeed(seed, 0x454d55),
  });
  const field = prepareDigitField(pixels, { display: params.display, psfSigmaPx: params.psfSigmaPx, oversample: params.oversample });
  const frame = new Float32Array(params.width * params.height);
  const pos: [number, number] = [0, 0];
  const parts: EventBatch[] = [];
  pathAt(path, 0, pos);
  renderDigit(field, pos[0], pos[1], params.width, params.height, frame);
  emu.reset(frame, 0);
  for (let t = params.frameIntervalUs; ; t += params.frameIntervalUs) {
    const tf = Math.min(t, durationUs);
    pathAt(path, tf, pos);
    renderDigit(field, pos[0], pos[1], params.width, params.height, frame);
    const b = emu.step(frame, tf);
    if (b.t.length > 0) parts.push(b);
    if (tf >= durationUs) break;
  }
  let events = concatBatches(parts);
  if (params.hotPixels.length > 0) events = mergeByTime(events, hotPixelEvents(params.hotPixels, params.width, durationUs, new Prng(mixSeed(seed, 0x484f54))));
  return { events, path, durationUs };
}

/** Poisson events of each hot pixel over [0, durationUs], in time order (ties by pixel, polarity). */
function hotPixelEvents(hot: readonly HotPixel[], width: number, durationUs: number, rng: Prng): EventBatch {
  const rows: number[][] = [];
  for (const h of hot) {
    if (h.rateHz <= 0) continue;
    const rate = h.rateHz * 1e-6;
    for (let t = rng.exponential(rate); t <= durationUs; t += rng.exponential(rate)) {
      rows.push([Math.round(t), h.y * width + h.x, h.x, h.y, rng.next() < h.onFraction ? 1 : 0]);
    }
  }
  rows.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[4] - b[4]);
  const out = allocBatch(rows.length);
  rows.forEach((r, i) => {
    out.t[i] = r[0];
    out.x[i] = r[2];
    out.y[i] = r[3];
    out.p[i] = r[4];
  });
  return out;
}

/** Stable merge of two time-ordered batches (ties: `a` first). */
export function mergeByTime(a: EventBatch, b: EventBatch): EventBatch {
  const na = a.t.length;
  const nb = b.t.length;
  const out = allocBatch(na + nb);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < na || j < nb) {
    const takeA = j >= nb || (i < na && a.t[i] <= b.t[j]);
    const src = takeA ? a : b;
    const s = takeA ? i++ : j++;
    out.t[k] = src.t[s];
    out.x[k] = src.x[s];
    out.y[k] = src.y[s];
    out.p[k] = src.p[s];
    k++;
  }
  return out;
}
