/**
 * The TypeScript client (`spikestream/client`) against real servers on 127.0.0.1: predictions as
 * an Observable, batches cut to the server's limits and to int32 offsets, clock ticks, raw
 * chunks, reconnect after a server restart, and the ends (bye, fatal errors, retries exhausted).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { concatBatches, type EventBatch } from '../../src/events/batch.js';
import { encodeNmnist } from '../../src/events/nmnist.js';
import { ClientError, SpikestreamClient, type ClientStatus, type PredictionMessage } from '../../src/client/index.js';
import type { SpikestreamServer } from '../../src/serve/server.js';
import { randomTimesteps } from '../../src/snn/random-graph.js';
import { Rng } from '../../src/snn/rng.js';
import { heartbeat } from '../../src/stream/clocked-batch.js';
import { runOracle, servedFromFile, sleep, startServer, testModel } from '../serve/helpers.js';

const SENSOR = { width: 34, height: 34 };
const model = testModel({ seed: 61, name: 'c' });
const countModel = testModel({ seed: 62, name: 'count', binning: { mode: 'event_count', count: 50 } });

/** Time-ordered synthetic 34x34 events, `steps` ms long. */
function synthetic(seed: number, steps = 150): EventBatch {
  return concatBatches(randomTimesteps(new Rng(seed), { width: 34, height: 34, steps, density: 0.06 }).map((ts) => {
    const e = ts.events;
    const order = Array.from(e.t.keys()).sort((a, b) => e.t[a] - e.t[b]);
    return { t: Float64Array.from(order, (i) => e.t[i]), x: Uint16Array.from(order, (i) => e.x[i]), y: Uint16Array.from(order, (i) => e.y[i]), p: Uint8Array.from(order, (i) => e.p[i]) };
  }));
}

const servers: SpikestreamServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(o: Parameters<typeof startServer>[1] = {}): Promise<SpikestreamServer> {
  const s = await startServer([await servedFromFile(model), await servedFromFile(countModel)], o);
  servers.push(s);
  return s;
}

describe('SpikestreamClient', () => {
  it('sends batches cut to the server limits and gets the prediction run computes', async () => {
    const s = await serve({ limits: { maxMessageBytes: 4096, maxEventsPerMessage: 300 } });
    const c = await SpikestreamClient.connect({ url: s.streamUrl, hello: { sensor: SENSOR, mode: 'sample' } });
    expect(c.ready).toMatchObject({ type: 'ready', mode: 'sample', model: { name: 'c' } });
    const ev = synthetic(1);
    const all: PredictionMessage[] = [];
    c.predictions$.subscribe((p) => all.push(p));
    expect(c.sendEvents(ev)).toBe(true);
    const p = await c.flush();
    const r = runOracle(model, ev);
    expect(p).toMatchObject({ final: true, index: r.index, scores: r.scores, counts: r.outputCounts, timesteps: r.timesteps });
    expect(c.stats.messagesSent).toBeGreaterThanOrEqual(Math.ceil(ev.t.length / 300) + 1);
    expect(c.stats.eventsSent).toBe(ev.t.length);
    await c.close();
    expect(all).toEqual([p]);
    expect(c.status).toBe('closed');
    expect(c.serverStats).toMatchObject({ eventsIn: ev.t.length, eventsDropped: 0 });
  });

  it('splits batches whose time offsets exceed int32 and sends raw bytes in chunks', async () => {
    const s = await serve({ limits: { maxMessageBytes: 2048 } });
    const c = await SpikestreamClient.connect({ url: s.streamUrl, hello: { sensor: SENSOR, model: 'count', mode: 'sample' } });
    const a = synthetic(2, 50);
    const far = concatBatches([a, { ...a, t: a.t.map((t) => t + 5_000_000_000) }]);
    c.sendEvents(far);
    const p = await c.flush();
    const r = runOracle(countModel, far);
    expect(p).toMatchObject({ scores: r.scores, counts: r.outputCounts });
    // The same events as N-MNIST bytes (times fit its 23 bits) in raw chunks of at most 2 KB.
    c.reset();
    const bytes = encodeNmnist(a);
    c.sendRaw('nmnist', bytes);
    const q = await c.flush();
    expect(q).toMatchObject({ counts: runOracle(countModel, a).outputCounts });
    expect(c.stats.messagesSent).toBeGreaterThan(bytes.length / 2048);
    await c.close();
  });

  it('a clocked batch sends a clock tick, so stream-mode windows close without further events', async () => {
    const s = await serve();
    const c = await SpikestreamClient.connect({ url: s.streamUrl, hello: { sensor: SENSOR, mode: 'stream', decisionUs: 10_000, windowUs: 10_000 } });
    const ev = synthetic(3, 30);
    const first = ev.t[0];
    const seen: PredictionMessage[] = [];
    c.predictions$.subscribe((p) => seen.push(p));
    c.sendEvents({ ...ev, clockUs: first + 10_000 });
    while (seen.length === 0) await sleep(2);
    expect(seen[0].window).toEqual([first, first + 10_000]);
    c.sendEvents(heartbeat(first + 20_000));
    while (seen.length < 2) await sleep(2);
    expect(seen[1].window).toEqual([first + 10_000, first + 20_000]);
    await c.close();
  });

  it('reconnects after a server restart, counting what it could not send meanwhile', async () => {
    const s1 = await serve();
    const port = s1.address().port;
    const c = await SpikestreamClient.connect({ url: s1.streamUrl, hello: { sensor: SENSOR, mode: 'sample' }, reconnect: { retries: 20, minDelayMs: 20, maxDelayMs: 100 } });
    const statuses: ClientStatus[] = [];
    c.status$.subscribe((st) => statuses.push(st));
    const session1 = c.ready?.session;
    await s1.close();
    servers.splice(servers.indexOf(s1), 1);
    while (c.status !== 'reconnecting') await sleep(2);
    const ev = synthetic(4);
    expect(c.sendEvents(ev)).toBe(false);
    expect(c.stats.droppedWhileDisconnected).toBe(ev.t.length);
    const s2 = await serve({ port });
    while ((c.status as ClientStatus) !== 'ready') await sleep(5);
    expect(c.ready?.session).not.toBe(session1);
    expect(c.stats.reconnects).toBe(1);
    c.sendEvents(ev);
    const p = await c.flush();
    expect(p.counts).toEqual(runOracle(model, ev).outputCounts);
    expect(statuses).toEqual(['ready', 'reconnecting', 'ready']);
    await c.close();
    void s2;
  });

  it('fatal errors end the client: a wrong token rejects connect, exhausted retries error the observable', async () => {
    const s = await serve({ token: 'tok' });
    const e = await SpikestreamClient.connect({ url: s.streamUrl, hello: { sensor: SENSOR, token: 'nope' } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClientError);
    expect((e as ClientError).code).toBe('AUTH_REQUIRED');
    const bad = await SpikestreamClient.connect({ url: s.streamUrl, hello: { sensor: SENSOR, token: 'tok', model: 'missing' } }).catch((x: unknown) => x);
    expect((bad as ClientError).code).toBe('UNKNOWN_MODEL');

    const c = await SpikestreamClient.connect({ url: s.streamUrl, hello: { sensor: SENSOR, token: 'tok' }, reconnect: { retries: 2, minDelayMs: 10, maxDelayMs: 20 } });
    const ended = new Promise<unknown>((resolve) => c.predictions$.subscribe({ error: resolve, complete: () => resolve('completed') }));
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const err = await ended;
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).message).toMatch(/2 reconnect attempts failed/);
    expect(() => c.sendEvents(synthetic(5, 5))).toThrow(ClientError);
  });
});
