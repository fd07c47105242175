/**
 * An independent reader: h5py + numpy (Debian's python3-h5py, python3-numpy) check that exported
 * files are what Python's `nir` package expects. Python's nir itself is not installable here, so the
 * script re-implements what nir.read relies on (nir/serialization.py, nir/ir/*.py, nir 1.0):
 * string encoding and dtypes as h5py writes them, each node's required datasets and no fields its
 * dataclass would reject (metadata aside), neuron parameters of one shape, and NIRGraph's type
 * check (every edge's source output type equals its target input type). The script is calibrated on
 * the fixture files other frameworks wrote. Skips without h5py, fails in CI.
 */
import { describe, expect, it } from 'vitest';
import { randomModel } from '../../../src/model/random-model.js';
import { exportNirModel, importNirModel } from '../../../src/model/nir/nir-model.js';
import { writeNirFile } from '../../../src/model/nir/write-nir.js';
import { randomGraph, sequentialGraph } from '../../../src/snn/random-graph.js';
import { Rng } from '../../../src/snn/rng.js';
import { sharedFixture } from '../../helpers/fixtures.js';
import { existsSync } from 'node:fs';
import { findPython, runPython } from '../../helpers/python.js';
import { f64, i64, nirTree, smallGraph, tmpPath, writeTree } from './nir-builder.js';

const CHECK = String.raw`
import sys, json
import h5py, numpy as np

FIELDS = {
  'Input': (['shape'], []), 'Output': (['shape'], []),
  'Affine': (['weight', 'bias'], []), 'Linear': (['weight'], []),
  'Conv2d': (['weight', 'stride', 'padding', 'dilation', 'groups', 'bias'], ['input_shape']),
  'SumPool2d': (['kernel_size', 'stride', 'padding'], []), 'AvgPool2d': (['kernel_size', 'stride', 'padding'], []),
  'Flatten': (['start_dim', 'end_dim'], ['input_type']),
  'Scale': (['scale'], []), 'Threshold': (['threshold'], []),
  'IF': (['r', 'v_threshold'], ['v_reset']), 'LIF': (['tau', 'r', 'v_leak', 'v_threshold'], ['v_reset']),
  'LI': (['tau', 'r', 'v_leak'], []),
}
FLOATS = {'weight', 'bias', 'scale', 'threshold', 'r', 'v_threshold', 'v_reset', 'tau', 'v_leak'}
NEURON = {'IF', 'LIF', 'LI', 'Scale', 'Threshold'}

def is_utf8_vlen(ds):
    info = h5py.check_string_dtype(ds.dtype)
    return info is not None and info.encoding == 'utf-8' and info.length is None

def conv_out(size, pad, dil, k, stride):
    return [int(np.floor((size[i] + 2 * pad[i] - dil[i] * (k[i] - 1) - 1) / stride[i] + 1)) for i in range(2)]

def flatten_out(shape, s, e):
    # nir.ir.utils.calc_flatten_output
    start = list(shape[:s]) if s != 0 else []
    mid = int(np.prod(shape[s:e + 1])) if e != -1 else int(np.prod(shape[s:]))
    end = list(shape[e + 1:]) if e != -1 and e != len(shape) - 1 else []
    return start + [mid] + end

def check(path):
    problems = []
    f = h5py.File(path, 'r')
    if not is_utf8_vlen(f['version']): problems.append('version is not a vlen UTF-8 string')
    g = f['node']
    if g['type'][()] != b'NIRGraph': problems.append('root type is not NIRGraph')
    edges = g['edges']
    if not is_utf8_vlen(edges) or edges.shape[1:] != (2,): problems.append('edges are not [n, 2] vlen UTF-8 strings')
    edges = [(a.decode(), b.decode()) for a, b in edges[()]]
    types = {}
    for name, node in g['nodes'].items():
        t = node['type'][()].decode()
        if not is_utf8_vlen(node['type']): problems.append(f'{name}: type is not a vlen UTF-8 string')
        if t not in FIELDS:
            problems.append(f'{name}: unexpected type {t}'); continue
        req, opt = FIELDS[t]
        for k in req:
            if k not in node: problems.append(f'{name}: missing {k}')
        for k in node.keys():
            if k not in req and k not in opt and k not in ('type', 'metadata'): problems.append(f'{name}: field {k} would be rejected by nir.read')
        for k in node.keys():
            if k in ('type', 'metadata') or isinstance(node[k], h5py.Group): continue
            dt = node[k].dtype
            if k in FLOATS and dt != np.float32: problems.append(f'{name}.{k}: dtype {dt}, expected float32')
            if k not in FLOATS and not (k == 'padding' and h5py.check_string_dtype(dt)) and dt != np.int64: problems.append(f'{name}.{k}: dtype {dt}, expected int64')
        if 'metadata' in node:
            for k, v in node['metadata'].items():
                if not isinstance(v, h5py.Dataset): problems.append(f'{name}.metadata.{k} is not a dataset')
        v = lambda k: node[k][()]
        if t in NEURON:
            shapes = {node[k].shape for k in node.keys() if k in FLOATS}
            if len(shapes) != 1: problems.append(f'{name}: parameters of different shapes {shapes}')
            shp = list(next(iter(shapes)))
            types[name] = (shp, shp)
        elif t in ('Input', 'Output'):
            types[name] = (list(v('shape')), list(v('shape')))
        elif t in ('Affine', 'Linear'):
            w = v('weight'); types[name] = ([w.shape[1]], [w.shape[0]])
            if 'metadata' in node and 'spikestream.mask' in node['metadata']:
                mask = np.unpackbits(node['metadata']['spikestream.mask'][()], bitorder='little')[:w.size].reshape(w.shape)
                if np.any(w[mask == 0] != 0): problems.append(f'{name}: masked weights are not zero')
        elif t == 'Conv2d':
            w = v('weight')
            if 'input_shape' in node:
                ins = list(v('input_shape'))
                out = [w.shape[0]] + conv_out(ins, v('padding'), v('dilation'), w.shape[2:], v('stride'))
                types[name] = ([w.shape[1]] + ins, out)
            else:
                types[name] = (None, None)
            if 'metadata' in node and 'spikestream.mask' in node['metadata']:
                mask = np.unpackbits(node['metadata']['spikestream.mask'][()], bitorder='little')[:w.size].reshape(w.shape)
                if np.any(w[mask == 0] != 0): problems.append(f'{name}: masked weights are not zero')
        elif t == 'Flatten':
            it = list(v('input_type'))
            types[name] = (it, flatten_out(it, int(v('start_dim')), int(v('end_dim'))))
        else:
            types[name] = (None, None)
    # Pools (and convs without input_shape) have no declared types: infer them forward as nir does.
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            if types.get(b, (1, 1))[0] is None and types.get(a, (None, None))[1] is not None:
                node = g['nodes'][b]; src = types[a][1]
                if node['type'][()] == b'Conv2d':
                    w = node['weight'][()]
                    out = [w.shape[0]] + conv_out(src[1:], node['padding'][()], node['dilation'][()], w.shape[2:], node['stride'][()])
                else:
                    out = [src[0]] + conv_out(src[1:], node['padding'][()], [1, 1], node['kernel_size'][()], node['stride'][()])
                types[b] = (src, out); changed = True
    for a, b in edges:
        if a not in types or b not in types: problems.append(f'edge {a} -> {b} names a missing node'); continue
        if [int(x) for x in types[a][1]] != [int(x) for x in types[b][0]]:
            problems.append(f'type mismatch {a} {types[a][1]} -> {b} {types[b][0]}')
    return {'problems': problems, 'nodes': len(types)}

print(json.dumps({p: check(p) for p in sys.argv[1:]}))
`;

const py = findPython(['h5py', 'numpy']);
const inCI = process.env.CI === 'true' || process.env.CI === '1';

describe('exported NIR files read by h5py the way nir.read does', () => {
  if (!py) {
    if (inCI) it('has python3 with h5py and numpy', () => { throw new Error('CI needs python3-h5py and python3-numpy'); });
    else it.skip('needs python3 with h5py and numpy (Debian: python3-h5py)', () => undefined);
    return;
  }
  const python = py;
  const check = (paths: string[]) => JSON.parse(runPython(python, CHECK, paths)) as Record<string, { problems: string[]; nodes: number }>;

  it('the checker accepts the NIR files other frameworks wrote (calibration)', () => {
    const fixtures = ['nir/cnn_sinabs.nir', 'nir/lif_norse.nir'].map(sharedFixture).filter(existsSync);
    if (fixtures.length === 0) return;
    for (const [p, r] of Object.entries(check(fixtures))) expect(r.problems, p).toEqual([]);
  });

  it('the checker flags what nir.read would reject (float64 weights, unknown fields, type mismatches)', async () => {
    const g = smallGraph();
    g.nodes.fc.weight = f64([3, 4], new Array(12).fill(0.5));
    g.nodes.fc.extra = i64([], [1]);
    g.nodes.output.shape = i64([1], [5]);
    const p = await writeTree(nirTree(g.nodes, g.edges));
    const r = check([p])[p];
    expect(r.problems.some((x) => x.includes('fc.weight: dtype float64'))).toBe(true);
    expect(r.problems.some((x) => x.includes('field extra'))).toBe(true);
    expect(r.problems.some((x) => x.includes('type mismatch lif'))).toBe(true);
  });

  it('exported random graphs, a grouped conv and a masked model pass: layout, dtypes, fields, shapes, zeroed masked weights', async () => {
    const paths: string[] = [];
    for (let seed = 1; seed <= 8; seed++) {
      const p = tmpPath(`py-${seed}.nir`);
      await writeNirFile(p, randomGraph(new Rng(seed)));
      paths.push(p);
    }
    const grouped = tmpPath('py-grouped.nir');
    await writeNirFile(grouped, sequentialGraph({ input: [2, 6, 6], layers: [{ op: 'Conv2d', out: 4, kernel: 3, groups: 2 }, { op: 'IF' }, { op: 'Flatten' }, { op: 'Linear', out: 3 }, { op: 'IF' }], seed: 1 }));
    paths.push(grouped);
    const m = tmpPath('py-model.nir');
    await exportNirModel(randomModel({ seed: 2, density: 0.05 }), m);
    paths.push(m);
    for (const [p, r] of Object.entries(check(paths))) {
      expect(r.problems, p).toEqual([]);
      expect(r.nodes).toBeGreaterThan(3);
    }
  });

  it('a fixture imported and exported again passes too', async () => {
    const src = sharedFixture('nir/cnn_sinabs.nir');
    if (!existsSync(src)) return;
    const { model } = await importNirModel(src, { as: 'sinabs' });
    const p = tmpPath('py-cnn.nir');
    await exportNirModel(model, p);
    const r = check([p])[p];
    expect(r.problems).toEqual([]);
    expect(r.nodes).toBe(15);
  });
});
