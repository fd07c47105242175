import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { countOnes, packMask, unpackMask } from '../../src/model/mask-bits.js';
import { decodeModel, encodeModel, modelToPlain } from '../../src/model/model-codec.js';
import { ModelError } from '../../src/model/model-error.js';
import type { Model } from '../../src/model/model.js';
import { connectionDensity } from '../../src/model/model.js';
import { modelFromGraph, randomModel } from '../../src/model/random-model.js';
import { DenseEngine } from '../../src/snn/dense-engine.js';
import { runEngine } from '../../src/snn/engine.js';
import type { GraphNode } from '../../src/snn/graph.js';
import { randomGraph, randomTimesteps, sequentialGraph } from '../../src/snn/random-graph.js';
import { Rng } from '../../src/snn/rng.js';
import { isTensor } from '../../src/snn/tensor.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** Decoded msgpack maps are edited freely below. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** Encodes a model's plain map after `edit` changed it: how the hostile files below are made. */
function tamper(model: Model, edit: (m: Record<string, Loose>) => void): Uint8Array {
  const m = modelToPlain(model) as Record<string, Loose>;
  edit(m);
  return packr.pack(m);
}

function rejection(bytes: Uint8Array): ModelError {
  try {
    decodeModel(bytes);
  } catch (e) {
    if (e instanceof ModelError) return e;
    throw new Error(`expected a ModelError, got ${String(e)}`, { cause: e });
  }
  throw new Error('the model was accepted');
}

/** Bit patterns of every float32 in the graph, node by node (for exact round-trip comparison). */
function graphBits(m: Model): unknown {
  return m.graph.nodes.map((n) => ({
    id: n.id, op: n.op,
    params: Object.fromEntries(Object.entries(n.params).map(([k, v]) => [k, isTensor(v) ? { shape: v.shape, bits: Array.from(new Uint32Array(v.data.buffer.slice(v.data.byteOffset, v.data.byteOffset + v.data.byteLength))) } : v])),
    mask: 'mask' in n && n.mask ? Array.from(n.mask) : null,
  }));
}

const small = () => randomModel({ seed: 7, density: 0.25, input: [2, 8, 8], layers: [{ op: 'Conv2d', out: 3, kernel: 3, stride: 2 }, { op: 'LIF', tau: 5 }, { op: 'Flatten' }, { op: 'Linear', out: 4 }, { op: 'IF', spike: 'multi', reset: 'subtract' }] });

describe('mask bits', () => {
  it('packs row-major, least significant bit first', () => {
    const mask = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(Array.from(packMask(mask))).toEqual([0x01, 0x06]);
    fc.assert(fc.property(fc.uint8Array({ min: 0, max: 1, maxLength: 100 }), (m) => {
      const { mask: back, ones } = unpackMask(packMask(m), m.length);
      expect(Array.from(back)).toEqual(Array.from(m));
      expect(ones).toBe(countOnes(m));
    }));
  });
});

describe('model codec round trip', () => {
  it('preserves every parameter bit, mask, option and record for random graphs', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
      const rng = new Rng(seed);
      const graph = randomGraph(rng);
      const model = modelFromGraph(graph, {
        name: `m${seed}`, created: '2024-01-01T00:00:00.000Z',
        training: { method: 'esl', density: 0.1, rules: ['gradient'], epochs: 3, metrics: { accuracy: 0.97 }, history: [{ epoch: 1, loss: 0.5 }] },
        meta: { nir: { preset: 'sinabs', dt: 0.001 } },
      });
      const back = decodeModel(encodeModel(model));
      expect(graphBits(back)).toEqual(graphBits(decodeModel(encodeModel(back))));
      expect(back.graph.edges).toEqual(graph.edges.map((e) => [...e]));
      expect({ ...back, graph: null }).toEqual({ ...model, graph: null });
      // Defaults are written out explicitly; everything else is identical.
      for (const [a, b] of graph.nodes.map((n, i) => [n, back.graph.nodes[i]] as const)) {
        for (const [k, v] of Object.entries(a.params)) {
          const w = (b.params as Record<string, unknown>)[k];
          if (isTensor(v)) expect(isTensor(w) && Buffer.from(w.data.buffer).equals(Buffer.from(v.data.buffer))).toBe(true);
          else expect(w).toEqual(v);
        }
      }
    }), { numRuns: 40 });
  });

  it('keeps -0, denormals and extreme float32 weights bit for bit', () => {
    const graph = sequentialGraph({ input: [4], seed: 1, layers: [{ op: 'Linear', out: 2 }] });
    const w = (graph.nodes[1] as Extract<GraphNode, { op: 'Linear' }>).params.weight.data;
    w.set([-0, 1e-45, -3.4028234663852886e38, 1.1754942106924411e-38, 0.1, -0.1, 1, 2]);
    const back = decodeModel(encodeModel(modelFromGraph(graph)));
    const bw = (back.graph.nodes[1] as Extract<GraphNode, { op: 'Linear' }>).params.weight.data;
    expect(Array.from(new Uint32Array(bw.buffer))).toEqual(Array.from(new Uint32Array(w.buffer)));
  });

  it('gives the same predictions after a round trip', () => {
    const model = small();
    const back = decodeModel(encodeModel(model));
    const steps = randomTimesteps(new Rng(3), { width: 8, height: 8, steps: 20, density: 0.3 });
    expect(runEngine(new DenseEngine(back.graph), steps)).toEqual(runEngine(new DenseEngine(model.graph), steps));
    expect(connectionDensity(back.graph)).toEqual(connectionDensity(model.graph));
  });

  it('returns bytes that later encodes do not overwrite', () => {
    const a = encodeModel(small());
    const copy = Uint8Array.from(a);
    encodeModel(randomModel({ seed: 8, input: [2, 4, 4], layers: [{ op: 'Flatten' }, { op: 'Linear', out: 2 }] }));
    expect(a).toEqual(copy);
  });

  it('refuses to encode an invalid model', () => {
    const model = small();
    expect(() => encodeModel({ ...model, labels: ['a'] })).toThrowError(/labels/);
  });
});

describe('model loading rejects bad files, naming the field', () => {
  const model = small();
  const cases: [string, (m: Record<string, Loose>) => void, string, string | RegExp][] = [
    ['wrong format', (m) => (m.format = 'other.model'), 'BAD_FORMAT', 'format'],
    ['missing format', (m) => delete m.format, 'BAD_FORMAT', 'format'],
    ['future version', (m) => (m.version = 2), 'UNSUPPORTED_VERSION', 'version'],
    ['missing name', (m) => delete m.name, 'MISSING', 'name'],
    ['label of the wrong type', (m) => (m.labels[1] = 5), 'BAD_TYPE', 'labels[1]'],
    ['labels count', (m) => m.labels.pop(), 'SHAPE_MISMATCH', 'labels'],
    ['input size disagrees with the graph', (m) => (m.input.width = 9), 'SHAPE_MISMATCH', 'input.width'],
    ['unknown binning mode', (m) => (m.input.binning = { mode: 'fancy' }), 'BAD_VALUE', 'input.binning.mode'],
    ['negative time window', (m) => (m.input.binning = { mode: 'time_window', windowUs: -1 }), 'BAD_VALUE', 'input.binning.windowUs'],
    ['wrong dtype', (m) => (m.tensors['conv1.weight'].dtype = 'f64'), 'BAD_DTYPE', 'tensors["conv1.weight"].dtype'],
    ['data shorter than the shape', (m) => (m.tensors['conv1.weight'].data = m.tensors['conv1.weight'].data.subarray(4)), 'SHAPE_MISMATCH', 'tensors["conv1.weight"].data'],
    ['shape of the wrong rank', (m) => { m.tensors['conv1.weight'].shape = [3, 2, 9]; delete m.masks['conv1.weight']; }, 'BAD_GRAPH', 'tensors["conv1.weight"]'],
    ['weight shape against the input', (m) => { m.tensors['conv1.weight'].shape = [3, 1, 3, 6]; delete m.masks['conv1.weight']; }, 'BAD_GRAPH', 'tensors["conv1.weight"]'],
    ['weight reshaped under its mask', (m) => (m.tensors['conv1.weight'].shape = [3, 1, 3, 6]), 'MASK_MISMATCH', 'masks["conv1.weight"].shape'],
    ['NaN weight', (m) => m.tensors['fc1.weight'].data.set([0, 0, 0xc0, 0x7f], 8), 'NON_FINITE', 'tensors["fc1.weight"].data'],
    ['infinite weight', (m) => m.tensors['fc1.weight'].data.set([0, 0, 0x80, 0x7f], 0), 'NON_FINITE', 'tensors["fc1.weight"].data'],
    ['missing weight tensor', (m) => delete m.tensors['fc1.weight'], 'MISSING', 'tensors["fc1.weight"]'],
    ['tensor for an unknown node', (m) => (m.tensors['ghost.weight'] = m.tensors['fc1.weight']), 'BAD_VALUE', 'tensors["ghost.weight"]'],
    ['tensor for an unknown param', (m) => (m.tensors['lif1.colour'] = m.tensors['fc1.weight']), 'BAD_VALUE', 'tensors["lif1.colour"]'],
    ['unknown node param', (m) => (m.graph.nodes[2].params.treshold = 1), 'BAD_VALUE', 'graph.nodes[2](lif1).params.treshold'],
    ['bad stride', (m) => (m.graph.nodes[1].params.stride = [0, 2]), 'BAD_GRAPH', 'graph.nodes[1](conv1).params.stride'],
    ['stride of the wrong type', (m) => (m.graph.nodes[1].params.stride = 'two'), 'BAD_TYPE', 'graph.nodes[1](conv1).params.stride'],
    ['unknown op', (m) => (m.graph.nodes[2].op = 'Dropout'), 'BAD_VALUE', 'graph.nodes[2](lif1).op'],
    ['mask shape', (m) => (m.masks['conv1.weight'].shape = [3, 2, 3, 2]), 'MASK_MISMATCH', 'masks["conv1.weight"].shape'],
    ['mask bits length', (m) => (m.masks['conv1.weight'].bits = m.masks['conv1.weight'].bits.subarray(1)), 'MASK_MISMATCH', 'masks["conv1.weight"].bits'],
    ['mask density', (m) => (m.masks['conv1.weight'].density = 0.9), 'MASK_MISMATCH', 'masks["conv1.weight"].density'],
    ['mask padding bits', (m) => { const b = m.masks['fc1.weight'].bits; b[b.length - 1] |= 0x80; }, 'MASK_MISMATCH', 'masks["fc1.weight"].bits'],
    ['mask for a pool-less unknown node', (m) => (m.masks['nope.weight'] = m.masks['fc1.weight']), 'BAD_VALUE', 'masks["nope.weight"]'],
    ['edge to an unknown node', (m) => m.graph.edges.push(['lif1', 'ghost']), 'BAD_GRAPH', /graph\.edges\[\d+\]/],
    ['cycle', (m) => m.graph.edges.push(['lif1', 'conv1']), 'BAD_GRAPH', 'graph.edges'],
    ['missing graph', (m) => delete m.graph, 'MISSING', 'graph'],
    ['training without method', (m) => (m.training = { epochs: 3 }), 'MISSING', 'training.method'],
  ];
  it.each(cases)('%s', (_name, edit, code, path) => {
    const e = rejection(tamper(model, edit));
    expect(e.code).toBe(code);
    if (typeof path === 'string') expect(e.path).toBe(path);
    else expect(e.path).toMatch(path);
    expect(e.message).toContain(e.path);
  });

  it('rejects garbage, truncation and trailing bytes as msgpack faults', () => {
    const good = encodeModel(model);
    expect(rejection(good.subarray(0, good.length - 3)).code).toBe('BAD_MSGPACK');
    expect(rejection(Buffer.concat([good, Buffer.from([0])])).code).toBe('BAD_MSGPACK');
    expect(rejection(Uint8Array.from([0xc1]))).toBeInstanceOf(ModelError);
    expect(rejection(packr.pack([1, 2, 3])).code).toBe('BAD_TYPE');
  });

  it('rejects msgpackr typed-array extensions where msgpack bin is required', () => {
    const extPackr = new Packr({ useRecords: false, moreTypes: true });
    const m = modelToPlain(model) as Record<string, Loose>;
    m.tensors['fc1.weight'].data = new Float32Array(m.tensors['fc1.weight'].data.length / 4);
    const e = rejection(extPackr.pack(m));
    expect([e.code, e.path]).toEqual(['BAD_TYPE', 'tensors["fc1.weight"].data']);
    expect(e.message).toMatch(/bin/);
  });

  it('checks declared sizes before allocating', () => {
    // 2^40 elements declared with 8 bytes of data: rejected on the declared count.
    const e = rejection(tamper(model, (m) => (m.tensors['fc1.weight'] = { dtype: 'f32', shape: [1 << 20, 1 << 20], data: new Uint8Array(8) })));
    expect([e.code, e.path]).toEqual(['TOO_LARGE', 'tensors["fc1.weight"].shape']);
    const big = rejection(tamper(model, (m) => (m.labels = new Array(200_000).fill('x'))));
    expect([big.code, big.path]).toEqual(['TOO_LARGE', 'labels']);
    expect(() => decodeModel(encodeModel(model), { maxFileBytes: 100 })).toThrowError(/limit/);
    const huge = rejection(tamper(model, (m) => (m.graph.nodes[0].params.shape = [2, 1 << 20, 1 << 20])));
    expect(huge.code).toBe('TOO_LARGE');
  });

  it('rejects __proto__ and friends as keys anywhere without touching prototypes', () => {
    const hostile = (where: (m: Record<string, Loose>, evil: Map<string, unknown>) => void) => tamper(model, (m) => where(m, new Map<string, unknown>([['__proto__', new Map([['polluted', true]])]])));
    const top = modelToPlain(model) as Record<string, unknown>;
    const asMap = new Map<string, unknown>(Object.entries(top));
    asMap.set('__proto__', new Map([['polluted', true]]));
    const files = [
      packr.pack(asMap),
      hostile((m, evil) => (m.training = new Map([['method', 'x'], ...evil]))),
      hostile((m, evil) => (m.meta = new Map([['a', evil]]))),
      hostile((m, evil) => (m.graph.nodes[2].params = new Map([...Object.entries(m.graph.nodes[2].params), ...evil]))),
      hostile((m, evil) => (m.tensors = new Map([...Object.entries(m.tensors), ...evil]))),
      tamper(model, (m) => (m.meta = new Map([['constructor', new Map([['prototype', 1]])]]))),
    ];
    for (const f of files) {
      const e = rejection(f);
      expect(e.code).toBe('FORBIDDEN_KEY');
      expect(e.path).toMatch(/\["(__proto__|constructor)"\]$/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('rejects a node id that would collide with object internals', () => {
    const e = rejection(tamper(model, (m) => {
      m.graph.nodes[2].id = 'constructor';
      m.graph.edges = m.graph.edges.map((ed: string[]) => ed.map((x) => (x === 'lif1' ? 'constructor' : x)));
      for (const k of Object.keys(m.tensors)) if (k.startsWith('lif1.')) { m.tensors[`constructor.${k.slice(5)}`] = m.tensors[k]; delete m.tensors[k]; }
    }));
    expect(e.code).toBe('BAD_GRAPH');
    expect(e.message).toMatch(/reserved/);
  });
});
