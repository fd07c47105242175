/**
 * The event-driven sparse engine. Per timestep it visits only the input events and the spikes, and
 * for each only the connections that exist (ESL mask bit set), through connectivity compressed once
 * at load (sparse-connectivity.ts); neurons that received no input are not visited (lazy leak).
 *
 * Hand-written, with flat typed arrays, precomputed index tables, bitmaps for active sets,
 * preallocated buffers and no closures or allocation per event, because this loop is the product:
 * an event camera produces a few events per pixel per second and a sparse network touches a few
 * percent of its synapses per step, so the work per step is tiny and generic tensor code (tfjs)
 * spends its time on the zeros. It must give the dense reference engine's results bit for bit; how:
 *
 * 1. Same float32 operation order. A dense weighted sum adds fround(w*x) over inputs in ascending
 *    input index. Scattering from the active inputs in ascending order (read off a bitmap, see
 *    sparse-vec.ts) delivers to every output the same terms in the same order, since each input
 *    reaches an output through at most one kernel position. Zero inputs are skipped like the dense
 *    loops skip them; biases are added after the sum; AvgPool divides after the sum.
 * 2. Layers with always-on input take the dense path: a bias (Conv2d/Affine) or a negative
 *    Threshold makes every output active, LI neurons output v every step, and LIF neurons whose
 *    zero-input step could overshoot (a = dt/tau or beta outside [0, 1]) are all updated every step.
 * 3. Lazy leak (neuron.ts): a neuron without input is skipped only while its zero-input steps cannot
 *    spike; when next touched, the skipped steps are replayed with exactly the dense engine's
 *    float32 operations (pow(decay, k) would give different bits), stopping at a fixed point. IF
 *    neurons need no replay: their zero-input step is the identity. A neuron that could still spike
 *    without input (e.g. v > threshold after a subtract reset) stays on a pending list and is
 *    stepped every timestep until it settles. A neuron whose inputs sum to exactly 0 is treated as
 *    untouched, which is the same thing for a quiescent neuron.
 */
import type { Timestep } from '../stream/timestep.js';
import { RunCounters, runEngine, type Engine, type EngineOptions, type RunResult, type StepOutput } from './engine.js';
import { isNeuron, type Graph } from './graph.js';
import { accumulateEvents, eventInputShape, type AccumulateResult, type EventInputShape } from './input-map.js';
import { FORM_IF, isQuiescent, lazyEligible, neuronArrays, replayIdle, stepBitsIF, stepList, type NeuronArrays, type StepListState } from './neuron.js';
import { convConnectivity, linearConnectivity, poolConnectivity, type ConvConnectivity, type LinearConnectivity } from './sparse-connectivity.js';
import { SparseVec } from './sparse-vec.js';
import { expandParam, formatShape, numel } from './tensor.js';
import { validateGraph, type GraphPlan } from './validate-graph.js';

const f = Math.fround;

const K_INPUT = 0, K_CONV = 1, K_LINEAR = 2, K_ALIAS = 3, K_SCALE = 4, K_THRESHOLD = 5, K_NEURON = 6, K_OUTPUT = 7;

interface NeuronState {
  readonly arrays: NeuronArrays;
  readonly v: Float32Array;
  /** Step at which each neuron's state is current (-1: initial state). */
  readonly last: Int32Array;
  readonly lazy: boolean;
  /** Neurons to step next timestep even without input (they could spike on their own). */
  pending: Int32Array;
  pendingNext: Int32Array;
  pendingCnt: number;
  /** 0..n-1, for the dense path. */
  readonly all: Int32Array;
}

export class SparseEngine implements Engine {
  readonly kind = 'sparse' as const;
  readonly plan: GraphPlan;
  /** Spikes seen while replaying skipped steps; 0 unless the lazy-leak argument in neuron.ts is wrong. */
  lazyViolations = 0;
  private readonly kinds: Int32Array;
  private readonly outs: SparseVec[];
  private readonly merged: (SparseVec | null)[];
  private readonly conv: (ConvConnectivity | null)[];
  private readonly lin: (LinearConnectivity | null)[];
  private readonly elementwise: (Float32Array | null)[];
  private readonly denseThreshold: Uint8Array;
  private readonly neurons: (NeuronState | null)[];
  private readonly eventShape: EventInputShape | Error;
  private readonly counters: RunCounters;
  private readonly acc: AccumulateResult = { inRange: 0, outOfRange: 0 };
  private readonly listState: StepListState = { outputs: 0, pending: 0, spikes: 0, violations: 0 };
  /** Scratch index lists, as long as the largest node. */
  private readonly visitBuf: Int32Array;
  private readonly spikeBuf: Int32Array;
  private t = 0;
  private stepSynops = 0;
  private stepSpikes = 0;

  constructor(graph: Graph | GraphPlan, private readonly options: EngineOptions = {}) {
    this.plan = 'preds' in graph ? graph : validateGraph(graph);
    const plan = this.plan;
    const n = plan.nodes.length;
    this.kinds = new Int32Array(n);
    this.outs = new Array<SparseVec>(n);
    this.merged = new Array<SparseVec | null>(n).fill(null);
    this.conv = new Array<ConvConnectivity | null>(n).fill(null);
    this.lin = new Array<LinearConnectivity | null>(n).fill(null);
    this.elementwise = new Array<Float32Array | null>(n).fill(null);
    this.denseThreshold = new Uint8Array(n);
    this.neurons = new Array<NeuronState | null>(n).fill(null);
    let largest = 1;
    for (let p = 0; p < n; p++) {
      const node = plan.nodes[p];
      const inShape = plan.inShapes[p];
      const size = numel(plan.outShapes[p]);
      largest = Math.max(largest, size, numel(inShape));
      if (plan.preds[p].length > 1) this.merged[p] = new SparseVec(numel(inShape), false);
      switch (node.op) {
        case 'Input':
          this.kinds[p] = K_INPUT;
          this.outs[p] = new SparseVec(size, false);
          break;
        case 'Conv2d':
        case 'SumPool2d':
        case 'AvgPool2d': {
          const c = node.op === 'Conv2d' ? convConnectivity(node, inShape, plan.outShapes[p]) : poolConnectivity(node, inShape, plan.outShapes[p]);
          this.kinds[p] = K_CONV;
          this.conv[p] = c;
          this.outs[p] = new SparseVec(size, c.bias !== null);
          break;
        }
        case 'Linear':
        case 'Affine': {
          const c = linearConnectivity(node);
          this.kinds[p] = K_LINEAR;
          this.lin[p] = c;
          this.outs[p] = new SparseVec(size, c.bias !== null);
          break;
        }
        case 'Scale':
          this.kinds[p] = K_SCALE;
          this.elementwise[p] = expandParam(node.params.scale, inShape);
          this.outs[p] = new SparseVec(size, false);
          break;
        case 'Threshold': {
          const th = expandParam(node.params.threshold, inShape);
          this.kinds[p] = K_THRESHOLD;
          this.elementwise[p] = th;
          // A negative threshold fires on zero input: every output is live.
          this.denseThreshold[p] = th.some((x) => x < 0) ? 1 : 0;
          this.outs[p] = new SparseVec(size, this.denseThreshold[p] === 1);
          break;
        }
        case 'IF':
        case 'LIF':
        case 'LI': {
          const arrays = neuronArrays(node, inShape);
          this.kinds[p] = K_NEURON;
          this.neurons[p] = {
            arrays, v: new Float32Array(size), last: new Int32Array(size), lazy: lazyEligible(arrays),
            pending: new Int32Array(size), pendingNext: new Int32Array(size), pendingCnt: 0,
            all: Int32Array.from({ length: size }, (_, j) => j),
          };
          this.outs[p] = new SparseVec(size, !arrays.spiking);
          break;
        }
        case 'Flatten':
        case 'Output':
          this.kinds[p] = node.op === 'Output' ? K_OUTPUT : K_ALIAS;
          // Same values, same order: share the producer's vector (or the merged input).
          this.outs[p] = this.merged[p] ?? this.outs[plan.preds[p][0]];
          break;
      }
    }
    this.visitBuf = new Int32Array(largest);
    this.spikeBuf = new Int32Array(largest);
    this.eventShape = eventInputShape(plan.inShapes[plan.inputIndex]);
    this.counters = new RunCounters(plan, 'sparse', options.labels);
    this.reset();
  }

  /** True where a neuron node runs lazily (only touched neurons), false where it takes the dense path. */
  lazyNodes(): Record<string, boolean> {
    const r: Record<string, boolean> = {};
    this.plan.nodes.forEach((node, p) => {
      const s = this.neurons[p];
      if (s && isNeuron(node)) r[node.id] = s.lazy;
    });
    return r;
  }

  reset(): void {
    for (const o of this.outs) o.resetAll();
    for (const m of this.merged) m?.resetAll();
    for (const s of this.neurons) {
      if (!s) continue;
      s.v.fill(0);
      s.last.fill(-1);
      s.pendingCnt = 0;
      if (s.lazy) {
        for (let j = 0; j < s.arrays.n; j++) if (!isQuiescent(s.arrays, 0, j)) s.pending[s.pendingCnt++] = j;
      }
    }
    this.t = 0;
    this.lazyViolations = 0;
    this.counters.reset();
  }

  step(ts: Timestep): StepOutput {
    if (this.eventShape instanceof Error) throw this.eventShape;
    const out = this.outs[this.plan.inputIndex];
    out.clear();
    accumulateEvents(ts, this.eventShape, this.options.outOfRange ?? 'ignore', out.val, out.words, this.acc);
    this.counters.events += this.acc.inRange;
    this.counters.eventsOutOfRange += this.acc.outOfRange;
    return this.propagate();
  }

  stepValues(input: Float32Array): StepOutput {
    const out = this.outs[this.plan.inputIndex];
    if (input.length !== out.n) throw new RangeError(`stepValues: the Input node needs ${out.n} values ${formatShape(this.plan.inShapes[this.plan.inputIndex])}, got ${input.length}`);
    out.clear();
    let events = 0;
    for (let i = 0; i < input.length; i++) {
      const x = input[i];
      if (x !== 0) {
        out.val[i] = x;
        out.words[i >>> 5] |= 1 << (i & 31);
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

  /** Sums the outputs of several predecessors, in edge order, into the node's merged input. */
  private merge(p: number): SparseVec {
    const dst = this.merged[p] as SparseVec;
    dst.clear();
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
    dst.clear();
    const sVal = src.val;
    const val = dst.val;
    const bits = dst.words;
    const { start, off, weight, dy, dx, inBase, inClass, ho, wo, h, w, ph, pw, sh, sw } = c;
    const plane = h * w;
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
        // Border (rare): recover (qy, qx) from the input position; qx may lie past the last column.
        const b = ~cls;
        const e1 = start[b + 1];
        const r = i % plane;
        const iy = (r / w) | 0;
        const qy = Math.floor((iy + ph) / sh);
        const qx = Math.floor((r - iy * w + pw) / sw);
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
    if (c.avgArea > 0) {
      const area = c.avgArea;
      const n = dst.toList(list);
      for (let k = 0; k < n; k++) {
        const o = list[k];
        val[o] = f(val[o] / area);
      }
    }
    if (c.bias) {
      // Dense path: the bias reaches every output, after the weighted sum as in the dense engine.
      const b = c.bias;
      for (let co = 0, o = 0; co < c.cout; co++) {
        const bv = b[co];
        for (let q = 0; q < ho * wo; q++, o++) val[o] = f(val[o] + bv);
      }
    }
    if (c.weighted) {
      this.counters.synops[p] += ops;
      this.stepSynops += ops;
    }
  }

  /** Linear / Affine: CSR by input. */
  private scatterLinear(p: number, src: SparseVec): void {
    const c = this.lin[p] as LinearConnectivity;
    const dst = this.outs[p];
    dst.clear();
    const sVal = src.val;
    const val = dst.val;
    const bits = dst.words;
    const { rowStart, col, weight } = c;
    const list = this.visitBuf;
    const nIn = src.toList(list);
    let ops = 0;
    for (let k = 0; k < nIn; k++) {
      const i = list[k];
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
    dst.clear();
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
    dst.clear();
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
    dst.clear();
    const st = this.listState;
    st.outputs = 0;
    st.pending = 0;
    st.spikes = 0;
    st.violations = 0;
    const spikes = this.spikeBuf;
    if (!s.lazy) {
      // Dense path: every neuron, every step.
      stepList(a, s.v, src.val, s.all, a.n, dst.val, spikes, null, this.t, null, st);
    } else {
      // Neurons with input, then pending neurons that had none (their bit is clear in the input).
      const next = s.pendingNext;
      if (a.form === FORM_IF && a.uniform && !src.dense) {
        stepBitsIF(a, s.v, src.val, src.words, dst.val, spikes, next, st);
      } else {
        const list = this.visitBuf;
        const n = src.toList(list);
        stepList(a, s.v, src.val, list, n, dst.val, spikes, s.last, this.t, next, st);
      }
      if (s.pendingCnt > 0 && !src.dense) {
        const pending = s.pending;
        const inBits = src.words;
        let q = 0;
        for (let k = 0; k < s.pendingCnt; k++) {
          const j = pending[k];
          if (((inBits[j >>> 5] >>> (j & 31)) & 1) === 0) pending[q++] = j;
        }
        stepList(a, s.v, src.val, pending, q, dst.val, spikes, s.last, this.t, next, st);
      }
      s.pendingNext = s.pending;
      s.pending = next;
      s.pendingCnt = st.pending;
      this.lazyViolations += st.violations;
    }
    if (a.spiking) {
      const words = dst.words;
      for (let k = 0; k < st.outputs; k++) {
        const j = spikes[k];
        words[j >>> 5] |= 1 << (j & 31);
      }
    }
    this.counters.spikes[p] += st.spikes;
    this.stepSpikes += st.spikes;
  }

  /** Replays skipped steps of every neuron of a lazy LIF node, so v is current. */
  private catchUpAll(s: NeuronState): void {
    if (!s.lazy || s.arrays.form === FORM_IF) return;
    const now = this.t - 1;
    for (let j = 0; j < s.arrays.n; j++) {
      const idle = now - s.last[j];
      if (idle > 0) this.lazyViolations += replayIdle(s.arrays, s.v, j, idle);
      s.last[j] = now;
    }
  }
}
