import { PlainAllocator, type Allocator } from './wasm-arena.js';

/**
 * A node's output in the sparse engine: all values in `val` (zero where inactive) plus a bitmap of
 * the active entries, one bit per entry (entry i is bit i & 31 of words[i >> 5]).
 *
 * A bitmap because (1) marking an entry is a branch-free OR, where a first-touch check before
 * appending to a list mispredicts about every other time in a scatter, and (2) reading the bits
 * word by word yields active entries in ascending order for free, which the exactness argument
 * needs (weighted sums add inputs in ascending index order) and which a list would have to sort.
 *
 * `list` holds the active entries when `listed` (ascending when also `sorted`). The WebAssembly
 * path keeps it, appending without a branch (always write the entry, advance the count only when
 * its bit was clear), so that neurons are stepped and vectors cleared from a list: a bitmap scan
 * mispredicts a branch per non-empty word, which at a few hundred active entries per step costs
 * more than the work itself. Ascending order, where a scatter needs it, still comes from the bitmap.
 */
export class SparseVec {
  readonly val: Float32Array;
  readonly words: Int32Array;
  readonly list: Int32Array;
  /** Byte offsets of val, words and list in their buffer (the kernels' pointers). */
  readonly valPtr: number;
  readonly wordsPtr: number;
  readonly listPtr: number;
  /**
   * First-touch stamps for the kernels' stamp-marking scatter (entry i touched this step when
   * stamp[i] === gen), used instead of the bitmap for outputs only ever read through `list`.
   */
  readonly stamp: Int32Array;
  readonly stampPtr: number;
  gen = 1;
  /** Whether the producer marks entries by stamp (set once by the engine): the bitmap stays empty then. */
  stampMarked = false;
  /**
   * One bit per bitmap word, set for every non-empty word, when `summarized` (set once by the
   * engine for neuron outputs, whose producers keep it): listing the active entries in order then
   * reads only the non-empty words.
   */
  readonly summary: Int32Array;
  readonly summaryPtr: number;
  summarized = false;
  /** Entries in `list` (valid when `listed`). */
  count = 0;
  /** Whether list[0..count) are exactly the active entries. */
  listed = false;
  /** Whether they are also ascending. */
  sorted = false;

  /** `dense`: every entry counts as active every step (bias layers, LI outputs); the bitmap is unused. */
  constructor(readonly n: number, readonly dense: boolean, alloc: Allocator = new PlainAllocator()) {
    this.val = alloc.float32(n);
    // Int32, not Uint32: a Uint32 word with bit 31 set loads as a double and slows every OR.
    this.words = alloc.int32((n + 31) >>> 5);
    // One spare slot: a branch-free append writes list[count] even when every entry is listed.
    this.list = alloc.int32(n + 1);
    this.stamp = alloc.int32(n);
    this.summary = alloc.int32((this.words.length + 31) >>> 5);
    this.summaryPtr = this.summary.byteOffset;
    this.valPtr = this.val.byteOffset;
    this.stampPtr = this.stamp.byteOffset;
    this.wordsPtr = this.words.byteOffset;
    this.listPtr = this.list.byteOffset;
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
    this.listed = false;
    this.sorted = false;
    if (this.summarized) this.summary.fill(0);
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

  /** Whether entry i is active (its stamp or its bit). */
  has(i: number): boolean {
    return this.stampMarked ? this.stamp[i] === this.gen : ((this.words[i >>> 5] >>> (i & 31)) & 1) !== 0;
  }

  /** Starts a new stamp generation: no entry counts as touched. */
  nextGen(): void {
    if (++this.gen === 0x7fffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
  }

  resetAll(): void {
    this.listed = false;
    this.sorted = false;
    this.summary.fill(0);
    this.stamp.fill(0);
    this.gen = 1;
    this.val.fill(0);
    this.words.fill(0);
  }
}
