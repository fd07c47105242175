/**
 * ESL (Evolutionary Structure Learning, Shen et al., "ESL-SNNs", AAAI 2023) as pure functions over
 * typed arrays: per-layer density allocation, exact-density initial masks, the cosine prune-rate
 * schedule, and one prune-and-regrow update of one layer. The trainer (trainer.ts) owns the state
 * and applies the results to weights and optimizer moments.
 *
 * Choices where the literature leaves room (stated so results can be compared):
 * - Allocation (per layer, over the layers that are not kept dense):
 *   uniform: every layer at the target density;
 *   er (Erdős–Rényi, SET): density_l proportional to (n_in + n_out) / (n_in * n_out) with
 *     n_in/n_out the in/out channels (conv kernels ignored);
 *   erk (Erdős–Rényi-Kernel, RigL): proportional to (Cin + Cout + kh + kw) / (Cin * Cout * kh * kw).
 *   The factor is solved so the connection count matches density * total; a layer that would
 *   exceed density 1 is made dense and the factor re-solved for the rest, until none exceeds.
 *   Counts are rounded by largest remainder so the total is exactly round(density * total).
 * - Prune: the `count` active connections with the smallest |w| (ties: lower index first).
 * - Regrow: `count` positions that were inactive before this update (a connection pruned now is
 *   not regrown in the same update), chosen by the rule:
 *   random (SET): uniformly at random;
 *   gradient (RigL): largest |dL/dw| of the dense gradient (the gradient w.r.t. every weight,
 *     existing or not) on the current batch;
 *   momentum (sparse momentum, Dettmers & Zettlemoyer 2019): largest |m| where m is an
 *     exponential moving average (Adam's beta1) of the dense gradient over all steps.
 *   Ties in the score are broken at random (many absent connections have exactly zero gradient).
 *   Regrown weights and their optimizer moments start at zero (the trainer does that).
 * - zeta(t) = zeta0 * (1 + cos(pi * t / tStop)) / 2 of each layer's active connections, every
 *   updateEvery steps while t < tStop = stopFraction * total steps.
 */
import { Prng } from '../data/prng.js';
import { TrainError } from './train-error.js';

export type Allocation = 'uniform' | 'er' | 'erk';
export const ALLOCATIONS: readonly Allocation[] = ['uniform', 'er', 'erk'];
export type GrowthRule = 'random' | 'gradient' | 'momentum';
export const GROWTH_RULES: readonly GrowthRule[] = ['random', 'gradient', 'momentum'];

/** A masked weight tensor as allocation sees it. shape: IR weight shape ([Cout, Cin, kh, kw] or [out, in]). */
export interface EslLayer {
  readonly key: string;
  readonly shape: readonly number[];
}

export interface EslSchedule {
  /** Steps between updates (>= 1). */
  readonly updateEvery: number;
  /** Fraction of all training steps after which the structure is frozen, in (0, 1]. */
  readonly stopFraction: number;
  /** Initial prune fraction, in [0, 1). */
  readonly zeta0: number;
}

export const DEFAULT_ESL_SCHEDULE: EslSchedule = Object.freeze({ updateEvery: 100, stopFraction: 0.75, zeta0: 0.3 });

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Unnormalised density weight of a layer under an allocation. */
function rawDensity(shape: readonly number[], a: Allocation): number {
  if (a === 'uniform') return 1;
  const [nOut, nIn, kh = 1, kw = 1] = shape;
  if (a === 'er' || shape.length === 2) return (nIn + nOut) / (nIn * nOut);
  return (nIn + nOut + kh + kw) / (nIn * nOut * kh * kw);
}

/**
 * Number of active connections per layer so that the total is exactly round(density * total
 * size), distributed by the allocation rule (see the file comment for capping).
 */
export function allocateCounts(layers: readonly EslLayer[], density: number, allocation: Allocation): number[] {
  if (!(density > 0 && density <= 1)) throw new TrainError('BAD_OPTION', `density must be in (0, 1], got ${density}`);
  if (!ALLOCATIONS.includes(allocation)) throw new TrainError('BAD_OPTION', `unknown allocation "${String(allocation)}" (one of ${ALLOCATIONS.join(', ')})`);
  const sizes = layers.map((l) => size(l.shape));
  const total = sizes.reduce((a, b) => a + b, 0);
  const budget = Math.round(density * total);
  const dense = new Array<boolean>(layers.length).fill(false);
  let d: number[];
  for (;;) {
    let rest = budget;
    let weighted = 0;
    layers.forEach((l, i) => {
      if (dense[i]) rest -= sizes[i];
      else weighted += rawDensity(l.shape, allocation) * sizes[i];
    });
    const eps = weighted > 0 ? rest / weighted : 0;
    d = layers.map((l, i) => (dense[i] ? 1 : eps * rawDensity(l.shape, allocation)));
    let capped = false;
    d.forEach((v, i) => {
      if (!dense[i] && v > 1) {
        dense[i] = true;
        capped = true;
      }
    });
    if (!capped) break;
  }
  // Largest remainder rounding: exact total, no layer above its size.
  const exact = d.map((v, i) => v * sizes[i]);
  const counts = exact.map((v, i) => Math.min(sizes[i], Math.floor(v)));
  let missing = budget - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((v, i) => i).sort((i, j) => (exact[j] - Math.floor(exact[j])) - (exact[i] - Math.floor(exact[i])) || i - j);
  for (let pass = 0; missing > 0 && pass < 2; pass++) {
    for (const i of order) {
      if (missing === 0) break;
      if (counts[i] < sizes[i]) {
        counts[i]++;
        missing--;
      }
    }
  }
  // Every sparse layer keeps at least one connection, so no layer is cut off entirely.
  return counts.map((c, i) => (c === 0 && sizes[i] > 0 ? 1 : c));
}

/** A mask with exactly `count` ones at uniformly random positions. */
export function randomMaskExact(n: number, count: number, rng: Prng): Uint8Array {
  if (!(Number.isInteger(count) && count >= 0 && count <= n)) throw new TrainError('INVARIANT', `mask count ${count} out of [0, ${n}]`);
  const mask = new Uint8Array(n);
  if (count === n) return mask.fill(1);
  const pos = new Int32Array(n);
  for (let i = 0; i < n; i++) pos[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    const t = pos[i];
    pos[i] = pos[j];
    pos[j] = t;
    mask[pos[i]] = 1;
  }
  return mask;
}

/** Mask keeping the `count` entries with the largest |w| (ties: lower index first). One-shot magnitude pruning. */
export function magnitudeMask(weight: Float32Array, count: number): Uint8Array {
  const n = weight.length;
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => Math.abs(weight[b]) - Math.abs(weight[a]) || a - b);
  const mask = new Uint8Array(n);
  for (let k = 0; k < count; k++) mask[idx[k]] = 1;
  return mask;
}

/** zeta(t): the fraction of each layer's active connections replaced at step t (0 from tStop on). */
export function pruneFraction(step: number, totalSteps: number, s: EslSchedule): number {
  const tStop = s.stopFraction * totalSteps;
  if (!(step < tStop)) return 0;
  return (s.zeta0 * (1 + Math.cos((Math.PI * step) / tStop))) / 2;
}

/** Whether an update runs after step `step` (1-based count of finished steps). */
export function isUpdateStep(step: number, totalSteps: number, s: EslSchedule): boolean {
  return step > 0 && step % s.updateEvery === 0 && step < s.stopFraction * totalSteps;
}

export interface PruneRegrowInput {
  readonly mask: Uint8Array;
  readonly weight: Float32Array;
  /** Connections to replace. */
  readonly count: number;
  readonly rule: GrowthRule;
  /** |score| ranks regrowth candidates for gradient (dense gradient) and momentum (dense gradient EMA); unused for random. */
  readonly score: Float32Array | null;
  readonly rng: Prng;
}

export interface PruneRegrowResult {
  /** Positions switched off, ascending. */
  readonly pruned: Int32Array;
  /** Positions switched on, ascending. */
  readonly regrown: Int32Array;
}

/**
 * Picks the connections to prune and to regrow for one layer. Pure: the mask is not modified.
 * The count is clipped to the number of active and of inactive positions.
 */
export function pruneRegrow(o: PruneRegrowInput): PruneRegrowResult {
  const { mask, weight } = o;
  const n = mask.length;
  if (weight.length !== n) throw new TrainError('INVARIANT', `mask has ${n} entries, weight ${weight.length}`);
  let active = 0;
  for (let i = 0; i < n; i++) active += mask[i];
  const inactive = n - active;
  const k = Math.max(0, Math.min(Math.floor(o.count), active, inactive));
  if (k === 0) return { pruned: new Int32Array(0), regrown: new Int32Array(0) };
  if (o.rule !== 'random' && (!o.score || o.score.length !== n)) throw new TrainError('INVARIANT', `rule ${o.rule} needs a score per weight`);

  const on = new Int32Array(active);
  const off = new Int32Array(inactive);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (mask[i]) on[a++] = i;
    else off[b++] = i;
  }
  on.sort((a, b) => Math.abs(weight[a]) - Math.abs(weight[b]) || a - b);
  const pruned = on.slice(0, k).sort();

  let regrown: Int32Array;
  if (o.rule === 'random') {
    // Partial Fisher-Yates over the inactive positions.
    for (let i = 0; i < k; i++) {
      const j = i + o.rng.int(inactive - i);
      const t = off[i];
      off[i] = off[j];
      off[j] = t;
    }
    regrown = off.slice(0, k).sort();
  } else {
    const score = o.score as Float32Array;
    const tie = new Float64Array(n);
    for (let b = 0; b < inactive; b++) tie[off[b]] = o.rng.next();
    off.sort((a, b) => Math.abs(score[b]) - Math.abs(score[a]) || tie[a] - tie[b]);
    regrown = off.slice(0, k).sort();
  }
  return { pruned, regrown };
}
