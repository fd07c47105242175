/**
 * Model files read by msgpack implementations that are not msgpackr: @msgpack/msgpack (always) and
 * Python's msgpack (Debian python3-msgpack; skipped with a message where it is missing, required in
 * CI). Binary fields must come back as plain bytes, never as extension types.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, ExtData } from '@msgpack/msgpack';
import { afterAll, describe, expect, it } from 'vitest';
import { writeModelFile } from '../../src/model/model-file.js';
import { encodeModel } from '../../src/model/model-codec.js';
import type { Model } from '../../src/model/model.js';
import { randomModel } from '../../src/model/random-model.js';
import type { GraphNode } from '../../src/snn/graph.js';
import { findPython, runPython } from '../helpers/python.js';

function model(): Model {
  const m = randomModel({ seed: 11, density: 0.1, input: [2, 10, 10], layers: [{ op: 'Conv2d', out: 4, kernel: 3, stride: 2 }, { op: 'LIF', tau: 5, beta: 0.75 }, { op: 'Flatten' }, { op: 'Linear', out: 3 }, { op: 'IF' }], labels: ['a', 'b', 'c'] });
  // A per-neuron parameter array, stored as its own tensor.
  const lif = m.graph.nodes.find((n) => n.id === 'lif1') as Extract<GraphNode, { op: 'LIF' }>;
  const thr = { shape: [4, 4, 4], data: Float32Array.from({ length: 64 }, (_, i) => 0.5 + i / 64) };
  return { ...m, graph: { ...m.graph, nodes: m.graph.nodes.map((n) => (n === lif ? { ...lif, params: { ...lif.params, v_threshold: thr } } : n)) } };
}

const weightOf = (m: Model, id: string) => (m.graph.nodes.find((n) => n.id === id) as Extract<GraphNode, { op: 'Conv2d' }>).params.weight;
const maskOf = (m: Model, id: string) => (m.graph.nodes.find((n) => n.id === id) as Extract<GraphNode, { op: 'Conv2d' }>).mask as Uint8Array;

describe('@msgpack/msgpack reads model files', () => {
  it('decodes the documented map with bin payloads', () => {
    const m = model();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const doc = decode(encodeModel(m)) as Record<string, any>;
    expect(Object.keys(doc)).toEqual(['format', 'version', 'name', 'labels', 'input', 'graph', 'tensors', 'masks', 'training', 'created']);
    expect(doc.format).toBe('spikestream.model');
    expect(doc.version).toBe(1);
    expect(doc.labels).toEqual(['a', 'b', 'c']);
    expect(doc.input).toEqual({ width: 10, height: 10, channels: 2, binning: { mode: 'time_window', windowUs: 1000 } });
    expect(doc.graph.nodes.map((n: { id: string; op: string }) => `${n.id}:${n.op}`)).toEqual(['input:Input', 'conv1:Conv2d', 'lif1:LIF', 'flatten1:Flatten', 'fc1:Linear', 'if1:IF', 'output:Output']);
    expect(doc.graph.nodes[1].params).toEqual({ stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1 });
    expect(doc.graph.nodes[2].params).toMatchObject({ tau: 5, beta: 0.75, r: 1, v_leak: 0, dt: 1, spike: 'single', reset: 'zero', v_reset: 0 });
    expect(Object.keys(doc.tensors).sort()).toEqual(['conv1.weight', 'fc1.weight', 'lif1.v_threshold']);
    for (const t of Object.values(doc.tensors) as { dtype: string; shape: number[]; data: unknown }[]) {
      expect(t.dtype).toBe('f32');
      expect(t.data).toBeInstanceOf(Uint8Array);
      expect(t.data).not.toBeInstanceOf(ExtData);
    }
    const w = doc.tensors['conv1.weight'];
    const dv = new DataView(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    const ref = weightOf(m, 'conv1');
    expect(w.shape).toEqual([4, 2, 3, 3]);
    expect(Array.from({ length: ref.data.length }, (_, i) => dv.getFloat32(i * 4, true))).toEqual(Array.from(ref.data));
    const mask = doc.masks['conv1.weight'];
    expect(mask.bits).toBeInstanceOf(Uint8Array);
    const bits = Array.from({ length: 72 }, (_, i) => (mask.bits[i >> 3] >> (i & 7)) & 1);
    expect(bits).toEqual(Array.from(maskOf(m, 'conv1')));
    expect(mask.density).toBeCloseTo(7 / 72, 12);
  });
});

const py = findPython(['msgpack']);
const inCI = process.env.CI === 'true' || process.env.CI === '1';
if (!py && !inCI) console.warn('[skip] Python msgpack reader: no python3 with the msgpack module (Debian: apt-get install python3-msgpack)');

describe.skipIf(!py && !inCI)('Python msgpack reads model files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spikestream-model-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes tensors as bytes (float32 little-endian) and masks as LSB-first bits', async () => {
    if (!py) throw new Error('CI requires python3 with msgpack (python3-msgpack)');
    const m = model();
    const file = join(dir, 'm.msgpack');
    await writeModelFile(file, m);
    const script = `
import json, struct, sys, msgpack
with open(sys.argv[1], 'rb') as f:
    doc = msgpack.unpackb(f.read(), raw=False)
out = {'keys': list(doc.keys()), 'format': doc['format'], 'version': doc['version'], 'labels': doc['labels'],
       'nodes': [n['id'] + ':' + n['op'] for n in doc['graph']['nodes']], 'edges': doc['graph']['edges'], 'tensors': {}, 'masks': {}}
for k, t in doc['tensors'].items():
    assert type(t['data']) is bytes, (k, type(t['data']))
    n = len(t['data']) // 4
    out['tensors'][k] = {'dtype': t['dtype'], 'shape': t['shape'], 'values': list(struct.unpack('<%df' % n, t['data']))}
for k, m in doc['masks'].items():
    assert type(m['bits']) is bytes, (k, type(m['bits']))
    bits = [(m['bits'][i >> 3] >> (i & 7)) & 1 for i in range(len(m['bits']) * 8)]
    out['masks'][k] = {'shape': m['shape'], 'density': m['density'], 'bits': bits}
print(json.dumps(out))
`;
    const got = JSON.parse(runPython(py, script, [file]));
    expect(got.keys).toEqual(['format', 'version', 'name', 'labels', 'input', 'graph', 'tensors', 'masks', 'training', 'created']);
    expect([got.format, got.version, got.labels]).toEqual(['spikestream.model', 1, ['a', 'b', 'c']]);
    expect(got.edges).toEqual(m.graph.edges.map((e) => [...e]));
    const w = weightOf(m, 'conv1');
    expect(got.tensors['conv1.weight'].shape).toEqual([...w.shape]);
    expect(got.tensors['conv1.weight'].values).toEqual(Array.from(w.data));
    expect(got.tensors['lif1.v_threshold'].values.length).toBe(64);
    const mask = Array.from(maskOf(m, 'conv1'));
    expect(got.masks['conv1.weight'].bits.slice(0, mask.length)).toEqual(mask);
    expect(got.masks['conv1.weight'].bits.slice(mask.length).every((b: number) => b === 0)).toBe(true);
  });
});
