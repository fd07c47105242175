/**
 * The trainer on a small synthetic N-MNIST set (written by the project's own synthesiser): a
 * trained, exported model predicts in the sparse engine what the tfjs forward pass predicts;
 * memory stays flat; ESL keeps density and zeroes regrown weights and moments; a checkpointed
 * and resumed run ends bit-identical to an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNmnistDataset } from '../../src/data/nmnist-dataset.js';
import { synthesizeNmnist } from '../../src/data/nmnist-synth.js';
import { modelFromGraph } from '../../src/model/random-model.js';
import { SparseEngine } from '../../src/snn/sparse-engine.js';
import { DEFAULT_ADAM } from '../../src/train/adam.js';
import { buildArch } from '../../src/train/arch.js';
import { selectBackend } from '../../src/train/backend.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/train/checkpoint.js';
import { DEFAULT_ESL_SCHEDULE } from '../../src/train/esl.js';
import { batchInput, binDataset, binRecording, type FrameSet } from '../../src/train/frame-set.js';
import { toTrainer } from '../../src/train/layout.js';
import { surrogate } from '../../src/train/surrogate.js';
import { gradientWorkers, postChunks } from '../../src/train/gradient-pool.js';
import { EVAL_TIE_TOLERANCE, Trainer, type TrainConfig } from '../../src/train/trainer.js';

const BINNING = { mode: 'n_time_bins', bins: 6 } as const;
const T = 6;
let dir: string;
let train: FrameSet;
let test: FrameSet;
let testEvents: Awaited<ReturnType<Awaited<ReturnType<typeof openNmnistDataset>>['get']>>[];

beforeAll(async () => {
  await selectBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'spikestream-train-'));
  await synthesizeNmnist({ outDir: dir, count: 60, seed: 3, trainFraction: 0.6, includeRealDigits: false, balanced: true });
  const trainDs = await openNmnistDataset({ root: dir, split: 'train' });
  const testDs = await openNmnistDataset({ root: dir, split: 'test' });
  train = await binDataset(trainDs, { binning: BINNING, T, channels: 2, height: 34, width: 34 });
  test = await binDataset(testDs, { binning: BINNING, T, channels: 2, height: 34, width: 34 });
  testEvents = await Promise.all(Array.from({ length: testDs.length }, (_, i) => testDs.get(i)));
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function config(over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    method: 'esl', density: 0.3, allocation: 'er', rule: 'gradient', schedule: { ...DEFAULT_ESL_SCHEDULE, updateEvery: 2, stopFraction: 0.9 },
    keepFirstDense: false, keepLastDense: false, epochs: 2, batch: 12, seed: 5, adam: { ...DEFAULT_ADAM, lr: 0.01 }, loss: 'ce',
    surrogate: surrogate('atan'), detachReset: true, ...over,
  };
}

const graph = (output: 'membrane' | 'spikes' = 'membrane') => buildArch('nmnist-tiny', [2, 34, 34], { output, beta: 0.9, gain: 1.5, seed: 5 });

describe('shift augmentation', () => {
  it('changes the inputs a step sees, identically for any thread count', () => {
    const plain = new Trainer(graph(), config({ method: 'dense', density: 1, epochs: 1 }), train, null, { threads: 1 });
    const one = new Trainer(graph(), config({ method: 'dense', density: 1, epochs: 1, shift: 2 }), train, null, { threads: 1 });
    const two = new Trainer(graph(), config({ method: 'dense', density: 1, epochs: 1, shift: 2 }), train, null, { threads: 2 });
    const a = plain.trainStep().loss;
    expect(one.trainStep().loss).toBe(two.trainStep().loss);
    expect(one.state.weights).toEqual(two.state.weights);
    expect(one.state.weights).not.toEqual(plain.state.weights);
    expect(Number.isFinite(a)).toBe(true);
  });

  it('rejects a bad shift', () => {
    expect(() => new Trainer(graph(), config({ shift: -1 }), train, null)).toThrow(/shift must be an integer/);
  });
});

describe('trained model in the sparse engine', () => {
  it.each(['membrane', 'spikes'] as const)('predicts what the tfjs forward pass predicts on every test sample, barring counted ties (%s output)', async (output) => {
    const t = new Trainer(graph(output), config(), train, null);
    await t.run();
    const model = modelFromGraph(t.exportGraph(), { binning: BINNING });
    const ev = t.evaluate(test, { tieTolerance: EVAL_TIE_TOLERANCE });
    const engine = new SparseEngine(model.graph);
    let agree = 0;
    let tiedDisagreements = 0;
    let hiddenSpikes = 0;
    for (let i = 0; i < test.length; i++) {
      const steps = binRecording(testEvents[i].events, BINNING, 34, 34).slice(0, T);
      engine.reset();
      for (const s of steps) engine.step(s);
      const r = engine.result();
      hiddenSpikes += r.spikesPerNode.lif1;
      if (r.index === ev.predictions[i]) {
        agree++;
        // Same prediction; the scores agree to float32 rounding unless a spike tie flipped.
        if ((ev.nearTies as Int32Array)[i] === 0) {
          for (let k = 0; k < 10; k++) expect(r.scores[k]).toBeCloseTo(ev.scores[i * 10 + k], 3);
        }
      } else {
        // A disagreement is allowed only where a float tie was counted.
        expect((ev.nearTies as Int32Array)[i] + (ev.scoreTies as Uint8Array)[i]).toBeGreaterThan(0);
        tiedDisagreements++;
      }
    }
    expect(agree + tiedDisagreements).toBe(test.length);
    // Not a silent network agreeing on nothing: it spikes and predicts several classes.
    expect(hiddenSpikes).toBeGreaterThan(100 * test.length);
    expect(new Set(ev.predictions).size).toBeGreaterThan(2);
    expect(agree).toBeGreaterThanOrEqual(test.length - 2);
    expect(engine.lazyViolations).toBe(0);
  });
});

describe('Trainer', () => {
  it('keeps tfjs memory flat over steps and evaluations', () => {
    const t = new Trainer(graph(), config({ epochs: 1 }), train, test);
    t.trainStep();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      t.trainStep();
      expect(tf.memory().numTensors).toBe(before);
    }
    t.evaluate(test);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('ESL: density exact after every update; regrown weights and their Adam moments are zero', () => {
    const t = new Trainer(graph(), config({ schedule: { updateEvery: 1, stopFraction: 1, zeta0: 0.5 }, rule: 'momentum' }), train, null);
    const s = t.state;
    const counts = s.masks.map((m) => (m ? m.reduce((a, b) => a + b, 0) : 0));
    let updates = 0;
    for (let step = 0; step < 4; step++) {
      const before = s.masks.map((m) => (m ? Uint8Array.from(m) : null));
      const r = t.trainStep();
      if (!r.esl) continue;
      updates++;
      s.masks.forEach((m, i) => {
        if (!m) return;
        expect(m.reduce((a, b) => a + b, 0)).toBe(counts[i]);
        let regrown = 0;
        for (let j = 0; j < m.length; j++) {
          if (m[j] && !(before[i] as Uint8Array)[j]) {
            regrown++;
            expect(s.weights[i][j]).toBe(0);
            expect(s.adam[i].m[j]).toBe(0);
            expect(s.adam[i].v[j]).toBe(0);
          }
          if (!m[j]) expect(s.weights[i][j]).toBe(0);
        }
        // A layer the allocation made dense has nothing to regrow into.
        if (counts[i] < m.length) expect(regrown).toBeGreaterThan(0);
        else expect(regrown).toBe(0);
      });
    }
    expect(updates).toBeGreaterThan(0);
    expect(s.esl.length).toBe(updates);
    expect(t.exploredFraction()).toBeGreaterThan(0.3);
  });

  it('baselines: static keeps its masks, prune keeps the largest weights of the model it starts from', async () => {
    const st = new Trainer(graph(), config({ method: 'static', epochs: 1 }), train, null);
    const masks = st.state.masks.map((m) => (m ? Uint8Array.from(m) : null));
    await st.run();
    expect(st.state.masks).toEqual(masks);
    expect(st.state.esl.length).toBe(0);

    const dense = new Trainer(graph(), config({ method: 'dense', epochs: 1 }), train, null);
    await dense.run();
    expect(dense.state.masks.every((m) => m === null)).toBe(true);
    const pruned = new Trainer(dense.exportGraph(), config({ method: 'prune', density: 0.2, epochs: 1 }), train, null, { fromTrained: true });
    pruned.state.masks.forEach((m, i) => {
      if (!m) return;
      const w = dense.state.weights[i];
      const kept = Array.from(m.keys()).filter((j) => m[j]).map((j) => Math.abs(w[j]));
      const dropped = Array.from(m.keys()).filter((j) => !m[j]).map((j) => Math.abs(w[j]));
      expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...dropped));
    });
    expect(pruned.density().overall).toBeCloseTo(0.2, 2);
    expect(() => new Trainer(graph(), config({ method: 'prune' }), train, null)).toThrow(/--init/);
  });

  it('a checkpointed and resumed run ends bit-identical to an uninterrupted one', async () => {
    const full = new Trainer(graph(), config({ rule: 'random' }), train, test);
    await full.run();

    const first = new Trainer(graph(), config({ rule: 'random' }), train, test);
    let steps = 0;
    await first.run({ shouldStop: () => steps++ >= 3 });
    expect(first.state.step).toBe(3);
    const ck = decodeCheckpoint(encodeCheckpoint({ model: modelFromGraph(first.exportGraph(), { binning: BINNING }), run: { note: 'test' }, state: first.state }));
    expect(ck.run).toEqual({ note: 'test' });
    const resumed = new Trainer(ck.model.graph, config({ rule: 'random' }), train, test, { state: ck.state });
    await resumed.run();

    expect(resumed.state.step).toBe(full.state.step);
    resumed.state.weights.forEach((w, i) => expect(w).toEqual(full.state.weights[i]));
    expect(resumed.state.masks).toEqual(full.state.masks);
    expect(resumed.state.esl.map((e) => e.layers)).toEqual(full.state.esl.map((e) => e.layers));
    expect(resumed.state.epochs.map((e) => [e.loss, e.valAccuracy])).toEqual(full.state.epochs.map((e) => [e.loss, e.valAccuracy]));
  });

  it('--init continues ESL from the model\'s stored masks; first/last layers can be kept dense', async () => {
    const a = new Trainer(graph(), config({ epochs: 1 }), train, null);
    await a.run();
    const exported = a.exportGraph();
    const b = new Trainer(exported, config({ epochs: 1, seed: 99 }), train, null, { fromTrained: true });
    expect(b.state.masks).toEqual(a.state.masks);
    expect(b.state.weights).toEqual(a.state.weights);

    const kept = new Trainer(graph(), config({ keepFirstDense: true, density: 0.1 }), train, null);
    const d = kept.density();
    expect(kept.state.masks[0]).toBeNull();
    expect(d.perNode.conv1).toBe(1);
    expect(d.perNode.fc1).toBeCloseTo(0.1, 3);
  });

  it('computes a batch in chunks on gradient worker threads, with the same results bit for bit for any thread count', () => {
    // Batch 36: chunks of 16, 16 and 4 samples; 2 steps (ESL update after each).
    expect(gradientWorkers(2)).toBe(2);
    const runs = [1, 2, 3].map((threads) => {
      const t = new Trainer(graph(), config({ batch: 36, epochs: 2, schedule: { updateEvery: 1, stopFraction: 1, zeta0: 0.3 } }), train, null, { threads });
      const losses = [t.trainStep().loss, t.trainStep().loss];
      return { t, losses };
    });
    for (const { t, losses } of runs.slice(1)) {
      expect(losses).toEqual(runs[0].losses);
      t.state.weights.forEach((w, i) => expect(w).toEqual(runs[0].t.state.weights[i]));
      t.state.adam.forEach((a, i) => expect(a.v).toEqual(runs[0].t.state.adam[i].v));
      expect(t.state.masks).toEqual(runs[0].t.state.masks);
    }
    expect(() => new Trainer(graph(), config(), train, null, { threads: 0 })).toThrow(/threads/);
  });

  it('a gradient worker that does not answer in time is an error; a step then computes its chunks itself', () => {
    expect(gradientWorkers(1)).toBe(1);
    const t = new Trainer(graph(), config(), train, null, { threads: 1 });
    const weights = t.tfg.params.map((p, i) => toTrainer(t.state.weights[i], p.perm));
    const samples = Array.from({ length: 16 }, (_, i) => i);
    const chunk = { x: batchInput(train, samples), onehot: new Float32Array(16 * 10), B: 16 };
    const spec = { T, height: 34, width: 34, channels: 2, loss: 'ce' as const, surrogate: surrogate('atan'), detachReset: true };
    // A real chunk takes milliseconds: no reply within 0 ms.
    const wait = postChunks(0, t.tfg, { graph: t.graph, backend: 'wasm', weights, spec, chunks: [chunk] }, 0);
    expect(wait).toThrow(/did not answer within 0 ms/);
    // Batch 20: the worker gets 16 samples, this thread 4, then waits (0 ms) for the worker. (Should
    // this thread be descheduled long enough for the worker to finish first, try again.)
    let fellBack = false;
    for (let attempt = 0; attempt < 3 && !fellBack; attempt++) {
      const single = new Trainer(graph(), config({ batch: 20, epochs: 1 }), train, null, { threads: 1 });
      const impatient = new Trainer(graph(), config({ batch: 20, epochs: 1 }), train, null, { threads: 2, workerTimeoutMs: 0 });
      expect(impatient.trainStep().loss).toBe(single.trainStep().loss);
      expect(impatient.state.weights).toEqual(single.state.weights);
      if (impatient.workerError !== null) {
        expect(impatient.workerError).toMatch(/did not answer/);
        fellBack = true;
      }
    }
    expect(fellBack).toBe(true);
    // The lost worker was replaced.
    const later = new Trainer(graph(), config({ batch: 36, epochs: 1 }), train, null, { threads: 2 });
    const again = new Trainer(graph(), config({ batch: 36, epochs: 1 }), train, null, { threads: 1 });
    expect(later.trainStep().loss).toBe(again.trainStep().loss);
    expect(later.workerError).toBeNull();
  });

  it('rejects data that does not fit the model', () => {
    const g = buildArch('nmnist-tiny', [2, 20, 20], { output: 'membrane', beta: 0.9, gain: 1, seed: 1 });
    expect(() => new Trainer(g, config(), train, null)).toThrow(/model input/);
  });
});
