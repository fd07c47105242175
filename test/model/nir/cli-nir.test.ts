/**
 * `spikestream nir import|export`, and the acceptance path: cnn_sinabs.nir imported --as sinabs
 * and --as nir runs with `spikestream run MODEL sample_nmnist.bin --time-window-us 1000 --json`
 * through both engines with identical spikes, reported per NIR node id.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBinningSpec } from '../../../src/cli/nir.js';
import { readModelFile, writeModelFile } from '../../../src/model/model-file.js';
import { randomModel } from '../../../src/model/random-model.js';
import { describeWithFixtures, sharedFixture } from '../../helpers/fixtures.js';
import { tmpPath } from './nir-builder.js';
import { runCli } from '../../helpers/cli.js';

const run = runCli;


describe('spikestream nir', () => {
  it('export then import of a masked model: same graph, labels and binning, with --json summaries', async () => {
    const m = tmpPath('cli.msgpack');
    await writeModelFile(m, randomModel({ seed: 8, density: 0.2 }));
    const nir = tmpPath('cli.nir');
    const ex = await run('nir', 'export', m, nir, '--json');
    expect(ex.code).toBe(0);
    expect(JSON.parse(ex.out)).toMatchObject({ out: nir, maskedNodes: 3 });
    const back = tmpPath('back.msgpack');
    const im = await run('nir', 'import', nir, back, '--json');
    expect(im.code).toBe(0);
    expect(JSON.parse(im.out).preset).toBe('spikestream');
    const [a, b] = [await readModelFile(m), await readModelFile(back)];
    expect(b.graph.nodes.map((n) => n.id)).toEqual(a.graph.nodes.map((n) => n.id));
    expect([b.labels, b.input]).toEqual([a.labels, a.input]);
  });

  it('options: --labels (list and @file), --binning, --name; bad values give one line and exit code 1', async () => {
    const m = tmpPath('opts.msgpack');
    await writeModelFile(m, randomModel({ seed: 9 }));
    const nir = tmpPath('opts.nir');
    expect((await run('nir', 'export', m, nir)).code).toBe(0);
    const labelsFile = tmpPath('labels.txt');
    writeFileSync(labelsFile, 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n');
    const out = tmpPath('opts-out.msgpack');
    const r = await run('nir', 'import', nir, out, '--as', 'nir', '--dt', '0.001', '--labels', `@${labelsFile}`, '--binning', 'event_count:1000:100', '--name', 'renamed');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--as nir/);
    const model = await readModelFile(out);
    expect([model.name, model.labels[9], model.input.binning]).toEqual(['renamed', 'j', { mode: 'event_count', count: 1000, overlap: 100 }]);
    expect(model.training).toMatchObject({ method: 'nir-import', preset: 'nir', dt: 0.001 });
    const wrong = await run('nir', 'import', nir, tmpPath('x.msgpack'), '--labels', 'a,b');
    expect(wrong.code).toBe(1);
    expect(wrong.err.trim().split('\n')).toHaveLength(1);
    expect(wrong.err).toMatch(/--labels: 2 labels given, the Output node has 10 values/);
    const preset = await run('nir', 'import', nir, tmpPath('y.msgpack'), '--as', 'lava');
    expect(preset.code).not.toBe(0);
    expect(preset.err).toMatch(/expected one of nir, sinabs, snntorch, norse/);
    const missing = await run('nir', 'import', `${nir}.nope`, tmpPath('z.msgpack'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/ENOENT/);
    const notModel = await run('nir', 'export', nir, tmpPath('w.nir'));
    expect(notModel.code).toBe(1);
    expect(notModel.err.trim().split('\n')).toHaveLength(1);
  });

  it('binning specs', () => {
    expect(parseBinningSpec('time_window:1000')).toEqual({ mode: 'time_window', windowUs: 1000 });
    expect(parseBinningSpec('time_window:1000:500')).toEqual({ mode: 'time_window', windowUs: 1000, strideUs: 500 });
    expect(parseBinningSpec('n_time_bins:10')).toEqual({ mode: 'n_time_bins', bins: 10 });
    expect(parseBinningSpec('{"mode":"event_count","count":50}')).toEqual({ mode: 'event_count', count: 50 });
    for (const bad of ['time_window', 'time_window:-1', 'event_count:10:10', 'frames:3', 'n_event_bins:2:3', '{oops']) expect(() => parseBinningSpec(bad)).toThrow(/e\.g\. time_window:1000/);
  });
});

describeWithFixtures('spikestream nir import + run on the fixtures', ['nir/cnn_sinabs.nir', 'nir/braille_noDelay_bias_zero.nir', 'events/tonic/sample_nmnist.bin'], () => {
  it('cnn_sinabs.nir --as sinabs and --as nir: run --time-window-us 1000 --json gives identical spikes through both engines, per NIR node', async () => {
    const sample = sharedFixture('events/tonic/sample_nmnist.bin');
    for (const as of ['sinabs', 'nir']) {
      const model = tmpPath(`cnn-${as}.msgpack`);
      const im = await run('nir', 'import', sharedFixture('nir/cnn_sinabs.nir'), model, '--as', as);
      expect(im.code).toBe(0);
      expect(existsSync(model)).toBe(true);
      const results = [];
      for (const engine of ['dense', 'sparse']) {
        const r = await run('run', model, sample, '--time-window-us', '1000', '--json', '--engine', engine);
        expect(r.code, r.err).toBe(0);
        results.push(JSON.parse(r.out) as { spikesPerNode: Record<string, number>; outputCounts: number[]; index: number });
      }
      expect(results[1].spikesPerNode).toEqual(results[0].spikesPerNode);
      expect(results[1].outputCounts).toEqual(results[0].outputCounts);
      expect(Object.keys(results[0].spikesPerNode).sort()).toEqual(['1', '10', '12', '3', '6', 'input']);
      expect(results[0].outputCounts).toHaveLength(10);
      if (as === 'sinabs') expect(results[0].outputCounts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }
  });

  it('braille fails with one line naming the recurrent node, and writes nothing', async () => {
    const out = tmpPath('braille.msgpack');
    const r = await run('nir', 'import', sharedFixture('nir/braille_noDelay_bias_zero.nir'), out);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/braille_noDelay_bias_zero\.nir: NIR node "lif1\.w_rec".*recurrent/);
    expect(existsSync(out)).toBe(false);
  });
});
