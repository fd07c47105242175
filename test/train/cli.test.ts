/**
 * `spikestream train` and `eval` end to end on a small synthetic N-MNIST folder: the model file
 * and its training record, eval's report agreeing with training's own test accuracy, a run killed
 * with SIGKILL resuming from its last checkpoint to the same weights as an uninterrupted run,
 * --threads 1 and 2 training the same model bit for bit, and one-line errors for bad invocations.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeNmnist } from '../../src/data/nmnist-synth.js';
import { readModelFile } from '../../src/model/model-file.js';
import { isWeighted } from '../../src/snn/graph.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
let data: string;

const run = runCli;

const TRAIN = ['--arch', 'nmnist-tiny', '--timesteps', '5', '--batch', '8', '--epochs', '2', '--gain', '1.5', '--lr', '0.01', '--seed', '4', '--update-every', '1'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'spikestream-train-cli-'));
  data = join(dir, 'data');
  await synthesizeNmnist({ outDir: data, count: 40, seed: 9, trainFraction: 0.6, includeRealDigits: false, balanced: true });
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});


function weightsOf(m: Awaited<ReturnType<typeof readModelFile>>): Float32Array[] {
  return m.graph.nodes.filter(isWeighted).map((n) => n.params.weight.data);
}

describe('spikestream train / eval', () => {
  it('trains an ESL model, records how, and eval reproduces its test accuracy in the sparse engine', async () => {
    const out = join(dir, 'esl.msgpack');
    const r = await run('train', '--data', data, '--density', '0.3', '--rule', 'momentum', '--val-fraction', '0.2', '--out', out, ...TRAIN);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^epoch 1\/2 step \d+ loss/m);
    expect(r.err).toMatch(/^epoch 2\/2 /m);
    const m = await readModelFile(out);
    expect(m.training).toMatchObject({ method: 'esl', epochs: 2, seed: 4, arch: 'nmnist-tiny', rules: { rule: 'momentum', allocation: 'er', targetDensity: 0.3 } });
    expect(m.training?.density).toBeCloseTo(0.3, 2);
    expect(m.input.binning).toEqual({ mode: 'n_time_bins', bins: 5 });
    const hist = m.training?.history as { epochs: unknown[]; esl: unknown[] };
    expect(hist.epochs).toHaveLength(2);
    expect(hist.esl.length).toBeGreaterThan(0);
    expect(existsSync(`${out}.ckpt`)).toBe(false);

    const e = await run('eval', '--model', out, '--data', data, '--json', '--compare-tfjs');
    expect(e.code).toBe(0);
    const j = JSON.parse(e.out);
    expect(j.samples).toBe(16);
    expect(j.engine).toBe('sparse');
    expect(Object.keys(j.perClass)).toHaveLength(10);
    expect(j.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(16);
    expect(j.density.overall).toBeCloseTo(0.3, 2);
    expect(j.synopsPerSample.mean).toBeGreaterThan(0);
    expect(j.synopsPerSample.mean).toBeLessThan(j.denseMacsPerSample);
    expect(j.latencyMs.mean).toBeGreaterThan(0);
    // The engine's accuracy is what training measured with tfjs, barring counted ties.
    expect(j.tfjs.untied).toBe(0);
    if (j.tfjs.tied === 0) expect(j.accuracy).toBe((m.training?.metrics as { testAccuracy: number }).testAccuracy);

    const h = await run('eval', '--model', out, '--heldout');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/held-out 20\.00%/);
    expect(h.out).toMatch(/^accuracy \d+\.\d\d%$/m);
    expect(h.out).toMatch(/confusion \(rows: true/);
    // The same part, named explicitly: train's --val-fraction 0.2 with its --seed 4 as split seed.
    const x = await run('eval', '--model', out, '--data', data, '--holdout', '0.2', '--split-seed', '4');
    expect(x.out.replace(/^model .*\n/, '').replace(/^latency.*$/m, '')).toBe(h.out.replace(/^model .*\n/, '').replace(/^latency.*$/m, ''));
  }, 120_000);

  it('a run killed with SIGKILL resumes from its last checkpoint to the same weights as an uninterrupted run', async () => {
    const full = join(dir, 'full.msgpack');
    const args = ['--data', data, '--density', '0.3', '--rule', 'random', '--val-fraction', '0', '--no-test', ...TRAIN, '--epochs', '3'];
    expect((await run('train', ...args, '--out', full)).code).toBe(0);

    const killed = join(dir, 'killed.msgpack');
    const ckpt = join(dir, 'killed.ckpt');
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test/train/run-cli.ts'), 'train', ...args, '--out', killed, '--checkpoint', ckpt, '--checkpoint-every', '1'], { cwd: PROJECT_ROOT, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Kill it once a few checkpoints have been written (each rewrite changes the mtime).
    const mtimes = new Set<number>();
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (existsSync(ckpt)) mtimes.add(statSync(ckpt).mtimeMs);
        if (mtimes.size >= 2) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(timer);
        if (mtimes.size < 2) reject(new Error('the run finished before it could be killed'));
      });
    });
    await exited;
    expect(existsSync(killed)).toBe(false);
    const r = await run('train', '--resume', ckpt);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/resuming .* at step [1-9]/);
    const a = weightsOf(await readModelFile(full));
    const b = weightsOf(await readModelFile(killed));
    expect(b).toEqual(a);
  }, 120_000);

  it('--threads 1 and --threads 2 train the same model bit for bit, and the run records the thread count', async () => {
    // Batch 32 over the 24 training samples: two chunks (16 + 8), so with 2 threads a gradient
    // worker computes one of them.
    const args = ['--data', data, '--density', '0.3', '--rule', 'gradient', '--val-fraction', '0', '--no-test', ...TRAIN, '--batch', '32', '--name', 'threads', '--keep-checkpoint'];
    const models = [];
    for (const threads of ['1', '2']) {
      const out = join(dir, `threads-${threads}.msgpack`);
      const r = await run('train', ...args, '--threads', threads, '--out', out);
      expect(r.code, r.err).toBe(0);
      expect((await readCheckpoint(`${out}.ckpt`)).run).toMatchObject({ threads: Number(threads) });
      models.push(await readModelFile(out));
    }
    const [a, b] = models;
    const bytes = (m: typeof a) => weightsOf(m).map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex'));
    expect(bytes(b)).toEqual(bytes(a));
    // Everything but the creation time and the training record (timing, command line): graph
    // (weights, masks, biases), labels, input.
    expect({ ...b, created: undefined, training: undefined }).toEqual({ ...a, created: undefined, training: undefined });
    const losses = (m: typeof a) => (m.training?.history as { epochs: { loss: number }[] }).epochs.map((e) => e.loss);
    expect(losses(b)).toEqual(losses(a));
    expect(losses(a)).toHaveLength(2);
  }, 120_000);

  it('bad invocations fail with one clear line', async () => {
    const noData = await run('train', '--out', join(dir, 'x.msgpack'));
    expect(noData.code).not.toBe(0);
    expect(noData.err).toMatch(/--data DIR\|synthetic is required/);
    const prune = await run('train', '--data', data, '--method', 'prune', '--density', '0.1', '--out', join(dir, 'x.msgpack'));
    expect(prune.err).toMatch(/prune.*--init/);
    const dense = await run('train', '--data', data, '--method', 'esl', '--out', join(dir, 'x.msgpack'));
    expect(dense.err).toMatch(/needs --density below 1/);
    const noTest = await run('eval', '--model', join(dir, 'esl.msgpack'), '--data', join(data, 'Train'));
    expect(noTest.err).toMatch(/no Test\/ folder/);
    const resumeThreads = await run('train', '--resume', join(dir, 'x.ckpt'), '--threads', '2');
    expect(resumeThreads.err).toMatch(/--threads cannot be combined with --resume/);
    for (const r of [noData, prune, dense, noTest, resumeThreads]) expect(r.err.trim().split('\n')).toHaveLength(1);
    // Malformed option values: commander's error line first (then the command's usage).
    for (const bad of ['0', '1.5', 'two']) {
      const t = await run('train', '--data', data, '--threads', bad, '--out', join(dir, 'x.msgpack'));
      expect(t.code).not.toBe(0);
      expect(t.err.split('\n')[0]).toBe(`error: option '--threads <n>' argument '${bad}' is invalid. expected a positive integer, got "${bad}"`);
    }
  });
});
