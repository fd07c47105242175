import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareDigitField, renderDigit } from '../../src/data/digit-render.js';
import { digitPixels, loadMnistDigits, type MnistDigits } from '../../src/data/mnist-digits.js';
import { NMNIST_SACCADE_PATH, resolveNmnistSimParams, simulateNmnist } from '../../src/data/nmnist-sim.js';
import { registerDigit } from '../../src/data/nmnist-register.js';
import { NmnistStats } from '../../src/data/nmnist-stats.js';
import { jitterPath, pathAt, trapezoidProfile, validatePath } from '../../src/data/saccade-path.js';
import { toRows } from '../helpers/events.js';

let digits: MnistDigits;
beforeAll(async () => {
  digits = await loadMnistDigits();
});

describe('saccade path', () => {
  it('trapezoidal profiles rise monotonically from 0 to 1 without jumps', () => {
    fc.assert(fc.property(fc.double({ min: 0.01, max: 0.6, noNaN: true }), fc.double({ min: 0.01, max: 0.39, noNaN: true }), (up, down) => {
      let prev = trapezoidProfile(0, up, down);
      expect(prev).toBe(0);
      for (let k = 1; k <= 200; k++) {
        const v = trapezoidProfile(k / 200, up, down);
        expect(v).toBeGreaterThanOrEqual(prev - 1e-12);
        // Peak velocity is 1 / (1 - (up + down) / 2) < 2, so one step of 1/200 moves less than 0.01.
        expect(v - prev).toBeLessThan(0.01 + 1e-9);
        prev = v;
      }
      expect(prev).toBeCloseTo(1, 12);
    }));
  });

  it('adds up the moves of the N-MNIST path into a closed triangle', () => {
    const p0 = pathAt(NMNIST_SACCADE_PATH, 0);
    const p1 = pathAt(NMNIST_SACCADE_PATH, 75_000); // after saccade 1: down and right
    const p2 = pathAt(NMNIST_SACCADE_PATH, 180_000); // after saccade 2: up and right
    const p3 = pathAt(NMNIST_SACCADE_PATH, 310_000); // after saccade 3: back left
    expect(p1[1] - p0[1]).toBeGreaterThan(3);
    expect(p2[0] - p1[0]).toBeGreaterThan(2);
    expect(p2[1] - p1[1]).toBeLessThan(-3);
    expect(Math.hypot(p3[0] - p0[0], p3[1] - p0[1])).toBeLessThan(1);
    // The 28x28 digit stays (within a fraction of its blank border) on the 34x34 sensor.
    for (let t = 0; t <= 315_000; t += 1000) {
      const [x, y] = pathAt(NMNIST_SACCADE_PATH, t);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(6.5);
      expect(y).toBeLessThanOrEqual(6.5);
    }
  });

  it('rejects malformed paths', () => {
    expect(() => validatePath({ startX: 0, startY: 0, moves: [{ axis: 'x', t0Us: 5, t1Us: 5, deltaPx: 1 }] })).toThrow(RangeError);
    expect(() => validatePath({ startX: 0, startY: 0, moves: [{ axis: 'x', t0Us: 0, t1Us: 5, deltaPx: 1, ramp: 0.8, rampDown: 0.5 }] })).toThrow(RangeError);
    const j = jitterPath(NMNIST_SACCADE_PATH, { placementPx: 0.3, amplitudeFraction: 0.5, timeShiftUs: 1000, moveTimeUs: 50_000 }, () => 3);
    expect(() => validatePath(j)).not.toThrow();
  });
});

describe('digit rendering', () => {
  const opts = { display: { black: 0.05, gamma: 1, darkDigit: false }, psfSigmaPx: 0.4 };

  it('conserves light under sub-pixel shifts (area sampling) while the digit is on the sensor', () => {
    const field = prepareDigitField(digitPixels(digits, { label: 3, index: 200 }), opts);
    const sum = (ox: number, oy: number): number => {
      const out = new Float32Array(34 * 34);
      renderDigit(field, ox, oy, 34, 34, out);
      return out.reduce((s, v) => s + v, 0);
    };
    const ref = sum(3, 3);
    for (const [ox, oy] of [[3.25, 3], [3.5, 3.5], [2.1, 3.9], [3.77, 2.31]]) expect(Math.abs(sum(ox, oy) - ref) / ref).toBeLessThan(1e-3);
  });

  it('shifts the image by whole pixels exactly', () => {
    const field = prepareDigitField(digitPixels(digits, { label: 7, index: 300 }), opts);
    const a = new Float32Array(34 * 34);
    const b = new Float32Array(34 * 34);
    renderDigit(field, 2.3, 1.6, 34, 34, a);
    renderDigit(field, 3.3, 2.6, 34, 34, b);
    for (let y = 1; y < 34; y++) for (let x = 1; x < 34; x++) expect(b[y * 34 + x]).toBeCloseTo(a[(y - 1) * 34 + x - 1], 5);
  });

  it('draws a dark digit as the mirror image of a bright one', () => {
    const px = digitPixels(digits, { label: 0, index: 150 });
    const bright = new Float32Array(34 * 34);
    const dark = new Float32Array(34 * 34);
    renderDigit(prepareDigitField(px, opts), 3, 3, 34, 34, bright);
    renderDigit(prepareDigitField(px, { ...opts, display: { ...opts.display, darkDigit: true } }), 3, 3, 34, 34, dark);
    for (let i = 0; i < bright.length; i++) expect(bright[i] + dark[i]).toBeCloseTo(1.05, 5);
    expect(Math.max(...bright)).toBeGreaterThan(0.9);
  });
});

describe('simulateNmnist', () => {
  const params = resolveNmnistSimParams();
  const px = () => digitPixels(digits, { label: 2, index: 500 });

  it('is deterministic per seed and varies between seeds', () => {
    const a = simulateNmnist(px(), params, 17);
    const b = simulateNmnist(px(), params, 17);
    const c = simulateNmnist(px(), params, 18);
    expect(toRows(a.events)).toEqual(toRows(b.events));
    expect(toRows(a.events)).not.toEqual(toRows(c.events));
  });

  it('yields a time-ordered 34x34 recording of about 300 ms with both polarities', () => {
    const s = simulateNmnist(px(), params, 3);
    const e = s.events;
    expect(e.t.length).toBeGreaterThan(500);
    for (let i = 0; i < e.t.length; i++) {
      expect(e.x[i]).toBeLessThan(34);
      expect(e.y[i]).toBeLessThan(34);
      if (i > 0) expect(e.t[i]).toBeGreaterThanOrEqual(e.t[i - 1]);
    }
    expect(e.t[e.t.length - 1]).toBeLessThanOrEqual(s.durationUs);
    expect(s.durationUs).toBeGreaterThanOrEqual(params.durationMinUs);
    expect(s.durationUs).toBeLessThanOrEqual(params.durationMaxUs);
    const on = e.p.reduce((a, v) => a + v, 0) / e.t.length;
    expect(on).toBeGreaterThan(0.35);
    expect(on).toBeLessThan(0.65);
  });

  it('puts the events where the digit is: registration recovers the simulated path', () => {
    // The photoreceptor low-pass delays the response by about its time constant 1/(2 pi fc).
    const lagUs = 1e6 / (2 * Math.PI * params.emulator.cutoffHz);
    for (const seed of [5, 6]) {
      const s = simulateNmnist(px(), params, seed);
      const g = registerDigit(s.events, px(), { windowUs: 5000 });
      for (const t of [40_000, 150_000, 255_000]) {
        const w = Math.floor(t / 5000);
        const [x, y] = pathAt(s.path, (w + 0.5) * 5000 - lagUs);
        expect(Math.abs(g.x[w] - x)).toBeLessThan(0.4);
        expect(Math.abs(g.y[w] - y)).toBeLessThan(0.4);
      }
    }
  });

  it('fires ON on the trailing edge of a dark digit and on the leading edge of a bright one', () => {
    // Saccade 3 moves the digit left (-x): the ON-OFF centroid difference points right for a dark
    // digit (as in the real recordings) and left for a bright one.
    const onOff = (darkDigit: boolean) => {
      const p = resolveNmnistSimParams({ display: { darkDigit }, emulator: { noiseRateHz: 0 }, hotPixels: [] });
      const st = new NmnistStats({ profileBinUs: 20_000 });
      st.add(simulateNmnist(px(), p, 9).events);
      return st.summary().profile.find((b) => b.tUs === 240_000)?.onOffX ?? NaN;
    };
    expect(onOff(true)).toBeGreaterThan(1);
    expect(onOff(false)).toBeLessThan(-1);
  });

  it('validates its parameters', () => {
    expect(() => resolveNmnistSimParams({ frameIntervalUs: 0 })).toThrow(/frameIntervalUs/);
    expect(() => resolveNmnistSimParams({ durationMinUs: 10, durationMaxUs: 5 })).toThrow(/durationMaxUs/);
    expect(() => resolveNmnistSimParams({ hotPixels: [{ x: 40, y: 0, rateHz: 1, onFraction: 0.5 }] })).toThrow(/hot pixel/);
    expect(() => resolveNmnistSimParams({ emulator: { thresholdOn: -1 } })).toThrow(/thresholdOn/);
  });
});
