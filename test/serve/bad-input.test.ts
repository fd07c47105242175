/**
 * Hostile and broken clients against a real server: every validation error gets its protocol
 * code and the session goes on; fatal ones close it; oversize messages, wrong tokens, 200 rapid
 * connects/disconnects and a client that never reads leave the server up, its memory bounded,
 * and a concurrent session's predictions unchanged.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { allocBatch, concatBatches, type EventBatch } from '../../src/events/batch.js';
import { readEventFile } from '../../src/events/open-event-file.js';
import type { ErrorMessage, PredictionMessage, StatsMessage } from '../../src/serve/protocol.js';
import type { ServedModel } from '../../src/serve/served-model.js';
import type { SpikestreamServer } from '../../src/serve/server.js';
import { encodeEventsMessage, encodeRawMessage } from '../../src/stream/protocol-events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { pack, servedFromFile, sleep, splitBatch, startServer, testModel, TestClient } from './helpers.js';

const NMNIST = 'events/tonic/sample_nmnist.bin';
const SENSOR = { width: 34, height: 34 };

/** Streams the recording in a sample session and returns its prediction (the reference workload). */
async function referenceRun(url: string, events: EventBatch, beforeFlush?: () => Promise<void>): Promise<PredictionMessage> {
  const c = await TestClient.open(url);
  expect((await c.hello({ sensor: SENSOR, mode: 'sample' })).type).toBe('ready');
  for (const b of splitBatch(events, [1000, 2000, 3000])) {
    c.sendBytes(encodeEventsMessage(b));
    await sleep(5);
  }
  await beforeFlush?.();
  c.send({ type: 'flush' });
  const p = await c.next<PredictionMessage>((m) => m.type === 'prediction');
  c.send({ type: 'bye' });
  await c.closed;
  return p;
}

const strip = (p: PredictionMessage) => ({ ...p, latencyMs: 0 });

function bin(n: number, v = 0): Uint8Array {
  return new Uint8Array(n).fill(v);
}

describeWithFixtures('bad input', [NMNIST], () => {
  let events: EventBatch;
  let served: ServedModel;
  let nbins: ServedModel;
  let server: SpikestreamServer;
  let baseline: PredictionMessage;

  beforeAll(async () => {
    events = (await readEventFile(sharedFixture(NMNIST))).events;
    served = await servedFromFile(testModel({ seed: 21, name: 'main' }));
    nbins = await servedFromFile(testModel({ seed: 22, name: 'nbins', binning: { mode: 'n_time_bins', bins: 10 } }));
    server = await startServer([served, nbins], { limits: { maxMessageBytes: 64 << 10, maxPayloadBytes: 256 << 10, maxEventsPerMessage: 5000 } });
    baseline = await referenceRun(server.streamUrl, events);
    expect(baseline.timesteps).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await server.close();
  });

  it('hello errors: each gets its code; non-fatal ones leave the connection waiting for a good hello', async () => {
    const cases: [string, unknown, ErrorMessage['code']][] = [
      ['events before hello', { type: 'events', t0: 0, t: bin(0), x: bin(0), y: bin(0), p: bin(0) }, 'BAD_MESSAGE'],
      ['missing sensor', { type: 'hello', protocol: 1 }, 'BAD_MESSAGE'],
      ['missing protocol', { type: 'hello', sensor: SENSOR }, 'BAD_MESSAGE'],
      ['zero width', { type: 'hello', protocol: 1, sensor: { width: 0, height: 34 } }, 'BAD_MESSAGE'],
      ['width beyond 65536', { type: 'hello', protocol: 1, sensor: { width: 70000, height: 34 } }, 'BAD_MESSAGE'],
      ['width not a number', { type: 'hello', protocol: 1, sensor: { width: '34', height: 34 } }, 'BAD_MESSAGE'],
      ['unknown model', { type: 'hello', protocol: 1, sensor: SENSOR, model: 'nope' }, 'UNKNOWN_MODEL'],
      ['unknown mode', { type: 'hello', protocol: 1, sensor: SENSOR, mode: 'sideways' }, 'BAD_MESSAGE'],
      ['decision period off the bin grid', { type: 'hello', protocol: 1, sensor: SENSOR, mode: 'stream', decisionUs: 1500 }, 'OUT_OF_RANGE'],
      ['negative window', { type: 'hello', protocol: 1, sensor: SENSOR, windowUs: -5 }, 'BAD_MESSAGE'],
      ['stream mode on a whole-sample model', { type: 'hello', protocol: 1, sensor: SENSOR, model: 'nbins', mode: 'stream' }, 'BAD_MESSAGE'],
      ['window beyond maxWindowSteps', { type: 'hello', protocol: 1, sensor: SENSOR, mode: 'stream', windowUs: 2_000_000_000 }, 'OUT_OF_RANGE'],
    ];
    const c = await TestClient.open(server.streamUrl);
    for (const [what, msg, code] of cases) {
      const n = c.ofType('error').length;
      c.send(msg);
      const e = await c.next<ErrorMessage>((m) => m.type === 'error' && c.ofType('error').length > n);
      expect({ what, code: e.code, fatal: e.fatal }).toEqual({ what, code, fatal: false });
      expect(e.message.length).toBeGreaterThan(5);
    }
    expect((await c.hello({ sensor: SENSOR })).type).toBe('ready');
    c.send({ type: 'bye' });
    await c.closed;
  });

  it('an unsupported protocol version is fatal (close 1002)', async () => {
    const c = await TestClient.open(server.streamUrl);
    c.send({ type: 'hello', protocol: 2, sensor: SENSOR });
    const e = await c.next<ErrorMessage>((m) => m.type === 'error');
    expect(e).toMatchObject({ code: 'UNSUPPORTED_PROTOCOL', fatal: true });
    await c.closed;
    expect(c.closeCode).toBe(1002);
  });

  it('every bad message in a session gets an error with its code and the session still predicts as before', async () => {
    const c = await TestClient.open(server.streamUrl);
    expect((await c.hello({ sensor: SENSOR, mode: 'sample' })).type).toBe('ready');
    const ok = { type: 'events', t0: 1000, t: bin(4), x: bin(2), y: bin(2), p: bin(1) };
    const cases: [string, () => void, ErrorMessage['code']][] = [
      ['missing t0', () => c.send({ ...ok, t0: undefined }), 'BAD_MESSAGE'],
      ['infinite t0', () => c.send({ ...ok, t0: Infinity }), 'BAD_MESSAGE'],
      ['NaN t0', () => c.send({ ...ok, t0: NaN }), 'BAD_MESSAGE'],
      ['fractional t0', () => c.send({ ...ok, t0: 1.5 }), 'BAD_MESSAGE'],
      ['x as a string', () => c.send({ ...ok, x: 'ab' }), 'BAD_MESSAGE'],
      ['x as a plain array', () => c.send({ ...ok, x: [1] }), 'BAD_MESSAGE'],
      ['missing p', () => c.send({ ...ok, p: undefined }), 'BAD_MESSAGE'],
      ['column lengths disagree', () => c.send({ ...ok, t: bin(8) }), 'BAD_MESSAGE'],
      ['odd byte count in x', () => c.send({ ...ok, x: bin(3) }), 'BAD_MESSAGE'],
      ['x outside the sensor', () => c.send({ ...ok, x: Uint8Array.of(34, 0) }), 'OUT_OF_RANGE'],
      ['y outside the sensor', () => c.send({ ...ok, y: Uint8Array.of(0xff, 0xff) }), 'OUT_OF_RANGE'],
      ['polarity 2', () => c.send({ ...ok, p: Uint8Array.of(2) }), 'BAD_MESSAGE'],
      ['negative seq', () => c.send({ ...ok, seq: -1 }), 'BAD_MESSAGE'],
      ['fractional clock', () => c.send({ ...ok, clock: 1000.5 }), 'BAD_MESSAGE'],
      ['clock as a string', () => c.send({ ...ok, clock: '2000' }), 'BAD_MESSAGE'],
      ['too many events in one message', () => c.sendBytes(encodeEventsMessage(allocBatch(5001))), 'TOO_LARGE'],
      ['message above maxMessageBytes', () => c.sendBytes(encodeRawMessage('nmnist', bin(100 << 10))), 'TOO_LARGE'],
      ['raw with an unknown format', () => c.send({ type: 'raw', format: 'mp4', data: bin(5) }), 'BAD_MESSAGE'],
      ['raw data not binary', () => c.send({ type: 'raw', format: 'nmnist', data: 'abcde' }), 'BAD_MESSAGE'],
      ['unknown type', () => c.send({ type: 'frobnicate' }), 'BAD_MESSAGE'],
      ['no type', () => c.send({ t0: 5 }), 'BAD_MESSAGE'],
      ['type not a string', () => c.send({ type: 7 }), 'BAD_MESSAGE'],
      ['a msgpack array', () => c.send([1, 2, 3]), 'BAD_MESSAGE'],
      ['a msgpack string', () => c.send('hello'), 'BAD_MESSAGE'],
      ['reserved byte 0xc1', () => c.sendBytes(Uint8Array.of(0xc1)), 'BAD_MESSAGE'],
      ['truncated map', () => c.sendBytes(Uint8Array.of(0x82, 0xa4, 0x74)), 'BAD_MESSAGE'],
      ['map32 declaring 4 billion entries', () => c.sendBytes(Uint8Array.of(0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1)), 'BAD_MESSAGE'],
      ['bin32 declaring 4 GB', () => c.sendBytes(Uint8Array.of(0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xc6, 0xff, 0xff, 0xff, 0xff)), 'BAD_MESSAGE'],
      ['trailing bytes after the map', () => c.sendBytes(Buffer.concat([pack({ type: 'flush' }), Buffer.of(0)])), 'BAD_MESSAGE'],
      ['empty binary frame', () => c.sendBytes(new Uint8Array(0)), 'BAD_MESSAGE'],
      ['invalid JSON text', () => c.sendBytes(Buffer.from('{"type": "flush"'), false), 'BAD_MESSAGE'],
      ['events as JSON (no binary columns)', () => c.sendJson({ type: 'events', t0: 0, t: [], x: [], y: [], p: [] }), 'BAD_MESSAGE'],
      ['type with a trailing space', () => c.send({ type: 'flush ' }), 'BAD_MESSAGE'],
      ['a second hello', () => c.send({ type: 'hello', protocol: 1, sensor: SENSOR }), 'BAD_MESSAGE'],
      ['prototype keys', () => c.sendBytes(Buffer.from([0x82, 0xa4, ...Buffer.from('type'), 0xa6, ...Buffer.from('events'), 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa2, 0x74, 0x30, 0x01])), 'BAD_MESSAGE'],
    ];
    for (const [what, send, code] of cases) {
      const n = c.ofType('error').length;
      send();
      const e = await c.next<ErrorMessage>((m) => m.type === 'error' && c.ofType('error').length > n);
      expect({ what, code: e.code, fatal: e.fatal }).toEqual({ what, code, fatal: false });
    }
    expect(({} as Record<string, unknown>).t0).toBeUndefined();
    // raw format switch: the first raw fixes the connection's format.
    c.sendBytes(encodeRawMessage('nmnist', new Uint8Array(0)));
    c.sendBytes(encodeRawMessage('evt3', bin(4)));
    expect((await c.next<ErrorMessage>((m) => m.type === 'error' && /raw\.format/.test(m.message))).code).toBe('BAD_MESSAGE');
    // After all that, the session predicts the recording exactly as a clean one.
    c.send({ type: 'reset' });
    for (const b of splitBatch(events, [1000, 2000, 3000])) c.sendBytes(encodeEventsMessage(b));
    c.send({ type: 'flush' });
    const p = await c.next<PredictionMessage>((m) => m.type === 'prediction');
    expect(strip({ ...p, seq: baseline.seq })).toEqual(strip(baseline));
    c.send({ type: 'bye' });
    await c.closed;
    const stats = c.ofType<StatsMessage>('stats').at(-1) as StatsMessage;
    expect(stats.badMessages).toBe(cases.length + 1);
  });

  it('a raw decode failure refuses further raw data but keeps the session', async () => {
    const c = await TestClient.open(server.streamUrl);
    await c.hello({ sensor: SENSOR, mode: 'sample' });
    c.sendBytes(encodeRawMessage('aedat4', Buffer.from('this is not an AEDAT 4 file at all\r\n')));
    const e = await c.next<ErrorMessage>((m) => m.type === 'error');
    expect(e.code).toBe('BAD_MESSAGE');
    expect(e.message).toMatch(/aedat4/);
    for (const b of splitBatch(events, [2000])) c.sendBytes(encodeEventsMessage(b));
    c.send({ type: 'flush' });
    const p = await c.next<PredictionMessage>((m) => m.type === 'prediction');
    expect(strip(p)).toEqual(strip(baseline));
    c.send({ type: 'bye' });
    await c.closed;
  });

  it('a message above maxPayloadBytes closes that connection with 1009; others are unaffected', async () => {
    const ref = referenceRun(server.streamUrl, events, async () => {
      const c = await TestClient.open(server.streamUrl);
      await c.hello({ sensor: SENSOR });
      c.sendBytes(encodeRawMessage('nmnist', bin(300 << 10)));
      await c.closed;
      expect(c.closeCode).toBe(1009);
    });
    expect(strip(await ref)).toEqual(strip(baseline));
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  });

  it('200 rapid connects and disconnects (clean, abrupt, mid-hello, garbage) leave the server up and the reference session unchanged', async () => {
    const ref = referenceRun(server.streamUrl, events, async () => {
      for (let i = 0; i < 200; i++) {
        const ws = new WebSocket(server.streamUrl);
        ws.on('error', () => undefined);
        await new Promise<void>((r) => {
          ws.once('open', () => {
            switch (i % 5) {
              case 0: ws.close(); break;
              case 1: ws.terminate(); break;
              case 2: ws.send(pack({ type: 'hello', protocol: 1, sensor: SENSOR })); ws.terminate(); break;
              case 3: ws.send(Buffer.from([0xc1, 0xc1, 0xc1])); ws.close(); break;
              default: ws.send(pack({ type: 'hello', protocol: 1, sensor: SENSOR })); ws.send(encodeEventsMessage(events)); ws.close(); break;
            }
            r();
          });
          ws.once('error', () => r());
        });
      }
    });
    expect(strip(await ref)).toEqual(strip(baseline));
    for (let i = 0; i < 200 && server.sessions().length > 0; i++) await sleep(10);
    expect(server.sessions()).toEqual([]);
    const health = await (await fetch(`${server.httpUrl}/healthz`)).json() as { status: string; connections: number };
    expect(health).toMatchObject({ status: 'ok', connections: 0 });
  });
});

describeWithFixtures('wrong token', [NMNIST], () => {
  it('a hello without or with a wrong token is refused with AUTH_REQUIRED (fatal, 1008); the right one works', async () => {
    const server = await startServer([await servedFromFile(testModel({ seed: 23 }))], { token: 's3cret-token' });
    try {
      for (const token of [undefined, 'wrong', 's3cret-tokeN', 's3cret-token-and-more', '']) {
        const c = await TestClient.open(server.streamUrl);
        c.send({ type: 'hello', protocol: 1, sensor: SENSOR, ...(token !== undefined ? { token } : {}) });
        const e = await c.next<ErrorMessage>((m) => m.type === 'error');
        expect(e).toMatchObject({ code: 'AUTH_REQUIRED', fatal: true });
        await c.closed;
        expect(c.closeCode).toBe(1008);
      }
      const c = await TestClient.open(server.streamUrl);
      expect((await c.hello({ sensor: SENSOR, token: 's3cret-token' })).type).toBe('ready');
      c.send({ type: 'bye' });
      await c.closed;
      expect((await fetch(`${server.httpUrl}/metrics`)).status).toBe(401);
      expect((await fetch(`${server.httpUrl}/v1/models`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${server.httpUrl}/v1/models`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
      expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describeWithFixtures('a client that never reads', [NMNIST], () => {
  it('gets its predictions dropped, then is closed; server send buffer stays bounded and another session is unaffected', async () => {
    // A wide output layer makes predictions big (2 x 3000 numbers), so kernel buffers fill fast.
    const wide = await servedFromFile(testModel({ seed: 24, name: 'wide', layers: [{ op: 'Conv2d', out: 8, kernel: 5, stride: 2 }, { op: 'IF' }, { op: 'Flatten' }, { op: 'Linear', out: 3000 }, { op: 'IF' }] }));
    const main = await servedFromFile(testModel({ seed: 21, name: 'main' }));
    const maxBufferedBytes = 256 << 10;
    // A short stall timeout: the stall check runs every 200 ms, several times within the close's grace period.
    const server = await startServer([main, wide], { limits: { maxBufferedBytes, stalledTimeoutMs: 400 } });
    try {
      const events = (await readEventFile(sharedFixture(NMNIST))).events;
      const baseline = await referenceRun(server.streamUrl, events);
      const c = await TestClient.open(server.streamUrl);
      await c.hello({ sensor: SENSOR, model: 'wide', mode: 'stream', decisionUs: 1000, windowUs: 1000 });
      c.ws.pause(); // stop reading: the socket is never read again
      const big = concatBatches(Array.from({ length: 40 }, (_, k) => ({ ...events, t: events.t.map((t) => t + k * 320_000) })));
      let maxBuffered = 0;
      const watch = setInterval(() => {
        for (const s of server.sessionInfo()) maxBuffered = Math.max(maxBuffered, s.sendBuffered);
      }, 2);
      const ref = referenceRun(server.streamUrl, events, async () => {
        for (const b of splitBatch(big, Array.from({ length: 170 }, (_, i) => (i + 1) * 1000))) {
          c.sendBytes(encodeEventsMessage(b));
          await sleep(1);
        }
        for (let i = 0; i < 500 && server.sessions().some((s) => s.model.name === 'wide'); i++) await sleep(10);
      });
      expect(strip(await ref)).toEqual(strip(baseline));
      clearInterval(watch);
      expect(server.sessions().some((s) => s.model.name === 'wide')).toBe(false); // closed as stalled
      await sleep(1200); // past the close's grace period (the peer never answers the close frame either): counted once
      const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
      expect(Number(/spikestream_predictions_dropped_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
      expect(metrics).toMatch(/spikestream_sessions_closed_total\{reason="stalled"\} 1/);
      // Bounded: at most the limit plus the one message that crossed it.
      expect(maxBuffered).toBeGreaterThan(0);
      expect(maxBuffered).toBeLessThan(maxBufferedBytes + (64 << 10));
      c.ws.terminate();
    } finally {
      await server.close();
    }
  });
});
