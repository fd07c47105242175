/**
 * DVS emulator: intensity frames -> address events, the way v2e and ESIM model a DVS pixel.
 *
 * Each pixel compares its log intensity L = ln(I + eps) with the level it memorised at its last
 * reset and fires an ON (OFF) event each time L rises (falls) by its own contrast threshold.
 * Between two frames L is taken to change linearly in time (ESIM's assumption), so every
 * threshold crossing gets its own interpolated timestamp and a large change yields several events
 * in one frame interval. Refractory period, threshold mismatch, background-activity noise, leak
 * events and a photoreceptor low-pass are optional; see DvsEmulatorParams for their meaning.
 *
 * Output order: events of one `step` have integer-microsecond timestamps in [round(tPrev), round(t)] and are
 * sorted by rounded timestamp; ties are broken by pixel index (y * width + x), then polarity
 * (OFF before ON). Identical (t, x, y, p) events can occur (several crossings rounded to the same
 * microsecond) and are all kept. Successive steps therefore yield a non-decreasing stream.
 *
 * Deterministic: the same seed, parameters and frames give the same events, bit for bit.
 */
import { allocBatch, concatBatches, emptyBatch, type EventBatch } from '../events/batch.js';
import { resolveEmulatorParams, type DvsEmulatorParams } from './emulator-params.js';
import { Prng, mixSeed } from './prng.js';

/** Limits against runaway output, in one place. */
export interface EmulatorLimits {
  /** Largest number of events one `step` may produce before it fails (signal + noise). */
  readonly maxEventsPerStep: number;
}

export const DEFAULT_EMULATOR_LIMITS: EmulatorLimits = Object.freeze({ maxEventsPerStep: 50_000_000 });

export interface DvsEmulatorOptions {
  readonly width: number;
  readonly height: number;
  readonly params?: Partial<DvsEmulatorParams>;
  /** Seed for mismatch, noise and leak phases. Default 0. */
  readonly seed?: number;
  readonly limits?: Partial<EmulatorLimits>;
}

// Stream ids for mixSeed, so mismatch and noise draw from unrelated generators.
const STREAM_MISMATCH = 1;
const STREAM_NOISE = 2;
const STREAM_LEAK = 3;

/** Shared result of steps without events (zero-length columns cannot be written to). */
const EMPTY: EventBatch = emptyBatch();

export class DvsEmulator {
  readonly width: number;
  readonly height: number;
  readonly params: DvsEmulatorParams;
  private readonly limits: EmulatorLimits;
  private readonly nPix: number;
  /** Per-pixel thresholds after mismatch (log units). */
  readonly thresholdsOn: Float64Array;
  readonly thresholdsOff: Float64Array;
  /** Memorised log level at the last reset. */
  private readonly ref: Float64Array;
  /** (Low-passed) log intensity at the previous frame. */
  private readonly cur: Float64Array;
  /** Unrounded time of each pixel's last signal event (-Infinity: never). */
  private readonly lastEvent: Float64Array;
  private readonly noiseRng: Prng;
  private readonly leakSeed: number;
  private t = NaN;
  private nextNoiseT = Infinity;
  // Event keys of the current step: ((round(t) - base) * nPix + pixel) * 2 + polarity.
  private keys = new Float64Array(1024);
  private nKeys = 0;

  constructor(opts: DvsEmulatorOptions) {
    const { width, height } = opts;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65536 || height > 65536) {
      throw new RangeError(`DvsEmulator: sensor ${width}x${height} must be integers in [1, 65536]`);
    }
    this.width = width;
    this.height = height;
    this.params = resolveEmulatorParams(opts.params);
    this.limits = { ...DEFAULT_EMULATOR_LIMITS, ...(opts.limits ?? {}) };
    const n = (this.nPix = width * height);
    const seed = opts.seed ?? 0;
    const p = this.params;
    this.thresholdsOn = new Float64Array(n);
    this.thresholdsOff = new Float64Array(n);
    const mm = new Prng(mixSeed(seed, STREAM_MISMATCH));
    for (let i = 0; i < n; i++) {
      this.thresholdsOn[i] = Math.max(p.thresholdMin, p.thresholdOn + p.thresholdSigma * mm.normal());
      this.thresholdsOff[i] = Math.max(p.thresholdMin, p.thresholdOff + p.thresholdSigma * mm.normal());
    }
    this.ref = new Float64Array(n);
    this.cur = new Float64Array(n);
    this.lastEvent = new Float64Array(n).fill(-Infinity);
    this.noiseRng = new Prng(mixSeed(seed, STREAM_NOISE));
    this.leakSeed = mixSeed(seed, STREAM_LEAK);
  }

  /** Time of the last frame (microseconds), NaN before `reset`. */
  get time(): number {
    return this.t;
  }

  /**
   * Starts (or restarts) the emulation at frame `frame` taken at `tUs`: every pixel memorises its
   * current level, so this frame itself produces no events. With leak events enabled the memorised
   * levels get random phases within one threshold, so leak events do not all fire at once.
   */
  reset(frame: ArrayLike<number>, tUs: number): void {
    if (!Number.isFinite(tUs)) throw new RangeError(`DvsEmulator.reset: time ${tUs} is not finite`);
    this.toLog(frame, this.cur);
    this.ref.set(this.cur);
    if (this.params.leakRateHz > 0) {
      const r = new Prng(this.leakSeed);
      for (let i = 0; i < this.nPix; i++) this.ref[i] -= r.next() * this.thresholdsOn[i];
    }
    this.lastEvent.fill(-Infinity);
    this.t = tUs;
    const rate = this.params.noiseRateHz * this.nPix * 1e-6;
    this.nextNoiseT = rate > 0 ? tUs + this.noiseRng.exponential(rate) : Infinity;
  }

  /**
   * Advances to frame `frame` taken at `tUs` (> previous time) and returns the events of the
   * interval (tPrev, tUs], in time order (see the file comment for ties).
   */
  step(frame: ArrayLike<number>, tUs: number): EventBatch {
    const t0 = this.t;
    if (Number.isNaN(t0)) throw new Error('DvsEmulator.step: call reset(frame, t) first');
    if (!(tUs > t0) || !Number.isFinite(tUs)) throw new RangeError(`DvsEmulator.step: time ${tUs} must be finite and after the previous frame at ${t0}`);
    const dt = tUs - t0;
    const base = Math.round(t0);
    const span = Math.round(tUs) - base + 1;
    if (span * this.nPix * 2 > Number.MAX_SAFE_INTEGER) throw new RangeError(`DvsEmulator.step: interval of ${dt} us is too long for ${this.nPix} pixels`);
    const p = this.params;
    const nPix = this.nPix;
    // Validate before touching any state, so a bad frame leaves the emulator as it was.
    if (frame.length !== nPix) throw new RangeError(`DvsEmulator: frame has ${frame.length} values, expected ${this.width}x${this.height}=${nPix}`);
    for (let i = 0; i < nPix; i++) {
      const v = frame[i];
      if (!(v >= 0 && v < Infinity)) throw new RangeError(`DvsEmulator: frame value ${v} at pixel ${i} is not a finite intensity >= 0`);
    }
    const eps = p.logEpsilon;
    // First-order low-pass, exact for an input held constant over the interval: L1 = L0 + a (Lin - L0).
    const kLp = p.cutoffHz > 0 ? -2 * Math.PI * p.cutoffHz * dt * 1e-6 : 0;
    const aLp = p.cutoffHz > 0 ? 1 - Math.exp(kLp) : 1;
    const lowpass = p.cutoffHz > 0;
    const scaled = lowpass && p.cutoffScalesWithIntensity;
    const drift = p.leakRateHz * dt * 1e-6;
    this.nKeys = 0;
    const cur = this.cur;
    const ref = this.ref;
    const thOn = this.thresholdsOn;
    const thOff = this.thresholdsOff;
    const last = this.lastEvent;
    const R = p.refractoryUs;
    // Hot loop: hand-written because it runs width*height times per frame (log, low-pass, leak and
    // change detection fused in one pass); per pixel it only branches out when a threshold is
    // crossed, which is rare.
    for (let i = 0; i < nPix; i++) {
      const v = frame[i];
      const L0 = cur[i];
      const Lin = Math.log(v + eps);
      const L1 = !lowpass ? Lin : L0 + (scaled ? 1 - Math.exp(kLp * Math.min(1, Math.max(0.01, v))) : aLp) * (Lin - L0);
      cur[i] = L1;
      let r = ref[i];
      if (drift !== 0) r -= drift * thOn[i];
      let tc = t0;
      if (R > 0) {
        const release = last[i] + R;
        if (release > t0) {
          if (release >= tUs) {
            ref[i] = L1;
            continue;
          }
          // Held in reset until `release`: the reference follows the input up to then.
          r = L0 + ((L1 - L0) * (release - t0)) / dt;
          tc = release;
        }
      }
      const d = L1 - r;
      if (d >= thOn[i]) {
        r = this.crossings(i, 1, r, thOn[i], L0, L1, t0, dt, tc, base);
      } else if (d <= -thOff[i]) {
        r = this.crossings(i, 0, r, -thOff[i], L0, L1, t0, dt, tc, base);
      }
      ref[i] = r;
    }
    this.addNoise(tUs, base);
    this.t = tUs;
    return this.drain(base);
  }

  /**
   * Emits the crossings of one pixel whose level moves monotonically from L0 (at t0) to L1 (at
   * t0 + dt), starting from reference r at time tc; `step` is the signed threshold. Returns the
   * reference after the last event (or at release, with a refractory period).
   */
  private crossings(i: number, pol: number, r: number, step: number, L0: number, L1: number, t0: number, dt: number, tc: number, base: number): number {
    const R = this.params.refractoryUs;
    const t1 = t0 + dt;
    const slope = (L1 - L0) / dt;
    const abs = Math.abs(step);
    while (pol === 1 ? L1 - r >= abs : r - L1 >= abs) {
      const level = r + step;
      let te = t0 + (level - L0) / slope;
      // A crossing level already passed at the start (a reference left behind by a refractory
      // release or a low-pass) fires at once.
      if (!(te >= tc)) te = tc;
      if (te > t1) te = t1;
      this.emit(te, i, pol, base);
      this.lastEvent[i] = te;
      if (R > 0) {
        const release = te + R;
        if (release >= t1) return L1;
        r = L0 + slope * (release - t0);
        tc = release;
      } else {
        r = level;
        tc = te;
      }
    }
    return r;
  }

  private addNoise(t1: number, base: number): void {
    const p = this.params;
    if (p.noiseRateHz <= 0) return;
    const rate = p.noiseRateHz * this.nPix * 1e-6;
    const rng = this.noiseRng;
    while (this.nextNoiseT <= t1) {
      const pix = rng.int(this.nPix);
      const pol = rng.next() < p.noiseOnFraction ? 1 : 0;
      this.emit(this.nextNoiseT, pix, pol, base);
      this.nextNoiseT += rng.exponential(rate);
    }
  }

  private emit(te: number, pix: number, pol: number, base: number): void {
    if (this.nKeys === this.keys.length) {
      if (this.nKeys >= this.limits.maxEventsPerStep) {
        throw new RangeError(`DvsEmulator.step: more than maxEventsPerStep=${this.limits.maxEventsPerStep} events in one frame interval`);
      }
      const bigger = new Float64Array(Math.min(this.keys.length * 2, Math.max(this.limits.maxEventsPerStep, 1024)));
      bigger.set(this.keys);
      this.keys = bigger;
    }
    this.keys[this.nKeys++] = ((Math.round(te) - base) * this.nPix + pix) * 2 + pol;
  }

  private drain(base: number): EventBatch {
    const n = this.nKeys;
    if (n === 0) return EMPTY;
    const keys = this.keys.subarray(0, n).sort();
    const out = allocBatch(n);
    const w = this.width;
    const nPix = this.nPix;
    for (let k = 0; k < n; k++) {
      const key = keys[k];
      const pol = key % 2;
      const rest = (key - pol) / 2;
      const pix = rest % nPix;
      out.t[k] = base + (rest - pix) / nPix;
      out.x[k] = pix % w;
      out.y[k] = (pix - (pix % w)) / w;
      out.p[k] = pol;
    }
    return out;
  }

  private toLog(frame: ArrayLike<number>, out: Float64Array): void {
    if (frame.length !== this.nPix) throw new RangeError(`DvsEmulator: frame has ${frame.length} values, expected ${this.width}x${this.height}=${this.nPix}`);
    const eps = this.params.logEpsilon;
    for (let i = 0; i < this.nPix; i++) {
      const v = frame[i];
      if (!(v >= 0 && v < Infinity)) throw new RangeError(`DvsEmulator: frame value ${v} at pixel ${i} is not a finite intensity >= 0`);
      out[i] = Math.log(v + eps);
    }
  }
}

/** One frame of a video: linear intensities (width*height, row-major) at time `t` (microseconds). */
export interface TimedFrame {
  readonly t: number;
  readonly frame: ArrayLike<number>;
}

/** Emulates a whole frame sequence; the first frame only initialises the pixels. */
export function emulateFrames(frames: Iterable<TimedFrame>, opts: DvsEmulatorOptions): EventBatch {
  const emu = new DvsEmulator(opts);
  const parts: EventBatch[] = [];
  let first = true;
  for (const f of frames) {
    if (first) {
      emu.reset(f.frame, f.t);
      first = false;
    } else {
      parts.push(emu.step(f.frame, f.t));
    }
  }
  return concatBatches(parts);
}
