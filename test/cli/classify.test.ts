import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runRecording } from '../../src/cli/run.js';
import { batchFrom } from '../../src/events/batch.js';
import { encodeNmnist } from '../../src/events/nmnist.js';
import { writeModelFile } from '../../src/model/model-file.js';
import { randomModel } from '../../src/model/random-model.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'spikestream-classify-'));

describe('spikestream classify', () => {
  const model = randomModel({
    seed: 5, density: 0.3, input: [2, 16, 16], gain: 4, labels: ['a', 'b', 'c'],
    layers: [{ op: 'Conv2d', out: 4, kernel: 3, stride: 2 }, { op: 'IF', spike: 'multi', reset: 'subtract' }, { op: 'Flatten' }, { op: 'Linear', out: 3 }, { op: 'IF' }],
    binning: { mode: 'time_window', windowUs: 1000 },
  });
  const modelPath = join(dir, 'm.msgpack');
  const recs = [0, 1].map((k) => {
    const n = 800;
    const b = batchFrom({
      t: Array.from({ length: n }, (_, i) => i * 40),
      x: Array.from({ length: n }, (_, i) => (i * (3 + k)) % 16),
      y: Array.from({ length: n }, (_, i) => (i * (5 + 2 * k)) % 16),
      p: Array.from({ length: n }, (_, i) => (i + k) % 2),
    });
    const path = join(dir, `r${k}.bin`);
    writeFileSync(path, encodeNmnist(b));
    return path;
  });

  it('prints one JSON object per recording, agreeing with run and with softmax summing to 1', async () => {
    await writeModelFile(modelPath, model);
    const r = await runCli('classify', ...recs, '--model', modelPath, '--json');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    for (let k = 0; k < 2; k++) {
      const ref = (await runRecording(modelPath, recs[k])).result;
      expect(lines[k]).toMatchObject({ file: recs[k], label: ref.label, index: ref.index, scores: ref.scores, labels: ['a', 'b', 'c'], timesteps: ref.timesteps });
      expect(lines[k].softmax.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 9);
      expect(lines[k].softmax.indexOf(Math.max(...lines[k].softmax))).toBe(ref.index);
    }
  });

  it('prints a readable line per recording without --json', async () => {
    await writeModelFile(modelPath, model);
    const r = await runCli('classify', recs[0], '--model', modelPath);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/r0\.bin: [abc] \([abc]: \d+\.\d%/);
  });

  it('names a missing model in one line and exits non-zero', async () => {
    const r = await runCli('classify', recs[0], '--model', join(dir, 'nope.msgpack'));
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/nope\.msgpack/);
  });
});
