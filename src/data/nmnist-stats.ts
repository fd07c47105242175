/**
 * Statistics of N-MNIST-like recordings, to put synthetic data beside real data: per-sample
 * figures (events, duration, ON fraction, events per saccade), the event-rate profile and the
 * event-centroid trajectory over time (the motion as the events show it), spatial spread,
 * background noise, same-pixel inter-event intervals and hot pixels.
 *
 * An accumulator: add recordings one at a time (a dataset never has to be held in memory), then
 * `summary()`.
 */
import type { EventBatch } from '../events/batch.js';

/**
 * Saccade windows, microseconds. The boundaries are the minima of the real recordings' mean
 * event rate (about 90 ms and 224 ms, where the camera is still between saccades).
 */
export const NMNIST_SACCADE_BOUNDS_US: readonly number[] = Object.freeze([0, 90_000, 224_000, Infinity]);

export interface NmnistStatsOptions {
  readonly width: number;
  readonly height: number;
  /** Bin width of the rate and centroid profiles, microseconds. */
  readonly profileBinUs: number;
  readonly profileEndUs: number;
  /** Pixels within this many of the border count as "far from the digit" for the noise estimate. */
  readonly borderPx: number;
}

export const DEFAULT_NMNIST_STATS_OPTIONS: NmnistStatsOptions = Object.freeze({
  width: 34,
  height: 34,
  profileBinUs: 10_000,
  profileEndUs: 320_000,
  borderPx: 3,
});

/** Distribution summary of a per-sample figure. */
export interface Dist {
  readonly mean: number;
  readonly p5: number;
  readonly median: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
}

export interface NmnistStatsSummary {
  readonly samples: number;
  readonly perSample: Record<string, Dist>;
  /** Pooled figures (over all events of all samples). */
  readonly pooled: Record<string, number>;
  /**
   * Per profile bin: mean events per sample, ON fraction, event centroid relative to each sample's
   * own centroid (dx, dy: the motion), and ON centroid minus OFF centroid (onOffX/Y: which edge of
   * a moving stroke fires ON, i.e. the contrast sign).
   */
  readonly profile: ProfileBin[];
  /**
   * Pixels that fire far more than their neighbours (more than 4x the median of their 8
   * neighbours and more than 0.5 events per sample): sensor defects, with events per sample.
   */
  readonly hotPixels: { readonly x: number; readonly y: number; readonly perSample: number; readonly on: number }[];
}

export interface ProfileBin {
  readonly tUs: number;
  readonly events: number;
  readonly on: number;
  readonly dx: number;
  readonly dy: number;
  readonly onOffX: number;
  readonly onOffY: number;
}

const ISI_EDGES_US = [0, 500, 1000, 2000, 4000, 8000, 16000, 32000, Infinity];

export class NmnistStats {
  readonly options: NmnistStatsOptions;
  private readonly perSample = new Map<string, number[]>();
  private n = 0;
  private readonly nBins: number;
  private readonly binCount: Float64Array;
  private readonly binOn: Float64Array;
  private readonly binDx: Float64Array;
  private readonly binDy: Float64Array;
  private readonly binOnX: Float64Array;
  private readonly binOnY: Float64Array;
  private readonly binOffX: Float64Array;
  private readonly binOffY: Float64Array;
  private readonly pixCount: Float64Array;
  private readonly pixOn: Float64Array;
  private readonly isiHist = new Float64Array(ISI_EDGES_US.length - 1);
  private sameAfter = 0;
  private flipAfter = 0;
  private borderEvents = 0;
  private borderOn = 0;
  private borderPixelSeconds = 0;

  constructor(options: Partial<NmnistStatsOptions> = {}) {
    this.options = { ...DEFAULT_NMNIST_STATS_OPTIONS, ...options };
    this.nBins = Math.ceil(this.options.profileEndUs / this.options.profileBinUs);
    this.binCount = new Float64Array(this.nBins);
    this.binOn = new Float64Array(this.nBins);
    this.binDx = new Float64Array(this.nBins);
    this.binDy = new Float64Array(this.nBins);
    this.binOnX = new Float64Array(this.nBins);
    this.binOnY = new Float64Array(this.nBins);
    this.binOffX = new Float64Array(this.nBins);
    this.binOffY = new Float64Array(this.nBins);
    const np = this.options.width * this.options.height;
    this.pixCount = new Float64Array(np);
    this.pixOn = new Float64Array(np);
  }

  get count(): number {
    return this.n;
  }

  add(b: EventBatch): void {
    const { width: W, height: H, profileBinUs, borderPx } = this.options;
    const n = b.t.length;
    this.n++;
    const rec = (k: string, v: number): void => {
      let a = this.perSample.get(k);
      if (!a) this.perSample.set(k, (a = []));
      a.push(v);
    };
    rec('events', n);
    if (n === 0) return;
    const t0 = b.t[0];
    const tN = b.t[n - 1];
    rec('durationMs', (tN - t0) / 1000);
    rec('firstEventMs', t0 / 1000);
    rec('lastEventMs', tN / 1000);
    let on = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    const sac = new Float64Array(NMNIST_SACCADE_BOUNDS_US.length - 1);
    const sacOn = new Float64Array(sac.length);
    const onX = [0, 0];
    const onY = [0, 0];
    const seen = new Uint8Array(W * H);
    let active = 0;
    for (let i = 0; i < n; i++) {
      const x = b.x[i];
      const y = b.y[i];
      const p = b.p[i];
      on += p;
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      let s = 0;
      while (b.t[i] >= NMNIST_SACCADE_BOUNDS_US[s + 1]) s++;
      sac[s]++;
      sacOn[s] += p;
      onX[p] += x;
      onY[p] += y;
      if (x < W && y < H) {
        const px = y * W + x;
        if (!seen[px]) {
          seen[px] = 1;
          active++;
        }
        this.pixCount[px]++;
        this.pixOn[px] += p;
        if (x < borderPx || y < borderPx || x >= W - borderPx || y >= H - borderPx) {
          this.borderEvents++;
          this.borderOn += p;
        }
      }
    }
    const mx = sx / n;
    const my = sy / n;
    rec('onFraction', on / n);
    rec('spreadX', Math.sqrt(Math.max(0, sxx / n - mx * mx)));
    rec('spreadY', Math.sqrt(Math.max(0, syy / n - my * my)));
    rec('activePixels', active);
    rec('eventsPerActivePixel', n / active);
    for (let s = 0; s < sac.length; s++) {
      rec(`saccade${s + 1}Events`, sac[s]);
      if (sac[s] > 0) rec(`saccade${s + 1}OnFraction`, sacOn[s] / sac[s]);
    }
    let nb = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (x < borderPx || y < borderPx || x >= W - borderPx || y >= H - borderPx) nb++;
    this.borderPixelSeconds += (nb * (tN - t0)) / 1e6;
    // Profiles, relative to this sample's own centroid so placement differences cancel.
    for (let i = 0; i < n; i++) {
      const k = Math.floor(b.t[i] / profileBinUs);
      if (k < 0 || k >= this.nBins) continue;
      this.binCount[k]++;
      this.binOn[k] += b.p[i];
      this.binDx[k] += b.x[i] - mx;
      this.binDy[k] += b.y[i] - my;
      if (b.p[i]) {
        this.binOnX[k] += b.x[i];
        this.binOnY[k] += b.y[i];
      } else {
        this.binOffX[k] += b.x[i];
        this.binOffY[k] += b.y[i];
      }
    }
    // Same-pixel intervals: same polarity ISI histogram; polarity kept/flipped for the next event within 20 ms.
    const lastT = new Float64Array(W * H * 2).fill(-1);
    const lastAny = new Float64Array(W * H).fill(-1);
    const lastP = new Int8Array(W * H);
    for (let i = 0; i < n; i++) {
      if (b.x[i] >= W || b.y[i] >= H) continue;
      const px = b.y[i] * W + b.x[i];
      const k = px * 2 + b.p[i];
      if (lastT[k] >= 0) {
        const d = b.t[i] - lastT[k];
        let e = 0;
        while (d >= ISI_EDGES_US[e + 1]) e++;
        this.isiHist[e]++;
      }
      if (lastAny[px] >= 0 && b.t[i] - lastAny[px] < 20_000) {
        if (lastP[px] === b.p[i]) this.sameAfter++;
        else this.flipAfter++;
      }
      lastT[k] = b.t[i];
      lastAny[px] = b.t[i];
      lastP[px] = b.p[i];
    }
  }

  summary(): NmnistStatsSummary {
    const perSample: Record<string, Dist> = {};
    for (const [k, v] of this.perSample) perSample[k] = dist(v);
    const isiTotal = this.isiHist.reduce((a, b) => a + b, 0) || 1;
    const pooled: Record<string, number> = {
      noiseRateHzPerPixel: this.borderPixelSeconds > 0 ? this.borderEvents / this.borderPixelSeconds : 0,
      noiseOnFraction: this.borderEvents > 0 ? this.borderOn / this.borderEvents : 0,
      samePolarityNextWithin20ms: this.sameAfter / Math.max(1, this.sameAfter + this.flipAfter),
    };
    for (let e = 0; e < this.isiHist.length; e++) {
      const hi = ISI_EDGES_US[e + 1];
      pooled[`isiSamePixel_${ISI_EDGES_US[e] / 1000}-${hi === Infinity ? 'inf' : hi / 1000}ms`] = this.isiHist[e] / isiTotal;
    }
    const profile: ProfileBin[] = [];
    for (let k = 0; k < this.nBins; k++) {
      const c = this.binCount[k];
      const non = this.binOn[k];
      const noff = c - non;
      profile.push({
        tUs: k * this.options.profileBinUs,
        events: this.n ? c / this.n : 0,
        on: c ? non / c : NaN,
        dx: c ? this.binDx[k] / c : NaN,
        dy: c ? this.binDy[k] / c : NaN,
        onOffX: non && noff ? this.binOnX[k] / non - this.binOffX[k] / noff : NaN,
        onOffY: non && noff ? this.binOnY[k] / non - this.binOffY[k] / noff : NaN,
      });
    }
    const { width: W, height: H } = this.options;
    const hotPixels = [];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const c = this.pixCount[y * W + x];
        if (c <= 0.5 * this.n) continue;
        const nb: number[] = [];
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            const yy = y + dy;
            if ((dx || dy) && xx >= 0 && yy >= 0 && xx < W && yy < H) nb.push(this.pixCount[yy * W + xx]);
          }
        }
        if (c > 4 * dist(nb).median) hotPixels.push({ x, y, perSample: c / this.n, on: this.pixOn[y * W + x] / c });
      }
    }
    hotPixels.sort((a, b) => b.perSample - a.perSample);
    return { samples: this.n, perSample, pooled, profile, hotPixels };
  }
}

export function dist(values: readonly number[]): Dist {
  if (values.length === 0) return { mean: NaN, p5: NaN, median: NaN, p95: NaN, min: NaN, max: NaN };
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number): number => {
    const pos = p * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(s.length - 1, lo + 1);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  };
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p5: q(0.05), median: q(0.5), p95: q(0.95), min: s[0], max: s[s.length - 1] };
}
