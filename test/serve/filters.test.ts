/**
 * Per-session filters (hello.filters) over a real server: a larger sensor cropped or downsampled
 * onto the model's grid predicts what the model gives for the original recording; denoise and
 * refractory equal the stream module's filters applied offline; bad filter lists are refused with
 * their code; decoded raw events outside the declared sensor are dropped and counted.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EventBatch } from '../../src/events/batch.js';
import { encodeNmnist } from '../../src/events/nmnist.js';
import { readEventFile } from '../../src/events/open-event-file.js';
import type { ErrorMessage, PredictionMessage, ReadyMessage, StatsMessage } from '../../src/serve/protocol.js';
import type { SpikestreamServer } from '../../src/serve/server.js';
import { denoiseEvents, initDenoise } from '../../src/stream/denoise.js';
import { encodeEventsMessage, encodeRawMessage } from '../../src/stream/protocol-events.js';
import { initRefractoryPeriod, refractoryPeriodEvents } from '../../src/stream/refractory-period.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { runOracle, servedFromFile, startServer, testModel, TestClient } from './helpers.js';

const NMNIST = 'events/tonic/sample_nmnist.bin';

describeWithFixtures('session filters', [NMNIST], () => {
  const model = testModel({ seed: 91, name: 'f' });
  let server: SpikestreamServer;
  let events: EventBatch;

  beforeAll(async () => {
    server = await startServer([await servedFromFile(model)]);
    events = (await readEventFile(sharedFixture(NMNIST))).events;
  });
  afterAll(async () => {
    await server.close();
  });

  async function predict(sensor: { width: number; height: number }, filters: unknown[], send: (c: TestClient) => void): Promise<{ p: PredictionMessage; ready: ReadyMessage; stats: StatsMessage }> {
    const c = await TestClient.open(server.streamUrl);
    const ready = await c.hello({ sensor, mode: 'sample', filters }) as ReadyMessage;
    expect(ready.type).toBe('ready');
    send(c);
    c.send({ type: 'flush' });
    const p = await c.next<PredictionMessage>((m) => m.type === 'prediction');
    c.send({ type: 'bye' });
    await c.closed;
    return { p, ready, stats: c.ofType<StatsMessage>('stats').at(-1) as StatsMessage };
  }

  const expectRun = (p: PredictionMessage, ev: EventBatch) => {
    const r = runOracle(model, ev);
    expect({ scores: p.scores, counts: p.counts, timesteps: p.timesteps }).toEqual({ scores: r.scores, counts: r.outputCounts, timesteps: r.timesteps });
  };

  it('downsample: a 68x68 sensor with doubled coordinates, downsampled to 34x34, predicts as the original', async () => {
    const big = { ...events, x: events.x.map((v) => 2 * v + 1), y: events.y.map((v) => 2 * v) };
    const { p, ready } = await predict({ width: 68, height: 68 }, [{ op: 'downsample', width: 34, height: 34 }], (c) => c.sendBytes(encodeEventsMessage(big)));
    expect(ready.filtered).toEqual({ width: 34, height: 34 });
    expectRun(p, events);
  });

  it('center_crop and flips: shifted and mirrored twice gives the original back', async () => {
    const shifted = { ...events, x: events.x.map((v) => v + 3), y: events.y.map((v) => v + 3) };
    const { p } = await predict({ width: 40, height: 40 }, [{ op: 'flip_lr' }, { op: 'center_crop', width: 34, height: 34 }, { op: 'flip_lr' }, { op: 'flip_ud' }, { op: 'flip_ud' }], (c) => c.sendBytes(encodeEventsMessage(shifted)));
    expectRun(p, events);
  });

  it('denoise and refractory equal the stream filters applied to the recording offline, and count what they removed', async () => {
    const den = denoiseEvents(initDenoise({ filterTimeUs: 10_000, width: 34, height: 34 }), events).events;
    const r1 = await predict({ width: 34, height: 34 }, [{ op: 'denoise', filterUs: 10_000 }], (c) => {
      c.sendBytes(encodeEventsMessage({ t: events.t.subarray(0, 2000), x: events.x.subarray(0, 2000), y: events.y.subarray(0, 2000), p: events.p.subarray(0, 2000) }));
      c.sendBytes(encodeEventsMessage({ t: events.t.subarray(2000), x: events.x.subarray(2000), y: events.y.subarray(2000), p: events.p.subarray(2000) }));
    });
    expect(den.t.length).toBeLessThan(events.t.length);
    expectRun(r1.p, den);
    expect(r1.stats.eventsFiltered).toBe(events.t.length - den.t.length);
    const ref = refractoryPeriodEvents(initRefractoryPeriod({ refractoryUs: 1000, width: 34, height: 34 }), events).events;
    expectRun((await predict({ width: 34, height: 34 }, [{ op: 'refractory', refractoryUs: 1000 }], (c) => c.sendBytes(encodeEventsMessage(events)))).p, ref);
  });

  it('refuses filter lists it cannot apply, with the code and the filter named', async () => {
    const c = await TestClient.open(server.streamUrl);
    const cases: [unknown[], string, RegExp][] = [
      [[{ op: 'downsample', width: 5000, height: 34 }], 'OUT_OF_RANGE', /filters\[0\] \(downsample\)/],
      [[{ op: 'denoise', filterUs: 1000 }], 'OUT_OF_RANGE', /maxFilterPixels/],
      [[{ op: 'blur', sigma: 2 }], 'BAD_MESSAGE', /filters/],
      [[{ op: 'refractory', refractoryUs: -1 }], 'BAD_MESSAGE', /filters/],
      [Array.from({ length: 9 }, () => ({ op: 'flip_lr' })), 'BAD_MESSAGE', /filters/],
    ];
    for (const [filters, code, msg] of cases) {
      const e = await c.hello({ sensor: { width: 4096, height: 4096 }, filters }) as ErrorMessage;
      expect({ code: e.code, fatal: e.fatal }).toEqual({ code, fatal: false });
      expect(e.message).toMatch(msg);
    }
    c.ws.terminate();
  });

  it('decoded raw events outside the declared sensor are dropped and counted', async () => {
    // The recording is 34x34; declaring 30x30 puts the events with x or y >= 30 outside.
    const outside = events.x.filter((v, i) => v >= 30 || events.y[i] >= 30).length;
    const { stats } = await predict({ width: 30, height: 30 }, [], (c) => c.sendBytes(encodeRawMessage('nmnist', encodeNmnist(events))));
    expect(outside).toBeGreaterThan(0);
    expect(stats.eventsOutOfRange).toBe(outside);
  });
});
