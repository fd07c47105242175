/**
 * The session pipeline without any I/O: however events are split into batches and however the
 * work is sliced (down to one timestep per slice), the predictions are the same; sample mode
 * equals the whole-recording computation; reset and idle gaps restart from fresh state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBatches, type EventBatch } from '../../src/events/batch.js';
import { InferencePipeline, type PipelinePrediction } from '../../src/serve/inference-pipeline.js';
import type { SessionMode } from '../../src/serve/protocol.js';
import { serveModel } from '../../src/serve/served-model.js';
import { randomTimesteps } from '../../src/snn/random-graph.js';
import { Rng } from '../../src/snn/rng.js';
import { runOracle, splitBatch, testModel } from './helpers.js';

const model = testModel({ seed: 81, name: 'p' });
const served = serveModel(model);

function synthetic(seed: number, steps: number, density = 0.05): EventBatch {
  return concatBatches(randomTimesteps(new Rng(seed), { width: 34, height: 34, steps, density }).map((ts) => {
    const e = ts.events;
    const order = Array.from(e.t.keys()).sort((a, b) => e.t[a] - e.t[b]);
    return { t: Float64Array.from(order, (i) => e.t[i]), x: Uint16Array.from(order, (i) => e.x[i]), y: Uint16Array.from(order, (i) => e.y[i]), p: Uint8Array.from(order, (i) => e.p[i]) };
  }));
}

function pipeline(mode: SessionMode, o: { decisionUs?: number; windowUs?: number; idleResetUs?: number } = {}): InferencePipeline {
  return new InferencePipeline(served, served.acquireEngine(), {
    mode, width: 34, height: 34, decisionUs: o.decisionUs ?? 5000, windowUs: o.windowUs ?? 12_000, idleResetUs: o.idleResetUs ?? 50_000,
    maxGapWindows: 100_000, maxSampleEvents: 1_000_000, maxWindowSteps: 1000,
  });
}

/** Feeds the batches, runs with the given slicing (0: one work item per run call), then flushes. */
function predictions(p: InferencePipeline, batches: readonly EventBatch[], sliced: boolean): PipelinePrediction[] {
  const out: PipelinePrediction[] = [];
  const drain = () => {
    while (p.busy) p.run(sliced ? 0 : Infinity, (x) => out.push(x));
  };
  for (const b of batches) {
    p.push(b, 0);
    drain();
  }
  p.flush(0);
  drain();
  return out;
}

const cutsArb = (n: number) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, n - 1) }), { maxLength: 25 }).map((c) => [...c].sort((a, b) => a - b));

describe('InferencePipeline', () => {
  const events = synthetic(1, 120);

  it('sample mode: any split and any slicing predict what the whole recording gives', () => {
    const r = runOracle(model, events);
    const whole = predictions(pipeline('sample'), [events], false);
    expect(whole).toHaveLength(1);
    expect(whole[0]).toMatchObject({ index: r.index, scores: r.scores, counts: r.outputCounts, timesteps: r.timesteps, final: true });
    fc.assert(fc.property(cutsArb(events.t.length), fc.boolean(), (cuts, sliced) => {
      expect(predictions(pipeline('sample'), splitBatch(events, cuts), sliced)).toEqual(whole);
    }), { numRuns: 60, seed: 3 });
  });

  it('stream mode: any split and any slicing give the same sequence of predictions', () => {
    const whole = predictions(pipeline('stream'), [events], false);
    expect(whole.length).toBeGreaterThan(20);
    expect(whole.filter((p) => p.final)).toHaveLength(1);
    fc.assert(fc.property(cutsArb(events.t.length), fc.boolean(), (cuts, sliced) => {
      expect(predictions(pipeline('stream'), splitBatch(events, cuts), sliced)).toEqual(whole);
    }), { numRuns: 60, seed: 4 });
  });

  it('stream mode: a jump of event time beyond idleResetUs (forward or back) restarts from fresh state', () => {
    const first = predictions(pipeline('stream'), [events], false);
    for (const shift of [10_000_000, -10_000_000]) {
      const again = { ...events, t: events.t.map((t) => t + shift) };
      const both = predictions(pipeline('stream'), [concatBatches([events, again])], false);
      expect(both.slice(0, first.length)).toEqual(first);
      expect(both.slice(first.length).map((p) => ({ ...p, window: p.window.map((t) => t - shift) }))).toEqual(first);
    }
  });

  it('reset clears the neurons: the same sample after a reset predicts the same', () => {
    const p = pipeline('sample');
    const out: PipelinePrediction[] = [];
    p.push(events, 0);
    p.reset();
    p.push(events, 0);
    p.flush(0);
    while (p.busy) p.run(Infinity, (x) => out.push(x));
    expect(out).toEqual(predictions(pipeline('sample'), [events], false));
  });

  it('a flush without events still answers, with index -1', () => {
    const out = predictions(pipeline('sample'), [], false);
    expect(out).toEqual([{ window: [0, 0], label: '', index: -1, scores: new Array(10).fill(0), counts: new Array(10).fill(0), events: 0, timesteps: 0, final: true, at: 0 }]);
    const s = predictions(pipeline('stream'), [], false);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ index: -1, final: true, timesteps: 0 });
  });
});
