/**
 * The sparse engine's hot loops as WebAssembly kernels (see ../wasm/assembler.ts for why). Each kernel
 * performs exactly the float32 operations, in exactly the order, of the JavaScript it replaces in
 * sparse-engine.ts / neuron.ts, so the engine gives the same bits with or without them
 * (test/snn/sparse-kernels.test.ts checks each kernel against its JavaScript, engine-paths.test.ts
 * both paths against the dense reference engine).
 *
 * IEEE-754 float32 add/sub/mul/div/floor in WebAssembly round exactly like Math.fround of the same
 * float64 operation on float32 operands (float64 carries more than 2*24+2 bits, so rounding twice
 * changes nothing), comparisons are the same and subnormals are kept; only NaN payloads could
 * differ, and a NaN arises only after a float32 overflow. f32x4 lanes are the same operations four
 * at a time: the neuron step kernel gathers four listed neurons into lanes and appends their
 * spikes by a lane-compress shuffle, the leak kernel takes four (eight, unrolled) neurons per pass.
 *
 * Why the kernels look the way they do: per timestep the work is a few hundred synapses and
 * neurons at data-dependent places, so mispredicted branches, not arithmetic, set the cost (a
 * bitmap walk mispredicts once per word, a spike test once per surprising neuron). Hence lists
 * instead of bitmap walks wherever a list can be had without a branch (a scatter appends each
 * output the first time it is touched: `list[n] = o; n += bit was clear`), and no branches for the
 * spike, reset, clamp and pending decisions: comparison results are added to list counts, and
 * float selects are lane-0 f32x4 operations (pmax, bitselect) because V8 compiles an f32 `select`
 * into a branch and an i32 one through slow float/integer register moves.
 *
 * Conventions: every pointer is a byte offset into the engine's memory, every array is 16-byte
 * aligned (wasm-arena.ts), bitmaps are Int32 words (entry i is bit i & 31 of word i >> 5).
 */
import { wasmApi, type WasmMemory } from '../wasm/api.js';
import { assembleModule, WasmFunction, type PlainOp } from '../wasm/assembler.js';
import { FORM_DECAY, FORM_EULER, FORM_IF, type NeuronForm } from './neuron.js';

/** Zeroes the values of the set bits and the bitmap, scanning the bitmap, and the nSummary summary words. */
export type ClearKernel = (val: number, bits: number, nWords: number, summary: number, nSummary: number) => void;
/**
 * Zeroes val[j] and (clearList) the bitmap word of j for the n listed entries (the list holds
 * every active entry; clearListVal leaves the bitmap alone), and the nSummary summary words.
 */
export type ClearListKernel = (val: number, bits: number, list: number, n: number, summary: number, nSummary: number) => void;
/** toList through a summary bitmap (bit w of summary set for every non-empty word w). */
export type ToListSummaryKernel = (bits: number, summary: number, nSummary: number, list: number) => number;
/** Writes the set bits' indices, ascending, to list; returns their number. `words`: scratch, nWords Int32. */
export type ToListKernel = (bits: number, nWords: number, list: number, words: number) => number;
/**
 * Conv2d/pool scatter of the n listed inputs, which must be ascending (see SparseEngine.scatterConvJs):
 * out[o] += w * x, and o appended to outList the first time it is touched (the count goes to Int32
 * stats[0]). `mark`: the output's bitmap (bits variant), or its stamps (stamp variant: stamp[o] =
 * gen; no bitmap, for outputs only ever read through the list). `pairs`: 8-byte (offset, weight)
 * entries. Returns the SynOps.
 */
export type ScatterConvKernel = (
  list: number, n: number, inVal: number, outVal: number, mark: number, outList: number, stats: number, gen: number,
  start: number, pairs: number, dy: number, dx: number, inBase: number, inClass: number, inQy: number, inQx: number,
  ho: number, wo: number,
) => number;
/** Linear/Affine scatter through CSR by input, `pairs` holding (output, weight); otherwise as ScatterConvKernel. */
export type ScatterLinearKernel = (
  list: number, n: number, inVal: number, outVal: number, mark: number, outList: number, stats: number, gen: number,
  rowStart: number, pairs: number,
) => number;
/**
 * Steps the n listed neurons (any order) of a uniform IF/LIF node as stepList does, reading v from
 * vIn and writing vOut (the same array for IF). Spikes: outVal[j] = count (multi-spike: 0 written
 * for the others; outVal must be 0 at the listed neurons beforehand, as after a clear), j
 * appended to outList and its bit set in outBits (and its word's bit in outSummary). Neurons outside the quiescent interval
 * [qLo, qHi] (neuron.ts quiescentInterval()) are appended to pending.
 * Counts: Int32 stats [outputs, pending] at +0/+4 (written), Float64 spikes at +8 (written).
 * Requires 0 < thr and thr2 = 2 * thr finite (below thr2 a multi-spike count is exactly 1).
 * `compress`: the table of compressTable().
 */
export type StepKernel = (
  vIn: number, vOut: number, x: number, list: number, n: number, outVal: number, outBits: number, outSummary: number, outList: number, pending: number, stats: number, compress: number,
  a: number, r: number, vLeak: number, thr: number, thr2: number, vReset: number, vMin: number, qLo: number, qHi: number,
) => void;
/**
 * One zero-input step of `bytes / 4` neurons (a multiple of 4) from vIn to vOut: integrate with
 * input 0 and clamp, no reset. Returns how many of them reached the threshold (see SparseEngine).
 */
export type LeakKernel = (vIn: number, vOut: number, bytes: number, a: number, vLeak: number, ri0: number, vMin: number, thr: number) => number;

export interface SparseKernels {
  readonly memory: WasmMemory;
  readonly clear: ClearKernel;
  readonly clearList: ClearListKernel;
  readonly clearListVal: ClearListKernel;
  readonly toList: ToListKernel;
  readonly toListSummary: ToListSummaryKernel;
  /** Bitmap and stamp variants (see ScatterConvKernel). */
  readonly scatterConv: { readonly bits: ScatterConvKernel; readonly stamp: ScatterConvKernel };
  readonly scatterLinear: { readonly bits: ScatterLinearKernel; readonly stamp: ScatterLinearKernel };
  /** By stepKey(variant). */
  readonly step: ReadonlyMap<string, StepKernel>;
  /** By leakKey(variant); Euler and decay forms only. */
  readonly leak: ReadonlyMap<string, LeakKernel>;
}

/** Step kernel variants: integration form, spike and reset modes, a clamp (vMin > -inf), and r = 1 (r * x is x then). */
export interface StepVariant {
  readonly form: NeuronForm;
  readonly multi: boolean;
  readonly subtract: boolean;
  readonly clamp: boolean;
  readonly unitR: boolean;
}

/**
 * The byte shuffles that pack the lanes selected by a 4-bit mask to the front of an i32x4 vector,
 * in ascending lane order (16 patterns of 16 bytes; unused bytes select zero).
 */
export function compressTable(): Uint8Array {
  const t = new Uint8Array(256).fill(0x80);
  for (let mask = 0; mask < 16; mask++) {
    let p = 0;
    for (let lane = 0; lane < 4; lane++) {
      if (((mask >> lane) & 1) === 0) continue;
      for (let b = 0; b < 4; b++) t[mask * 16 + p * 4 + b] = lane * 4 + b;
      p++;
    }
  }
  return t;
}

export function stepKey(v: StepVariant): string {
  return `step_${v.form}_${v.multi ? 'm' : 's'}_${v.subtract ? 'sub' : 'zero'}${v.clamp ? '_clamp' : ''}${v.unitR ? '_r1' : ''}`;
}

/** Leak kernel variants: form, spike mode (for the tally), clamp, and v_leak = r * 0 = +0 (decay form: fewer additions). */
export interface LeakVariant {
  readonly form: NeuronForm;
  readonly multi: boolean;
  readonly clamp: boolean;
  readonly zeroLeak: boolean;
}

export function leakKey(v: LeakVariant): string {
  return `leak_${v.form}_${v.multi ? 'm' : 's'}${v.clamp ? '_clamp' : ''}${v.zeroLeak ? '_z' : ''}`;
}

/** Pushes base + (index << 2): the address of element `index` of a 4-byte array at `base`. */
function addr(fn: WasmFunction, base: number, index: number): WasmFunction {
  return fn.get(base).get(index).i32(2).op('i32.shl', 'i32.add');
}

/** Pushes the address of the bitmap word holding bit `j`. */
function wordAddr(fn: WasmFunction, bits: number, j: number): WasmFunction {
  return fn.get(bits).get(j).i32(5).op('i32.shr_u').i32(2).op('i32.shl', 'i32.add');
}

/** `for (i = 0; i < n; i++) body()` over an i32 local i and an i32 bound n. */
function forRange(fn: WasmFunction, i: number, n: number, body: () => void): void {
  fn.i32(0).set(i);
  fn.block((exit) => fn.loop((top) => {
    fn.get(i).get(n).op('i32.ge_u').brIf(exit);
    body();
    fn.get(i).i32(1).op('i32.add').set(i);
    fn.br(top);
  }));
}

/** Zeroes summary[0..nSummary). */
function clearSummary(fn: WasmFunction, summary: number, nSummary: number): void {
  const q = fn.local('i32');
  forRange(fn, q, nSummary, () => addr(fn, summary, q).i32(0).mem('i32.store'));
}

function clearKernel(): WasmFunction {
  const fn = new WasmFunction('clear', ['i32', 'i32', 'i32', 'i32', 'i32'], []);
  const [val, bits, nWords, summary, nSummary] = [0, 1, 2, 3, 4];
  const wi = fn.local('i32');
  const word = fn.local('i32');
  const j = fn.local('i32');
  forRange(fn, wi, nWords, () => {
    addr(fn, bits, wi).mem('i32.load').set(word);
    fn.get(word).if(() => {
      addr(fn, bits, wi).i32(0).mem('i32.store');
      fn.block((wordDone) => fn.loop((next) => {
        fn.get(word).op('i32.eqz').brIf(wordDone);
        fn.get(wi).i32(5).op('i32.shl').get(word).op('i32.ctz', 'i32.or').set(j);
        fn.get(word).get(word).i32(1).op('i32.sub', 'i32.and').set(word);
        addr(fn, val, j).f32(0).mem('f32.store');
        fn.br(next);
      }));
    });
  });
  clearSummary(fn, summary, nSummary);
  return fn;
}

/** `bits`: also zero the bitmap words (not for stamp-marked vectors, whose bitmap stays empty). */
function clearListKernel(bits: boolean): WasmFunction {
  const fn = new WasmFunction(bits ? 'clearList' : 'clearListVal', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], []);
  const [val, words, list, n, summary, nSummary] = [0, 1, 2, 3, 4, 5];
  const k = fn.local('i32');
  const j = fn.local('i32');
  forRange(fn, k, n, () => {
    addr(fn, list, k).mem('i32.load').set(j);
    addr(fn, val, j).f32(0).mem('f32.store');
    if (bits) wordAddr(fn, words, j).i32(0).mem('i32.store');
  });
  clearSummary(fn, summary, nSummary);
  return fn;
}

/**
 * Appends the index (wi << 5 | bit) of every set bit of the non-zero `word` to list[c..], bumping
 * c; consumes `word`. Shared by both toList kernels so their inner loops cannot drift apart.
 */
function appendBits(fn: WasmFunction, list: number, c: number, wi: number, word: number): void {
  fn.block((wordDone) => fn.loop((next) => {
    addr(fn, list, c).get(wi).i32(5).op('i32.shl').get(word).op('i32.ctz', 'i32.or').mem('i32.store');
    fn.get(c).i32(1).op('i32.add').set(c);
    fn.get(word).get(word).i32(1).op('i32.sub', 'i32.and').tee(word).op('i32.eqz').brIf(wordDone);
    fn.br(next);
  }));
}

function toListKernel(): WasmFunction {
  const fn = new WasmFunction('toList', ['i32', 'i32', 'i32', 'i32'], ['i32']);
  const [bits, nWords, list, words] = [0, 1, 2, 3];
  const c = fn.local('i32');
  const nz = fn.local('i32');
  const q = fn.local('i32');
  const wi = fn.local('i32');
  const word = fn.local('i32');
  // First the non-empty words' indices, without a branch (most words of a spike bitmap are empty,
  // and which ones is anyone's guess), then the bits of those words.
  forRange(fn, wi, nWords, () => {
    addr(fn, words, nz).get(wi).mem('i32.store');
    fn.get(nz);
    addr(fn, bits, wi).mem('i32.load').op('i32.eqz', 'i32.eqz', 'i32.add').set(nz);
  });
  forRange(fn, q, nz, () => {
    addr(fn, words, q).mem('i32.load').set(wi);
    addr(fn, bits, wi).mem('i32.load').set(word);
    appendBits(fn, list, c, wi, word);
  });
  fn.get(c);
  return fn;
}

/**
 * toList for a vector with a summary (bit w set for every non-empty word w): visits the summary
 * bits, ascending, so only non-empty words are read.
 */
function toListSummaryKernel(): WasmFunction {
  const fn = new WasmFunction('toListSummary', ['i32', 'i32', 'i32', 'i32'], ['i32']);
  const [bits, summary, nSummary, list] = [0, 1, 2, 3];
  const c = fn.local('i32');
  const si = fn.local('i32');
  const sword = fn.local('i32');
  const wi = fn.local('i32');
  const word = fn.local('i32');
  forRange(fn, si, nSummary, () => {
    addr(fn, summary, si).mem('i32.load').set(sword);
    fn.block((sDone) => fn.loop((nextWord) => {
      fn.get(sword).op('i32.eqz').brIf(sDone);
      fn.get(si).i32(5).op('i32.shl').get(sword).op('i32.ctz', 'i32.or').set(wi);
      fn.get(sword).get(sword).i32(1).op('i32.sub', 'i32.and').set(sword);
      addr(fn, bits, wi).mem('i32.load').set(word);
      appendBits(fn, list, c, wi, word);
      fn.br(nextWord);
    }));
  });
  fn.get(c);
  return fn;
}

/** Registers of a scatter kernel's delivery of one entry (see deliver). */
interface ScatterRegs {
  readonly stamps: boolean;
  readonly outVal: number; readonly mark: number; readonly outList: number; readonly gen: number;
  readonly o: number; readonly x: number; readonly cnt: number; readonly tmp: number; readonly old: number;
}

/**
 * out[o] += w * x for the entry (o offset from `base`, weight) at byte `at` of the pairs; then
 * marks o and appends it to outList unless it was marked already, without a branch: the entry
 * is always written, the count advances only for a new one. Marking: with `stamps`, stamp[o] = gen
 * (new if it was not gen); otherwise the bitmap bit (new if it was clear).
 */
function deliver(fn: WasmFunction, r: ScatterRegs, pushO: () => void, pushWeight: () => void): void {
  pushO();
  fn.set(r.o);
  addr(fn, r.outVal, r.o).tee(r.tmp);
  fn.get(r.tmp).mem('f32.load');
  pushWeight();
  fn.get(r.x).op('f32.mul', 'f32.add').mem('f32.store');
  if (r.stamps) {
    addr(fn, r.mark, r.o).tee(r.tmp).mem('i32.load').set(r.old);
    fn.get(r.tmp).get(r.gen).mem('i32.store');
    addr(fn, r.outList, r.cnt).get(r.o).mem('i32.store');
    fn.get(r.cnt).get(r.old).get(r.gen).op('i32.ne', 'i32.add').set(r.cnt);
  } else {
    wordAddr(fn, r.mark, r.o).tee(r.tmp).mem('i32.load').set(r.old);
    fn.get(r.tmp).get(r.old).i32(1).get(r.o).op('i32.shl', 'i32.or').mem('i32.store');
    addr(fn, r.outList, r.cnt).get(r.o).mem('i32.store');
    fn.get(r.cnt).get(r.old).get(r.o).op('i32.shr_u').i32(1).op('i32.and', 'i32.eqz', 'i32.add').set(r.cnt);
  }
}

/**
 * Delivers the entries [p, pEnd) (byte pointers into 8-byte (offset, weight) pairs) to base +
 * offset; `unroll`: two per iteration (a class's entries reach distinct outputs, so the two are
 * independent).
 */
function deliverRun(fn: WasmFunction, r: ScatterRegs, p: number, pEnd: number, base: number, unroll: boolean): void {
  const at = (offset: number) => () => fn.get(base).get(p).mem('i32.load', offset).op('i32.add');
  const w = (offset: number) => () => fn.get(p).mem('f32.load', offset + 4);
  if (!unroll) {
    fn.block((done) => fn.loop((pairs) => {
      fn.get(p).get(pEnd).op('i32.ge_u').brIf(done);
      deliver(fn, r, at(0), w(0));
      fn.get(p).i32(8).op('i32.add').set(p);
      fn.br(pairs);
    }));
    return;
  }
  fn.block((tail) => fn.loop((pairs) => {
    fn.get(p).i32(8).op('i32.add').get(pEnd).op('i32.ge_u').brIf(tail);
    deliver(fn, r, at(0), w(0));
    deliver(fn, r, at(8), w(8));
    fn.get(p).i32(16).op('i32.add').set(p);
    fn.br(pairs);
  }));
  fn.get(p).get(pEnd).op('i32.lt_u').if(() => deliver(fn, r, at(0), w(0)));
}

function scatterConvKernel(stamps: boolean): WasmFunction {
  const fn = new WasmFunction(`scatterConv_${stamps ? 'stamp' : 'bits'}`, new Array(18).fill('i32'), ['i32']);
  const [list, n, inVal, outVal, mark, outList, stats, gen, start, pairs, dy, dx, inBase, inClass, inQy, inQx, ho, wo] = Array.from({ length: 18 }, (_, i) => i);
  const k = fn.local('i32');
  const i = fn.local('i32');
  const base = fn.local('i32');
  const cls = fn.local('i32');
  const e = fn.local('i32');
  const e1 = fn.local('i32');
  const p = fn.local('i32');
  const pEnd = fn.local('i32');
  const o = fn.local('i32');
  const ops = fn.local('i32');
  const qy = fn.local('i32');
  const qx = fn.local('i32');
  const tmp = fn.local('i32');
  const old = fn.local('i32');
  const cnt = fn.local('i32');
  const x = fn.local('f32');
  const regs: ScatterRegs = { stamps, outVal, mark, outList, gen, o, x, cnt, tmp, old };
  fn.block((exit) => fn.loop((inputs) => {
    fn.get(k).get(n).op('i32.ge_u').brIf(exit);
    addr(fn, list, k).mem('i32.load').set(i);
    fn.get(k).i32(1).op('i32.add').set(k);
    addr(fn, inVal, i).mem('f32.load').tee(x).f32(0).op('f32.eq').brIf(inputs);
    addr(fn, inBase, i).mem('i32.load').set(base);
    addr(fn, inClass, i).mem('i32.load').tee(cls).i32(0).op('i32.ge_s').if(() => {
      // Interior: every entry lands inside the output.
      addr(fn, start, cls).tee(tmp).mem('i32.load').set(e);
      fn.get(tmp).mem('i32.load', 4).set(e1);
      fn.get(ops).get(e1).get(e).op('i32.sub', 'i32.add').set(ops);
      fn.get(pairs).get(e).i32(3).op('i32.shl', 'i32.add').set(p);
      fn.get(pairs).get(e1).i32(3).op('i32.shl', 'i32.add').set(pEnd);
      deliverRun(fn, regs, p, pEnd, base, true);
    }, () => {
      // Border: bounds-check each entry's (qy + dy, qx + dx).
      fn.get(cls).i32(-1).op('i32.xor').set(cls);
      addr(fn, start, cls).tee(tmp).mem('i32.load').set(e);
      fn.get(tmp).mem('i32.load', 4).set(e1);
      addr(fn, inQy, i).mem('i32.load').set(qy);
      addr(fn, inQx, i).mem('i32.load').set(qx);
      fn.block((done) => fn.loop((entries) => {
        fn.get(e).get(e1).op('i32.ge_s').brIf(done);
        // Unsigned compares also reject negative coordinates.
        fn.get(qy);
        addr(fn, dy, e).mem('i32.load').op('i32.add').get(ho).op('i32.lt_u');
        fn.get(qx);
        addr(fn, dx, e).mem('i32.load').op('i32.add').get(wo).op('i32.lt_u');
        fn.op('i32.and').if(() => {
          fn.get(pairs).get(e).i32(3).op('i32.shl', 'i32.add').set(p);
          deliver(fn, regs, () => fn.get(base).get(p).mem('i32.load').op('i32.add'), () => fn.get(p).mem('f32.load', 4));
          fn.get(ops).i32(1).op('i32.add').set(ops);
        });
        fn.get(e).i32(1).op('i32.add').set(e);
        fn.br(entries);
      }));
    });
    fn.br(inputs);
  }));
  fn.get(stats).get(cnt).mem('i32.store');
  fn.get(ops);
  return fn;
}

function scatterLinearKernel(stamps: boolean): WasmFunction {
  const fn = new WasmFunction(`scatterLinear_${stamps ? 'stamp' : 'bits'}`, new Array(10).fill('i32'), ['i32']);
  const [list, n, inVal, outVal, mark, outList, stats, gen, rowStart, pairs] = Array.from({ length: 10 }, (_, i) => i);
  const k = fn.local('i32');
  const i = fn.local('i32');
  const p = fn.local('i32');
  const pEnd = fn.local('i32');
  const o = fn.local('i32');
  const ops = fn.local('i32');
  const tmp = fn.local('i32');
  const old = fn.local('i32');
  const cnt = fn.local('i32');
  const zero = fn.local('i32');
  const x = fn.local('f32');
  const regs: ScatterRegs = { stamps, outVal, mark, outList, gen, o, x, cnt, tmp, old };
  fn.block((exit) => fn.loop((inputs) => {
    fn.get(k).get(n).op('i32.ge_u').brIf(exit);
    addr(fn, list, k).mem('i32.load').set(i);
    fn.get(k).i32(1).op('i32.add').set(k);
    addr(fn, inVal, i).mem('f32.load').tee(x).f32(0).op('f32.eq').brIf(inputs);
    addr(fn, rowStart, i).tee(tmp).mem('i32.load').set(p);
    fn.get(tmp).mem('i32.load', 4).set(pEnd);
    fn.get(ops).get(pEnd).get(p).op('i32.sub', 'i32.add').set(ops);
    fn.get(pairs).get(p).i32(3).op('i32.shl', 'i32.add').set(p);
    fn.get(pairs).get(pEnd).i32(3).op('i32.shl', 'i32.add').set(pEnd);
    // Pairs hold (output index, weight): deliver relative to a base of 0. Rows are short in
    // sparse layers (a mispredicted exit either way), so no unrolling.
    deliverRun(fn, regs, p, pEnd, zero, false);
    fn.br(inputs);
  }));
  fn.get(stats).get(cnt).mem('i32.store');
  fn.get(ops);
  return fn;
}

/** Pushes integrate(form, w, ri, a, r, vLeak) (neuron.ts) for f32 locals w and ri and params. */
function integrate(fn: WasmFunction, form: NeuronForm, w: number, ri: number, a: number, vLeak: number): void {
  if (form === FORM_IF) {
    fn.get(w).get(ri).op('f32.add');
  } else if (form === FORM_EULER) {
    // v + a * ((vLeak - v) + ri)
    fn.get(w).get(a).get(vLeak).get(w).op('f32.sub').get(ri).op('f32.add', 'f32.mul', 'f32.add');
  } else {
    // ((a * (v - vLeak)) + vLeak) + ri
    fn.get(a).get(w).get(vLeak).op('f32.sub', 'f32.mul').get(vLeak).op('f32.add').get(ri).op('f32.add');
  }
}

/** Parameter and counter locals of a step kernel, shared by its 4-wide and scalar loops. */
interface StepRegs {
  readonly vIn: number; readonly vOut: number; readonly x: number; readonly list: number; readonly n: number;
  readonly outVal: number; readonly outList: number; readonly pending: number; readonly compress: number;
  readonly a: number; readonly r: number; readonly vLeak: number; readonly thr: number; readonly thr2: number;
  readonly vReset: number; readonly vMin: number; readonly qLo: number; readonly qHi: number;
  readonly k: number; readonly m: number; readonly np: number;
}

/**
 * The step kernel's main loop: four listed neurons per iteration, gathered into f32x4 lanes, with
 * exactly the scalar loop's operations per lane (the same IEEE operations, lane by lane). Spikes
 * and pending neurons are appended from the lane masks without branches. Leaves k at n & ~3.
 */
function stepFour(fn: WasmFunction, variant: StepVariant, r: StepRegs): void {
  const { form, multi, subtract, clamp, unitR } = variant;
  const j = [fn.local('i32'), fn.local('i32'), fn.local('i32'), fn.local('i32')];
  const n4 = fn.local('i32');
  const mask = fn.local('i32');
  const splat = (p: number): number => {
    const l = fn.local('v128');
    fn.get(p).op('f32x4.splat').set(l);
    return l;
  };
  const aV = splat(r.a);
  const rV = splat(r.r);
  const vlV = splat(r.vLeak);
  const thrV = splat(r.thr);
  const thr2V = splat(r.thr2);
  const vResetV = splat(r.vReset);
  const vMinV = splat(r.vMin);
  const qLoV = splat(r.qLo);
  const qHiV = splat(r.qHi);
  const oneV = fn.local('v128');
  fn.f32(1).op('f32x4.splat').set(oneV);
  const V = fn.local('v128');
  const X = fn.local('v128');
  const U = fn.local('v128');
  const F = fn.local('v128');
  const C = fn.local('v128');
  const W = fn.local('v128');
  /** Pushes the four lanes of array `base` at the neurons j[0..3]. */
  const gather = (base: number): void => {
    addr(fn, base, j[0]).mem('v128.load32_zero');
    for (let l = 1; l < 4; l++) {
      const v = fn.local('v128');
      fn.set(v);
      addr(fn, base, j[l]).get(v).laneMem('v128.load32_lane', l);
    }
  };
  /** Stores the four lanes of vector local `v` to array `base` at the neurons j[0..3]. */
  const scatter = (base: number, v: number): void => {
    for (let l = 0; l < 4; l++) addr(fn, base, j[l]).get(v).laneMem('v128.store32_lane', l);
  };
  const J = fn.local('v128');
  /**
   * Appends the neurons of the lanes set in `bits` (ascending lanes) to `list` at `count`: the
   * lanes are packed to the front by a byte shuffle from the compress table (16 patterns of 16
   * bytes, one per 4-bit mask) and stored as one vector, of which popcount(bits) entries count
   * (count <= k <= n - 4 here, so the whole vector lies inside the list).
   */
  const append = (list: number, count: number, bits: number): void => {
    addr(fn, list, count).get(J).get(r.compress).get(bits).i32(4).op('i32.shl', 'i32.add').mem('v128.load').op('i8x16.swizzle').mem('v128.store');
    fn.get(count).get(bits).op('i32.popcnt', 'i32.add').set(count);
  };
  fn.get(r.n).i32(-4).op('i32.and').set(n4);
  fn.block((exit) => fn.loop((top) => {
    fn.get(r.k).get(n4).op('i32.ge_u').brIf(exit);
    fn.get(r.list).get(r.k).i32(2).op('i32.shl', 'i32.add').mem('v128.load').set(J);
    for (let l = 0; l < 4; l++) fn.get(J).lane(l).set(j[l]);
    gather(r.vIn);
    fn.set(V);
    gather(r.x);
    if (!unitR) fn.get(rV).op('f32x4.mul');
    fn.set(X);
    if (form === FORM_IF) fn.get(V).get(X).op('f32x4.add');
    else if (form === FORM_EULER) fn.get(V).get(aV).get(vlV).get(V).op('f32x4.sub').get(X).op('f32x4.add', 'f32x4.mul', 'f32x4.add');
    else fn.get(aV).get(V).get(vlV).op('f32x4.sub', 'f32x4.mul').get(vlV).op('f32x4.add').get(X).op('f32x4.add');
    fn.set(U);
    fn.get(U).get(thrV).op(multi ? 'f32x4.ge' : 'f32x4.gt').tee(F).get(oneV).op('v128.and').set(C);
    if (multi) {
      // Counts above 1 (rare): floor(u / thr) in the lanes at or above 2 * thr.
      fn.get(U).get(thr2V).op('f32x4.ge').tee(W).op('v128.any_true').if(() => {
        fn.get(U).get(thrV).op('f32x4.div', 'f32x4.floor').get(C).get(W).op('v128.bitselect').set(C);
      });
    }
    if (subtract) fn.get(U).get(C).get(thrV).op('f32x4.mul', 'f32x4.sub');
    else fn.get(vResetV).get(U).get(F).op('v128.bitselect');
    if (clamp) fn.get(vMinV).op('f32x4.pmax');
    fn.set(W);
    scatter(r.vOut, W);
    // Single-spike counts are all 1: the final loop writes them, for the spikes only.
    if (multi) scatter(r.outVal, C);
    fn.get(F).op('i32x4.bitmask').set(mask);
    append(r.outList, r.m, mask);
    fn.get(W).get(qLoV).op('f32x4.ge').get(W).get(qHiV).op('f32x4.le', 'v128.and', 'i32x4.bitmask').i32(15).op('i32.xor').set(mask);
    append(r.pending, r.np, mask);
    fn.get(r.k).i32(4).op('i32.add').set(r.k);
    fn.br(top);
  }));
}

function stepKernel(variant: StepVariant): WasmFunction {
  const { form, multi, subtract, clamp, unitR } = variant;
  const fn = new WasmFunction(stepKey(variant), [
    'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32',
    'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32',
  ], []);
  const [vIn, vOut, x, list, n, outVal, outBits, outSummary, outList, pending, stats, compress, a, r, vLeak, thr, thr2, vReset, vMin, qLo, qHi] = Array.from({ length: 21 }, (_, i) => i);
  const k = fn.local('i32');
  const j = fn.local('i32');
  const m = fn.local('i32');
  const np = fn.local('i32');
  const fire = fn.local('i32');
  const tmp = fn.local('i32');
  const spikes = fn.local('f64');
  const w = fn.local('f32');
  const ri = fn.local('f32');
  const u = fn.local('f32');
  const c = fn.local('f32');
  const thrV = fn.local('v128');
  const vResetV = fn.local('v128');
  const vMinV = fn.local('v128');
  fn.get(thr).op('f32x4.splat').set(thrV);
  fn.get(vReset).op('f32x4.splat').set(vResetV);
  fn.get(vMin).op('f32x4.splat').set(vMinV);
  const fires: PlainOp = multi ? 'f32.ge' : 'f32.gt';
  stepFour(fn, variant, { vIn, vOut, x, list, n, outVal, outList, pending, compress, a, r, vLeak, thr, thr2, vReset, vMin, qLo, qHi, k, m, np });
  // The last n % 4 neurons, one at a time.
  fn.block((exit) => fn.loop((top) => {
    fn.get(k).get(n).op('i32.ge_u').brIf(exit);
    addr(fn, list, k).mem('i32.load').set(j);
    addr(fn, vIn, j).mem('f32.load').set(w);
    // r * x; with r = 1 that is x itself, bit for bit (x is a float32).
    if (!unitR) fn.get(r);
    addr(fn, x, j).mem('f32.load');
    if (!unitR) fn.op('f32.mul');
    fn.set(ri);
    integrate(fn, form, w, ri, a, vLeak);
    fn.set(u);
    // spikeCount: with thr > 0 (the engine's condition for the kernels) a multi-spike count is
    // positive exactly when u >= thr, and below 2 * thr it is exactly 1 (u / thr < 2 - 2^-23 rounds
    // below 2); at or above 2 * thr (rare) divide as neuron.ts does.
    fn.get(u).get(thr).op(fires).tee(fire).op('f32.convert_i32_s').set(c);
    if (multi) fn.get(u).get(thr2).op('f32.ge').if(() => fn.get(u).get(thr).op('f32.div', 'f32.floor').set(c));
    // resetAndClamp. Subtract: without a spike c = +0 and u - 0 * thr is u, bit for bit.
    if (subtract) {
      fn.get(u).get(c).get(thr).op('f32.mul', 'f32.sub');
    } else {
      // Zero reset as a lane select (an f32 `select` would compile to a branch).
      fn.get(vResetV).get(u).op('f32x4.splat').get(u).op('f32x4.splat').get(thrV).op(multi ? 'f32x4.ge' : 'f32x4.gt', 'v128.bitselect');
      fn.flane(0);
    }
    // Clamp: pmax(w, vMin) = w < vMin ? vMin : w, exactly neuron.ts's clamp, without a branch.
    if (clamp) fn.op('f32x4.splat').get(vMinV).op('f32x4.pmax').flane(0);
    fn.set(w);
    addr(fn, vOut, j).get(w).mem('f32.store');
    if (multi) addr(fn, outVal, j).get(c).mem('f32.store');
    addr(fn, outList, m).get(j).mem('i32.store');
    fn.get(m).get(fire).op('i32.add').set(m);
    // Pending unless quiescent: inside [qLo, qHi] (neuron.ts quiescentInterval()).
    addr(fn, pending, np).get(j).mem('i32.store');
    fn.get(np).get(w).get(qLo).op('f32.ge').get(w).get(qHi).op('f32.le', 'i32.and', 'i32.eqz', 'i32.add').set(np);
    fn.get(k).i32(1).op('i32.add').set(k);
    fn.br(top);
  }));
  // Bitmap and summary bits and the spike total, over the spikes only (single-spike: the counts).
  forRange(fn, k, m, () => {
    addr(fn, outList, k).mem('i32.load').set(j);
    if (!multi) addr(fn, outVal, j).f32(1).mem('f32.store');
    wordAddr(fn, outBits, j).tee(tmp);
    fn.get(tmp).mem('i32.load').i32(1).get(j).op('i32.shl', 'i32.or').mem('i32.store');
    fn.get(j).i32(5).op('i32.shr_u').set(fire);
    wordAddr(fn, outSummary, fire).tee(tmp);
    fn.get(tmp).mem('i32.load').i32(1).get(fire).op('i32.shl', 'i32.or').mem('i32.store');
    fn.get(spikes);
    addr(fn, outVal, j).mem('f32.load').op('f64.promote_f32', 'f64.add').set(spikes);
  });
  fn.get(stats).get(m).mem('i32.store');
  fn.get(stats).get(np).mem('i32.store', 4);
  fn.get(stats).get(spikes).mem('f64.store', 8);
  return fn;
}

function leakKernel(variant: LeakVariant): WasmFunction {
  const { form, multi, clamp, zeroLeak } = variant;
  const fn = new WasmFunction(leakKey(variant), ['i32', 'i32', 'i32', 'f32', 'f32', 'f32', 'f32', 'f32'], ['i32']);
  const [vIn, vOut, bytes, a, vLeak, ri0, vMin, thr] = Array.from({ length: 8 }, (_, i) => i);
  const off = fn.local('i32');
  const [va, vl, vr, vm, vt] = [a, vLeak, ri0, vMin, thr].map((p) => fn.splat(p, 'f32x4.splat'));
  const xv = fn.local('v128');
  const u = fn.local('v128');
  const cnt = fn.local('v128');
  fn.i32(0).op('i32x4.splat').set(cnt);
  const cmp: PlainOp = multi ? 'f32x4.ge' : 'f32x4.gt';
  /** Four neurons at byte `at` past off. */
  const four = (at: number): void => {
    fn.get(vIn).get(off).op('i32.add').mem('v128.load', at).set(xv);
    if (form === FORM_EULER) {
      // v + a * ((vLeak - v) + r*0): adding r*0 (±0) changes t = vLeak - v only when t = -0, i.e.
      // v = +0 and vLeak = -0, and then v + a*t is +0 either way; so that addition is left out.
      fn.get(xv).get(va).get(vl).get(xv).op('f32x4.sub', 'f32x4.mul', 'f32x4.add').set(u);
    } else if (zeroLeak) {
      // v - (+0) is v and (a * v) + 0 is never -0, so only that one addition of +0 remains.
      fn.get(va).get(xv).op('f32x4.mul').get(vl).op('f32x4.add').set(u);
    } else {
      fn.get(va).get(xv).get(vl).op('f32x4.sub', 'f32x4.mul').get(vl).op('f32x4.add').get(vr).op('f32x4.add').set(u);
    }
    // A lane that reaches the threshold is -1 in the compare mask: subtracting counts it.
    fn.get(cnt).get(u).get(vt).op(cmp, 'i32x4.sub').set(cnt);
    // pmax(u, vMin) = u < vMin ? vMin : u, the clamp of neuron.ts exactly (no clamp: vMin = -inf).
    fn.get(vOut).get(off).op('i32.add').get(u);
    if (clamp) fn.get(vm).op('f32x4.pmax');
    fn.mem('v128.store', at);
  };
  // Eight neurons per iteration (bytes is a multiple of 16), then four if left.
  fn.block((tail) => fn.loop((top) => {
    fn.get(off).i32(16).op('i32.add').get(bytes).op('i32.ge_u').brIf(tail);
    four(0);
    four(16);
    fn.get(off).i32(32).op('i32.add').set(off);
    fn.br(top);
  }));
  fn.get(off).get(bytes).op('i32.lt_u').if(() => four(0));
  fn.get(cnt).lane(0).get(cnt).lane(1).op('i32.add').get(cnt).lane(2).op('i32.add').get(cnt).lane(3).op('i32.add');
  return fn;
}

function buildModule(): Uint8Array {
  const fns = [clearKernel(), clearListKernel(true), clearListKernel(false), toListKernel(), toListSummaryKernel()];
  for (const stamps of [false, true]) fns.push(scatterConvKernel(stamps), scatterLinearKernel(stamps));
  const flags = [false, true];
  for (const form of [FORM_IF, FORM_EULER, FORM_DECAY] as NeuronForm[]) {
    for (const multi of flags) {
      for (const subtract of flags) for (const clamp of flags) for (const unitR of flags) fns.push(stepKernel({ form, multi, subtract, clamp, unitR }));
      if (form !== FORM_IF) for (const clamp of flags) for (const zeroLeak of flags) fns.push(leakKernel({ form, multi, clamp, zeroLeak }));
    }
  }
  return assembleModule(fns);
}

let compiled: object | null | undefined;

/** The compiled module, or null where WebAssembly (with SIMD) is unavailable. Compiled once. */
function sparseKernelModule(): object | null {
  if (compiled === undefined) {
    compiled = null;
    const api = wasmApi();
    try {
      const bytes = buildModule();
      if (api && api.validate(bytes)) compiled = new api.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** The kernels bound to `memory`, or null where WebAssembly SIMD is unavailable. */
export function loadSparseKernels(memory: WasmMemory): SparseKernels | null {
  const mod = sparseKernelModule();
  const api = wasmApi();
  if (!mod || !api) return null;
  const ex = new api.Instance(mod, { env: { memory } }).exports as Record<string, unknown>;
  const step = new Map<string, StepKernel>();
  const leak = new Map<string, LeakKernel>();
  for (const [k, v] of Object.entries(ex)) {
    if (k.startsWith('step_')) step.set(k, v as StepKernel);
    if (k.startsWith('leak_')) leak.set(k, v as LeakKernel);
  }
  return {
    memory,
    clear: ex.clear as ClearKernel,
    clearList: ex.clearList as ClearListKernel,
    clearListVal: ex.clearListVal as ClearListKernel,
    toList: ex.toList as ToListKernel,
    toListSummary: ex.toListSummary as ToListSummaryKernel,
    scatterConv: { bits: ex.scatterConv_bits as ScatterConvKernel, stamp: ex.scatterConv_stamp as ScatterConvKernel },
    scatterLinear: { bits: ex.scatterLinear_bits as ScatterLinearKernel, stamp: ex.scatterLinear_stamp as ScatterLinearKernel },
    step,
    leak,
  };
}
