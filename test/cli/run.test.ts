import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchFrom, concatBatches } from '../../src/events/batch.js';
import { encodeEvt3 } from '../../src/events/evt3.js';
import { NmnistDecoder } from '../../src/events/nmnist.js';
import { writeModelFile } from '../../src/model/model-file.js';
import { randomModel } from '../../src/model/random-model.js';
import { createEngine } from '../../src/snn/create-engine.js';
import { runEngine } from '../../src/snn/engine.js';
import { binEventsByCount } from '../../src/stream/bin-by-count.js';
import { binEventsByTime } from '../../src/stream/bin-by-time.js';
import { runCli } from '../helpers/cli.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'spikestream-run-'));

const cli = (...args: string[]) => runCli('run', ...args);


const JSON_KEYS = ['engine', 'timesteps', 'label', 'index', 'scores', 'outputCounts', 'spikesPerNode', 'synopsPerNode', 'denseMacs'];

describe('spikestream run on a recording it writes', () => {
  const model = randomModel({
    seed: 3, density: 0.3, input: [2, 16, 16], gain: 4, labels: ['a', 'b', 'c', 'd'],
    layers: [{ op: 'Conv2d', out: 4, kernel: 3, stride: 2 }, { op: 'IF', spike: 'multi', reset: 'subtract' }, { op: 'Flatten' }, { op: 'Linear', out: 4 }, { op: 'IF' }],
    binning: { mode: 'event_count', count: 50 },
  });
  const modelPath = join(dir, 'm.msgpack');
  // A 20x12 sensor: events beyond the model's 16x16 input are ignored and counted.
  const n = 1500;
  const events = batchFrom({
    t: Array.from({ length: n }, (_, i) => 1000 + i * 37),
    x: Array.from({ length: n }, (_, i) => (i * 7) % 20),
    y: Array.from({ length: n }, (_, i) => (i * 5) % 12),
    p: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1)),
  });
  const rec = join(dir, 'r.raw');
  writeFileSync(rec, encodeEvt3(events, { width: 20, height: 12 }));

  it('--json prints one object with the documented keys, equal to running the engine on the model binning', async () => {
    await writeModelFile(modelPath, model);
    const r = await cli(modelPath, rec, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(JSON_KEYS);
    const ts = binEventsByCount(events, { count: 50, width: 16, height: 16 }).timesteps;
    const want = runEngine(createEngine('sparse', model.graph, { labels: model.labels }), ts);
    expect(j).toEqual({
      engine: 'sparse', timesteps: want.timesteps, label: want.label, index: want.index, scores: want.scores, outputCounts: want.outputCounts,
      spikesPerNode: want.spikesPerNode, synopsPerNode: want.synopsPerNode, denseMacs: want.denseMacs,
    });
    expect(j.timesteps).toBe(30);
    expect(Object.keys(j.spikesPerNode)).toEqual(['input', 'if1', 'if2']);
    expect(Object.keys(j.synopsPerNode)).toEqual(['conv1', 'fc1']);
    expect(r.err).toMatch(/events outside the model's 16x16 input were ignored/);
  });

  it('gives the same result with the dense engine, and --time-window-us overrides the model binning', async () => {
    const sparse = JSON.parse((await cli(modelPath, rec, '--json')).out);
    const dense = JSON.parse((await cli(modelPath, rec, '--json', '--engine', 'dense')).out);
    expect({ ...dense, engine: 'sparse' }).toEqual(sparse);
    expect(dense.engine).toBe('dense');
    const windowed = JSON.parse((await cli(modelPath, rec, '--json', '--time-window-us', '2000')).out);
    const ts = binEventsByTime(events, { windowUs: 2000, width: 16, height: 16 }).timesteps;
    expect(windowed.timesteps).toBe(ts.length);
    expect(windowed.outputCounts).toEqual(runEngine(createEngine('sparse', model.graph), ts).outputCounts);
  });

  it('prints a readable report with per-node spikes and SynOps', async () => {
    const r = await cli(modelPath, rec);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^label {9}[abcd] \(index \d\)$/m);
    expect(r.out).toMatch(/^conv1 \(Conv2d\) +- +[\d,]+$/m);
    expect(r.out).toMatch(/^if1 \(IF\) +[\d,]+ +-$/m);
    expect(r.out).toMatch(/binning +event_count 50/);
  });

  it('fails with one line naming the fault', async () => {
    const bad = join(dir, 'bad.msgpack');
    const bytes = readFileSync(modelPath);
    writeFileSync(bad, bytes.subarray(0, bytes.length - 10));
    let r = await cli(bad, rec, '--json');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/model file: not a single well-formed msgpack value/);
    r = await cli(modelPath, join(dir, 'missing.raw'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ENOENT|no such file/);
    r = await cli(modelPath, rec, '--engine', 'quantum');
    expect(r.code).not.toBe(0);
  });
});

const NMNIST = 'events/tonic/sample_nmnist.bin';
describeWithFixtures('spikestream run on the real N-MNIST sample', [NMNIST], () => {
  it('bins 1 ms windows of the 34x34 recording and both engines agree', async () => {
    const model = randomModel({ seed: 9, density: 0.1, gain: [3, 0.6, 1.2], layers: [
      { op: 'Conv2d', out: 16, kernel: 5, stride: 2 }, { op: 'IF', spike: 'multi', reset: 'subtract', vMin: -1 },
      { op: 'Conv2d', out: 32, kernel: 3 }, { op: 'IF', spike: 'multi', reset: 'subtract', vMin: -1 },
      { op: 'SumPool2d', kernel: 2 }, { op: 'Flatten' }, { op: 'Linear', out: 10 }, { op: 'IF', spike: 'multi', reset: 'subtract' },
    ] });
    const path = join(dir, 'nmnist.msgpack');
    await writeModelFile(path, model);
    const file = sharedFixture(NMNIST);
    const sparse = JSON.parse((await cli(path, file, '--json', '--time-window-us', '1000')).out);
    const dense = JSON.parse((await cli(path, file, '--json', '--time-window-us', '1000', '--engine', 'dense')).out);
    expect({ ...dense, engine: 'sparse' }).toEqual(sparse);
    const dec = new NmnistDecoder();
    const ev = concatBatches([dec.write(new Uint8Array(readFileSync(file))), dec.end()]);
    const ts = binEventsByTime(ev, { windowUs: 1000, width: 34, height: 34 }).timesteps;
    expect(sparse.timesteps).toBe(ts.length);
    // tonic's time_window binning leaves out the last, incomplete window's events.
    expect(sparse.spikesPerNode.input).toBe(ts.reduce((a, t) => a + t.events.t.length, 0));
    expect(sparse.spikesPerNode.if1).toBeGreaterThan(0);
  });
});
