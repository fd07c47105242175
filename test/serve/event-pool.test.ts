/**
 * Pooled column storage for decoded `events` messages (src/serve/event-pool.ts): the pool's own
 * rules, in-place filters equal to the allocating ones, and, over a real server, sessions whose
 * chunks are reused many times predict exactly what a pipeline fed fresh arrays predicts, with
 * and without clocks (with none, the binning holds views across messages) and with a downsample
 * rewriting the pooled columns in place.
 */
import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBatches, sliceBatch, type EventBatch } from '../../src/events/batch.js';
import { readEventFile } from '../../src/events/open-event-file.js';
import { ChunkCache } from '../../src/serve/chunk-cache.js';
import { EventPool } from '../../src/serve/event-pool.js';
import { createFilterChain } from '../../src/serve/filter-chain.js';
import { InferencePipeline, type PipelinePrediction } from '../../src/serve/inference-pipeline.js';
import type { FilterSpec, PredictionMessage } from '../../src/serve/protocol.js';
import type { ServedModel } from '../../src/serve/served-model.js';
import type { SpikestreamServer } from '../../src/serve/server.js';
import type { ClockedBatch } from '../../src/stream/clocked-batch.js';
import { encodeEventsMessage } from '../../src/stream/protocol-events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { servedFromFile, sleep, startServer, testModel, TestClient } from './helpers.js';

describe('EventPool', () => {
  const fill = (b: EventBatch, v: number) => {
    b.t.fill(v);
    b.x.fill(v);
    b.y.fill(v);
    b.p.fill(v & 1);
  };

  it('carves consecutive batches out of one chunk without overlap; larger ones get their own arrays', () => {
    const pool = new EventPool({ chunkEvents: 100 });
    const a = pool.take(40);
    const b = pool.take(60);
    expect(a.t.buffer).toBe(b.t.buffer);
    fill(a, 1);
    fill(b, 2);
    expect([...a.t, ...a.x, ...a.y]).toEqual(new Array(120).fill(1));
    expect([...b.t, ...b.x, ...b.y]).toEqual(new Array(180).fill(2));
    const c = pool.take(1); // does not fit: a new chunk
    expect(c.t.buffer).not.toBe(a.t.buffer);
    const big = pool.take(101);
    expect(big.t.length).toBe(101);
    expect(pool.owns(big)).toBe(false);
    expect(pool.owns(a)).toBe(true);
    expect(pool.allocated).toBe(2);
  });

  it('reuses a chunk only once it is not being carved, has left the queue, is not held and not pinned', () => {
    const pool = new EventPool({ chunkEvents: 10, maxFree: 1 });
    const a = pool.take(10);
    pool.queued(a);
    const b = pool.take(10); // a's chunk is no longer current
    const notHeld = () => false;
    pool.recycle(notHeld);
    expect(pool.take(10).t.buffer).not.toBe(a.t.buffer); // still queued
    pool.dequeued(a);
    pool.recycle(() => true); // held by the pipeline
    expect(pool.take(10).t.buffer).not.toBe(a.t.buffer);
    pool.recycle((buf) => buf !== a.t.buffer);
    const again = pool.take(10);
    expect(again.t.buffer).toBe(a.t.buffer);
    expect(pool.reused).toBe(1);
    // A pinned chunk is never handed out again.
    pool.pin(again);
    expect(pool.owns(again)).toBe(false);
    pool.take(10);
    pool.recycle(notHeld);
    for (let i = 0; i < 5; i++) expect(pool.take(10).t.buffer).not.toBe(a.t.buffer);
    expect(b.t.length).toBe(10);
  });

  it('keeps at most maxFree idle chunks', () => {
    const pool = new EventPool({ chunkEvents: 4, maxFree: 2 });
    const taken = Array.from({ length: 6 }, () => pool.take(4));
    pool.recycle(() => false);
    const buffers = new Set(taken.map((b) => b.t.buffer));
    const next = Array.from({ length: 4 }, () => pool.take(4).t.buffer);
    expect(next.filter((b) => buffers.has(b)).length).toBe(2);
  });
});

describe('ChunkCache shared by pools', () => {
  it('hands a chunk one session freed to another, and bounds the idle chunks of all of them', () => {
    const cache = new ChunkCache(13 * 4, 3);
    const a = new EventPool({ chunkEvents: 4, cache });
    const b = new EventPool({ chunkEvents: 4, cache });
    const fromA = Array.from({ length: 6 }, () => a.take(4));
    a.recycle(() => false); // five chunks are idle (the sixth is current): three kept
    expect(cache.size).toBe(3);
    const bufs = new Set(fromA.map((x) => x.t.buffer));
    const fromB = Array.from({ length: 4 }, () => b.take(4).t.buffer);
    expect(fromB.filter((x) => bufs.has(x)).length).toBe(3);
    expect(b.reused).toBe(3);
    expect(b.allocated).toBe(1);
    expect(cache.size).toBe(0);
  });

  it('refuses chunks of another size, and a pool whose chunks it cannot hold', () => {
    const cache = new ChunkCache(52, 2);
    expect(cache.give(new ArrayBuffer(51))).toBe(false);
    expect(cache.give(new ArrayBuffer(52))).toBe(true);
    expect(() => new EventPool({ chunkEvents: 5, cache })).toThrow(/52-byte chunks/);
    expect(() => new ChunkCache(0, 1)).toThrow(RangeError);
  });

  it('a closed session gives back none of the chunks it still tracks (views on them may live on)', () => {
    const cache = new ChunkCache(13 * 4, 8);
    const a = new EventPool({ chunkEvents: 4, cache });
    a.take(4);
    a.take(4);
    a.clear();
    expect(cache.size).toBe(0);
    a.recycle(() => false);
    expect(cache.size).toBe(0);
  });
});

describe('in-place filters', () => {
  const events = (w: number, h: number) => fc.array(fc.tuple(fc.integer({ min: 0, max: w - 1 }), fc.integer({ min: 0, max: h - 1 }), fc.integer({ min: 0, max: 1 })), { minLength: 1, maxLength: 200 })
    .map((a): EventBatch => ({ t: Float64Array.from(a, (_, i) => i), x: Uint16Array.from(a, (e) => e[0]), y: Uint16Array.from(a, (e) => e[1]), p: Uint8Array.from(a, (e) => e[2]) }));
  const copy = (b: EventBatch): EventBatch => ({ t: b.t.slice(), x: b.x.slice(), y: b.y.slice(), p: b.p.slice() });

  it('give what the allocating filters give; without inPlace the input is left as it was', () => {
    const sensor = { width: 97, height: 61 };
    const chains: FilterSpec[][] = [
      [{ op: 'downsample', width: 34, height: 20 }],
      [{ op: 'downsample', width: 50, height: 40 }, { op: 'flip_lr' }, { op: 'downsample', width: 7, height: 9 }],
      [{ op: 'flip_ud' }, { op: 'downsample', width: 34, height: 34 }],
      [{ op: 'center_crop', width: 80, height: 50 }, { op: 'downsample', width: 40, height: 25 }],
    ];
    fc.assert(fc.property(events(sensor.width, sensor.height), fc.integer({ min: 0, max: chains.length - 1 }), (b, k) => {
      const chain = createFilterChain(chains[k], sensor, 1 << 20);
      const before = copy(b);
      const expected = copy(chain.apply(b, false));
      expect(b).toEqual(before);
      expect(chain.apply(copy(b), true)).toEqual(expected);
    }), { numRuns: 100, seed: 5 });
  });

  it('an event outside the sensor fails in place with the allocating filter\'s error', () => {
    const chain = createFilterChain([{ op: 'downsample', width: 10, height: 10 }], { width: 40, height: 40 }, 1 << 20);
    const b: EventBatch = { t: Float64Array.of(1, 2, 3), x: Uint16Array.of(5, 45, 7), y: Uint16Array.of(5, 6, 7), p: Uint8Array.of(1, 0, 1) };
    const message = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    const expected = message(() => chain.apply(copy(b), false));
    expect(expected).toMatch(/outside/);
    expect(message(() => chain.apply(copy(b), true))).toBe(expected);
  });
});

const NMNIST = 'events/tonic/sample_nmnist.bin';

// In-process the session's own pool is reused when the pipeline lets go of it; with a worker, the
// worker copies each item into its pool and reuses that one by the same rule.
for (const workerThreads of [0, 1]) describeWithFixtures(`pooled sessions over a real server (${workerThreads} worker threads)`, [NMNIST], () => {
  let server: SpikestreamServer;
  let served: ServedModel;
  /** Overlapping 50 ms bins: open windows hold views on more events than a chunk has (several chunks). */
  let wide: ServedModel;
  let long: EventBatch;
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

  beforeAll(async () => {
    const events = (await readEventFile(sharedFixture(NMNIST))).events;
    // The recording ten times over, back to back: many more events than a few pool chunks hold.
    const span = events.t[events.t.length - 1] - events.t[0] + 1000;
    long = concatBatches(Array.from({ length: 10 }, (_, k) => ({ ...events, t: events.t.map((t) => t + k * span) })));
    served = await servedFromFile(testModel({ seed: 31, name: 'pooled' }));
    wide = await servedFromFile(testModel({ seed: 32, name: 'pooled-wide', binning: { mode: 'time_window', windowUs: 50_000, strideUs: 25_000 } }));
    // Small chunks: many reuses, and windows that span chunk boundaries.
    server = await startServer([served, wide], { workers: workerThreads, limits: { poolChunkEvents: 300 } });
  });
  afterAll(async () => {
    await server.close();
  });

  /** The same batches through a pipeline of fresh arrays, in process: the reference. */
  interface Hello { model: string; decisionUs: number; windowUs: number; filters: FilterSpec[]; sensor: { width: number; height: number } }

  function reference(batches: ClockedBatch[], hello: Hello): PipelinePrediction[] {
    const served = hello.model === wide.name ? wide : served0();
    const filters = hello.filters.length > 0 ? createFilterChain(hello.filters, hello.sensor, 1 << 22) : undefined;
    const pipe = new InferencePipeline(served, served.acquireEngine(), {
      mode: 'stream', width: 34, height: 34, filters, decisionUs: hello.decisionUs, windowUs: hello.windowUs, idleResetUs: hello.windowUs,
      maxGapWindows: 100_000, maxSampleEvents: 4_000_000, maxWindowSteps: 100_000,
    });
    const out: PipelinePrediction[] = [];
    for (const b of batches) {
      pipe.push(b, 0);
      pipe.run(Infinity, (p) => out.push(p));
    }
    pipe.flush(0);
    pipe.run(Infinity, (p) => out.push(p));
    return out;
  }

  const served0 = () => served;

  async function viaServer(batches: ClockedBatch[], hello: Hello, groupEvents = 2000): Promise<{ predictions: PredictionMessage[]; reused: number }> {
    const c = await TestClient.open(server.streamUrl);
    expect((await c.hello({ mode: 'stream', ...hello })).type).toBe('ready');
    expect(server.sessions().length).toBe(1);
    const session = server.sessions()[0];
    // In groups of ~groupEvents events, each sent once the session has processed the previous one
    // (sent all at once, every message would be decoded before the first is processed: no reuse).
    let sent = 0;
    let group = 0;
    for (const b of batches) {
      const bytes = encodeEventsMessage(b, b.t.length === 0 ? { t0: b.clockUs } : {});
      c.send(b.clockUs === undefined ? unpackr.unpack(bytes) : { ...(unpackr.unpack(bytes) as object), clock: b.clockUs });
      sent += b.t.length;
      group += b.t.length;
      if (group >= groupEvents) {
        group = 0;
        while (session.eventsIn < sent || session.queueDepth > 0) await sleep(2);
      }
    }
    c.send({ type: 'flush' });
    await c.next((m) => m.type === 'prediction' && m.final);
    const reused = session.pool.reused;
    c.send({ type: 'bye' });
    await c.closed;
    expect(c.ofType('error')).toEqual([]);
    return { predictions: c.ofType<PredictionMessage>('prediction'), reused };
  }

  const strip = (p: PredictionMessage | PipelinePrediction) => ({ window: p.window, index: p.index, scores: p.scores, counts: p.counts, events: p.events, timesteps: p.timesteps, final: p.final });

  it('1 ms slices with clocks, and odd-sized messages without (windows spanning messages), predict as fresh arrays do', async () => {
    const hello = { model: 'pooled', decisionUs: 10_000, windowUs: 30_000, filters: [] as FilterSpec[], sensor: { width: 34, height: 34 } };
    const slices: ClockedBatch[] = [];
    for (let i = 0, end = long.t[0] + 1000; i < long.t.length; end += 1000) {
      let j = i;
      while (j < long.t.length && long.t[j] < end) j++;
      slices.push({ ...sliceBatch(long, i, j), clockUs: end });
      i = j;
    }
    const odd: ClockedBatch[] = [];
    for (let i = 0, k = 0; i < long.t.length; k++) {
      const n = [37, 201, 3, 120][k % 4];
      odd.push(sliceBatch(long, i, Math.min(long.t.length, i + n)));
      i += n;
    }
    const cases = [[slices, hello, 2000], [odd, hello, 2000], [odd, { ...hello, model: wide.name, decisionUs: 50_000, windowUs: 100_000 }, 1]] as const;
    for (const [batches, h, group] of cases) {
      const { predictions, reused } = await viaServer(batches, h, group);
      expect(reused).toBeGreaterThan(2);
      expect(predictions.length).toBeGreaterThan(20);
      expect(predictions.map(strip)).toEqual(reference(batches, h).map(strip));
    }
  });

  it('a downsample rewriting pooled columns in place predicts as the allocating filter does', async () => {
    const big = { ...long, x: long.x.map((v) => 2 * v + 1), y: long.y.map((v) => 2 * v) };
    const hello = { model: 'pooled', decisionUs: 20_000, windowUs: 50_000, filters: [{ op: 'downsample', width: 34, height: 34 }] as FilterSpec[], sensor: { width: 68, height: 68 } };
    const batches: ClockedBatch[] = [];
    for (let i = 0; i < big.t.length; i += 250) batches.push(sliceBatch(big, i, Math.min(big.t.length, i + 250)));
    const { predictions, reused } = await viaServer(batches, hello);
    expect(reused).toBeGreaterThan(2);
    expect(predictions.map(strip)).toEqual(reference(batches, hello).map(strip));
  });
});
