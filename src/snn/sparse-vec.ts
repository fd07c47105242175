/**
 * A node's output in the sparse engine: all values in `val` (zero where inactive) plus a bitmap of
 * the active entries, one bit per entry (entry i is bit i & 31 of words[i >> 5]).
 *
 * A bitmap rather than an index list because (1) marking an entry is a branch-free OR, where a
 * first-touch check before appending to a list mispredicts about every other time in a scatter,
 * and (2) reading the bits word by word yields active entries in ascending order for free, which
 * the exactness argument needs (weighted sums add inputs in ascending index order) and which a
 * list would have to sort. Scanning costs one word read per 32 entries per step (a 64 Ki-neuron
 * layer: 2 Ki reads, about a microsecond).
 */
export class SparseVec {
  readonly val: Float32Array;
  readonly words: Int32Array;

  /** `dense`: every entry counts as active every step (bias layers, LI outputs); the bitmap is unused. */
  constructor(readonly n: number, readonly dense: boolean) {
    this.val = new Float32Array(n);
    // Int32, not Uint32: a Uint32 word with bit 31 set loads as a double and slows every OR.
    this.words = new Int32Array((n + 31) >>> 5);
  }

  /** Writes the active entries, ascending, into `out` and returns their number. */
  toList(out: Int32Array): number {
    if (this.dense) {
      for (let i = 0; i < this.n; i++) out[i] = i;
      return this.n;
    }
    const words = this.words;
    let c = 0;
    for (let wi = 0; wi < words.length; wi++) {
      let w = words[wi];
      while (w !== 0) {
        const low = w & -w;
        out[c++] = (wi << 5) | (31 - Math.clz32(low));
        w ^= low;
      }
    }
    return c;
  }

  /** Zeroes the active values and the bitmap. */
  clear(): void {
    if (this.dense) {
      this.val.fill(0);
      return;
    }
    const { words, val } = this;
    for (let wi = 0; wi < words.length; wi++) {
      let w = words[wi];
      if (w === 0) continue;
      words[wi] = 0;
      while (w !== 0) {
        const low = w & -w;
        val[(wi << 5) | (31 - Math.clz32(low))] = 0;
        w ^= low;
      }
    }
  }

  resetAll(): void {
    this.val.fill(0);
    this.words.fill(0);
  }
}
