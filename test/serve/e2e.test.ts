/**
 * End to end against a real server on 127.0.0.1 (random port): a real N-MNIST recording sent in
 * many splits, as `events` messages and as `raw` bytes cut at arbitrary boundaries, gives exactly
 * the prediction that `spikestream run` computes for the file; stream mode predicts at every
 * decision point over the trailing window.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { concatBatches, sliceBatch, type EventBatch } from '../../src/events/batch.js';
import { encodeEvt3 } from '../../src/events/evt3.js';
import { readEventFile } from '../../src/events/open-event-file.js';
import { createEngine } from '../../src/snn/create-engine.js';
import type { Model } from '../../src/model/model.js';
import type { PredictionMessage, ReadyMessage } from '../../src/serve/protocol.js';
import type { SpikestreamServer } from '../../src/serve/server.js';
import { encodeEventsMessage, encodeRawMessage } from '../../src/stream/protocol-events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { binAll, modelPaths, runCommand, runOracle, servedFromFile, splitBatch, startServer, testModel, TestClient } from './helpers.js';

const NMNIST = 'events/tonic/sample_nmnist.bin';

describeWithFixtures('server end to end on a real N-MNIST recording', [NMNIST], () => {
  let server: SpikestreamServer;
  let events: EventBatch;
  let bytes: Uint8Array;
  const model = testModel({ seed: 11, name: 'nmnist-tw' });
  const nbins = testModel({ seed: 12, name: 'nmnist-nbins', binning: { mode: 'n_time_bins', bins: 40 } });
  const count = testModel({ seed: 13, name: 'nmnist-count', binning: { mode: 'event_count', count: 100, overlap: 20 } });

  beforeAll(async () => {
    events = (await readEventFile(sharedFixture(NMNIST))).events;
    bytes = new Uint8Array(readFileSync(sharedFixture(NMNIST)));
    server = await startServer([await servedFromFile(model), await servedFromFile(nbins), await servedFromFile(count)]);
  });
  afterAll(async () => {
    await server.close();
  });

  async function sample(m: Model, send: (c: TestClient) => void, hello: Record<string, unknown> = {}): Promise<PredictionMessage> {
    const c = await TestClient.open(server.streamUrl);
    const ready = await c.hello({ sensor: { width: 34, height: 34 }, model: m.name, mode: 'sample', ...hello });
    expect(ready.type).toBe('ready');
    send(c);
    c.send({ type: 'flush' });
    const p = await c.next<PredictionMessage>((x) => x.type === 'prediction');
    c.send({ type: 'bye' });
    await c.closed;
    expect(c.closeCode).toBe(1000);
    expect(c.ofType('error')).toEqual([]);
    return p;
  }

  /** The prediction must equal what `spikestream run MODEL FILE --json` prints for the file. */
  async function expectRunResult(p: PredictionMessage, m: Model): Promise<void> {
    const r = await runCommand(modelPaths.get(m.name) as string, sharedFixture(NMNIST));
    expect(r.timesteps).toBeGreaterThan(0);
    expect(r.outputCounts.some((v) => v > 0)).toBe(true); // the model does spike on this input
    expect({ index: p.index, label: p.label, scores: p.scores, counts: p.counts, timesteps: p.timesteps, final: p.final })
      .toEqual({ index: r.index, label: r.label, scores: r.scores, counts: r.outputCounts, timesteps: r.timesteps, final: true });
    // And the in-test oracle agrees with the command (so the other tests may use it).
    expect(runOracle(m, events).scores).toEqual(r.scores);
  }

  it('sample mode: events messages in any split predict what `spikestream run` prints for the file', async () => {
    const whole = await sample(model, (c) => c.sendBytes(encodeEventsMessage(events)));
    await expectRunResult(whole, model);
    await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: events.t.length - 1 }), { maxLength: 30 }), async (cuts) => {
      const parts = splitBatch(events, [...cuts].sort((a, b) => a - b));
      const p = await sample(model, (c) => parts.forEach((b, i) => c.sendBytes(encodeEventsMessage(b, { seq: i }))));
      expect(p.scores).toEqual(whole.scores);
      expect(p.counts).toEqual(whole.counts);
      expect(p.window).toEqual(whole.window);
    }), { numRuns: 8, seed: 4242 });
  });

  it('sample mode with whole-sample (n_time_bins) and event-count binnings also equals run', async () => {
    await expectRunResult(await sample(nbins, (c) => splitBatch(events, [100, 2000, 3000]).forEach((b) => c.sendBytes(encodeEventsMessage(b)))), nbins);
    await expectRunResult(await sample(count, (c) => splitBatch(events, [7, 1500]).forEach((b) => c.sendBytes(encodeEventsMessage(b)))), count);
  });

  it('raw N-MNIST bytes cut at arbitrary byte boundaries give the same prediction as events messages', async () => {
    const viaEvents = await sample(model, (c) => c.sendBytes(encodeEventsMessage(events)));
    await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), async (cuts) => {
      const sorted = [...cuts].sort((a, b) => a - b);
      const p = await sample(model, (c) => {
        let prev = 0;
        for (const k of [...sorted, bytes.length]) {
          c.sendBytes(encodeRawMessage('nmnist', bytes.subarray(prev, k)));
          prev = k;
        }
      });
      expect({ scores: p.scores, counts: p.counts, window: p.window, events: p.events }).toEqual({ scores: viaEvents.scores, counts: viaEvents.counts, window: viaEvents.window, events: viaEvents.events });
    }), { numRuns: 8, seed: 77 });
  });

  it('raw EVT 3.0 bytes (vectorised words) cut at arbitrary boundaries predict as the events do', async () => {
    const evt3 = encodeEvt3(events, { width: 34, height: 34 });
    const viaEvents = await sample(model, (c) => c.sendBytes(encodeEventsMessage(events)));
    await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: evt3.length - 1 }), { maxLength: 40 }), async (cuts) => {
      const sorted = [...cuts].sort((a, b) => a - b);
      const p = await sample(model, (c) => {
        let prev = 0;
        for (const k of [...sorted, evt3.length]) {
          c.sendBytes(encodeRawMessage('evt3', evt3.subarray(prev, k)));
          prev = k;
        }
      });
      expect({ scores: p.scores, counts: p.counts, window: p.window }).toEqual({ scores: viaEvents.scores, counts: viaEvents.counts, window: viaEvents.window });
    }), { numRuns: 5, seed: 99 });
  });

  it('stream mode predicts at every decision point over the trailing window (oracle: whole-recording binning stepped offline)', async () => {
    const decisionUs = 20_000;
    const windowUs = 50_000;
    const c = await TestClient.open(server.streamUrl);
    const ready = await c.hello({ sensor: { width: 34, height: 34 }, model: model.name, mode: 'stream', decisionUs, windowUs }) as ReadyMessage;
    expect(ready).toMatchObject({ type: 'ready', mode: 'stream', decisionUs, windowUs, idleResetUs: windowUs });
    for (const b of splitBatch(events, [500, 501, 1800, 3999])) c.sendBytes(encodeEventsMessage(b));
    c.send({ type: 'flush' });
    await c.next((m) => m.type === 'prediction' && m.final);
    c.send({ type: 'bye' });
    await c.closed;
    const got = c.ofType<PredictionMessage>('prediction');

    // Oracle, written from the protocol's definition.
    const ts = binAll(model.input.binning, events, 34, 34);
    const engine = createEngine('sparse', model.graph);
    const steps: { tEnd: number; out: Float32Array; n: number }[] = [];
    const expected: { window: number[]; counts: number[]; final: boolean; events: number }[] = [];
    const summarize = (D: number, final: boolean) => {
      const inWin = steps.filter((s) => s.tEnd > D - windowUs && s.tEnd <= D);
      const counts = new Array(10).fill(0);
      for (const s of inWin) s.out.forEach((v, i) => (counts[i] += v));
      expected.push({ window: [Math.max(D - windowUs, ts[0].tStart), D], counts, final, events: inWin.reduce((a, s) => a + s.n, 0) });
    };
    const origin = ts[0].tStart;
    let next = origin + decisionUs;
    let since = 0;
    for (const t of ts) {
      steps.push({ tEnd: t.tEnd, out: engine.step(t).output, n: t.events.t.length });
      since++;
      if (t.tEnd >= next) {
        const D = origin + Math.floor((t.tEnd - origin) / decisionUs) * decisionUs;
        summarize(D, false);
        next = D + decisionUs;
        since = 0;
      }
    }
    summarize(ts[ts.length - 1].tEnd, true);
    expect(since).toBeGreaterThan(0);
    expect(got.map((p) => ({ window: p.window, counts: p.counts, final: p.final, events: p.events }))).toEqual(expected);
    expect(got.map((p) => p.seq)).toEqual(got.map((_, i) => i));
    for (const p of got) {
      const best = p.scores.indexOf(Math.max(...p.scores)); // readout 'sum': scores are the counts
      expect({ index: p.index, label: p.label, scores: p.scores }).toEqual({ index: best, label: model.labels[best], scores: p.counts });
    }
  });

  it('events.clock closes windows as a separate clock tick does: same predictions, one message per slice', async () => {
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const run = async (withClockField: boolean): Promise<PredictionMessage[]> => {
      const c = await TestClient.open(server.streamUrl);
      await c.hello({ sensor: { width: 34, height: 34 }, model: model.name, mode: 'stream', decisionUs: 10_000, windowUs: 30_000 });
      const t0 = events.t[0];
      let i = 0;
      for (let end = t0 + 10_000; i < events.t.length; end += 10_000) {
        let j = i;
        while (j < events.t.length && events.t[j] < end) j++;
        const part = sliceBatch(events, i, j);
        const bytes = encodeEventsMessage(part, { t0: end - 10_000 });
        if (withClockField) {
          c.send({ ...(unpackr.unpack(bytes) as object), clock: end });
        } else {
          c.sendBytes(bytes);
          c.sendBytes(encodeEventsMessage({ t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0) }, { t0: end }));
        }
        // Each slice's decision arrives before the next slice is sent: nothing waits for later events.
        await c.next((m) => m.type === 'prediction' && m.window[1] === end);
        i = j;
      }
      c.send({ type: 'bye' });
      await c.closed;
      expect(c.ofType('error')).toEqual([]);
      return c.ofType<PredictionMessage>('prediction').map((p) => ({ ...p, latencyMs: 0 }));
    };
    const viaField = await run(true);
    expect(viaField.length).toBeGreaterThan(25);
    expect(viaField).toEqual(await run(false));
  });

  it('stream mode: a gap longer than idleResetUs starts a new segment with fresh state', async () => {
    const gapped = concatBatches([events, { ...events, t: events.t.map((t) => t + 2_000_000) }]);
    const c = await TestClient.open(server.streamUrl);
    await c.hello({ sensor: { width: 34, height: 34 }, model: model.name, mode: 'stream', decisionUs: 25_000, windowUs: 100_000, idleResetUs: 500_000 });
    c.sendBytes(encodeEventsMessage(splitBatch(gapped, [6000])[0]));
    c.sendBytes(encodeEventsMessage(splitBatch(gapped, [6000])[1], { t0: 2_000_000 }));
    c.send({ type: 'flush' });
    await c.next((m) => m.type === 'prediction' && m.final && m.window[0] > 1_000_000);
    c.send({ type: 'bye' });
    await c.closed;
    const got = c.ofType<PredictionMessage>('prediction');
    const first = got.filter((p) => p.window[1] < 1_000_000);
    const second = got.filter((p) => p.window[0] >= 1_000_000);
    expect(first.length).toBeGreaterThan(5);
    expect(first[first.length - 1].final).toBe(true); // the idle gap ended the first segment
    expect(second.map((p) => ({ ...p, seq: 0, latencyMs: 0, window: p.window.map((t) => t - 2_000_000) })))
      .toEqual(first.map((p) => ({ ...p, seq: 0, latencyMs: 0 })));
  });
});
