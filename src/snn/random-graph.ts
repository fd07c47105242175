/**
 * Deterministic builders for test, bench and training graphs: exact-density random masks, a
 * sequential graph builder with seeded weights, random architectures for property tests, and
 * random event timesteps. Same seed, same graph, on every machine.
 */
import type { Timestep } from '../stream/timestep.js';
import type { Conv2dNode, Edge, Graph, GraphNode, ResetMode, SpikeMode } from './graph.js';
import { Rng } from './rng.js';
import { numel, type ParamValue, type Tensor } from './tensor.js';
import { validateGraph } from './validate-graph.js';

/** A mask of n entries with exactly round(density * n) ones (at least one when density > 0), uniformly placed. */
export function randomMask(rng: Rng, n: number, density: number): Uint8Array {
  if (!(density >= 0 && density <= 1)) throw new RangeError(`randomMask: density ${density} is not in [0, 1]`);
  const k = density > 0 ? Math.max(1, Math.round(density * n)) : 0;
  const mask = new Uint8Array(n);
  if (k >= n) return mask.fill(1);
  // Partial Fisher-Yates over positions: the first k of a random permutation.
  const pos = new Int32Array(n);
  for (let i = 0; i < n; i++) pos[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.next() * (n - i));
    const t = pos[i];
    pos[i] = pos[j];
    pos[j] = t;
    mask[pos[i]] = 1;
  }
  return mask;
}

/** Normal(0, std^2) weights, rounded to float32. */
export function randomTensor(rng: Rng, shape: readonly number[], std: number): Tensor {
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return { shape: [...shape], data };
}

export type LayerSpec =
  | { readonly op: 'Conv2d'; readonly out: number; readonly kernel: number; readonly stride?: number; readonly padding?: number; readonly dilation?: number; readonly groups?: number; readonly bias?: boolean }
  /** bias: true makes it an Affine node. */
  | { readonly op: 'Linear'; readonly out: number; readonly bias?: boolean }
  | { readonly op: 'SumPool2d' | 'AvgPool2d'; readonly kernel: number; readonly stride?: number; readonly padding?: number }
  | { readonly op: 'Flatten' }
  | { readonly op: 'Scale'; readonly scale: number }
  | { readonly op: 'Threshold'; readonly threshold: number }
  | { readonly op: 'IF'; readonly threshold?: number; readonly spike?: SpikeMode; readonly reset?: ResetMode; readonly vMin?: number }
  | { readonly op: 'LIF'; readonly threshold?: number; readonly tau?: number; readonly dt?: number; readonly beta?: number; readonly vLeak?: number; readonly spike?: SpikeMode; readonly reset?: ResetMode; readonly vMin?: number }
  | { readonly op: 'LI'; readonly tau?: number; readonly dt?: number; readonly beta?: number };

export interface SequentialSpec {
  /** Input [C, H, W] (or any shape for non-event inputs). */
  readonly input: readonly number[];
  readonly layers: readonly LayerSpec[];
  readonly seed: number;
  /** Connection density of every Conv2d/Linear mask (default 1: no masks). */
  readonly density?: number;
  /** Weight std = gain / sqrt(existing fan-in); default 1. Per-layer gains override it by position among weighted layers. */
  readonly gain?: number | readonly number[];
}

const PREFIX: Record<LayerSpec['op'], string> = {
  Conv2d: 'conv', Linear: 'fc', SumPool2d: 'pool', AvgPool2d: 'pool', Flatten: 'flatten', Scale: 'scale', Threshold: 'thr', IF: 'if', LIF: 'lif', LI: 'li',
};

/**
 * A chain Input -> layers... -> Output with ids like conv1, if1, pool1, flatten1, fc1. Weights are
 * seeded normals scaled by gain / sqrt(fan-in * density); masks have the exact density.
 */
export function sequentialGraph(spec: SequentialSpec): Graph {
  const rng = new Rng(spec.seed);
  const density = spec.density ?? 1;
  const nodes: GraphNode[] = [{ id: 'input', op: 'Input', params: { shape: [...spec.input] } }];
  const edges: Edge[] = [];
  const counts = new Map<string, number>();
  let prev = 'input';
  let weighted = 0;
  // Shapes are inferred by validating the partial graph, so the builder needs no shape algebra.
  const shapeOf = (): readonly number[] => {
    const plan = validateGraph({ nodes: [...nodes, { id: '__out', op: 'Output', params: {} }], edges: [...edges, [prev, '__out']] });
    return plan.outShapes[plan.ids.indexOf(prev)];
  };
  for (const l of spec.layers) {
    const prefix = PREFIX[l.op];
    const k = (counts.get(prefix) ?? 0) + 1;
    counts.set(prefix, k);
    const id = `${prefix}${k}`;
    const shape = shapeOf();
    const gain = Array.isArray(spec.gain) ? (spec.gain[weighted] ?? 1) : ((spec.gain as number | undefined) ?? 1);
    let node: GraphNode;
    switch (l.op) {
      case 'Conv2d': {
        const groups = l.groups ?? 1;
        const wShape = [l.out, shape[0] / groups, l.kernel, l.kernel];
        const fanIn = wShape[1] * l.kernel * l.kernel;
        const std = gain / Math.sqrt(Math.max(1, fanIn * density));
        const n: Conv2dNode = {
          id, op: 'Conv2d',
          params: {
            weight: randomTensor(rng, wShape, std),
            ...(l.bias ? { bias: randomTensor(rng, [l.out], std) } : {}),
            stride: [l.stride ?? 1, l.stride ?? 1], padding: [l.padding ?? 0, l.padding ?? 0],
            dilation: [l.dilation ?? 1, l.dilation ?? 1], groups,
          },
          ...(density < 1 ? { mask: randomMask(rng, numel(wShape), density) } : {}),
        };
        node = n;
        weighted++;
        break;
      }
      case 'Linear': {
        const nIn = shape[0];
        const std = gain / Math.sqrt(Math.max(1, nIn * density));
        const weight = randomTensor(rng, [l.out, nIn], std);
        const mask = density < 1 ? { mask: randomMask(rng, l.out * nIn, density) } : {};
        node = l.bias
          ? { id, op: 'Affine', params: { weight, bias: randomTensor(rng, [l.out], std) }, ...mask }
          : { id, op: 'Linear', params: { weight }, ...mask };
        weighted++;
        break;
      }
      case 'SumPool2d':
      case 'AvgPool2d':
        node = { id, op: l.op, params: { kernel_size: [l.kernel, l.kernel], stride: [l.stride ?? l.kernel, l.stride ?? l.kernel], padding: [l.padding ?? 0, l.padding ?? 0] } };
        break;
      case 'Flatten':
        node = { id, op: 'Flatten', params: { start_dim: 0, end_dim: -1 } };
        break;
      case 'Scale':
        node = { id, op: 'Scale', params: { scale: l.scale } };
        break;
      case 'Threshold':
        node = { id, op: 'Threshold', params: { threshold: l.threshold } };
        break;
      case 'IF':
        node = { id, op: 'IF', params: { r: 1, v_threshold: l.threshold ?? 1, v_reset: 0, spike: l.spike ?? 'single', reset: l.reset ?? 'zero', ...(l.vMin !== undefined ? { vMin: l.vMin } : {}) } };
        break;
      case 'LIF':
        node = {
          id, op: 'LIF',
          params: {
            tau: l.tau ?? 10, r: 1, v_leak: l.vLeak ?? 0, dt: l.dt ?? 1, v_threshold: l.threshold ?? 1, v_reset: 0,
            spike: l.spike ?? 'single', reset: l.reset ?? 'zero',
            ...(l.beta !== undefined ? { beta: l.beta } : {}), ...(l.vMin !== undefined ? { vMin: l.vMin } : {}),
          },
        };
        break;
      case 'LI':
        node = { id, op: 'LI', params: { tau: l.tau ?? 10, r: 1, v_leak: 0, dt: l.dt ?? 1, ...(l.beta !== undefined ? { beta: l.beta } : {}) } };
        break;
    }
    nodes.push(node);
    edges.push([prev, id]);
    prev = id;
  }
  nodes.push({ id: 'output', op: 'Output', params: {} });
  edges.push([prev, 'output']);
  const graph = { nodes, edges };
  validateGraph(graph);
  return graph;
}

export interface RandomGraphOptions {
  /** Connection density of every weighted node's mask (default: random per graph). */
  readonly density?: number;
  /** Weights as multiples of 1/8 and thresholds as multiples of 1/4: many exact threshold ties. */
  readonly quantized?: boolean;
  /** Largest input height/width (default 9). */
  readonly maxSize?: number;
}

/**
 * A random valid graph exercising every supported node type and option: convolutions with stride,
 * padding, dilation, groups and bias; pools; chains of synaptic nodes without neurons; merges of
 * two branches; Flatten, Linear, Affine, Scale, Threshold; IF/LIF/LI with single/multi spikes,
 * zero/subtract reset, clamps, Euler or decay leaks, and scalar, per-channel or per-neuron params.
 */
export function randomGraph(rng: Rng, opts: RandomGraphOptions = {}): Graph {
  const density = opts.density ?? rng.pick([1, 0.3, 0.1, 0.02]);
  const q = opts.quantized ?? false;
  const maxSize = opts.maxSize ?? 9;
  const nodes: GraphNode[] = [];
  const edges: Edge[] = [];
  let serial = 0;
  const newId = (p: string) => `${p}${++serial}`;
  const wval = (std: number) => (q ? Math.round(rng.normal() * std * 8) / 8 : rng.normal() * std);
  const weights = (shape: number[], std: number): Tensor => {
    const data = new Float32Array(numel(shape));
    for (let i = 0; i < data.length; i++) data[i] = wval(std);
    return { shape, data };
  };
  const mask = (n: number) => (density < 1 ? { mask: randomMask(rng, n, density) } : {});
  const add = (node: GraphNode, from: readonly string[]): string => {
    nodes.push(node);
    for (const f of from) edges.push([f, node.id]);
    return node.id;
  };

  const c0 = rng.pick([1, 2]);
  let shape: number[] = [c0, rng.int(3, maxSize), rng.int(3, maxSize)];
  let cur = add({ id: 'input', op: 'Input', params: { shape } }, []);

  const conv = (from: string, inShape: number[], geometry: { k: number; s: number; p: number; d: number; groups: number; out: number; bias: boolean }): { id: string; shape: number[] } => {
    const { k, s, p, d, groups, out, bias } = geometry;
    const wShape = [out, inShape[0] / groups, k, k];
    const std = 2.2 / Math.sqrt(Math.max(1, wShape[1] * k * k * density));
    const node: Conv2dNode = {
      id: newId('conv'), op: 'Conv2d',
      params: { weight: weights(wShape, std), ...(bias ? { bias: weights([out], 0.3) } : {}), stride: [s, s], padding: [p, p], dilation: [d, d], groups },
      ...mask(numel(wShape)),
    };
    const ho = Math.floor((inShape[1] + 2 * p - d * (k - 1) - 1) / s) + 1;
    const wo = Math.floor((inShape[2] + 2 * p - d * (k - 1) - 1) / s) + 1;
    return { id: add(node, [from]), shape: [out, ho, wo] };
  };

  const nBlocks = rng.int(1, 3);
  for (let b = 0; b < nBlocks; b++) {
    const [c, h, w] = shape;
    const k = rng.int(1, Math.min(3, h, w));
    const d = k > 1 && rng.bool(0.2) && (k - 1) * 2 + 1 <= Math.min(h, w) ? 2 : 1;
    const p = rng.int(0, k - 1);
    const s = rng.bool(0.35) ? 2 : 1;
    const groups = c % 2 === 0 && rng.bool(0.2) ? 2 : 1;
    const out = groups * rng.int(1, 3);
    const geometry = { k, s, p, d, groups, out, bias: rng.bool(0.2) };
    const a = conv(cur, shape, geometry);
    const from = [a.id];
    if (rng.bool(0.25)) from.push(conv(cur, shape, { ...geometry, bias: false }).id); // a second branch, summed
    shape = a.shape;
    if (rng.bool(0.85)) {
      cur = add(randomNeuron(rng, newId('n'), shape, q, false), from);
    } else if (from.length === 1) {
      cur = from[0];
    } else {
      cur = add({ id: newId('scale'), op: 'Scale', params: { scale: q ? 0.5 : rng.uniform(0.3, 1.5) } }, from);
    }
    if (rng.bool(0.3) && shape[1] >= 2 && shape[2] >= 2) {
      const pk = rng.int(1, 2);
      const ps = rng.int(1, pk);
      const op = rng.bool(0.7) ? 'SumPool2d' : 'AvgPool2d';
      cur = add({ id: newId('pool'), op, params: { kernel_size: [pk, pk], stride: [ps, ps], padding: [0, 0] } }, [cur]);
      shape = [shape[0], Math.floor((shape[1] - pk) / ps) + 1, Math.floor((shape[2] - pk) / ps) + 1];
      if (rng.bool(0.5)) cur = add(randomNeuron(rng, newId('n'), shape, q, false), [cur]);
    }
    if (rng.bool(0.1)) cur = add({ id: newId('thr'), op: 'Threshold', params: { threshold: rng.bool(0.2) ? -0.25 : 0.5 } }, [cur]);
  }
  cur = add({ id: newId('flatten'), op: 'Flatten', params: { start_dim: 0, end_dim: -1 } }, [cur]);
  let n = numel(shape);
  const nLinear = rng.int(1, 2);
  for (let i = 0; i < nLinear; i++) {
    const out = i === nLinear - 1 ? rng.int(2, 6) : rng.int(3, 12);
    const std = 2.2 / Math.sqrt(Math.max(1, n * density));
    const weight = weights([out, n], std);
    const id = newId('fc');
    cur = rng.bool(0.25)
      ? add({ id, op: 'Affine', params: { weight, bias: weights([out], 0.3) }, ...mask(out * n) }, [cur])
      : add({ id, op: 'Linear', params: { weight }, ...mask(out * n) }, [cur]);
    n = out;
    cur = add(randomNeuron(rng, newId('n'), [n], q, i === nLinear - 1), [cur]);
  }
  add({ id: 'output', op: 'Output', params: { readout: rng.pick(['sum', 'sum', 'last', 'max'] as const) } }, [cur]);
  const graph = { nodes, edges };
  validateGraph(graph);
  return graph;
}

/** A random IF/LIF (or LI when allowed) node over `shape` with randomly scalar/per-channel/per-neuron params. */
function randomNeuron(rng: Rng, id: string, shape: readonly number[], q: boolean, allowLI: boolean): GraphNode {
  const param = (draw: () => number): ParamValue => {
    const r = rng.next();
    if (r < 0.25) {
      const data = new Float32Array(numel(shape));
      for (let i = 0; i < data.length; i++) data[i] = draw();
      return { shape: [...shape], data };
    }
    if (r < 0.35 && shape.length === 3) {
      const data = new Float32Array(shape[0]);
      for (let i = 0; i < data.length; i++) data[i] = draw();
      return { shape: [shape[0], 1, 1], data };
    }
    return draw();
  };
  const thr = () => (q ? rng.int(2, 6) / 4 : rng.uniform(0.4, 1.6));
  const spike: SpikeMode = rng.bool(0.4) ? 'multi' : 'single';
  const reset: ResetMode = rng.bool(0.5) ? 'subtract' : 'zero';
  const vMin = rng.bool(0.3) ? { vMin: q ? -1 : -rng.uniform(0.5, 1.5) } : {};
  const vReset = rng.bool(0.2) ? param(() => (q ? 0.25 : rng.uniform(-0.4, 0.4))) : 0;
  const op = allowLI && rng.bool(0.25) ? 'LI' : rng.bool(0.5) ? 'IF' : 'LIF';
  if (op === 'IF') {
    return { id, op, params: { r: rng.bool(0.8) ? 1 : param(() => rng.uniform(0.5, 1.5)), v_threshold: param(thr), v_reset: vReset, spike, reset, ...vMin } };
  }
  const leak = (): { tau: ParamValue; dt: number; beta?: ParamValue } => {
    const form = rng.next();
    if (form < 0.3) return { tau: 10, dt: 1, beta: param(() => (q ? rng.int(4, 8) / 8 : rng.uniform(0.3, 1))) };
    if (form < 0.4) return { tau: 0.7, dt: 1 }; // dt/tau > 1: an overshooting leak (dense path in the sparse engine)
    return { tau: param(() => rng.uniform(1.2, 20)), dt: 1 };
  };
  const vLeak = rng.bool(0.15) ? param(() => rng.uniform(-0.5, 1.8)) : 0;
  if (op === 'LI') return { id, op, params: { ...leak(), r: 1, v_leak: vLeak } };
  return { id, op, params: { ...leak(), r: 1, v_leak: vLeak, v_threshold: param(thr), v_reset: vReset, spike, reset, ...vMin } };
}

/** A Timestep over given event columns (toDense builds the (2, H, W) counts). */
export function makeTimestep(index: number, width: number, height: number, ev: { t: Float64Array; x: Uint16Array; y: Uint16Array; p: Uint8Array }): Timestep {
  const tStart = ev.t.length ? ev.t[0] : 0;
  return {
    index, tStart, tEnd: ev.t.length ? ev.t[ev.t.length - 1] + 1 : tStart, width, height, events: ev,
    toDense(out?: Float32Array): Float32Array {
      const d = out ?? new Float32Array(2 * width * height);
      d.fill(0);
      for (let i = 0; i < ev.x.length; i++) d[(ev.p[i] ? width * height : 0) + ev.y[i] * width + ev.x[i]] += 1;
      return d;
    },
  };
}

/**
 * Random event timesteps: each step, about `density` of the pixels get 1..maxCount events of a
 * random polarity, in random order. `outOfRange` events beyond width/height are mixed in when set.
 */
export function randomTimesteps(rng: Rng, o: { width: number; height: number; steps: number; density: number; maxCount?: number; outOfRange?: number }): Timestep[] {
  const out: Timestep[] = [];
  const maxCount = o.maxCount ?? 2;
  for (let s = 0; s < o.steps; s++) {
    const t: number[] = [], x: number[] = [], y: number[] = [], p: number[] = [];
    for (let yy = 0; yy < o.height; yy++) {
      for (let xx = 0; xx < o.width; xx++) {
        if (!rng.bool(o.density)) continue;
        const c = rng.int(1, maxCount);
        for (let k = 0; k < c; k++) {
          x.push(xx); y.push(yy); p.push(rng.int(0, 1)); t.push(s * 1000 + rng.int(0, 999));
        }
      }
    }
    for (let k = 0; k < (o.outOfRange ?? 0); k++) {
      x.push(o.width + rng.int(0, 3)); y.push(rng.int(0, o.height + 3)); p.push(rng.int(0, 1)); t.push(s * 1000);
    }
    // Shuffle so first-touch order is not ascending.
    for (let i = x.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [x[i], x[j]] = [x[j], x[i]];
      [y[i], y[j]] = [y[j], y[i]];
      [p[i], p[j]] = [p[j], p[i]];
    }
    out.push(makeTimestep(s, o.width, o.height, { t: Float64Array.from(t), x: Uint16Array.from(x), y: Uint16Array.from(y), p: Uint8Array.from(p) }));
  }
  return out;
}
