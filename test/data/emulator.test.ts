import { describe, expect, it } from 'vitest';
import type { EventBatch } from '../../src/events/batch.js';
import { DvsEmulator, emulateFrames, type TimedFrame } from '../../src/data/emulator.js';
import { resolveEmulatorParams } from '../../src/data/emulator-params.js';
import { toRows } from '../helpers/events.js';

const LO = 0.1;
const HI = 1;

/**
 * A vertical edge at x = e(t) = e0 + v t between a bright region (x < e) and a dark one, each pixel
 * showing its covered fraction (area sampling). Moving right (v > 0) brightens pixels.
 */
function edgeFrames(w: number, h: number, e0: number, vPxPerUs: number, dtUs: number, tEndUs: number, brightLeft = true): TimedFrame[] {
  const out: TimedFrame[] = [];
  for (let t = 0; t <= tEndUs; t += dtUs) {
    const e = e0 + vPxPerUs * t;
    const f = new Float32Array(w * h);
    for (let x = 0; x < w; x++) {
      const cover = Math.min(1, Math.max(0, e - x)); // fraction of [x, x+1) left of the edge
      const v = brightLeft ? LO + (HI - LO) * cover : HI - (HI - LO) * cover;
      for (let y = 0; y < h; y++) f[y * w + x] = v;
    }
    out.push({ t, frame: f });
  }
  return out;
}

function staticFrames(w: number, h: number, value: number, dtUs: number, tEndUs: number): TimedFrame[] {
  const f = new Float32Array(w * h).fill(value);
  const out: TimedFrame[] = [];
  for (let t = 0; t <= tEndUs; t += dtUs) out.push({ t, frame: f });
  return out;
}

function expectTimeOrdered(b: EventBatch): void {
  for (let i = 1; i < b.t.length; i++) expect(b.t[i]).toBeGreaterThanOrEqual(b.t[i - 1]);
  for (let i = 0; i < b.t.length; i++) expect(Number.isInteger(b.t[i])).toBe(true);
}

const clean = { thresholdSigma: 0, noiseRateHz: 0, refractoryUs: 0 };

describe('DvsEmulator: moving edge', () => {
  const W = 12;
  const H = 3;
  const v = 1 / 2000; // one pixel per 2 ms
  const e0 = 2; // edge starts at x = 2 and travels to x = 2 + 8 = 10 in 16 ms
  const dt = 250;
  const tEnd = 16_000;
  const thr = 0.2;
  const nPerPixel = Math.floor(Math.log((HI + 1e-3) / (LO + 1e-3)) / thr);

  it('fires ON events, only on the pixels the edge crosses, while it crosses them', () => {
    const b = emulateFrames(edgeFrames(W, H, e0, v, dt, tEnd), { width: W, height: H, params: { ...clean, thresholdOn: thr, thresholdOff: thr } });
    expect(b.t.length).toBeGreaterThan(0);
    expectTimeOrdered(b);
    const perPixel = new Map<string, number>();
    for (let i = 0; i < b.t.length; i++) {
      expect(b.p[i]).toBe(1);
      const x = b.x[i];
      expect(x).toBeGreaterThanOrEqual(2);
      expect(x).toBeLessThan(10);
      // The edge covers pixel x during e(t) in [x, x+1], i.e. t in [(x - e0)/v, (x + 1 - e0)/v].
      expect(b.t[i]).toBeGreaterThanOrEqual((x - e0) / v);
      expect(b.t[i]).toBeLessThanOrEqual((x + 1 - e0) / v);
      const k = `${x},${b.y[i]}`;
      perPixel.set(k, (perPixel.get(k) ?? 0) + 1);
    }
    // Every crossed pixel of every row fires floor(ln contrast / threshold) times.
    expect(perPixel.size).toBe(8 * H);
    for (const n of perPixel.values()) expect(n).toBe(nPerPixel);
  });

  it('fires OFF events when the edge darkens the pixels, mirroring the ON case', () => {
    const b = emulateFrames(edgeFrames(W, H, e0, v, dt, tEnd, false), { width: W, height: H, params: { ...clean, thresholdOn: thr, thresholdOff: thr } });
    expect(b.t.length).toBe(8 * H * nPerPixel);
    for (let i = 0; i < b.t.length; i++) expect(b.p[i]).toBe(0);
  });

  it('orders a pixel\'s events in time and spaces them by equal log-intensity steps', () => {
    const b = emulateFrames(edgeFrames(W, H, e0, v, dt, tEnd), { width: W, height: H, params: { ...clean, thresholdOn: thr } });
    // Pixel 5, row 0: coverage c(t) = (e(t) - 5), intensity LO + (HI-LO) c; the k-th event fires where
    // ln(I + eps) has risen by k * thr. Frames sample c exactly (it is linear in t), and log is
    // interpolated linearly between frames, so each event lies within one frame of the exact time.
    const ts = toRows(b).filter((r) => r[1] === 5 && r[2] === 0).map((r) => r[0]);
    expect(ts.length).toBe(nPerPixel);
    const eps = 1e-3;
    ts.forEach((t, k) => {
      const target = (LO + eps) * Math.exp((k + 1) * thr) - eps;
      const c = (target - LO) / (HI - LO);
      const exact = (5 + c - e0) / v;
      expect(Math.abs(t - exact)).toBeLessThanOrEqual(dt);
    });
  });

  it('emits several events within one frame interval for a large change, at interpolated times', () => {
    const emu = new DvsEmulator({ width: 1, height: 1, params: { ...clean, thresholdOn: 0.2, logEpsilon: 1e-3 } });
    emu.reset([LO], 0);
    const b = emu.step([HI], 1000);
    const dL = Math.log(HI + 1e-3) - Math.log(LO + 1e-3);
    const n = Math.floor(dL / 0.2);
    expect(b.t.length).toBe(n);
    // k-th crossing at the fraction k*0.2/dL of the interval (linear in log), rounded to 1 us.
    expect(Array.from(b.t)).toEqual(Array.from({ length: n }, (_, k) => Math.round((1000 * (k + 1) * 0.2) / dL)));
    expect(Array.from(b.p)).toEqual(new Array(n).fill(1));
    // The remainder below one threshold carries over: a further rise of 0.2 - remainder fires again.
    const rest = dL - n * 0.2;
    const next = emu.step([(HI + 1e-3) * Math.exp(0.2 - rest + 1e-6) - 1e-3], 2000);
    expect(next.t.length).toBe(1);
  });

  it('respects the refractory period: a pixel never fires twice within it, and loses the change meanwhile', () => {
    const R = 3000;
    const frames = edgeFrames(W, H, e0, v, dt, tEnd);
    const b = emulateFrames(frames, { width: W, height: H, params: { ...clean, thresholdOn: thr, refractoryUs: R } });
    const last = new Map<string, number>();
    for (let i = 0; i < b.t.length; i++) {
      const k = `${b.x[i]},${b.y[i]}`;
      const prev = last.get(k);
      if (prev !== undefined) expect(b.t[i] - prev).toBeGreaterThanOrEqual(R - 1); // 1 us of rounding
      last.set(k, b.t[i]);
    }
    const free = emulateFrames(frames, { width: W, height: H, params: { ...clean, thresholdOn: thr } });
    expect(b.t.length).toBeLessThan(free.t.length);
  });

  it('breaks timestamp ties by pixel index, then polarity', () => {
    // Two pixels stepping at once fire at identical interpolated times.
    const emu = new DvsEmulator({ width: 3, height: 2, params: { ...clean, thresholdOn: 0.5, thresholdOff: 0.5 } });
    emu.reset([1, 1, 1, 1, 1, 1], 0);
    const b = emu.step([1, 1, 3, 1, 1 / 3, 3], 1000);
    const rows = toRows(b);
    for (let i = 1; i < rows.length; i++) {
      const [t0, x0, y0, p0] = rows[i - 1];
      const [t1, x1, y1, p1] = rows[i];
      const key0 = (y0 * 3 + x0) * 2 + p0;
      const key1 = (y1 * 3 + x1) * 2 + p1;
      expect(t1 > t0 || (t1 === t0 && key1 >= key0)).toBe(true);
    }
    expect(rows.filter((r) => r[1] === 2 && r[2] === 0 && r[3] === 1)).toHaveLength(2); // ln 3 / 0.5
    expect(rows.filter((r) => r[1] === 1 && r[2] === 1 && r[3] === 0)).toHaveLength(2);
  });
});

describe('DvsEmulator: static scene and noise', () => {
  it('produces no events at all without noise or leak', () => {
    const b = emulateFrames(staticFrames(16, 16, 0.5, 1000, 200_000), { width: 16, height: 16 });
    expect(b.t.length).toBe(0);
  });

  it('produces background activity at the configured rate and ON fraction (Poisson tolerance)', () => {
    const W = 32;
    const H = 32;
    const rate = 5; // Hz per pixel
    const T = 10_000_000; // 10 s
    const onFraction = 0.8;
    const b = emulateFrames(staticFrames(W, H, 0.5, 10_000, T), { width: W, height: H, seed: 9, params: { noiseRateHz: rate, noiseOnFraction: onFraction } });
    const expected = W * H * rate * (T / 1e6); // 51,200
    // A Poisson count has variance equal to its mean; allow 5 standard deviations.
    expect(Math.abs(b.t.length - expected)).toBeLessThan(5 * Math.sqrt(expected));
    let on = 0;
    for (let i = 0; i < b.t.length; i++) on += b.p[i];
    const sdOn = Math.sqrt(b.t.length * onFraction * (1 - onFraction));
    expect(Math.abs(on - b.t.length * onFraction)).toBeLessThan(5 * sdOn);
    expectTimeOrdered(b);
    // Spread evenly over the sensor: each quadrant gets a quarter (binomial tolerance).
    const quad = [0, 0, 0, 0];
    for (let i = 0; i < b.t.length; i++) quad[(b.x[i] < W / 2 ? 0 : 1) + (b.y[i] < H / 2 ? 0 : 2)]++;
    const q = b.t.length / 4;
    for (const c of quad) expect(Math.abs(c - q)).toBeLessThan(5 * Math.sqrt(q * 0.75));
  });

  it('produces leak events on a static scene at about the leak rate, all ON', () => {
    const W = 20;
    const H = 20;
    const T = 5_000_000;
    const b = emulateFrames(staticFrames(W, H, 0.5, 10_000, T), { width: W, height: H, seed: 2, params: { leakRateHz: 2, thresholdSigma: 0 } });
    // Deterministic drift: each pixel fires every 1/leak = 0.5 s after a random initial phase.
    expect(b.t.length).toBeGreaterThanOrEqual(W * H * 10 - W * H);
    expect(b.t.length).toBeLessThanOrEqual(W * H * 10 + W * H);
    for (let i = 0; i < b.t.length; i++) expect(b.p[i]).toBe(1);
  });
});

describe('DvsEmulator: determinism, options and bad input', () => {
  const frames = (): TimedFrame[] => {
    const out: TimedFrame[] = [];
    for (let k = 0; k <= 50; k++) {
      const f = new Float32Array(64);
      for (let i = 0; i < 64; i++) f[i] = 0.5 + 0.4 * Math.sin(i * 0.7 + k * 0.2);
      out.push({ t: k * 1000, frame: f });
    }
    return out;
  };
  const params = { noiseRateHz: 50, thresholdSigma: 0.05, refractoryUs: 500, leakRateHz: 0.5 };

  it('gives the same events for the same seed and different ones for another seed', () => {
    const a = emulateFrames(frames(), { width: 8, height: 8, seed: 5, params });
    const b = emulateFrames(frames(), { width: 8, height: 8, seed: 5, params });
    const c = emulateFrames(frames(), { width: 8, height: 8, seed: 6, params });
    expect(a.t.length).toBeGreaterThan(0);
    expect(toRows(a)).toEqual(toRows(b));
    expect(toRows(a)).not.toEqual(toRows(c));
  });

  it('draws per-pixel threshold mismatch with the configured sigma', () => {
    const emu = new DvsEmulator({ width: 100, height: 100, seed: 1, params: { thresholdOn: 0.3, thresholdSigma: 0.05 } });
    const v = emu.thresholdsOn;
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean - 0.3)).toBeLessThan(5 * 0.05 / 100);
    expect(Math.abs(sd - 0.05)).toBeLessThan(0.005);
  });

  it('delays and spreads events with a photoreceptor low-pass', () => {
    const step = (cutoffHz: number) => {
      const f: TimedFrame[] = [{ t: 0, frame: [0.1] }];
      for (let t = 100; t <= 20_000; t += 100) f.push({ t, frame: [1] });
      return emulateFrames(f, { width: 1, height: 1, params: { ...clean, cutoffHz } });
    };
    const sharp = step(0);
    const slow = step(100); // time constant 1.6 ms
    expect(sharp.t[sharp.t.length - 1]).toBeLessThanOrEqual(100);
    expect(slow.t[slow.t.length - 1]).toBeGreaterThan(3000);
    expect(slow.t.length).toBe(sharp.t.length);
  });

  it('rejects bad frames, times and parameters with RangeError', () => {
    const emu = new DvsEmulator({ width: 2, height: 2 });
    expect(() => emu.step([1, 1, 1, 1], 10)).toThrow(/reset/);
    emu.reset([1, 1, 1, 1], 0);
    expect(() => emu.step([1, 1, 1], 10)).toThrow(RangeError);
    expect(() => emu.step([1, -1, 1, 1], 10)).toThrow(RangeError);
    expect(() => emu.step([1, NaN, 1, 1], 10)).toThrow(RangeError);
    expect(() => emu.step([1, 1, 1, 1], 0)).toThrow(RangeError);
    expect(() => new DvsEmulator({ width: 0, height: 2 })).toThrow(RangeError);
    expect(() => resolveEmulatorParams({ thresholdOn: 0 })).toThrow(/thresholdOn/);
    expect(() => resolveEmulatorParams({ noiseOnFraction: 2 })).toThrow(/noiseOnFraction/);
  });

  it('fails with a RangeError instead of exhausting memory when one step explodes', () => {
    const emu = new DvsEmulator({ width: 10, height: 10, params: { ...clean, thresholdOn: 0.01, thresholdMin: 0.01 }, limits: { maxEventsPerStep: 1000 } });
    emu.reset(new Float32Array(100).fill(0), 0);
    expect(() => emu.step(new Float32Array(100).fill(1), 1000)).toThrow(/maxEventsPerStep/);
  });
});
