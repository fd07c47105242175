/**
 * Pipelines in worker threads (worker-pool.ts) against pipelines on the main thread: the same
 * predictions over the wire whatever the ring size (input split into ring-sized items, a sample
 * far larger than the ring); sessions spread over the workers with the engine budget accounted as
 * in-process; live step views; and a worker that dies fails only its own sessions (INTERNAL, 1011)
 * and is replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBatches, sliceBatch, type EventBatch } from '../../src/events/batch.js';
import { readEventFile } from '../../src/events/open-event-file.js';
import type { ErrorMessage, PredictionMessage, StatsMessage } from '../../src/serve/protocol.js';
import type { ServedModel } from '../../src/serve/served-model.js';
import { defaultWorkers, type SpikestreamServer } from '../../src/serve/server.js';
import { encodeEventsMessage } from '../../src/stream/protocol-events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { runOracle, servedFromFile, sleep, splitBatch, startServer, testModel, TestClient } from './helpers.js';

const NMNIST = 'events/tonic/sample_nmnist.bin';
const SENSOR = { width: 34, height: 34 };
const strip = (p: PredictionMessage) => ({ ...p, latencyMs: 0 });

describeWithFixtures('pipelines in worker threads', [NMNIST], () => {
  let events: EventBatch;
  let long: EventBatch;
  let tw: ServedModel;
  let nbins: ServedModel;
  let local: SpikestreamServer;
  let workers: SpikestreamServer;

  beforeAll(async () => {
    events = (await readEventFile(sharedFixture(NMNIST))).events;
    const span = events.t[events.t.length - 1] - events.t[0] + 1000;
    long = concatBatches(Array.from({ length: 6 }, (_, k) => ({ ...events, t: events.t.map((t) => t + k * span) })));
    tw = await servedFromFile(testModel({ seed: 51, name: 'w-tw' }));
    nbins = await servedFromFile(testModel({ seed: 52, name: 'w-nbins', binning: { mode: 'n_time_bins', bins: 20 } }));
    local = await startServer([tw, nbins], { workers: 0 });
    // A ring of 500 events (most messages below go over in several items), and slices so short
    // that a worker often acks with items still waiting.
    const models = [await servedFromFile(testModel({ seed: 51, name: 'w-tw' })), await servedFromFile(testModel({ seed: 52, name: 'w-nbins', binning: { mode: 'n_time_bins', bins: 20 } }))];
    workers = await startServer(models, { workers: 2, limits: { ringEvents: 500, sliceMs: 0.05 } });
  });
  afterAll(async () => {
    await local.close();
    await workers.close();
  });

  async function run(server: SpikestreamServer, hello: Record<string, unknown>, send: (c: TestClient) => void): Promise<{ predictions: PredictionMessage[]; stats: StatsMessage }> {
    const c = await TestClient.open(server.streamUrl);
    expect((await c.hello({ sensor: SENSOR, ...hello })).type).toBe('ready');
    send(c);
    c.send({ type: 'flush' });
    await c.next((m) => m.type === 'prediction' && m.final, 20_000);
    c.send({ type: 'bye' });
    await c.closed;
    expect(c.closeCode).toBe(1000);
    expect(c.ofType('error')).toEqual([]);
    return { predictions: c.ofType<PredictionMessage>('prediction'), stats: c.ofType<StatsMessage>('stats').at(-1) as StatsMessage };
  }

  it('stream mode: the same predictions and final stats as on the main thread, messages large and small', async () => {
    const hello = { model: 'w-tw', mode: 'stream', decisionUs: 10_000, windowUs: 30_000, filters: [{ op: 'flip_lr' }] };
    const send = (c: TestClient) => {
      for (const b of splitBatch(long, [3, 4000, 4001, 9000, 20_000])) c.sendBytes(encodeEventsMessage(b));
    };
    const a = await run(local, hello, send);
    const b = await run(workers, hello, send);
    expect(a.predictions.length).toBeGreaterThan(50);
    expect(b.predictions.map(strip)).toEqual(a.predictions.map(strip));
    expect(b.stats).toEqual(a.stats);
  });

  it('sample mode with a whole-sample binning: a sample many times the ring predicts what `spikestream run` does', async () => {
    const parts = splitBatch(events, [1000, 2000, 3000]);
    const { predictions } = await run(workers, { model: 'w-nbins', mode: 'sample' }, (c) => parts.forEach((b) => c.sendBytes(encodeEventsMessage(b))));
    const r = runOracle(nbins.model, events);
    expect(predictions).toHaveLength(1);
    expect({ scores: predictions[0].scores, counts: predictions[0].counts, timesteps: predictions[0].timesteps }).toEqual({ scores: r.scores, counts: r.outputCounts, timesteps: r.timesteps });
  });

  it('clock ticks close windows through the worker as on the main thread (one message per 5 ms slice)', async () => {
    const hello = { model: 'w-tw', mode: 'stream', decisionUs: 5_000, windowUs: 10_000 };
    const send = (c: TestClient) => {
      for (let i = 0, end = events.t[0] + 5000; i < events.t.length; end += 5000) {
        let j = i;
        while (j < events.t.length && events.t[j] < end) j++;
        c.sendBytes(encodeEventsMessage(sliceBatch(events, i, j), { t0: end - 5000, clock: end }));
        i = j;
      }
    };
    const a = await run(local, hello, send);
    const b = await run(workers, hello, send);
    expect(b.predictions.map(strip)).toEqual(a.predictions.map(strip));
  });

  it('spreads sessions over the workers; engines are accounted as in-process; live step views get the outputs', async () => {
    const pool = workers.workerPool;
    expect(pool?.size).toBe(2);
    expect(workers.sessions()).toEqual([]);
    const clients = await Promise.all([0, 1, 2, 3].map(async () => {
      const c = await TestClient.open(workers.streamUrl);
      await c.hello({ sensor: SENSOR, model: 'w-tw', mode: 'stream', decisionUs: 10_000, windowUs: 10_000 });
      return c;
    }));
    expect(pool?.load()).toEqual([2, 2]);
    const served = workers.sessions()[0].model;
    expect(served.activeEngines).toBe(4);
    const steps: number[] = [];
    const sub = workers.sessions()[0].steps$.subscribe((s) => steps.push(s.output.length));
    clients[0].sendBytes(encodeEventsMessage(events));
    clients[0].send({ type: 'flush' });
    await clients[0].next((m) => m.type === 'prediction' && m.final);
    sub.unsubscribe();
    expect(steps.length).toBeGreaterThan(100);
    expect(new Set(steps)).toEqual(new Set([served.outputs]));
    for (const c of clients) {
      c.send({ type: 'bye' });
      await c.closed;
    }
    for (let i = 0; i < 100 && workers.sessions().length > 0; i++) await sleep(10);
    expect(served.activeEngines).toBe(0);
    expect(served.pooledEngines).toBe(4); // two idle engines kept in each worker
    expect(pool?.load()).toEqual([0, 0]);
  });
});

describe('worker count', () => {
  it('defaults to one per core beside the main thread above two cores, none on two; SPIKESTREAM_WORKERS overrides; bad values are refused', async () => {
    expect(defaultWorkers({}, 2)).toBe(0);
    expect(defaultWorkers({}, 1)).toBe(0);
    expect(defaultWorkers({}, 8)).toBe(7);
    expect(defaultWorkers({ SPIKESTREAM_WORKERS: '3' }, 2)).toBe(3);
    expect(defaultWorkers({ SPIKESTREAM_WORKERS: '0' }, 16)).toBe(0);
    expect(() => defaultWorkers({ SPIKESTREAM_WORKERS: 'two' }, 2)).toThrow(/SPIKESTREAM_WORKERS/);
    const served = await servedFromFile(testModel({ seed: 54, name: 'n' }));
    await expect(startServer([served], { workers: -1 })).rejects.toThrow(/workers/);
    await expect(startServer([served], { workers: 1.5 })).rejects.toThrow(/workers/);
  });
});

describe('a pipeline worker that dies', () => {
  it('fails its sessions with INTERNAL (1011), leaves the other worker\'s sessions alone, and is replaced', async () => {
    const server = await startServer([await servedFromFile(testModel({ seed: 53, name: 'd' }))], { workers: 2 });
    try {
      const a = await TestClient.open(server.streamUrl);
      await a.hello({ sensor: SENSOR, mode: 'sample' });
      const b = await TestClient.open(server.streamUrl);
      await b.hello({ sensor: SENSOR, mode: 'sample' });
      const pool = server.workerPool;
      expect(pool?.load()).toEqual([1, 1]);
      await pool?.terminateWorker(0);
      const e = await a.next<ErrorMessage>((m) => m.type === 'error');
      expect(e).toMatchObject({ code: 'INTERNAL', fatal: true });
      await a.closed;
      expect(a.closeCode).toBe(1011);
      // The other session still works, and so does a new one (on the replacement worker or the survivor).
      const ev = { t: Float64Array.of(0, 500, 1500), x: Uint16Array.of(1, 2, 3), y: Uint16Array.of(3, 2, 1), p: Uint8Array.of(1, 0, 1) };
      for (const c of [b, await TestClient.open(server.streamUrl)]) {
        if (c !== b) await c.hello({ sensor: SENSOR, mode: 'sample' });
        c.sendBytes(encodeEventsMessage(ev));
        c.send({ type: 'flush' });
        expect((await c.next<PredictionMessage>((m) => m.type === 'prediction')).final).toBe(true);
        c.send({ type: 'bye' });
        await c.closed;
      }
      for (let i = 0; i < 200 && (pool?.size ?? 0) < 2; i++) await sleep(20);
      expect(pool?.size).toBe(2);
    } finally {
      await server.close();
    }
  });
});
