/** Hand-computed results of each node type on tiny inputs, through both engines. */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/snn/create-engine.js';
import { argmax, runEngine, type EngineKind } from '../../src/snn/engine.js';
import type { Edge, Graph, GraphNode } from '../../src/snn/graph.js';
import { InputRangeError } from '../../src/snn/input-map.js';
import { makeTimestep } from '../../src/snn/random-graph.js';
import { tensor } from '../../src/snn/tensor.js';
import { EventTimestep } from '../../src/stream/event-timestep.js';

const KINDS: EngineKind[] = ['dense', 'sparse'];

function chain(inputShape: number[], ...mid: GraphNode[]): Graph {
  const nodes: GraphNode[] = [{ id: 'in', op: 'Input', params: { shape: inputShape } }, ...mid, { id: 'out', op: 'Output', params: {} }];
  const edges: Edge[] = [];
  for (let i = 1; i < nodes.length; i++) edges.push([nodes[i - 1].id, nodes[i].id]);
  return { nodes, edges };
}

/** One step with an explicit input vector; returns the Output values as a plain array. */
function once(kind: EngineKind, g: Graph, input: number[]): number[] {
  return Array.from(createEngine(kind, g).stepValues(Float32Array.from(input)).output);
}

function events(list: [x: number, y: number, p: number][], width = 3, height = 3, index = 0) {
  return makeTimestep(index, width, height, {
    t: Float64Array.from(list.map((_, i) => i)), x: Uint16Array.from(list.map((e) => e[0])), y: Uint16Array.from(list.map((e) => e[1])), p: Uint8Array.from(list.map((e) => e[2])),
  });
}

describe.each(KINDS)('%s engine', (kind) => {
  it('Conv2d: one input event reaches each output through its own kernel position', () => {
    const conv: GraphNode = { id: 'c', op: 'Conv2d', params: { weight: tensor([1, 1, 2, 2], [1, 2, 3, 4]), stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } };
    // Input 1x3x3 with a 1 at (y=1, x=1): out(oy,ox) = w[1-oy][1-ox].
    expect(once(kind, chain([1, 3, 3], conv), [0, 0, 0, 0, 1, 0, 0, 0, 0])).toEqual([4, 3, 2, 1]);
  });

  it('Conv2d with stride 2, padding 1, dilation, groups and bias', () => {
    // 1x3x3 input 1..9, 3x3 kernel of ones, stride 2, padding 1 -> 2x2 window sums of the padded input.
    const ones = tensor([1, 1, 3, 3], new Array(9).fill(1));
    const strided: GraphNode = { id: 'c', op: 'Conv2d', params: { weight: ones, stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 } };
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    expect(once(kind, chain([1, 3, 3], strided), x)).toEqual([1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9]);
    // Dilation 2 with a 2x2 kernel on 3x3: the four corners.
    const dil: GraphNode = { id: 'c', op: 'Conv2d', params: { weight: tensor([1, 1, 2, 2], [1, 10, 100, 1000]), stride: [1, 1], padding: [0, 0], dilation: [2, 2], groups: 1 } };
    expect(once(kind, chain([1, 3, 3], dil), x)).toEqual([1 * 1 + 3 * 10 + 7 * 100 + 9 * 1000]);
    // Two groups: each output channel sees only its own input channel; bias per output channel.
    const grouped: GraphNode = {
      id: 'c', op: 'Conv2d',
      params: { weight: tensor([2, 1, 1, 1], [2, 3]), bias: tensor([2], [0.5, -1]), stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 2 },
    };
    expect(once(kind, chain([2, 1, 2], grouped), [1, 2, 10, 20])).toEqual([2.5, 4.5, 29, 59]);
  });

  it('masked connections do not exist', () => {
    const conv: GraphNode = { id: 'c', op: 'Conv2d', params: { weight: tensor([1, 1, 2, 2], [1, 2, 3, 4]), stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }, mask: Uint8Array.from([1, 0, 0, 1]) };
    expect(once(kind, chain([1, 3, 3], conv), [0, 0, 0, 0, 1, 0, 0, 0, 0])).toEqual([4, 0, 0, 1]);
    const lin: GraphNode = { id: 'l', op: 'Linear', params: { weight: tensor([2, 2], [1, 2, 3, 4]) }, mask: Uint8Array.from([0, 1, 1, 0]) };
    expect(once(kind, chain([2], lin), [1, 1])).toEqual([2, 3]);
  });

  it('Linear and Affine: W x (+ b)', () => {
    const w = tensor([2, 3], [1, 2, 3, -1, 0.5, 0]);
    expect(once(kind, chain([3], { id: 'l', op: 'Linear', params: { weight: w } }), [1, 0, 2])).toEqual([7, -1]);
    expect(once(kind, chain([3], { id: 'a', op: 'Affine', params: { weight: w, bias: tensor([2], [0.5, 1]) } }), [0, 0, 0])).toEqual([0.5, 1]);
  });

  it('SumPool2d and AvgPool2d over 2x2 windows', () => {
    const pool = (op: 'SumPool2d' | 'AvgPool2d'): GraphNode => ({ id: 'p', op, params: { kernel_size: [2, 2], stride: [2, 2], padding: [0, 0] } });
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    expect(once(kind, chain([1, 4, 4], pool('SumPool2d')), x)).toEqual([14, 22, 46, 54]);
    expect(once(kind, chain([1, 4, 4], pool('AvgPool2d')), x)).toEqual([3.5, 5.5, 11.5, 13.5]);
  });

  it('Flatten keeps values and order; Scale multiplies; Threshold is a Heaviside', () => {
    const g = chain([1, 2, 2], { id: 'f', op: 'Flatten', params: { start_dim: 0, end_dim: -1 } }, { id: 's', op: 'Scale', params: { scale: tensor([4], [1, 2, 3, 4]) } });
    expect(once(kind, g, [1, 1, 0, 2])).toEqual([1, 2, 0, 8]);
    expect(once(kind, chain([3], { id: 't', op: 'Threshold', params: { threshold: 0.5 } }), [0.5, 0.75, 0])).toEqual([0, 1, 0]);
    expect(once(kind, chain([2], { id: 't', op: 'Threshold', params: { threshold: -0.5 } }), [0, -1])).toEqual([1, 0]);
  });

  it('sums several inputs into one node (NIR semantics)', () => {
    const g: Graph = {
      nodes: [
        { id: 'in', op: 'Input', params: { shape: [2] } },
        { id: 'a', op: 'Scale', params: { scale: 2 } },
        { id: 'b', op: 'Scale', params: { scale: 3 } },
        { id: 'n', op: 'IF', params: { r: 1, v_threshold: 100 } },
        { id: 'out', op: 'Output', params: {} },
      ],
      edges: [['in', 'a'], ['in', 'b'], ['a', 'n'], ['b', 'n'], ['n', 'out']],
    };
    const e = createEngine(kind, g);
    e.stepValues(Float32Array.from([1, 2]));
    expect(Array.from(e.membrane('n'))).toEqual([5, 10]);
  });

  it('maps events onto [C,H,W]: channel = polarity for C = 2, merged for C = 1; out-of-range events ignored and counted', () => {
    const ts = events([[0, 0, 1], [0, 0, 1], [2, 1, 0], [5, 0, 1], [1, 2, 1]]);
    const two = createEngine(kind, chain([2, 3, 3]));
    two.step(ts);
    const out2 = Array.from(two.nodeOutput('in'));
    expect(out2[9 + 0]).toBe(2); // ON at (0,0), twice
    expect(out2[1 * 3 + 2]).toBe(1); // OFF at (x=2, y=1)
    expect(out2[9 + 2 * 3 + 1]).toBe(1); // ON at (x=1, y=2)
    expect(out2.reduce((a, b) => a + b)).toBe(4);
    expect(two.result().eventsOutOfRange).toBe(1);
    expect(two.result().events).toBe(4);
    const one = createEngine(kind, chain([1, 3, 3]));
    one.step(ts);
    expect(Array.from(one.nodeOutput('in'))).toEqual([2, 0, 0, 0, 0, 1, 0, 1, 0]);
  });

  it("rejects out-of-range events under the 'error' policy without changing state", () => {
    const e = createEngine(kind, chain([2, 3, 3], { id: 'n', op: 'IF', params: { r: 1, v_threshold: 10 } }), { outOfRange: 'error' });
    e.step(events([[1, 1, 1]]));
    expect(() => e.step(events([[1, 1, 1], [3, 0, 0]]))).toThrowError(InputRangeError);
    expect(Array.from(e.membrane('n')).reduce((a, b) => a + b)).toBe(1);
    expect(e.result().timesteps).toBe(1);
  });

  it('reads a timestep held as parts without joining them, with the same result and error index', () => {
    const batch = (list: [number, number, number][]) => ({
      t: Float64Array.from(list.map((_, i) => i)), x: Uint16Array.from(list.map((e) => e[0])), y: Uint16Array.from(list.map((e) => e[1])), p: Uint8Array.from(list.map((e) => e[2])),
    });
    const a: [number, number, number][] = [[1, 1, 1], [0, 0, 0]];
    const b: [number, number, number][] = [[2, 2, 1], [1, 1, 1], [5, 0, 0]];
    // A parts timestep whose `events` getter must not be read (it would copy the parts into one).
    const parts = new EventTimestep(0, 0, 1, 3, 3, [batch(a), batch(b)]);
    Object.defineProperty(parts, 'events', { get: () => { throw new Error('joined'); } });
    const g = chain([2, 3, 3]);
    const split = createEngine(kind, g);
    const whole = createEngine(kind, g);
    expect(Array.from(split.step(parts).output)).toEqual(Array.from(whole.step(events([...a, ...b])).output));
    expect(split.result().events).toBe(4);
    expect(split.result().eventsOutOfRange).toBe(1);
    const strict = createEngine(kind, g, { outOfRange: 'error' });
    // The bad event is the fifth overall (index 4), the third of the second part.
    expect(() => strict.step(parts)).toThrowError(/event 4 /);
    expect(strict.result().timesteps).toBe(0);
  });

  it('counts SynOps as (nonzero input, existing connection) pairs and dense MACs per step', () => {
    const lin: GraphNode = { id: 'l', op: 'Linear', params: { weight: tensor([3, 4], new Array(12).fill(0.5)) }, mask: Uint8Array.from([1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1]) };
    const e = createEngine(kind, chain([4], lin));
    expect(e.stepValues(Float32Array.from([3, 0, 1, 0])).synops).toBe(2 + 2); // input 0 -> 2 connections, input 2 -> 2
    e.stepValues(Float32Array.from([0, 1, 0, 0]));
    const r = e.result();
    expect(r.synopsPerNode).toEqual({ l: 7 });
    expect(r.denseMacsPerTimestep).toBe(12);
    expect(r.denseMacs).toBe(24);
  });

  it('reads out sum/last/max over time and picks the lowest index on ties', () => {
    const mk = (readout: 'sum' | 'last' | 'max'): Graph => ({
      nodes: [{ id: 'in', op: 'Input', params: { shape: [3] } }, { id: 'out', op: 'Output', params: { readout } }],
      edges: [['in', 'out']],
    });
    const steps = [[1, 3, 0], [2, 0, 1], [0, 1, 1]];
    const run = (readout: 'sum' | 'last' | 'max') => {
      const e = createEngine(kind, mk(readout), { labels: ['a', 'b', 'c'] });
      for (const s of steps) e.stepValues(Float32Array.from(s));
      return e.result();
    };
    expect(run('sum')).toMatchObject({ scores: [3, 4, 2], outputCounts: [3, 4, 2], index: 1, label: 'b', timesteps: 3 });
    expect(run('last')).toMatchObject({ scores: [0, 1, 1], index: 1, label: 'b' });
    expect(run('max')).toMatchObject({ scores: [2, 3, 1], index: 1 });
    expect(argmax([1, 5, 5, 2])).toBe(1);
  });

  it('run() resets state first: two runs of one recording agree', () => {
    const g = chain([2, 3, 3], { id: 'f', op: 'Flatten', params: { start_dim: 0, end_dim: -1 } },
      { id: 'l', op: 'Linear', params: { weight: tensor([2, 18], Array.from({ length: 36 }, (_, i) => (i % 5) / 4)) } },
      { id: 'n', op: 'LIF', params: { tau: 4, r: 1, v_leak: 0, dt: 1, v_threshold: 1 } });
    const rec = [events([[0, 0, 1], [1, 2, 0]], 3, 3, 0), events([[2, 2, 1]], 3, 3, 1), events([], 3, 3, 2)];
    const e = createEngine(kind, g);
    const a = runEngine(e, rec);
    const b = e.run(rec);
    expect(b).toEqual(a);
    expect(a.timesteps).toBe(3);
    expect(a.spikesPerNode.in).toBe(3);
  });
});
