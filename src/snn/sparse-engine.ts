/**
 * The event-driven sparse engine. Per timestep it visits only the input events and the spikes, and
 * for each only the connections that exist (ESL mask bit set), through connectivity compressed once
 * at load (sparse-connectivity.ts); neurons that received no input are not stepped one by one.
 *
 * Hand-written, with flat typed arrays, precomputed index tables, bitmaps for active sets,
 * preallocated buffers and no closures or allocation per event, because this loop is the product:
 * an event camera produces a few events per pixel per second and a sparse network touches a few
 * percent of its synapses per step, so the work per step is tiny and generic tensor code (tfjs)
 * spends its time on the zeros. The hottest loops (scatter through the connectivity, stepping the
 * touched neurons of a uniform IF/LIF layer, the leak of the untouched ones, clearing and listing
 * bitmaps) run as WebAssembly kernels (sparse-kernels.ts) over arrays in one WebAssembly.Memory
 * (wasm-arena.ts); the JavaScript versions below stay as the fallback where WebAssembly SIMD is
 * missing or the arena would be too large (`wasm: false` forces them), and both give the same bits.
 * It must give the dense reference engine's results bit for bit; how:
 *
 * 1. Same float32 operation order. A dense weighted sum adds fround(w*x) over inputs in ascending
 *    input index. Scattering from the active inputs in ascending order (read off a bitmap, see
 *    sparse-vec.ts) delivers to every output the same terms in the same order, since each input
 *    reaches an output through at most one kernel position. Zero inputs are skipped like the dense
 *    loops skip them; biases are added after the sum; AvgPool divides after the sum.
 * 2. Layers with always-on input take the dense path: a bias (Conv2d/Affine) or a negative
 *    Threshold makes every output active, LI neurons output v every step, and LIF neurons whose
 *    zero-input step could overshoot (a = dt/tau or beta outside [0, 1]) are all updated every step.
 * 3. Neurons without input (neuron.ts): such a neuron is left out of the per-neuron stepping only
 *    while its zero-input steps cannot spike ("quiescent"). IF neurons then need nothing: their
 *    zero-input step is the identity. LIF neurons leak; with the kernels, every neuron of the layer
 *    takes its zero-input step in one f32x4 pass per timestep (exactly the dense engine's float32
 *    operations, four neurons per instruction; pow(decay, k) would give different bits), and the
 *    neurons with input are stepped from their previous v on top of it. Without the kernels the
 *    leak is lazy instead: when a neuron is next touched, its skipped steps are replayed with the
 *    same float32 operations, stopping at a fixed point. A neuron that could still spike without
 *    input (e.g. v > threshold after a subtract reset) stays on a pending list and is stepped every
 *    timestep until it settles. A neuron whose inputs sum to exactly 0 is treated as untouched,
 *    which is the same thing for a quiescent neuron.
 */
import type { Timestep } from '../stream/timestep.js';
import { RunCounters, runEngine, type Engine, type EngineOptions, type RunResult, type StepOutput } from './engine.js';
import { isNeuron, type Graph } from './graph.js';
import { accumulateEvents, eventInputShape, type AccumulateResult, type EventInputShape } from './input-map.js';
import {
  FORM_IF, integrate, isQuiescent, lazyEligible, neuronArrays, quiescentInterval, replayIdle, stepBitsIF, stepList,
  type NeuronArrays, type StepListState,
} from './neuron.js';
import { convConnectivity, linearConnectivity, poolConnectivity, type ConvConnectivity, type LinearConnectivity } from './sparse-connectivity.js';
import { compressTable, leakKey, loadSparseKernels, stepKey, type LeakKernel, type SparseKernels, type StepKernel } from './sparse-kernels.js';
import { SparseVec } from './sparse-vec.js';
import { expandParam, formatShape, numel } from './tensor.js';
import { validateGraph, type GraphPlan } from './validate-graph.js';
import { MAX_ARENA_BYTES, PlainAllocator, WasmArena, type Allocator } from './wasm-arena.js';

const f = Math.fround;

const K_INPUT = 0, K_CONV = 1, K_LINEAR = 2, K_ALIAS = 3, K_SCALE = 4, K_THRESHOLD = 5, K_NEURON = 6, K_OUTPUT = 7;

/** How a neuron node is stepped (see the module comment, point 3). */
const M_DENSE = 0; // every neuron every step (not lazy-eligible)
const M_LAZY = 1; // JavaScript: touched + pending neurons, lazy replay of LIF leaks
const M_KERNEL_IF = 2; // uniform IF: touched neurons by the step kernel, in place
const M_BULK = 3; // uniform LIF: leak kernel over all neurons, then the step kernel for the touched ones

export interface SparseEngineOptions extends EngineOptions {
  /** Run the hot loops as WebAssembly kernels where available (default true); false forces JavaScript. */
  readonly wasm?: boolean;
}

interface NeuronState {
  readonly arrays: NeuronArrays;
  readonly mode: number;
  /** Membrane potentials, current after each step. */
  v: Float32Array;
  /** M_BULK: the next step's potentials (swapped with v after each step); otherwise unused. */
  vNext: Float32Array;
  /** Byte offsets of v, vNext, pending and pendingNext (swapped with them). */
  vPtr: number;
  vNextPtr: number;
  pendingPtr: number;
  pendingNextPtr: number;
  /** M_LAZY: step at which each neuron's state is current (-1: initial state). */
  readonly last: Int32Array;
  /** Neurons to step next timestep even without input (they could spike on their own). */
  pending: Int32Array;
  pendingNext: Int32Array;
  pendingCnt: number;
  /** 0..n-1, for the dense path. */
  readonly all: Int32Array;
  /** Neurons pending at v = 0, the state after reset (none on the dense path). */
  readonly initialPending: Int32Array;
  readonly step: StepKernel | null;
  readonly leak: LeakKernel | null;
  /** Kernel scalars (uniform nodes): fround(r * 0), 2 * threshold and the quiescent interval (see StepKernel). */
  readonly ri0: number;
  readonly thr2: number;
  readonly qLo: number;
  readonly qHi: number;
}

/**
 * Byte offsets of a conv or linear node's connectivity for the scatter kernels: `pairs` interleaves
 * (offset or output, weight) per entry so one pointer walks both; `start` is the class start (conv)
 * or row start (linear); the rest are the conv tables (0 for linear).
 */
interface ScatterPtrs {
  readonly start: number; readonly pairs: number; readonly dy: number; readonly dx: number;
  readonly inBase: number; readonly inClass: number; readonly inQy: number; readonly inQx: number;
}

/** Everything allocated per engine, built twice: once to measure, once in the arena. */
interface Layout {
  readonly outs: SparseVec[];
  readonly merged: (SparseVec | null)[];
  readonly conv: (ConvConnectivity | null)[];
  readonly lin: (LinearConnectivity | null)[];
  readonly neurons: (NeuronState | null)[];
  /** Scratch index list, as long as the largest node. */
  readonly visitBuf: Int32Array;
  /** Kernel step counts: Int32 [outputs, pending] and, from byte 8, Float64 spikes. */
  readonly statsI32: Int32Array;
  readonly statsF64: Float64Array;
  readonly ptrs: (ScatterPtrs | null)[];
  /** Per scatter node: 1 when its output is marked by stamp (see SparseVec.stampMarked). */
  readonly stampOnly: Uint8Array;
  /** Scratch for the toList kernel, as many words as the largest node's bitmap. */
  readonly wordScratch: Int32Array;
  /** The step kernels' lane-compress table (compressTable()). */
  readonly compress: Int32Array;
}

export class SparseEngine implements Engine {
  readonly kind = 'sparse' as const;
  readonly plan: GraphPlan;
  /** Spikes seen in zero-input steps of quiescent neurons; 0 unless the argument in neuron.ts is wrong. */
  lazyViolations = 0;
  /** Whether the WebAssembly kernels run this engine's hot loops. */
  readonly wasm: boolean;
  private readonly kinds: Int32Array;
  private readonly outs: SparseVec[];
  private readonly merged: (SparseVec | null)[];
  private readonly conv: (ConvConnectivity | null)[];
  private readonly lin: (LinearConnectivity | null)[];
  private readonly elementwise: (Float32Array | null)[];
  private readonly denseThreshold: Uint8Array;
  private readonly neurons: (NeuronState | null)[];
  private readonly kernels: SparseKernels | null;
  private readonly eventShape: EventInputShape | Error;
  private readonly counters: RunCounters;
  private readonly acc: AccumulateResult = { inRange: 0, outOfRange: 0 };
  private readonly listState: StepListState = { outputs: 0, pending: 0, spikes: 0, violations: 0 };
  private readonly visitBuf: Int32Array;
  private readonly statsI32: Int32Array;
  private readonly statsF64: Float64Array;
  private readonly statsPtr: number;
  private readonly ptrs: (ScatterPtrs | null)[];
  private readonly stampOnly: Uint8Array;
  private readonly wordScratchPtr: number;
  private readonly compressPtr: number;
  private t = 0;
  private stepSynops = 0;
  private stepSpikes = 0;

  constructor(graph: Graph | GraphPlan, private readonly options: SparseEngineOptions = {}) {
    this.plan = 'preds' in graph ? graph : validateGraph(graph);
    const plan = this.plan;
    const n = plan.nodes.length;
    this.kinds = new Int32Array(n);
    this.elementwise = new Array<Float32Array | null>(n).fill(null);
    this.denseThreshold = new Uint8Array(n);
    const conv = new Array<ConvConnectivity | null>(n).fill(null);
    const lin = new Array<LinearConnectivity | null>(n).fill(null);
    const arrays = new Array<NeuronArrays | null>(n).fill(null);
    for (let p = 0; p < n; p++) {
      const node = plan.nodes[p];
      const inShape = plan.inShapes[p];
      switch (node.op) {
        case 'Input':
          this.kinds[p] = K_INPUT;
          break;
        case 'Conv2d':
        case 'SumPool2d':
        case 'AvgPool2d':
          this.kinds[p] = K_CONV;
          conv[p] = node.op === 'Conv2d' ? convConnectivity(node, inShape, plan.outShapes[p]) : poolConnectivity(node, inShape, plan.outShapes[p]);
          break;
        case 'Linear':
        case 'Affine':
          this.kinds[p] = K_LINEAR;
          lin[p] = linearConnectivity(node);
          break;
        case 'Scale':
          this.kinds[p] = K_SCALE;
          this.elementwise[p] = expandParam(node.params.scale, inShape);
          break;
        case 'Threshold': {
          const th = expandParam(node.params.threshold, inShape);
          this.kinds[p] = K_THRESHOLD;
          this.elementwise[p] = th;
          // A negative threshold fires on zero input: every output is live.
          this.denseThreshold[p] = th.some((x) => x < 0) ? 1 : 0;
          break;
        }
        case 'IF':
        case 'LIF':
        case 'LI':
          this.kinds[p] = K_NEURON;
          arrays[p] = neuronArrays(node, inShape);
          break;
        case 'Flatten':
        case 'Output':
          this.kinds[p] = node.op === 'Output' ? K_OUTPUT : K_ALIAS;
          break;
      }
    }
    // Measure with plain arrays (kept as they are when the kernels cannot run), then rebuild in an arena.
    const sizer = new PlainAllocator();
    let layout = this.layout(sizer, conv, lin, arrays, null);
    let kernels: SparseKernels | null = null;
    if (options.wasm !== false && sizer.bytes <= MAX_ARENA_BYTES) {
      try {
        const arena = new WasmArena(sizer.bytes);
        kernels = loadSparseKernels(arena.memory);
        if (kernels) layout = this.layout(arena, conv, lin, arrays, kernels);
      } catch {
        kernels = null; // no memory for the arena: the JavaScript paths
      }
    }
    this.kernels = kernels;
    this.wasm = kernels !== null;
    ({ outs: this.outs, merged: this.merged, conv: this.conv, lin: this.lin, neurons: this.neurons } = layout);
    ({ visitBuf: this.visitBuf, statsI32: this.statsI32, statsF64: this.statsF64, ptrs: this.ptrs, stampOnly: this.stampOnly } = layout);
    this.statsPtr = this.statsF64.byteOffset;
    this.wordScratchPtr = layout.wordScratch.byteOffset;
    this.compressPtr = layout.compress.byteOffset;
    this.eventShape = eventInputShape(plan.inShapes[plan.inputIndex]);
    this.counters = new RunCounters(plan, 'sparse', options.labels);
    this.reset();
  }

  private layout(
    alloc: Allocator, conv: readonly (ConvConnectivity | null)[], lin: readonly (LinearConnectivity | null)[],
    arrays: readonly (NeuronArrays | null)[], kernels: SparseKernels | null,
  ): Layout {
    const plan = this.plan;
    const n = plan.nodes.length;
    const outs = new Array<SparseVec>(n);
    const merged = new Array<SparseVec | null>(n).fill(null);
    const convOut = new Array<ConvConnectivity | null>(n).fill(null);
    const linOut = new Array<LinearConnectivity | null>(n).fill(null);
    const neurons = new Array<NeuronState | null>(n).fill(null);
    const ptrs = new Array<ScatterPtrs | null>(n).fill(null);
    const i32 = (a: Int32Array) => alloc.copyInt32(a);
    /** (index, weight) pairs in one Int32 array (weights stored by their float32 bits). */
    const pairs = (index: Int32Array, weight: Float32Array): number => {
      const pr = alloc.int32(2 * index.length);
      const w = new Float32Array(pr.buffer, pr.byteOffset, pr.length);
      for (let e = 0; e < index.length; e++) {
        pr[2 * e] = index[e];
        w[2 * e + 1] = weight[e];
      }
      return pr.byteOffset;
    };
    let largest = 1;
    for (let p = 0; p < n; p++) {
      const inShape = plan.inShapes[p];
      const size = numel(plan.outShapes[p]);
      largest = Math.max(largest, size, numel(inShape));
      if (plan.preds[p].length > 1) merged[p] = new SparseVec(numel(inShape), false, alloc);
      const c = conv[p];
      const l = lin[p];
      const a = arrays[p];
      switch (this.kinds[p]) {
        case K_INPUT:
          outs[p] = new SparseVec(size, false, alloc);
          // step() and stepValues() keep the summary (accumulateEvents).
          outs[p].summarized = kernels !== null;
          break;
        case K_SCALE:
          outs[p] = new SparseVec(size, false, alloc);
          break;
        case K_THRESHOLD:
          outs[p] = new SparseVec(size, this.denseThreshold[p] === 1, alloc);
          break;
        case K_CONV:
          if (!c) throw new Error('unreachable: conv node without connectivity');
          {
            const cc: ConvConnectivity = {
              ...c, start: i32(c.start), off: i32(c.off), weight: alloc.copyFloat32(c.weight), dy: i32(c.dy), dx: i32(c.dx),
              inBase: i32(c.inBase), inClass: i32(c.inClass), inQy: i32(c.inQy), inQx: i32(c.inQx),
            };
            convOut[p] = cc;
            ptrs[p] = {
              start: cc.start.byteOffset, pairs: pairs(c.off, c.weight), dy: cc.dy.byteOffset, dx: cc.dx.byteOffset,
              inBase: cc.inBase.byteOffset, inClass: cc.inClass.byteOffset, inQy: cc.inQy.byteOffset, inQx: cc.inQx.byteOffset,
            };
          }
          outs[p] = new SparseVec(size, c.bias !== null, alloc);
          break;
        case K_LINEAR:
          if (!l) throw new Error('unreachable: linear node without connectivity');
          linOut[p] = { ...l, rowStart: i32(l.rowStart), col: i32(l.col), weight: alloc.copyFloat32(l.weight) };
          ptrs[p] = { start: (linOut[p] as LinearConnectivity).rowStart.byteOffset, pairs: pairs(l.col, l.weight), dy: 0, dx: 0, inBase: 0, inClass: 0, inQy: 0, inQx: 0 };
          outs[p] = new SparseVec(size, l.bias !== null, alloc);
          break;
        case K_NEURON: {
          if (!a) throw new Error('unreachable: neuron node without parameters');
          neurons[p] = neuronState(a, size, alloc, kernels);
          outs[p] = new SparseVec(size, !a.spiking, alloc);
          // Every path that steps a spiking node keeps the summary (stepNeurons, the step kernel).
          outs[p].summarized = a.spiking && kernels !== null;
          break;
        }
        case K_ALIAS:
        case K_OUTPUT:
          // Same values, same order: share the producer's vector (or the merged input).
          outs[p] = merged[p] ?? outs[plan.preds[p][0]];
          break;
      }
    }
    // A scatter whose output is only read through its list (kernel-stepped neuron nodes) or in
    // full (neuron nodes on the dense path, the Output node) marks by stamp: no bitmap needed.
    const stampOnly = new Uint8Array(n);
    const kernelFed = (q: number): boolean => {
      const s = neurons[q];
      if (this.kinds[q] === K_OUTPUT) return true;
      if (this.kinds[q] === K_ALIAS) return readers(q).every(kernelFed);
      return this.kinds[q] === K_NEURON && plan.preds[q].length === 1 && s !== null && s.mode !== M_LAZY;
    };
    const readers = (p: number): number[] => plan.preds.flatMap((ps, q) => (ps.includes(p) ? [q] : []));
    for (let p = 0; p < n; p++) {
      const c = conv[p];
      const l = lin[p];
      const plain = (c && !c.bias && c.avgArea === 0) || (l && !l.bias);
      if (kernels && plain && readers(p).every(kernelFed)) {
        stampOnly[p] = 1;
        outs[p].stampMarked = true;
      }
    }
    const stats = alloc.float64(2);
    const compress = alloc.int32(64);
    new Uint8Array(compress.buffer, compress.byteOffset, 256).set(compressTable());
    let words = 1;
    for (const o of outs) words = Math.max(words, o.words.length);
    return {
      outs, merged, conv: convOut, lin: linOut, neurons, visitBuf: alloc.int32(largest),
      statsI32: new Int32Array(stats.buffer, stats.byteOffset, 2), statsF64: stats, ptrs, stampOnly, wordScratch: alloc.int32(words), compress,
    };
  }

  /** True where a neuron node is event-driven (neurons without input are not stepped one by one), false where every neuron is stepped every step. */
  lazyNodes(): Record<string, boolean> {
    const r: Record<string, boolean> = {};
    this.plan.nodes.forEach((node, p) => {
      const s = this.neurons[p];
      if (s && isNeuron(node)) r[node.id] = s.mode !== M_DENSE;
    });
    return r;
  }

  /** Per neuron node, whether the WebAssembly step kernel steps it (M_KERNEL_IF, M_BULK). */
  kernelNodes(): Record<string, boolean> {
    const r: Record<string, boolean> = {};
    this.plan.nodes.forEach((node, p) => {
      const s = this.neurons[p];
      if (s && isNeuron(node)) r[node.id] = s.mode === M_KERNEL_IF || s.mode === M_BULK;
    });
    return r;
  }

  reset(): void {
    for (const o of this.outs) o.resetAll();
    for (const m of this.merged) m?.resetAll();
    for (const s of this.neurons) {
      if (!s) continue;
      s.v.fill(0);
      s.vNext.fill(0);
      s.last.fill(-1);
      s.pending.set(s.initialPending);
      s.pendingCnt = s.initialPending.length;
    }
    this.t = 0;
    this.lazyViolations = 0;
    this.counters.reset();
  }

  step(ts: Timestep): StepOutput {
    if (this.eventShape instanceof Error) throw this.eventShape;
    const out = this.outs[this.plan.inputIndex];
    this.clearVec(out);
    accumulateEvents(ts, this.eventShape, this.options.outOfRange ?? 'ignore', out.val, out.words, this.acc, out.summarized ? out.summary : null);
    this.counters.events += this.acc.inRange;
    this.counters.eventsOutOfRange += this.acc.outOfRange;
    return this.propagate();
  }

  stepValues(input: Float32Array): StepOutput {
    const out = this.outs[this.plan.inputIndex];
    if (input.length !== out.n) throw new RangeError(`stepValues: the Input node needs ${out.n} values ${formatShape(this.plan.inShapes[this.plan.inputIndex])}, got ${input.length}`);
    this.clearVec(out);
    let events = 0;
    for (let i = 0; i < input.length; i++) {
      const x = input[i];
      if (x !== 0) {
        out.val[i] = x;
        out.words[i >>> 5] |= 1 << (i & 31);
        if (out.summarized) out.summary[i >>> 10] |= 1 << ((i >>> 5) & 31);
        events += out.val[i];
      }
    }
    this.counters.events += events;
    return this.propagate();
  }

  result(): RunResult {
    return this.counters.result();
  }

  run(timesteps: Iterable<Timestep>): RunResult {
    return runEngine(this, timesteps);
  }

  membrane(id: string): Float32Array {
    const s = this.neurons[this.indexOf(id)];
    if (!s) throw new Error(`node "${id}" is not a neuron node`);
    this.catchUpAll(s);
    return s.v.slice();
  }

  nodeOutput(id: string): Float32Array {
    return this.outs[this.indexOf(id)].val.slice();
  }

  private indexOf(id: string): number {
    const p = this.plan.ids.indexOf(id);
    if (p < 0) throw new Error(`no node "${id}"`);
    return p;
  }

  private propagate(): StepOutput {
    const plan = this.plan;
    this.stepSynops = 0;
    this.stepSpikes = 0;
    const counters = this.counters;
    for (let p = 0; p < plan.nodes.length; p++) {
      const kind = this.kinds[p];
      if (kind === K_INPUT) {
        counters.spikes[p] = counters.events;
        continue;
      }
      const src = this.merged[p] ? this.merge(p) : this.outs[plan.preds[p][0]];
      switch (kind) {
        case K_CONV:
          this.scatterConv(p, src);
          break;
        case K_LINEAR:
          this.scatterLinear(p, src);
          break;
        case K_SCALE:
          this.scale(p, src);
          break;
        case K_THRESHOLD:
          this.threshold(p, src);
          break;
        case K_NEURON:
          this.stepNeurons(p, src);
          break;
        case K_ALIAS:
        case K_OUTPUT:
          break;
      }
    }
    const output = this.outs[plan.outputIndex].val;
    counters.recordOutput(output);
    return { index: this.t++, output: output.slice(), synops: this.stepSynops, spikes: this.stepSpikes };
  }

  /** Zeroes a vector's active values and bitmap: from its list when it has one, else by a scan. */
  private clearVec(v: SparseVec): void {
    const k = this.kernels;
    if (k && !v.dense) {
      const nSummary = v.summarized ? v.summary.length : 0;
      if (v.listed) (v.stampMarked ? k.clearListVal : k.clearList)(v.valPtr, v.wordsPtr, v.listPtr, v.count, v.summaryPtr, nSummary);
      else k.clear(v.valPtr, v.wordsPtr, v.words.length, v.summaryPtr, nSummary);
      v.listed = false;
      v.sorted = false;
      v.nextGen();
    } else {
      v.clear();
    }
  }

  /** Kernel path: makes v.list hold v's active entries, ascending; returns their number. */
  private sortedList(v: SparseVec, k: SparseKernels): number {
    if (!v.sorted) {
      if (v.dense) v.count = v.toList(v.list);
      else if (v.summarized) v.count = k.toListSummary(v.wordsPtr, v.summaryPtr, v.summary.length, v.listPtr);
      else v.count = k.toList(v.wordsPtr, v.words.length, v.listPtr, this.wordScratchPtr);
      v.listed = true;
      v.sorted = true;
    }
    return v.count;
  }

  /** Sums the outputs of several predecessors, in edge order, into the node's merged input. */
  private merge(p: number): SparseVec {
    const dst = this.merged[p] as SparseVec;
    this.clearVec(dst);
    const { val, words } = dst;
    const list = this.visitBuf;
    for (const q of this.plan.preds[p]) {
      const src = this.outs[q];
      const sVal = src.val;
      const n = src.toList(list);
      for (let k = 0; k < n; k++) {
        const i = list[k];
        val[i] = f(val[i] + sVal[i]);
        words[i >>> 5] |= 1 << (i & 31);
      }
    }
    return dst;
  }

  /** Conv2d / SumPool2d / AvgPool2d: scatter each active input (ascending) through its class's entries. */
  private scatterConv(p: number, src: SparseVec): void {
    const c = this.conv[p] as ConvConnectivity;
    const dst = this.outs[p];
    this.clearVec(dst);
    const val = dst.val;
    const k = this.kernels;
    let ops: number;
    if (k) {
      const n = this.sortedList(src, k);
      const q = this.ptrs[p] as ScatterPtrs;
      const stamp = this.stampOnly[p] === 1;
      ops = (stamp ? k.scatterConv.stamp : k.scatterConv.bits)(
        src.listPtr, n, src.valPtr, dst.valPtr, stamp ? dst.stampPtr : dst.wordsPtr, dst.listPtr, this.statsPtr, dst.gen,
        q.start, q.pairs, q.dy, q.dx, q.inBase, q.inClass, q.inQy, q.inQx, c.ho, c.wo,
      );
      dst.count = this.statsI32[0];
      dst.listed = true;
    } else {
      ops = this.scatterConvJs(c, src, dst);
    }
    if (c.avgArea > 0) {
      const area = c.avgArea;
      const list = this.visitBuf;
      const n = dst.toList(list);
      for (let q = 0; q < n; q++) {
        const o = list[q];
        val[o] = f(val[o] / area);
      }
    }
    if (c.bias) {
      // Dense path: the bias reaches every output, after the weighted sum as in the dense engine.
      const b = c.bias;
      const plane = c.ho * c.wo;
      for (let co = 0, o = 0; co < c.cout; co++) {
        const bv = b[co];
        for (let q = 0; q < plane; q++, o++) val[o] = f(val[o] + bv);
      }
    }
    if (c.weighted) {
      this.counters.synops[p] += ops;
      this.stepSynops += ops;
    }
  }

  private scatterConvJs(c: ConvConnectivity, src: SparseVec, dst: SparseVec): number {
    const sVal = src.val;
    const val = dst.val;
    const bits = dst.words;
    const { start, off, weight, dy, dx, inBase, inClass, inQy, inQx, ho, wo } = c;
    const list = this.visitBuf;
    const nIn = src.toList(list);
    let ops = 0;
    for (let k = 0; k < nIn; k++) {
      const i = list[k];
      const x = sVal[i];
      if (x === 0) continue;
      const base = inBase[i];
      const cls = inClass[i];
      if (cls >= 0) {
        // Interior: every entry lands inside the output.
        const e0 = start[cls];
        const e1 = start[cls + 1];
        if (x === 1) {
          for (let e = e0; e < e1; e++) {
            const o = base + off[e];
            val[o] += weight[e];
            bits[o >>> 5] |= 1 << (o & 31);
          }
        } else {
          for (let e = e0; e < e1; e++) {
            const o = base + off[e];
            val[o] += f(weight[e] * x);
            bits[o >>> 5] |= 1 << (o & 31);
          }
        }
        ops += e1 - e0;
      } else {
        // Border (rare): bounds-check each entry; qx may lie past the last column.
        const b = ~cls;
        const e1 = start[b + 1];
        const qy = inQy[i];
        const qx = inQx[i];
        for (let e = start[b]; e < e1; e++) {
          const oy = qy + dy[e];
          const ox = qx + dx[e];
          if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
          const o = base + off[e];
          val[o] += f(weight[e] * x);
          bits[o >>> 5] |= 1 << (o & 31);
          ops++;
        }
      }
    }
    return ops;
  }

  /** Linear / Affine: CSR by input. */
  private scatterLinear(p: number, src: SparseVec): void {
    const c = this.lin[p] as LinearConnectivity;
    const dst = this.outs[p];
    this.clearVec(dst);
    const val = dst.val;
    const k = this.kernels;
    let ops = 0;
    if (k) {
      const n = this.sortedList(src, k);
      const q = this.ptrs[p] as ScatterPtrs;
      const stamp = this.stampOnly[p] === 1;
      ops = (stamp ? k.scatterLinear.stamp : k.scatterLinear.bits)(
        src.listPtr, n, src.valPtr, dst.valPtr, stamp ? dst.stampPtr : dst.wordsPtr, dst.listPtr, this.statsPtr, dst.gen, q.start, q.pairs,
      );
      dst.count = this.statsI32[0];
      dst.listed = true;
    } else {
      const sVal = src.val;
      const bits = dst.words;
      const { rowStart, col, weight } = c;
      const list = this.visitBuf;
      const nIn = src.toList(list);
      for (let q = 0; q < nIn; q++) {
        const i = list[q];
        const x = sVal[i];
        if (x === 0) continue;
        const e0 = rowStart[i];
        const e1 = rowStart[i + 1];
        for (let e = e0; e < e1; e++) {
          const o = col[e];
          val[o] += x === 1 ? weight[e] : f(weight[e] * x);
          bits[o >>> 5] |= 1 << (o & 31);
        }
        ops += e1 - e0;
      }
    }
    if (c.bias) {
      const b = c.bias;
      for (let o = 0; o < c.nOut; o++) val[o] = f(val[o] + b[o]);
    }
    this.counters.synops[p] += ops;
    this.stepSynops += ops;
  }

  private scale(p: number, src: SparseVec): void {
    const s = this.elementwise[p] as Float32Array;
    const dst = this.outs[p];
    this.clearVec(dst);
    const list = this.visitBuf;
    const n = src.toList(list);
    for (let k = 0; k < n; k++) {
      const i = list[k];
      const x = src.val[i];
      if (x === 0) continue;
      dst.val[i] = f(s[i] * x);
      dst.words[i >>> 5] |= 1 << (i & 31);
    }
  }

  private threshold(p: number, src: SparseVec): void {
    const th = this.elementwise[p] as Float32Array;
    const dst = this.outs[p];
    this.clearVec(dst);
    let spikes = 0;
    if (this.denseThreshold[p]) {
      const x = src.val;
      for (let i = 0; i < dst.n; i++) {
        const s = x[i] > th[i] ? 1 : 0;
        dst.val[i] = s;
        spikes += s;
      }
    } else {
      // Zero inputs cannot exceed a threshold >= 0: only active entries can fire.
      const list = this.visitBuf;
      const n = src.toList(list);
      for (let k = 0; k < n; k++) {
        const i = list[k];
        if (src.val[i] > th[i]) {
          dst.val[i] = 1;
          dst.words[i >>> 5] |= 1 << (i & 31);
          spikes++;
        }
      }
    }
    this.counters.spikes[p] += spikes;
    this.stepSpikes += spikes;
  }

  private stepNeurons(p: number, src: SparseVec): void {
    const s = this.neurons[p] as NeuronState;
    const a = s.arrays;
    const dst = this.outs[p];
    this.clearVec(dst);
    const st = this.listState;
    st.outputs = 0;
    st.pending = 0;
    st.spikes = 0;
    st.violations = 0;
    // Spikes are listed in dst.list; entries from `unmarked` on still need their bitmap bits.
    let unmarked = 0;
    let sorted: boolean;
    const spikes = dst.list;
    if (s.mode === M_DENSE || (s.mode !== M_LAZY && src.dense)) {
      // Every neuron, every step (for kernel modes: every neuron has input; v is current).
      stepList(a, s.v, src.val, s.all, a.n, dst.val, spikes, null, this.t, s.mode === M_DENSE ? null : s.pendingNext, st);
      sorted = true;
      if (s.mode !== M_DENSE) this.swapPending(s, st);
    } else if (s.mode === M_LAZY) {
      // Neurons with input, then pending neurons that had none (their bit is clear in the input).
      const next = s.pendingNext;
      if (a.form === FORM_IF && a.uniform && !src.dense) {
        stepBitsIF(a, s.v, src.val, src.words, dst.val, spikes, next, st);
      } else {
        const list = this.visitBuf;
        const n = src.toList(list);
        stepList(a, s.v, src.val, list, n, dst.val, spikes, s.last, this.t, next, st);
      }
      const before = st.outputs;
      this.stepPending(s, src, dst, st, s.v, s.last);
      sorted = st.outputs === before;
      this.swapPending(s, st);
    } else {
      this.stepKernelMode(s, src, dst, st);
      unmarked = this.statsI32[0];
      sorted = st.outputs <= 1; // listed in the order of the input's list
    }
    this.lazyViolations += st.violations;
    if (a.spiking) {
      const words = dst.words;
      const summary = dst.summary;
      for (let k = unmarked; k < st.outputs; k++) {
        const j = spikes[k];
        words[j >>> 5] |= 1 << (j & 31);
        summary[j >>> 10] |= 1 << ((j >>> 5) & 31);
      }
      dst.count = st.outputs;
      dst.listed = true;
      dst.sorted = sorted;
    }
    this.counters.spikes[p] += st.spikes;
    this.stepSpikes += st.spikes;
  }

  /**
   * M_KERNEL_IF / M_BULK with a sparse input: the step kernel over the neurons with input (any
   * order), then the pending ones without input in JavaScript; for M_BULK first the leak kernel
   * over all neurons, from v into vNext, whose entries the stepped neurons then overwrite.
   */
  private stepKernelMode(s: NeuronState, src: SparseVec, dst: SparseVec, st: StepListState): void {
    const k = this.kernels as SparseKernels;
    const a = s.arrays;
    const u = a.u;
    const vIn = s.v;
    const bulk = s.mode === M_BULK;
    const vOut = bulk ? s.vNext : s.v;
    const vOutPtr = bulk ? s.vNextPtr : s.vPtr;
    if (bulk) {
      // The leak tallies the neurons whose zero-input step reaches the threshold. Pending neurons
      // may legitimately (they are stepped properly below): they are taken off the tally, and
      // whatever remains are quiescent neurons that would have fired, i.e. violations.
      const thr = u.vThreshold;
      const multi = a.multi;
      let expected = 0;
      for (let q = 0; q < s.pendingCnt; q++) {
        const u0 = integrate(a.form, vIn[s.pending[q]], 0, u.a, u.r, u.vLeak);
        if (multi ? u0 >= thr : u0 > thr) expected++;
      }
      const n4 = a.n & ~3;
      let fired = (s.leak as LeakKernel)(s.vPtr, vOutPtr, n4 * 4, u.a, u.vLeak, s.ri0, u.vMin, thr);
      for (let j = n4; j < a.n; j++) {
        // The last n % 4 neurons: the kernel's operations, in JavaScript.
        const u0 = integrate(a.form, vIn[j], 0, u.a, u.r, u.vLeak);
        if (multi ? u0 >= thr : u0 > thr) fired++;
        vOut[j] = u0 < u.vMin ? u.vMin : u0;
      }
      st.violations += fired - expected;
    }
    const n = src.listed ? src.count : this.sortedList(src, k);
    (s.step as StepKernel)(
      s.vPtr, vOutPtr, src.valPtr, src.listPtr, n, dst.valPtr, dst.wordsPtr, dst.summaryPtr, dst.listPtr, s.pendingNextPtr, this.statsPtr, this.compressPtr,
      u.a, u.r, u.vLeak, u.vThreshold, s.thr2, u.vReset, u.vMin, s.qLo, s.qHi,
    );
    const stats = this.statsI32;
    st.outputs = stats[0];
    st.pending = stats[1];
    st.spikes += this.statsF64[1];
    if (s.pendingCnt > 0) {
      if (bulk) {
        // Step the untouched pending neurons from their previous v, in vOut.
        for (let q = 0; q < s.pendingCnt; q++) {
          const j = s.pending[q];
          if (!src.has(j)) vOut[j] = vIn[j];
        }
      }
      this.stepPending(s, src, dst, st, vOut, null);
    }
    this.swapPending(s, st);
    if (bulk) {
      s.v = vOut;
      s.vNext = vIn;
      const p = s.vPtr;
      s.vPtr = s.vNextPtr;
      s.vNextPtr = p;
    }
  }

  /** Steps last step's pending neurons that got no input this step (their input bit is clear). */
  private stepPending(s: NeuronState, src: SparseVec, dst: SparseVec, st: StepListState, v: Float32Array, last: Int32Array | null): void {
    if (s.pendingCnt === 0 || src.dense) return;
    const pending = s.pending;
    let q = 0;
    for (let k = 0; k < s.pendingCnt; k++) {
      const j = pending[k];
      if (!src.has(j)) pending[q++] = j;
    }
    stepList(s.arrays, v, src.val, pending, q, dst.val, dst.list, last, this.t, s.pendingNext, st);
  }

  private swapPending(s: NeuronState, st: StepListState): void {
    const next = s.pendingNext;
    s.pendingNext = s.pending;
    s.pending = next;
    const ptr = s.pendingNextPtr;
    s.pendingNextPtr = s.pendingPtr;
    s.pendingPtr = ptr;
    s.pendingCnt = st.pending;
  }

  /** Replays skipped steps of every neuron of a lazy LIF node, so v is current. */
  private catchUpAll(s: NeuronState): void {
    if (s.mode !== M_LAZY || s.arrays.form === FORM_IF) return;
    const now = this.t - 1;
    for (let j = 0; j < s.arrays.n; j++) {
      const idle = now - s.last[j];
      if (idle > 0) this.lazyViolations += replayIdle(s.arrays, s.v, j, idle);
      s.last[j] = now;
    }
  }
}

/** A neuron node's state and how it is stepped (M_*), with the kernels when they can run it. */
function neuronState(a: NeuronArrays, size: number, alloc: Allocator, kernels: SparseKernels | null): NeuronState {
  let mode = lazyEligible(a) ? M_LAZY : M_DENSE;
  let step: StepKernel | null = null;
  let leak: LeakKernel | null = null;
  const u = a.u;
  // The step kernels need a positive threshold with 2 * threshold finite (StepKernel) and a
  // resting potential inside their quiescent interval; anything else runs on the JavaScript paths.
  const quiet = a.uniform ? quiescentInterval(a.form, u.vThreshold, u.vLeak, u.vMin, a.multi) : null;
  const thrOk = u.vThreshold > 0 && Number.isFinite(f(2 * u.vThreshold));
  if (mode === M_LAZY && kernels && a.uniform && thrOk && quiet) {
    step = kernels.step.get(stepKey({ form: a.form, multi: a.multi, subtract: a.subtract, clamp: u.vMin !== -Infinity, unitR: u.r === 1 })) ?? null;
    const zeroLeak = Object.is(u.vLeak, 0) && Object.is(f(u.r * 0), 0);
    leak = a.form === FORM_IF ? null : (kernels.leak.get(leakKey({ form: a.form, multi: a.multi, clamp: u.vMin !== -Infinity, zeroLeak })) ?? null);
    if (step && (a.form === FORM_IF || leak)) mode = a.form === FORM_IF ? M_KERNEL_IF : M_BULK;
  }
  const v = alloc.float32(size);
  // Decided without looking at `kernels`, so that the measuring pass allocates what the arena will.
  const bulkable = lazyEligible(a) && a.uniform && a.form !== FORM_IF;
  const spare = bulkable ? alloc.float32(size) : null;
  const vNext = mode === M_BULK && spare ? spare : v;
  const pending = alloc.int32(size);
  const pendingNext = alloc.int32(size);
  return {
    arrays: a, mode, v, vNext, last: new Int32Array(mode === M_LAZY ? size : 0),
    vPtr: v.byteOffset, vNextPtr: vNext.byteOffset, pendingPtr: pending.byteOffset, pendingNextPtr: pendingNext.byteOffset,
    pending, pendingNext, pendingCnt: 0,
    all: Int32Array.from({ length: size }, (_, j) => j),
    initialPending: Int32Array.from({ length: mode === M_DENSE ? 0 : size }, (_, j) => j).filter((j) => !isQuiescent(a, 0, j)),
    step, leak, ri0: f(u.r * 0), thr2: f(2 * u.vThreshold), qLo: quiet ? quiet[0] : 0, qHi: quiet ? quiet[1] : 0,
  };
}
