/**
 * ESL as pure functions: allocation against hand-computed examples, exact density over many
 * prune-and-regrow updates, which connections are pruned and where they regrow.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/data/prng.js';
import { allocateCounts, isUpdateStep, magnitudeMask, pruneFraction, pruneRegrow, randomMaskExact, type GrowthRule } from '../../src/train/esl.js';

const ones = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);

describe('allocateCounts', () => {
  // Two linear layers, [out, in] = [4, 6] (24 weights) and [2, 4] (8 weights), 32 in all.
  // ER/ERK raw densities: (6 + 4) / 24 = 10/24 and (4 + 2) / 8 = 6/8, i.e. 10 and 6 connections
  // at factor 1.
  const linear = [{ key: 'a', shape: [4, 6] }, { key: 'b', shape: [2, 4] }];

  it('ERK at density 0.5 of two linear layers: factor 1, 10 + 6 connections', () => {
    expect(allocateCounts(linear, 0.5, 'erk')).toEqual([10, 6]);
    expect(allocateCounts(linear, 0.5, 'er')).toEqual([10, 6]);
  });

  it('ERK caps a layer at density 1 and gives the rest of the budget to the others', () => {
    // Density 0.75: budget 24. Factor 1.5 would give layer b 9 > 8 connections: b is dense (8),
    // layer a gets the remaining 16.
    expect(allocateCounts(linear, 0.75, 'erk')).toEqual([16, 8]);
  });

  it('ERK counts kernel dimensions, ER does not (hand-computed conv example)', () => {
    // conv [Cout=4, Cin=2, 3, 3] (72 weights) and linear [10, 36] (360): 432 in all, density 0.25 -> 108.
    // ERK raw: conv (2+4+3+3)/72 = 1/6 -> 12 at factor 1; linear (36+10)/360 -> 46. Factor 108/58.
    // conv: 12*108/58 = 22.34, linear: 46*108/58 = 85.66 -> largest remainder: 22 + 86 = 108.
    const layers = [{ key: 'c', shape: [4, 2, 3, 3] }, { key: 'l', shape: [10, 36] }];
    expect(allocateCounts(layers, 0.25, 'erk')).toEqual([22, 86]);
    // ER raw: conv (2+4)/8 * 72 = 54; linear 46. Factor 108/100: 58.32 and 49.68 -> 58 + 50.
    expect(allocateCounts(layers, 0.25, 'er')).toEqual([58, 50]);
    expect(allocateCounts(layers, 0.25, 'uniform')).toEqual([18, 90]);
  });

  it('hits the global budget exactly and never exceeds a layer', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 5 }),
      fc.double({ min: 0.01, max: 1, noNaN: true }),
      fc.constantFrom('uniform', 'er', 'erk' as const),
      (dims, density, alloc) => {
        const layers = dims.map(([o, i, k], j) => ({ key: `l${j}`, shape: k === 1 ? [o, i] : [o, i, k, k] }));
        const sizes = layers.map((l) => l.shape.reduce((a, b) => a * b, 1));
        const counts = allocateCounts(layers, density, alloc);
        const total = sizes.reduce((a, b) => a + b, 0);
        counts.forEach((c, j) => {
          expect(c).toBeLessThanOrEqual(sizes[j]);
          expect(c).toBeGreaterThanOrEqual(1);
        });
        const budget = Math.round(density * total);
        // Exact unless the at-least-one-connection floor had to add some.
        const floorAdds = counts.filter((c) => c === 1).length;
        const sum = counts.reduce((a, b) => a + b, 0);
        expect(sum).toBeGreaterThanOrEqual(budget);
        expect(sum).toBeLessThanOrEqual(budget + floorAdds);
      },
    ));
  });
});

describe('masks', () => {
  it('randomMaskExact has exactly the asked number of ones, and the seed fixes it', () => {
    const a = randomMaskExact(1000, 137, new Prng(5));
    expect(ones(a)).toBe(137);
    expect(randomMaskExact(1000, 137, new Prng(5))).toEqual(a);
    expect(randomMaskExact(1000, 137, new Prng(6))).not.toEqual(a);
  });

  it('magnitudeMask keeps the largest |w|', () => {
    const w = Float32Array.from([0.1, -3, 2, -0.5, 0, 1]);
    expect(Array.from(magnitudeMask(w, 3))).toEqual([0, 1, 1, 0, 0, 1]);
  });
});

describe('schedule', () => {
  it('zeta decays from zeta0 to 0 by a half cosine and is 0 from tStop on', () => {
    const s = { updateEvery: 10, stopFraction: 0.5, zeta0: 0.4 };
    expect(pruneFraction(0, 1000, s)).toBeCloseTo(0.4, 12);
    expect(pruneFraction(250, 1000, s)).toBeCloseTo(0.2, 12);
    expect(pruneFraction(500, 1000, s)).toBe(0);
    expect(isUpdateStep(10, 1000, s)).toBe(true);
    expect(isUpdateStep(15, 1000, s)).toBe(false);
    expect(isUpdateStep(500, 1000, s)).toBe(false);
    expect(isUpdateStep(0, 1000, s)).toBe(false);
  });
});

describe('pruneRegrow', () => {
  const rules: GrowthRule[] = ['random', 'gradient', 'momentum'];

  function setup(seed: number, n: number, density: number) {
    const rng = new Prng(seed);
    const mask = randomMaskExact(n, Math.round(n * density), rng);
    const weight = new Float32Array(n);
    for (let i = 0; i < n; i++) weight[i] = mask[i] ? rng.normal() : 0;
    const score = new Float32Array(n);
    for (let i = 0; i < n; i++) score[i] = rng.normal();
    return { rng, mask, weight, score };
  }

  it.each(rules)('%s: prunes exactly the smallest |w| among active connections and regrows only formerly inactive positions', (rule) => {
    const { rng, mask, weight, score } = setup(11, 500, 0.2);
    const r = pruneRegrow({ mask, weight, count: 30, rule, score, rng });
    expect(r.pruned.length).toBe(30);
    expect(r.regrown.length).toBe(30);
    const active = Array.from(mask.keys()).filter((i) => mask[i]);
    const prunedSet = new Set(r.pruned);
    const maxPruned = Math.max(...Array.from(r.pruned).map((i) => Math.abs(weight[i])));
    const minKept = Math.min(...active.filter((i) => !prunedSet.has(i)).map((i) => Math.abs(weight[i])));
    expect(maxPruned).toBeLessThanOrEqual(minKept);
    for (const i of r.pruned) expect(mask[i]).toBe(1);
    for (const i of r.regrown) expect(mask[i]).toBe(0);
  });

  it.each(['gradient', 'momentum'] as const)('%s: regrows the inactive positions with the largest |score|', (rule) => {
    const { rng, mask, weight, score } = setup(12, 400, 0.3);
    const r = pruneRegrow({ mask, weight, count: 25, rule, score, rng });
    const regrown = new Set(r.regrown);
    const inactive = Array.from(mask.keys()).filter((i) => !mask[i]);
    const minChosen = Math.min(...Array.from(r.regrown).map((i) => Math.abs(score[i])));
    const maxLeft = Math.max(...inactive.filter((i) => !regrown.has(i)).map((i) => Math.abs(score[i])));
    expect(minChosen).toBeGreaterThanOrEqual(maxLeft);
  });

  it('breaks ties in the score at random rather than by position', () => {
    const n = 2000;
    const mask = new Uint8Array(n);
    mask.fill(1, 0, 100);
    const weight = Float32Array.from({ length: n }, (_, i) => (i < 100 ? 1 + i : 0));
    const r = pruneRegrow({ mask, weight, count: 50, rule: 'gradient', score: new Float32Array(n), rng: new Prng(3) });
    // With all-zero scores, positions drawn uniformly from 100..1999: their mean is near 1050.
    const mean = Array.from(r.regrown).reduce((a, b) => a + b, 0) / r.regrown.length;
    expect(mean).toBeGreaterThan(700);
  });

  it.each(rules)('%s: keeps the density exact over 200 updates (applied as the trainer does)', (rule) => {
    const { rng, mask, weight, score } = setup(13, 3000, 0.07);
    const target = ones(mask);
    const explored = Uint8Array.from(mask);
    for (let u = 0; u < 200; u++) {
      for (let i = 0; i < score.length; i++) score[i] = rng.normal();
      for (let i = 0; i < weight.length; i++) if (mask[i]) weight[i] += 0.1 * rng.normal();
      const r = pruneRegrow({ mask, weight, count: Math.round(0.3 * target * (1 - u / 200)), rule, score, rng });
      for (const i of r.pruned) {
        mask[i] = 0;
        weight[i] = 0;
      }
      for (const i of r.regrown) {
        mask[i] = 1;
        weight[i] = 0;
        explored[i] = 1;
      }
      expect(ones(mask)).toBe(target);
    }
    expect(ones(explored)).toBeGreaterThan(target);
  });

  it('clips the count to what can move and never touches a full or empty layer', () => {
    const full = pruneRegrow({ mask: new Uint8Array(10).fill(1), weight: new Float32Array(10).fill(1), count: 5, rule: 'random', score: null, rng: new Prng(1) });
    expect(full.pruned.length + full.regrown.length).toBe(0);
    const mask = Uint8Array.from([1, 1, 1, 0]);
    const r = pruneRegrow({ mask, weight: Float32Array.from([3, 1, 2, 0]), count: 3, rule: 'random', score: null, rng: new Prng(1) });
    expect(Array.from(r.pruned)).toEqual([1]);
    expect(Array.from(r.regrown)).toEqual([3]);
  });
});
