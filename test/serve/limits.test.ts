/**
 * Each server limit, enforced and observable: max sessions, per-session queue with drop-oldest
 * accounting, queued-message bound, hello and idle timeouts, heartbeat against dead peers, the
 * lossless 'backpressure' overflow, and fair slicing between a heavy and a light session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { concatBatches, type EventBatch } from '../../src/events/batch.js';
import { readEventFile } from '../../src/events/open-event-file.js';
import type { ErrorMessage, PredictionMessage, StatsMessage } from '../../src/serve/protocol.js';
import type { SpikestreamServer } from '../../src/serve/server.js';
import { encodeEventsMessage } from '../../src/stream/protocol-events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { runOracle, servedFromFile, sleep, splitBatch, startServer, testModel, TestClient } from './helpers.js';

const NMNIST = 'events/tonic/sample_nmnist.bin';
const SENSOR = { width: 34, height: 34 };
const model = testModel({ seed: 31, name: 'lim' });

let server: SpikestreamServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function withServer(limits: Record<string, number>): Promise<SpikestreamServer> {
  server = await startServer([await servedFromFile(model)], { limits });
  return server;
}

function repeated(events: EventBatch, times: number, spanUs: number): EventBatch {
  return concatBatches(Array.from({ length: times }, (_, k) => ({ ...events, t: events.t.map((t) => t + k * spanUs) })));
}

describe('session limits', () => {
  it('maxSessions: the next connection gets RATE_LIMITED and close 1013; a freed slot can be reused', async () => {
    const s = await withServer({ maxSessions: 3 });
    const open = await Promise.all([0, 1, 2].map(() => TestClient.open(s.streamUrl)));
    for (const c of open) expect((await c.hello({ sensor: SENSOR })).type).toBe('ready');
    const extra = await TestClient.open(s.streamUrl);
    const e = await extra.next<ErrorMessage>((m) => m.type === 'error');
    expect(e).toMatchObject({ code: 'RATE_LIMITED', fatal: true });
    expect(extra.textFrames[0]).toBe(true); // readable before any hello said which encoding
    await extra.closed;
    expect(extra.closeCode).toBe(1013);
    open[0].send({ type: 'bye' });
    await open[0].closed;
    const again = await TestClient.open(s.streamUrl);
    expect((await again.hello({ sensor: SENSOR })).type).toBe('ready');
    for (const c of [again, open[1], open[2]]) c.ws.terminate();
  });

  it('hello timeout closes a silent connection; idle timeout closes a silent session', async () => {
    const s = await withServer({ helloTimeoutMs: 200, idleTimeoutMs: 400 });
    const a = await TestClient.open(s.streamUrl);
    await a.closed;
    expect(a.closeCode).toBe(1008);
    expect(a.ofType<ErrorMessage>('error')[0].message).toMatch(/helloTimeoutMs/);
    const b = await TestClient.open(s.streamUrl);
    await b.hello({ sensor: SENSOR });
    await sleep(250);
    b.send({ type: 'reset' }); // activity restarts the idle clock
    await b.closed;
    expect(b.closeCode).toBe(1000);
    expect(b.closeReason).toMatch(/idle/);
  });

  it('heartbeat terminates a peer that stops answering pings', async () => {
    const s = await withServer({ heartbeatIntervalMs: 150 });
    const live = await TestClient.open(s.streamUrl);
    await live.hello({ sensor: SENSOR });
    const dead = await TestClient.open(s.streamUrl);
    await dead.hello({ sensor: SENSOR });
    dead.ws.pause(); // reads nothing, so answers no ping
    for (let i = 0; i < 100 && s.sessions().length > 1; i++) await sleep(20);
    expect(s.sessions().length).toBe(1); // the live one answers its pings and stays
    const metrics = await (await fetch(`${s.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/spikestream_sessions_closed_total\{reason="heartbeat"\} 1/);
    live.ws.terminate();
    dead.ws.terminate();
  });

  it('maxQueueMessages: a burst beyond it gets RATE_LIMITED errors and the session goes on', async () => {
    const s = await withServer({ maxQueueMessages: 4 });
    const c = await TestClient.open(s.streamUrl);
    await c.hello({ sensor: SENSOR, mode: 'sample' });
    // One write, so all frames arrive in one socket read, before any processing slice runs.
    const frames = Buffer.concat(Array.from({ length: 50 }, (_, i) => frame(encodeEventsMessage({ t: Float64Array.of(i), x: Uint16Array.of(1), y: Uint16Array.of(1), p: Uint8Array.of(1) }))));
    (c.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(frames);
    const e = await c.next<ErrorMessage>((m) => m.type === 'error');
    expect(e).toMatchObject({ code: 'RATE_LIMITED', fatal: false });
    c.send({ type: 'flush' });
    const p = await c.next<PredictionMessage>((m) => m.type === 'prediction');
    expect(p.final).toBe(true);
    c.send({ type: 'bye' });
    await c.closed;
    const st = c.ofType<StatsMessage>('stats').at(-1) as StatsMessage;
    expect(st.eventsIn).toBe(50);
    // Each refused message held one event; notices are throttled (one per statsIntervalMs), not one per message.
    expect(st.eventsDropped).toBeGreaterThan(1);
    expect(st.eventsDropped).toBeLessThanOrEqual(50 - 4);
    expect(c.ofType<ErrorMessage>('error').filter((m) => m.code === 'RATE_LIMITED')).toHaveLength(1);
    expect(e.message).toMatch(/^1 message\(s\) refused .*maxQueueMessages/);
  });
});

describeWithFixtures('queue overflow and backpressure', [NMNIST], () => {
  it('drop-oldest: a message beyond maxQueueEvents drops the oldest events down to half the bound, counts them, and predicts on the newest', async () => {
    const events = (await readEventFile(sharedFixture(NMNIST))).events;
    const s = await withServer({ maxQueueEvents: 1000 });
    const c = await TestClient.open(s.streamUrl);
    await c.hello({ sensor: SENSOR, mode: 'sample' });
    c.sendBytes(encodeEventsMessage(events));
    c.send({ type: 'flush' });
    const p = await c.next<PredictionMessage>((m) => m.type === 'prediction');
    const st = await c.next<StatsMessage>((m) => m.type === 'stats' && m.eventsDropped > 0);
    // An overflow drops down to half the bound (the newest 500 events are kept).
    expect(st).toMatchObject({ eventsIn: events.t.length, eventsDropped: events.t.length - 500 });
    const newest = splitBatch(events, [events.t.length - 500])[1];
    const r = runOracle(model, newest);
    expect({ scores: p.scores, counts: p.counts, timesteps: p.timesteps }).toEqual({ scores: r.scores, counts: r.outputCounts, timesteps: r.timesteps });
    c.send({ type: 'bye' });
    await c.closed;
  });

  it("backpressure: with overflow 'backpressure' a fast sender loses nothing however small the queue", async () => {
    const events = (await readEventFile(sharedFixture(NMNIST))).events;
    const s = await withServer({ maxQueueEvents: 20_000 });
    const c = await TestClient.open(s.streamUrl);
    await c.hello({ sensor: SENSOR, mode: 'stream', overflow: 'backpressure', decisionUs: 100_000, windowUs: 100_000 });
    const big = repeated(events, 30, 320_000);
    for (const b of splitBatch(big, Array.from({ length: 500 }, (_, i) => (i + 1) * 250))) c.sendBytes(encodeEventsMessage(b));
    c.send({ type: 'flush' });
    await c.next((m) => m.type === 'prediction' && m.final, 30_000);
    c.send({ type: 'bye' });
    await c.closed;
    const st = c.ofType<StatsMessage>('stats').at(-1) as StatsMessage;
    expect(st).toMatchObject({ eventsIn: big.t.length, eventsDropped: 0, queueDepth: 0 });
  });

  it('a heavy session does not starve a light one: the light one is served between slices', async () => {
    const events = (await readEventFile(sharedFixture(NMNIST))).events;
    const s = await withServer({ sliceMs: 1 });
    const heavy = await TestClient.open(s.streamUrl);
    await heavy.hello({ sensor: SENSOR, mode: 'stream', overflow: 'backpressure', decisionUs: 100_000, windowUs: 100_000 });
    const light = await TestClient.open(s.streamUrl);
    await light.hello({ sensor: SENSOR, mode: 'sample' });
    for (const b of splitBatch(repeated(events, 60, 320_000), Array.from({ length: 60 }, (_, i) => (i + 1) * 4325))) heavy.sendBytes(encodeEventsMessage(b));
    await sleep(20);
    light.sendBytes(encodeEventsMessage(splitBatch(events, [100])[0]));
    light.send({ type: 'flush' });
    await light.next((m) => m.type === 'prediction');
    // The light sample was answered while the heavy session was still working through its backlog.
    const heavyAtLight = (s.sessionInfo().find((x) => x.mode === 'stream') as { predictions: number }).predictions;
    heavy.send({ type: 'flush' });
    await heavy.next((m) => m.type === 'prediction' && m.final, 60_000);
    expect(heavyAtLight).toBeLessThan(heavy.ofType<PredictionMessage>('prediction').length / 2);
    heavy.ws.terminate();
    light.ws.terminate();
  });
});

/** A client frame (FIN, binary, masked with a zero key) around a payload. */
function frame(payload: Uint8Array): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x82, 0x80 | n]) : Buffer.from([0x82, 0x80 | 126, n >> 8, n & 0xff]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

describe('engine memory budget', () => {
  it('maxEngineBytes: a session whose engine does not fit is refused with RATE_LIMITED (1013); idle engines of other models are freed first', async () => {
    const a = await servedFromFile(testModel({ seed: 33, name: 'a' }));
    const b = await servedFromFile(testModel({ seed: 34, name: 'b' }));
    expect(a.engineBytes).toBeGreaterThan(10_000);
    // Room for two engines in all: the pooled engines loading left behind must give way.
    const s = await startServer([a, b], { limits: { maxEngineBytes: 2 * Math.max(a.engineBytes, b.engineBytes) + 1 } });
    server = s;
    // Loading left one idle engine per model. a1 takes a's; a2 needs a new one: b's idle engine gives way.
    const a1 = await TestClient.open(s.streamUrl);
    expect((await a1.hello({ sensor: SENSOR, model: 'a' })).type).toBe('ready');
    const a2 = await TestClient.open(s.streamUrl);
    expect((await a2.hello({ sensor: SENSOR, model: 'a' })).type).toBe('ready');
    expect(b.pooledEngines).toBe(0);
    // Now two engines are held: b does not fit.
    const b1 = await TestClient.open(s.streamUrl);
    const e = await b1.hello({ sensor: SENSOR, model: 'b' }) as ErrorMessage;
    expect(e).toMatchObject({ type: 'error', code: 'RATE_LIMITED', fatal: true });
    expect(e.message).toMatch(/maxEngineBytes/);
    await b1.closed;
    expect(b1.closeCode).toBe(1013);
    a1.send({ type: 'bye' });
    await a1.closed;
    // a1's engine went back to a's pool; b still needs room, which freeing a's idle engine makes.
    const b2 = await TestClient.open(s.streamUrl);
    expect((await b2.hello({ sensor: SENSOR, model: 'b' })).type).toBe('ready');
    expect(a.pooledEngines).toBe(0);
    for (const c of [a2, b2]) c.ws.terminate();
  });

  it('refuses to start with a model whose single engine exceeds the budget', async () => {
    const a = await servedFromFile(testModel({ seed: 35, name: 'big' }));
    await expect(startServer([a], { limits: { maxEngineBytes: Math.floor(a.engineBytes / 2) } })).rejects.toThrow(/maxEngineBytes/);
  });
});

describe('binning limits', () => {
  const ev = (t: number[]) => ({ t: Float64Array.from(t), x: new Uint16Array(t.length).fill(1), y: new Uint16Array(t.length).fill(2), p: new Uint8Array(t.length).fill(1) });

  it('maxGapWindows: a forward jump that would close too many windows discards the sample with OUT_OF_RANGE; the session goes on', async () => {
    const s = await withServer({ maxGapWindows: 1000 });
    const c = await TestClient.open(s.streamUrl);
    await c.hello({ sensor: SENSOR, mode: 'sample' });
    c.sendBytes(encodeEventsMessage(ev([0, 10, 20])));
    c.sendBytes(encodeEventsMessage(ev([5_000_000]))); // 5000 windows of 1 ms later
    const e = await c.next<ErrorMessage>((m) => m.type === 'error');
    expect(e).toMatchObject({ code: 'OUT_OF_RANGE', fatal: false });
    expect(e.message).toMatch(/maxGapWindows/);
    c.sendBytes(encodeEventsMessage(ev([6_000_000, 6_000_500, 6_001_500])));
    c.send({ type: 'flush' });
    const p = await c.next<PredictionMessage>((m) => m.type === 'prediction');
    expect(p.window).toEqual([6_000_000, 6_001_000]); // only the new sample (tonic's tail rule drops the last window)
    c.ws.terminate();
  });

  it('maxSampleEvents: a whole-sample model refuses a sample beyond it with TOO_LARGE and starts the next sample clean', async () => {
    const nbins = await servedFromFile(testModel({ seed: 36, name: 'nb', binning: { mode: 'n_time_bins', bins: 4 } }));
    server = await startServer([nbins], { limits: { maxSampleEvents: 100 } });
    const c = await TestClient.open(server.streamUrl);
    await c.hello({ sensor: SENSOR });
    c.sendBytes(encodeEventsMessage(ev(Array.from({ length: 80 }, (_, i) => i * 10))));
    c.sendBytes(encodeEventsMessage(ev(Array.from({ length: 30 }, (_, i) => 800 + i * 10))));
    const e = await c.next<ErrorMessage>((m) => m.type === 'error');
    expect(e).toMatchObject({ code: 'TOO_LARGE', fatal: false });
    expect(e.message).toMatch(/maxSampleEvents/);
    c.sendBytes(encodeEventsMessage(ev(Array.from({ length: 40 }, (_, i) => 2000 + i * 10))));
    c.send({ type: 'flush' });
    const p = await c.next<PredictionMessage>((m) => m.type === 'prediction');
    expect(p.events).toBeLessThanOrEqual(40);
    expect(p.window[0]).toBe(2000);
    c.ws.terminate();
  });
});
