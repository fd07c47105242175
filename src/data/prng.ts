/**
 * Seeded pseudo-random numbers for everything in src/data that must be reproducible: the DVS
 * emulator's mismatch and noise, synthetic-sample jitter, dataset shuffles and splits.
 *
 * xoshiro128** (Blackman & Vigna) on 32-bit integer arithmetic: small state, fast with Math.imul,
 * and bit-identical on every JS engine, which a float-based generator would not guarantee.
 * Seeds are expanded with splitmix32 so that nearby seeds (0, 1, 2...) give unrelated streams.
 */

/** The four 32-bit words of generator state (plus the cached second Box-Muller normal). */
export interface PrngState {
  readonly s: readonly [number, number, number, number];
  readonly spareNormal: number | null;
}

/** splitmix32 step: returns [output, next state]. Used for seeding and hashing. */
function splitmix32(x: number): [number, number] {
  const next = (x + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

/**
 * Mixes any number of integers (seed, sample index, stream id...) into one 32-bit seed, so
 * per-item generators are independent of the order in which items are produced (workers).
 */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x2545f491;
  for (const part of parts) {
    if (!Number.isFinite(part)) throw new RangeError(`mixSeed: part ${part} is not a finite number`);
    // Fold the full double range in: low and high 32 bits of integers up to 2^53.
    const lo = part >>> 0;
    const hi = Math.floor(part / 4294967296) >>> 0;
    [h] = splitmix32(h ^ lo);
    [h] = splitmix32(h ^ hi);
  }
  return h >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let x = mixSeed(seed);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [out, next] = splitmix32(x);
      words.push(out | 0);
      x = next;
    }
    [this.a, this.b, this.c, this.d] = words;
    // An all-zero state would stay zero forever; splitmix32 makes it practically impossible, but be sure.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  static fromState(state: PrngState): Prng {
    const r = new Prng(0);
    [r.a, r.b, r.c, r.d] = state.s.map((v) => v | 0);
    r.spare = state.spareNormal;
    return r;
  }

  state(): PrngState {
    return { s: [this.a, this.b, this.c, this.d], spareNormal: this.spare };
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in (0, 1]: safe to take the log of. */
  nextOpen(): number {
    return 1 - this.next();
  }

  /** Uniform integer in [0, n). Unbiased (rejection) for any n up to 2^32. */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296) || !Number.isInteger(n)) throw new RangeError(`Prng.int: n=${n} must be an integer in [1, 2^32]`);
    const limit = 4294967296 - (4294967296 % n);
    let v: number;
    do v = this.nextU32();
    while (v >= limit);
    return v % n;
  }

  /** Standard normal deviate (Box-Muller; the second value of each pair is cached). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.nextOpen()));
    const th = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  /** Exponential deviate with the given rate (mean 1/rate). */
  exponential(rate: number): number {
    return -Math.log(this.nextOpen()) / rate;
  }

  /**
   * Poisson deviate. Knuth's product method below mean 30; above, the sum of independent
   * Poisson(<=30) parts, which stays exact at the cost of O(mean/30) work (the callers here
   * draw counts in the hundreds at most).
   */
  poisson(mean: number): number {
    if (!(mean >= 0) || !Number.isFinite(mean)) throw new RangeError(`Prng.poisson: mean=${mean} must be finite and >= 0`);
    let k = 0;
    let m = mean;
    while (m > 30) {
      k += this.poissonSmall(30);
      m -= 30;
    }
    return k + this.poissonSmall(m);
  }

  private poissonSmall(mean: number): number {
    const l = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > l) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
