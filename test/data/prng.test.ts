import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng, mixSeed } from '../../src/data/prng.js';

describe('Prng (xoshiro128**)', () => {
  it('matches the reference implementation from state {1, 2, 3, 4}', () => {
    // First outputs of Blackman & Vigna's xoshiro128starstar.c from s = {1, 2, 3, 4}.
    const r = Prng.fromState({ s: [1, 2, 3, 4], spareNormal: null });
    const out = Array.from({ length: 8 }, () => r.nextU32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
  });

  it('is deterministic per seed and differs between nearby seeds', () => {
    const seq = (seed: number) => {
      const r = new Prng(seed);
      return Array.from({ length: 16 }, () => r.nextU32());
    };
    expect(seq(7)).toEqual(seq(7));
    expect(seq(7)).not.toEqual(seq(8));
    expect(seq(0)).not.toEqual(seq(1));
  });

  it('resumes exactly from a saved state, including the cached normal', () => {
    const a = new Prng(42);
    a.normal(); // leaves a spare normal cached
    const saved = a.state();
    const restA = [a.normal(), a.next(), a.int(1000)];
    const b = Prng.fromState(saved);
    expect([b.normal(), b.next(), b.int(1000)]).toEqual(restA);
  });

  it('draws uniforms in [0, 1) and integers in [0, n)', () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 1, max: 2 ** 32 }), (seed, n) => {
      const r = new Prng(seed);
      for (let i = 0; i < 20; i++) {
        const u = r.next();
        expect(u >= 0 && u < 1).toBe(true);
        const k = r.int(n);
        expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true);
      }
    }), { numRuns: 50 });
  });

  it('gives integers with uniform frequencies (chi-square, 10 bins)', () => {
    const r = new Prng(3);
    const n = 100_000;
    const counts = new Array(10).fill(0);
    for (let i = 0; i < n; i++) counts[r.int(10)]++;
    const e = n / 10;
    const chi2 = counts.reduce((s, c) => s + ((c - e) ** 2) / e, 0);
    // 9 degrees of freedom: P(chi2 > 27.9) = 0.001.
    expect(chi2).toBeLessThan(27.9);
  });

  it('gives standard normals, exponentials and Poisson counts with the right moments', () => {
    const r = new Prng(11);
    const n = 50_000;
    const moments = (draw: () => number) => {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const v = draw();
        s += v;
        s2 += v * v;
      }
      const mean = s / n;
      return { mean, variance: s2 / n - mean * mean };
    };
    const norm = moments(() => r.normal());
    // Standard error of the mean is 1/sqrt(n) = 0.0045; of the variance about sqrt(2/n) = 0.0063.
    expect(Math.abs(norm.mean)).toBeLessThan(5 * 0.0045);
    expect(Math.abs(norm.variance - 1)).toBeLessThan(5 * 0.0063);
    const ex = moments(() => r.exponential(4));
    expect(Math.abs(ex.mean - 0.25)).toBeLessThan(5 * (0.25 / Math.sqrt(n)));
    for (const mean of [0.7, 12, 75]) {
      const po = moments(() => r.poisson(mean));
      expect(Math.abs(po.mean - mean)).toBeLessThan(5 * Math.sqrt(mean / n));
      // Relative standard error of a Poisson sample variance: sqrt((1/mean + 2) / n).
      expect(Math.abs(po.variance / mean - 1)).toBeLessThan(5 * Math.sqrt((1 / mean + 2) / n));
    }
  });

  it('shuffles into a permutation', () => {
    const a = Array.from({ length: 100 }, (_, i) => i);
    const s = new Prng(5).shuffle([...a]);
    expect([...s].sort((x, y) => x - y)).toEqual(a);
    expect(s).not.toEqual(a);
  });

  it('rejects invalid arguments with RangeError', () => {
    const r = new Prng(1);
    expect(() => r.int(0)).toThrow(RangeError);
    expect(() => r.int(2.5)).toThrow(RangeError);
    expect(() => r.poisson(-1)).toThrow(RangeError);
    expect(() => mixSeed(NaN)).toThrow(RangeError);
  });

  it('mixSeed separates streams and is order-sensitive', () => {
    expect(mixSeed(1, 2)).toBe(mixSeed(1, 2));
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(mixSeed(1, 2 ** 40)).not.toBe(mixSeed(1, 0));
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(mixSeed(123, i));
    expect(seen.size).toBe(1000);
  });
});
