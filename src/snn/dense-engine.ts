/**
 * The dense reference engine: every node, every neuron, every weight, every timestep, in plain
 * loops meant to be read and trusted. Its float32 operation order is the definition the sparse
 * engine must reproduce:
 * - a node's input is the sum of its predecessors' outputs, added in edge order;
 * - a weighted sum starts at 0 and adds fround(w * x) over the inputs in ascending flat input
 *   index order, skipping zero inputs and masked-out connections, each addition rounded to
 *   float32; a bias is added after the sum; AvgPool divides the window sum by the window area;
 * - neurons step through neuron.ts.
 * SynOps count (nonzero input, existing connection) pairs, i.e. exactly the synapses an
 * event-driven implementation must visit.
 */
import type { Timestep } from '../stream/timestep.js';
import { RunCounters, runEngine, type Engine, type EngineOptions, type RunResult, type StepOutput } from './engine.js';
import type { Graph, GraphNode } from './graph.js';
import { emitsSpikes, isNeuron } from './graph.js';
import { accumulateEvents, eventInputShape, type AccumulateResult, type EventInputShape } from './input-map.js';
import { neuronArrays, neuronStep, type NeuronArrays } from './neuron.js';
import { expandParam, formatShape, numel } from './tensor.js';
import { validateGraph, type GraphPlan } from './validate-graph.js';

const f = Math.fround;

export class DenseEngine implements Engine {
  readonly kind = 'dense' as const;
  readonly plan: GraphPlan;
  private readonly outs: Float32Array[];
  private readonly ins: Float32Array[];
  private readonly v: (Float32Array | null)[];
  private readonly neurons: (NeuronArrays | null)[];
  private readonly elementwise: (Float32Array | null)[];
  private readonly eventShape: EventInputShape | Error;
  private readonly counters: RunCounters;
  private readonly acc: AccumulateResult = { inRange: 0, outOfRange: 0 };
  private t = 0;

  constructor(graph: Graph | GraphPlan, private readonly options: EngineOptions = {}) {
    this.plan = 'preds' in graph ? graph : validateGraph(graph);
    const plan = this.plan;
    this.outs = plan.outShapes.map((s) => new Float32Array(numel(s)));
    this.ins = plan.inShapes.map((s, p) => (plan.preds[p].length > 1 ? new Float32Array(numel(s)) : this.outs[plan.preds[p][0] ?? p]));
    this.neurons = plan.nodes.map((n, p) => (isNeuron(n) ? neuronArrays(n, plan.inShapes[p]) : null));
    this.v = this.neurons.map((a) => (a ? new Float32Array(a.n) : null));
    this.elementwise = plan.nodes.map((n, p) =>
      n.op === 'Scale' ? expandParam(n.params.scale, plan.inShapes[p]) : n.op === 'Threshold' ? expandParam(n.params.threshold, plan.inShapes[p]) : null);
    this.eventShape = eventInputShape(plan.inShapes[plan.inputIndex]);
    this.counters = new RunCounters(plan, 'dense', options.labels);
    this.reset();
  }

  reset(): void {
    for (const v of this.v) v?.fill(0);
    for (const o of this.outs) o.fill(0);
    this.counters.reset();
    this.t = 0;
  }

  step(ts: Timestep): StepOutput {
    if (this.eventShape instanceof Error) throw this.eventShape;
    const input = this.outs[this.plan.inputIndex];
    input.fill(0);
    accumulateEvents(ts, this.eventShape, this.options.outOfRange ?? 'ignore', input, null, this.acc);
    this.counters.events += this.acc.inRange;
    this.counters.eventsOutOfRange += this.acc.outOfRange;
    return this.propagate();
  }

  stepValues(input: Float32Array): StepOutput {
    const out = this.outs[this.plan.inputIndex];
    if (input.length !== out.length) throw new RangeError(`stepValues: the Input node needs ${out.length} values ${formatShape(this.plan.inShapes[this.plan.inputIndex])}, got ${input.length}`);
    out.set(input);
    let events = 0;
    for (let i = 0; i < out.length; i++) events += out[i];
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
    const v = this.v[this.indexOf(id)];
    if (!v) throw new Error(`node "${id}" is not a neuron node`);
    return v.slice();
  }

  nodeOutput(id: string): Float32Array {
    return this.outs[this.indexOf(id)].slice();
  }

  private indexOf(id: string): number {
    const p = this.plan.ids.indexOf(id);
    if (p < 0) throw new Error(`no node "${id}"`);
    return p;
  }

  private propagate(): StepOutput {
    const plan = this.plan;
    let synops = 0;
    let spikes = 0;
    for (let p = 0; p < plan.nodes.length; p++) {
      const node = plan.nodes[p];
      if (node.op !== 'Input') this.sumInputs(p);
      const x = this.ins[p];
      const out = this.outs[p];
      let ops = 0;
      switch (node.op) {
        case 'Input':
          break;
        case 'Conv2d':
          ops = this.conv(node, plan.inShapes[p], plan.outShapes[p], x, out);
          break;
        case 'Linear':
        case 'Affine':
          ops = this.linear(node, x, out);
          break;
        case 'SumPool2d':
        case 'AvgPool2d':
          this.pool(node, plan.inShapes[p], plan.outShapes[p], x, out);
          break;
        case 'Flatten':
        case 'Output':
          out.set(x);
          break;
        case 'Scale': {
          const s = this.elementwise[p] as Float32Array;
          for (let i = 0; i < x.length; i++) out[i] = x[i] === 0 ? 0 : f(s[i] * x[i]);
          break;
        }
        case 'Threshold': {
          const th = this.elementwise[p] as Float32Array;
          for (let i = 0; i < x.length; i++) out[i] = x[i] > th[i] ? 1 : 0;
          break;
        }
        case 'IF':
        case 'LIF':
        case 'LI': {
          const a = this.neurons[p] as NeuronArrays;
          const v = this.v[p] as Float32Array;
          for (let j = 0; j < a.n; j++) out[j] = neuronStep(a, v, j, x[j]);
          break;
        }
      }
      this.counters.synops[p] += ops;
      synops += ops;
      if (emitsSpikes(node)) {
        let s = 0;
        for (let i = 0; i < out.length; i++) s += out[i];
        if (node.op !== 'Input') {
          this.counters.spikes[p] += s;
          spikes += s;
        } else {
          this.counters.spikes[p] = this.counters.events;
        }
      }
    }
    const output = this.outs[plan.outputIndex];
    this.counters.recordOutput(output);
    return { index: this.t++, output: output.slice(), synops, spikes };
  }

  /** A node with several predecessors gets their outputs summed in edge order. */
  private sumInputs(p: number): void {
    const preds = this.plan.preds[p];
    if (preds.length < 2) return;
    const x = this.ins[p];
    x.fill(0);
    for (const q of preds) {
      const o = this.outs[q];
      for (let i = 0; i < x.length; i++) x[i] = f(x[i] + o[i]);
    }
  }

  private conv(node: Extract<GraphNode, { op: 'Conv2d' }>, inShape: readonly number[], outShape: readonly number[], x: Float32Array, out: Float32Array): number {
    const { weight, bias, stride, padding, dilation, groups } = node.params;
    const mask = node.mask;
    const w = weight.data;
    const [, h, wd] = inShape;
    const [cout, ho, wo] = outShape;
    const [, cinG, kh, kw] = weight.shape;
    const coutG = cout / groups;
    let ops = 0;
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / coutG);
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let acc = 0;
          for (let cg = 0; cg < cinG; cg++) {
            const ci = g * cinG + cg;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * stride[0] - padding[0] + ky * dilation[0];
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * stride[1] - padding[1] + kx * dilation[1];
                if (ix < 0 || ix >= wd) continue;
                const xv = x[(ci * h + iy) * wd + ix];
                if (xv === 0) continue;
                const wi = ((co * cinG + cg) * kh + ky) * kw + kx;
                if (mask && mask[wi] === 0) continue;
                acc = f(acc + f(w[wi] * xv));
                ops++;
              }
            }
          }
          if (bias) acc = f(acc + bias.data[co]);
          out[(co * ho + oy) * wo + ox] = acc;
        }
      }
    }
    return ops;
  }

  private linear(node: Extract<GraphNode, { op: 'Linear' | 'Affine' }>, x: Float32Array, out: Float32Array): number {
    const w = node.params.weight.data;
    const [nOut, nIn] = node.params.weight.shape;
    const mask = node.mask;
    const bias = node.op === 'Affine' ? node.params.bias.data : null;
    let ops = 0;
    for (let o = 0; o < nOut; o++) {
      let acc = 0;
      for (let i = 0; i < nIn; i++) {
        const xv = x[i];
        if (xv === 0) continue;
        const wi = o * nIn + i;
        if (mask && mask[wi] === 0) continue;
        acc = f(acc + f(w[wi] * xv));
        ops++;
      }
      if (bias) acc = f(acc + bias[o]);
      out[o] = acc;
    }
    return ops;
  }

  private pool(node: Extract<GraphNode, { op: 'SumPool2d' | 'AvgPool2d' }>, inShape: readonly number[], outShape: readonly number[], x: Float32Array, out: Float32Array): void {
    const { kernel_size: k, stride, padding } = node.params;
    const [c, h, wd] = inShape;
    const [, ho, wo] = outShape;
    const area = k[0] * k[1];
    for (let ch = 0; ch < c; ch++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let acc = 0;
          for (let ky = 0; ky < k[0]; ky++) {
            const iy = oy * stride[0] - padding[0] + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < k[1]; kx++) {
              const ix = ox * stride[1] - padding[1] + kx;
              if (ix < 0 || ix >= wd) continue;
              const xv = x[(ch * h + iy) * wd + ix];
              if (xv !== 0) acc = f(acc + xv);
            }
          }
          out[(ch * ho + oy) * wo + ox] = node.op === 'AvgPool2d' ? f(acc / area) : acc;
        }
      }
    }
  }
}
