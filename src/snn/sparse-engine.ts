/**
 * The event-driven sparse engine. Per timestep it visits only the input events and the spikes, and
 * for each only the connections that exist (ESL mask bit set), through connectivity compressed once
 * at load (sparse-connectivity.ts); neurons that received no input are not visited (lazy leak).
 *
 * Hand-written, with flat typed arrays, precomputed index lists, preallocated buffers and no
 * closures or allocation per event, because this loop is the product: an event camera produces a
 * few events per pixel per second and a sparse network touches a few percent of its synapses per
 * step, so the work per step is tiny and any generic tensor code (tfjs) would spend its time on
 * the zeros. It must give the dense reference engine's results bit for bit; how:
 *
 * 1. Same float32 operation order. A dense weighted sum adds fround(w*x) over inputs in ascending
 *    input index. Scattering from the active inputs sorted ascending delivers, to every output, the
 *    same terms in the same order (each input reaches an output through at most one kernel
 *    position). So active lists are sorted before they feed a weighted/pool node; zero-valued
 *    entries are skipped like the dense loops skip zero inputs; biases are added after the sum.
 * 2. Layers with always-on input take the dense path: a bias (Conv2d/Affine) or a negative
 *    Threshold makes every output active, LI neurons output v every step, and LIF neurons whose
 *    zero-input step could overshoot (a = dt/tau or beta outside [0, 1]) are all updated every step.
 * 3. Lazy leak (neuron.ts, isQuiescent/replayIdle): a neuron without input is skipped only when its
 *    zero-input steps cannot spike; when next touched, the skipped steps are replayed with exactly
 *    the dense engine's float32 operations (pow(decay, k) would give different bits), stopping at a
 *    fixed point. IF neurons need no replay at all: their zero-input step is the identity. A neuron
 *    that can still spike without input (e.g. v > threshold after a subtract reset) stays on a
 *    pending list and is updated every step until it settles.
 */
import type { Timestep } from '../stream/timestep.js';
import { RunCounters, type Engine, type EngineOptions, type RunResult, type StepOutput } from './engine.js';
import { isNeuron, type Graph } from './graph.js';
import { accumulateEvents, eventInputShape, type AccumulateResult, type EventInputShape } from './input-map.js';
import { FORM_IF, isQuiescent, lazyEligible, neuronArrays, neuronStep, replayIdle, type NeuronArrays } from './neuron.js';
import { convConnectivity, linearConnectivity, poolConnectivity, type ConvConnectivity, type LinearConnectivity } from './sparse-connectivity.js';
import { expandParam, formatShape, numel } from './tensor.js';
import { validateGraph, type GraphPlan } from './validate-graph.js';

const f = Math.fround;

/**
 * A node's output (or merged input) as a sparse vector: `val` holds every value and is zero outside
 * the first `cnt` entries of `idx`. A `dense` vector lists every index (identity `idx`, cnt = n).
 */
class SparseVec {
  readonly val: Float32Array;
  readonly idx: Int32Array;
  /** First-touch marks for scatters: stamp[i] === epoch means i is already listed this pass. */
  readonly stamp: Int32Array;
  cnt = 0;
  sorted = true;

  constructor(readonly n: number, readonly dense: boolean) {
    this.val = new Float32Array(n);
    this.idx = new Int32Array(n);
    this.stamp = new Int32Array(n);
    if (dense) {
      for (let i = 0; i < n; i++) this.idx[i] = i;
      this.cnt = n;
    }
  }

  clear(): void {
    if (this.dense) {
      this.val.fill(0);
      return;
    }
    const { val, idx } = this;
    for (let k = 0; k < this.cnt; k++) val[idx[k]] = 0;
    this.cnt = 0;
    this.sorted = true;
  }

  ensureSorted(): void {
    if (this.sorted) return;
    this.idx.subarray(0, this.cnt).sort();
    this.sorted = true;
  }

  resetAll(): void {
    this.val.fill(0);
    this.stamp.fill(0);
    if (!this.dense) this.cnt = 0;
    this.sorted = true;
  }
}

const K_INPUT = 0, K_CONV = 1, K_LINEAR = 2, K_ALIAS = 3, K_SCALE = 4, K_THRESHOLD = 5, K_NEURON = 6, K_OUTPUT = 7;

interface NeuronState {
  readonly arrays: NeuronArrays;
  readonly v: Float32Array;
  /** Step at which each neuron's state is current (-1: initial state). */
  readonly last: Int32Array;
  readonly lazy: boolean;
  /** Neurons to visit next step even without input (they could spike on their own). */
  pending: Int32Array;
  pendingNext: Int32Array;
  pendingCnt: number;
  readonly visit: Int32Array;
  readonly visitStamp: Int32Array;
}

export class SparseEngine implements Engine {
  readonly kind = 'sparse' as const;
  readonly plan: GraphPlan;
  /** Spikes seen while replaying skipped steps; 0 unless the lazy-leak proof in neuron.ts is wrong. */
  lazyViolations = 0;
  private readonly kinds: Int32Array;
  private readonly outs: SparseVec[];
  private readonly merged: (SparseVec | null)[];
  private readonly conv: (ConvConnectivity | null)[];
  private readonly lin: (LinearConnectivity | null)[];
  private readonly scratch: (Int32Array | null)[];
  private readonly elementwise: (Float32Array | null)[];
  private readonly denseThreshold: Uint8Array;
  private readonly neurons: (NeuronState | null)[];
  private readonly eventShape: EventInputShape | Error;
  private readonly counters: RunCounters;
  private readonly acc: AccumulateResult = { touched: 0, inRange: 0, outOfRange: 0 };
  private epoch = 0;
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
    this.scratch = new Array<Int32Array | null>(n).fill(null);
    this.elementwise = new Array<Float32Array | null>(n).fill(null);
    this.denseThreshold = new Uint8Array(n);
    this.neurons = new Array<NeuronState | null>(n).fill(null);
    for (let p = 0; p < n; p++) {
      const node = plan.nodes[p];
      const inShape = plan.inShapes[p];
      const size = numel(plan.outShapes[p]);
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
          if (c.bias) this.scratch[p] = new Int32Array(size);
          break;
        }
        case 'Linear':
        case 'Affine': {
          const c = linearConnectivity(node);
          this.kinds[p] = K_LINEAR;
          this.lin[p] = c;
          this.outs[p] = new SparseVec(size, c.bias !== null);
          if (c.bias) this.scratch[p] = new Int32Array(size);
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
            visit: new Int32Array(size), visitStamp: new Int32Array(size),
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
      s.visitStamp.fill(0);
      s.pendingCnt = 0;
      if (s.lazy) {
        for (let j = 0; j < s.arrays.n; j++) if (!isQuiescent(s.arrays, 0, j)) s.pending[s.pendingCnt++] = j;
      }
    }
    this.epoch = 0;
    this.t = 0;
    this.lazyViolations = 0;
    this.counters.reset();
  }

  step(ts: Timestep): StepOutput {
    if (this.eventShape instanceof Error) throw this.eventShape;
    const out = this.outs[this.plan.inputIndex];
    out.clear();
    accumulateEvents(ts, this.eventShape, this.options.outOfRange ?? 'ignore', out.val, out.idx, this.acc);
    out.cnt = this.acc.touched;
    out.sorted = false;
    this.counters.events += this.acc.inRange;
    this.counters.eventsOutOfRange += this.acc.outOfRange;
    return this.propagate();
  }

  stepValues(input: Float32Array): StepOutput {
    const out = this.outs[this.plan.inputIndex];
    if (input.length !== out.n) throw new RangeError(`stepValues: the Input node needs ${out.n} values ${formatShape(this.plan.inShapes[this.plan.inputIndex])}, got ${input.length}`);
    out.clear();
    let c = 0;
    let events = 0;
    for (let i = 0; i < input.length; i++) {
      const x = input[i];
      if (x !== 0) {
        out.val[i] = x;
        out.idx[c++] = i;
        events += out.val[i];
      }
    }
    out.cnt = c;
    out.sorted = true;
    this.counters.events += events;
    return this.propagate();
  }

  result(): RunResult {
    return this.counters.result();
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

  private nextEpoch(): number {
    if (this.epoch >= 0x3fffffff) {
      for (const o of this.outs) o.stamp.fill(0);
      for (const m of this.merged) m?.stamp.fill(0);
      this.epoch = 0;
    }
    return ++this.epoch;
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
    const mark = this.nextEpoch();
    const { val, idx, stamp } = dst;
    let n = 0;
    for (const q of this.plan.preds[p]) {
      const src = this.outs[q];
      const sIdx = src.idx;
      const sVal = src.val;
      for (let k = 0; k < src.cnt; k++) {
        const i = sIdx[k];
        if (stamp[i] !== mark) {
          stamp[i] = mark;
          idx[n++] = i;
        }
        val[i] = f(val[i] + sVal[i]);
      }
    }
    dst.cnt = n;
    dst.sorted = false;
    return dst;
  }

  /** Conv2d / SumPool2d / AvgPool2d: scatter each active input through its class's entries. */
  private scatterConv(p: number, src: SparseVec): void {
    const c = this.conv[p] as ConvConnectivity;
    const dst = this.outs[p];
    dst.clear();
    src.ensureSorted();
    const mark = this.nextEpoch();
    const sIdx = src.idx, sVal = src.val, sCnt = src.cnt;
    const val = dst.val, stamp = dst.stamp;
    const list = this.scratch[p] ?? dst.idx;
    const { start, off, weight, dy, dx, dyMin, dyMax, dxMin, dxMax, h, w, ho, wo, sh, sw, ph, pw } = c;
    const plane = h * w;
    let n = 0;
    let ops = 0;
    for (let k = 0; k < sCnt; k++) {
      const i = sIdx[k];
      const x = sVal[i];
      if (x === 0) continue;
      const ci = (i / plane) | 0;
      const r = i - ci * plane;
      const iy = (r / w) | 0;
      const ty = iy + ph;
      const tx = r - iy * w + pw;
      const qy = (ty / sh) | 0;
      const qx = (tx / sw) | 0;
      const cls = (ci * sh + (ty - qy * sh)) * sw + (tx - qx * sw);
      const e0 = start[cls];
      const e1 = start[cls + 1];
      const base = qy * wo + qx;
      if (qy + dyMin[cls] >= 0 && qy + dyMax[cls] < ho && qx + dxMin[cls] >= 0 && qx + dxMax[cls] < wo) {
        // Interior: every entry lands inside the output.
        if (x === 1) {
          for (let e = e0; e < e1; e++) {
            const o = base + off[e];
            if (stamp[o] !== mark) {
              stamp[o] = mark;
              list[n++] = o;
            }
            val[o] += weight[e];
          }
        } else {
          for (let e = e0; e < e1; e++) {
            const o = base + off[e];
            if (stamp[o] !== mark) {
              stamp[o] = mark;
              list[n++] = o;
            }
            val[o] += f(weight[e] * x);
          }
        }
        ops += e1 - e0;
      } else {
        for (let e = e0; e < e1; e++) {
          const oy = qy + dy[e];
          const ox = qx + dx[e];
          if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
          const o = base + off[e];
          if (stamp[o] !== mark) {
            stamp[o] = mark;
            list[n++] = o;
          }
          val[o] += f(weight[e] * x);
          ops++;
        }
      }
    }
    if (c.avgArea > 0) {
      const area = c.avgArea;
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
    } else {
      dst.cnt = n;
      dst.sorted = false;
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
    src.ensureSorted();
    const mark = this.nextEpoch();
    const sIdx = src.idx, sVal = src.val, sCnt = src.cnt;
    const val = dst.val, stamp = dst.stamp;
    const list = this.scratch[p] ?? dst.idx;
    const { rowStart, col, weight } = c;
    let n = 0;
    let ops = 0;
    for (let k = 0; k < sCnt; k++) {
      const i = sIdx[k];
      const x = sVal[i];
      if (x === 0) continue;
      const e0 = rowStart[i];
      const e1 = rowStart[i + 1];
      for (let e = e0; e < e1; e++) {
        const o = col[e];
        if (stamp[o] !== mark) {
          stamp[o] = mark;
          list[n++] = o;
        }
        val[o] += x === 1 ? weight[e] : f(weight[e] * x);
      }
      ops += e1 - e0;
    }
    if (c.bias) {
      const b = c.bias;
      for (let o = 0; o < c.nOut; o++) val[o] = f(val[o] + b[o]);
    } else {
      dst.cnt = n;
      dst.sorted = false;
    }
    this.counters.synops[p] += ops;
    this.stepSynops += ops;
  }

  private scale(p: number, src: SparseVec): void {
    const s = this.elementwise[p] as Float32Array;
    const dst = this.outs[p];
    dst.clear();
    const { val, idx } = dst;
    let n = 0;
    for (let k = 0; k < src.cnt; k++) {
      const i = src.idx[k];
      const x = src.val[i];
      if (x === 0) continue;
      val[i] = f(s[i] * x);
      idx[n++] = i;
    }
    dst.cnt = n;
    dst.sorted = src.sorted;
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
      let n = 0;
      for (let k = 0; k < src.cnt; k++) {
        const i = src.idx[k];
        if (src.val[i] > th[i]) {
          dst.val[i] = 1;
          dst.idx[n++] = i;
          spikes++;
        }
      }
      dst.cnt = n;
      dst.sorted = src.sorted;
    }
    this.counters.spikes[p] += spikes;
    this.stepSpikes += spikes;
  }

  private stepNeurons(p: number, src: SparseVec): void {
    const s = this.neurons[p] as NeuronState;
    const a = s.arrays;
    const v = s.v;
    const dst = this.outs[p];
    dst.clear();
    const x = src.val;
    const t = this.t;
    if (!s.lazy) {
      // Dense path: every neuron, every step.
      let spikes = 0;
      if (!a.spiking) {
        for (let j = 0; j < a.n; j++) dst.val[j] = neuronStep(a, v, j, x[j]);
      } else {
        let n = 0;
        for (let j = 0; j < a.n; j++) {
          const c = neuronStep(a, v, j, x[j]);
          if (c > 0) {
            dst.val[j] = c;
            dst.idx[n++] = j;
            spikes += c;
          }
        }
        dst.cnt = n;
        dst.sorted = true;
      }
      this.counters.spikes[p] += spikes;
      this.stepSpikes += spikes;
      return;
    }
    // Visit list: neurons with input, then pending neurons not already listed.
    const mark = t + 1;
    const visit = s.visit, vs = s.visitStamp;
    let nv = 0;
    const sIdx = src.idx;
    for (let k = 0; k < src.cnt; k++) {
      const j = sIdx[k];
      vs[j] = mark;
      visit[nv++] = j;
    }
    const pending = s.pending;
    for (let k = 0; k < s.pendingCnt; k++) {
      const j = pending[k];
      if (vs[j] !== mark) {
        vs[j] = mark;
        visit[nv++] = j;
      }
    }
    const replay = a.form !== FORM_IF;
    const last = s.last;
    const next = s.pendingNext;
    const outVal = dst.val, outIdx = dst.idx;
    let np = 0;
    let n = 0;
    let spikes = 0;
    let violations = 0;
    for (let k = 0; k < nv; k++) {
      const j = visit[k];
      if (replay) {
        const idle = t - last[j] - 1;
        if (idle > 0) violations += replayIdle(a, v, j, idle);
        last[j] = t;
      }
      const c = neuronStep(a, v, j, x[j]);
      if (c > 0) {
        outVal[j] = c;
        outIdx[n++] = j;
        spikes += c;
      }
      if (!isQuiescent(a, v[j], j)) next[np++] = j;
    }
    s.pendingNext = pending;
    s.pending = next;
    s.pendingCnt = np;
    dst.cnt = n;
    dst.sorted = false;
    this.lazyViolations += violations;
    this.counters.spikes[p] += spikes;
    this.stepSpikes += spikes;
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
