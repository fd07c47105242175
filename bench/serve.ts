/**
 * bench/serve.ts: the inference server under load, with the server in a child process so that
 * clients and server do not share one event loop, started with the V8 flags `spikestream serve`
 * runs with (SERVE_V8_FLAGS). Clients connect over loopback.
 *
 * 1. Throughput: N clients stream a Prophesee EVT 2.0 recording (640x480, ~10 M events/s of
 *    recorded time: ../shared/fixtures/events/expelliarmus/evt2_sample.raw, or a synthetic
 *    one of the same rate when the fixture is missing) as fast as the server takes it, as `raw`
 *    chunks (the server decodes) and as `events` messages, in stream mode with 'backpressure'
 *    overflow (nothing dropped). Figures: aggregate events/s through decode, binning and the
 *    sparse engine (density 0.1), predictions/s, server RSS.
 * 2. Latency: N streams paced at R events/s each (default 8 x 1 M/s): every millisecond each
 *    client sends the next millisecond of events with `clock` = its end, so a window is complete
 *    when its last events arrive. Latency = from sending the message holding a window's last events to
 *    receiving its prediction (p50, p99), measured on the client.
 * Baseline (same run, same machine): the same work in one process without any network: the
 *    pipeline (decode + binning + engine) of one session, single-threaded. Ratios against it.
 *
 * Also per paced phase: the server's CPU (all threads, in cores, and per processed event: the
 *    figure that holds up on a loaded machine) and the clients' CPU.
 *
 * Usage: npm run bench -- serve, or npx tsx bench/serve.ts [--clients 8] [--seconds 3]
 * [--rate 1000000] [--only raw|events|latency] [--no-sweep] [--workers N] [--quick].
 * --only latency skips the throughput model and the baseline; --no-sweep measures only --clients
 * streams; --workers sets the server's pipeline worker threads (default: the server's own).
 * BENCH_DEBUG=1 prints the server's event-loop utilisation, queues, drops, GC pauses and CPU per
 * thread every half second; BENCH_SERVER_FLAGS passes node flags to the server (e.g. --trace-gc);
 * BENCH_SERVER_PROF=DIR writes its CPU profiles there, BENCH_ALLOC_PROF=FILE a sampled allocation
 * profile (collected objects included), BENCH_HEAP_SPACES=1 prints V8's heap spaces every 100 ms.
 * The p99 figure also says how much of it lay outside the server's own measurement, and the
 * event-loop delay of server and clients over the phase (a GC pause or a descheduled process
 * shows there).
 * Each figure is one JSON line {"name", "value", "unit", ...}.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Packr, Unpackr } from 'msgpackr';
import { concatBatches, type EventBatch } from '../src/events/batch.js';
import { createDecoder } from '../src/events/create-decoder.js';
import { encodeEvt2 } from '../src/events/evt2.js';
import { writeModelFile } from '../src/model/model-file.js';
import { randomModel } from '../src/model/random-model.js';
import type { Model } from '../src/model/model.js';
import { createEngine } from '../src/snn/create-engine.js';
import { runEngine } from '../src/snn/engine.js';
import type { LayerSpec } from '../src/snn/random-graph.js';
import { validateGraph } from '../src/snn/validate-graph.js';
import { binEventsByTime } from '../src/stream/bin-by-time.js';
import { downsampleEvents } from '../src/stream/downsample.js';
import type { Timestep } from '../src/stream/timestep.js';
import { InferencePipeline } from '../src/serve/inference-pipeline.js';
import { silentLogger } from '../src/serve/logger.js';
import { loadServedModel, serveModel } from '../src/serve/served-model.js';
import { SpikestreamServer } from '../src/serve/server.js';
import { SERVE_V8_FLAGS } from '../src/serve/v8-flags.js';
import { Rng } from '../src/snn/rng.js';
import { encodeEventsMessage, encodeRawMessage } from '../src/stream/protocol-events.js';
import { projectRoot } from './_root.js';

const ROOT = projectRoot(import.meta.url);
const FIXTURE = resolve(ROOT, '../shared/fixtures/events/expelliarmus/evt2_sample.raw');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const emit = (name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toPrecision(4)), unit, ...extra })}\n`);
};

/** Spikes per neuron per 1 ms step after calibration: hidden 1% (a 10 Hz mean rate), output 5%. */
const TARGET_RATES = [0.01, 0.05];

const FULL_LAYERS: LayerSpec[] = [{ op: 'Conv2d', out: 8, kernel: 4, stride: 4 }, { op: 'IF' }, { op: 'SumPool2d', kernel: 4 }, { op: 'Flatten' }, { op: 'Linear', out: 10 }, { op: 'IF' }];
/**
 * The latency phase's network, for the camera downsampled 4x by the session's filter (160x120). A
 * full-resolution input costs the engine a per-step floor proportional to the sensor (bitset
 * scans of its 614k inputs), which at 1 ms bins and 8 streams is much of a core before any event.
 */
const SMALL_LAYERS: LayerSpec[] = [{ op: 'Conv2d', out: 8, kernel: 4, stride: 2 }, { op: 'IF' }, { op: 'SumPool2d', kernel: 2 }, { op: 'Flatten' }, { op: 'Linear', out: 10 }, { op: 'IF' }];

/**
 * A random network at density 0.1 whose weights are scaled, layer by layer (bisection on log2 of
 * the gain), so that on the bench's own timesteps each IF layer fires at its TARGET_RATES: random
 * weights otherwise make a network silent or saturated, and the engine's cost follows its spikes.
 */
function calibratedModel(name: string, input: [number, number, number], layers: LayerSpec[], seed: number, timesteps: readonly Timestep[]): { model: Model; rates: number[] } {
  const gains = [1, 1];
  const build = () => randomModel({ seed, density: 0.1, gain: gains, input, layers, name });
  const rateOf = (m: Model, id: string): number => {
    const plan = validateGraph(m.graph);
    const size = plan.outShapes[plan.ids.indexOf(id)].reduce((a, b) => a * b, 1);
    const r = runEngine(createEngine('sparse', m.graph), timesteps);
    return r.spikesPerNode[id] / (size * r.timesteps);
  };
  for (let k = 0; k < 2; k++) {
    let lo = -4;
    let hi = 10;
    for (let it = 0; it < 10; it++) {
      const mid = (lo + hi) / 2;
      gains[k] = 2 ** mid;
      if (rateOf(build(), `if${k + 1}`) < TARGET_RATES[k]) lo = mid;
      else hi = mid;
    }
    gains[k] = 2 ** ((lo + hi) / 2);
  }
  const model = build();
  return { model, rates: ['if1', 'if2'].map((id) => Number(rateOf(model, id).toFixed(4))) };
}

/** The EVT 2.0 recording's bytes, or a synthetic 50 ms recording at ~10 M events/s. */
function recording(): { bytes: Uint8Array; source: string } {
  if (existsSync(FIXTURE)) return { bytes: new Uint8Array(readFileSync(FIXTURE)), source: 'evt2_sample.raw' };
  const rng = new Rng(1);
  const n = 500_000;
  const t = new Float64Array(n);
  const x = new Uint16Array(n);
  const y = new Uint16Array(n);
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = Math.floor(i / 10);
    x[i] = Math.floor(rng.next() * 640);
    y[i] = Math.floor(rng.next() * 480);
    p[i] = rng.next() < 0.5 ? 1 : 0;
  }
  return { bytes: encodeEvt2({ t, x, y, p }, { width: 640, height: 480 }), source: 'synthetic evt2 (fixture missing)' };
}

// ---------------------------------------------------------------- server child

async function serverMain(): Promise<void> {
  const paths = process.argv.slice(process.argv.indexOf('--models') + 1);
  const server = await SpikestreamServer.start({
    models: await Promise.all(paths.map((p) => loadServedModel(p))), port: 0, logger: silentLogger(),
    ...(process.argv.includes('--workers') ? { workers: arg('workers', 1) } : {}),
    limits: { maxSessions: 256, maxMessageBytes: 1 << 20, maxPayloadBytes: 4 << 20 },
  });
  // Event-loop delay of the server's main thread over a phase: GET resets it, then reports it.
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  server.addRoute('/bench/loop-delay', (req, res) => {
    const out = { p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 };
    eld.reset();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(out));
  });
  process.stdout.write(`READY ${server.streamUrl} ${server.httpUrl}\n`);
  if (process.env.BENCH_HEAP_SPACES) {
    // Which V8 heap space grows (debugging the server's GC): used MB per space every 100 ms.
    const { getHeapSpaceStatistics } = await import('node:v8');
    setInterval(() => {
      process.stderr.write(`spaces ${getHeapSpaceStatistics().map((x) => `${x.space_name.replace('_space', '')}=${(x.space_used_size / 2 ** 20).toFixed(1)}`).join(' ')}\n`);
    }, 100).unref();
  }
  if (process.env.BENCH_DEBUG) {
    const gc = { n: 0, total: 0, max: 0 };
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gc.n++;
        gc.total += e.duration;
        gc.max = Math.max(gc.max, e.duration);
      }
    }).observe({ entryTypes: ['gc'] });
    let last = performance.eventLoopUtilization();
    // CPU per thread (Linux): the main thread, pipeline workers, GC and libuv helpers.
    const threadTicks = (): Map<string, number> => {
      const m = new Map<string, number>();
      try {
        for (const tid of readdirSync('/proc/self/task')) {
          const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
          m.set(tid, Number(f[11]) + Number(f[12]));
        }
      } catch {
        // not Linux
      }
      return m;
    };
    let lastTicks = threadTicks();
    setInterval(() => {
      const ticks = threadTicks();
      const busy = [...ticks].map(([tid, t]) => [tid, (t - (lastTicks.get(tid) ?? t)) / 50] as const).filter(([, u]) => u >= 0.02).sort((a, b) => b[1] - a[1]);
      lastTicks = ticks;
      process.stderr.write(`threads ${busy.map(([tid, u]) => `${tid === String(process.pid) ? 'main' : tid}:${u.toFixed(2)}`).join(' ')}\n`);
      const now = performance.eventLoopUtilization();
      const d = performance.eventLoopUtilization(now, last);
      last = now;
      const info = server.sessionInfo();
      process.stderr.write(`server elu=${d.utilization.toFixed(2)} sessions=${info.length} queued=${info.reduce((a, x) => a + x.queueDepth, 0)} dropped=${info.reduce((a, x) => a + x.eventsDropped, 0)} preds=${info.reduce((a, x) => a + x.predictions, 0)} steps=${info.reduce((a, x) => a + x.timesteps, 0)} gc=${gc.n}/${gc.total.toFixed(1)}ms/max ${gc.max.toFixed(1)}ms mem=${JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 2 ** 20)])))}\n`);
      gc.n = 0;
      gc.total = 0;
      gc.max = 0;
    }, 500).unref();
  }
  // BENCH_ALLOC_PROF=FILE: every allocation sampled (collected ones too), written at exit.
  let allocProfile: (() => Promise<void>) | undefined;
  if (process.env.BENCH_ALLOC_PROF) {
    const { Session } = await import('node:inspector/promises');
    const session = new Session();
    session.connect();
    await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
    const file = process.env.BENCH_ALLOC_PROF;
    allocProfile = async () => {
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: unknown };
      const { writeFileSync } = await import('node:fs');
      writeFileSync(file, JSON.stringify(profile));
    };
  }
  const stop = (): void => {
    void (allocProfile?.() ?? Promise.resolve()).then(() => server.close()).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------- clients

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

interface Prediction { type: string; window: [number, number]; final: boolean; latencyMs: number }

/** A protocol client for the bench: zero masking key (saves client CPU on this shared machine). */
function connect(url: string, hello: Record<string, unknown>, onPrediction: (p: Prediction, at: number) => void): Promise<WebSocket> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { generateMask: (m: Buffer) => { m.fill(0); }, perMessageDeflate: false });
    ws.on('error', rej);
    ws.on('open', () => ws.send(packr.pack({ type: 'hello', protocol: 1, ...hello })));
    ws.on('message', (d) => {
      const m = unpackr.unpack(d as Buffer) as Prediction & { code?: string; message?: string };
      if (m.type === 'ready') res(ws);
      else if (m.type === 'error') rej(new Error(`${m.code}: ${m.message}`));
      else if (m.type === 'prediction') onPrediction(m, performance.now());
      if (process.env.BENCH_DEBUG && m.type !== 'prediction') console.error(JSON.stringify(m).slice(0, 300));
    });
  });
}

async function drained(ws: WebSocket, low = 4 << 20): Promise<void> {
  while (ws.bufferedAmount > low) await new Promise((r) => setTimeout(r, 1));
}

async function metric(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

async function rss(httpUrl: string): Promise<number> {
  return ((await (await fetch(`${httpUrl}/healthz`)).json()) as { rssBytes: number }).rssBytes;
}

/** Phase 1: every client loops over the recording for `seconds`, as raw chunks or events messages. */
async function throughput(url: string, httpUrl: string, clients: number, seconds: number, kind: 'raw' | 'events', rec: { bytes: Uint8Array; events: EventBatch }): Promise<{ eventsPerS: number; predictionsPerS: number; rssBytes: number }> {
  // Raw: the header once, then the body in a loop (each loop steps the decoder's time forward;
  // stream mode sees an idle gap and starts a new segment). Events: the same messages in a loop
  // (event time jumps back at each loop: a new segment too). Messages are encoded once, up
  // front, so the clients' own work stays small.
  const headerEnd = rawHeaderLength(rec.bytes);
  const body = rec.bytes.subarray(headerEnd);
  const chunk = 256 << 10;
  const msgs: Uint8Array[] = [];
  if (kind === 'raw') {
    for (let i = 0; i < body.length; i += chunk) msgs.push(encodeRawMessage('evt2', body.subarray(i, i + chunk)));
  } else {
    const perMsg = 50_000;
    for (let i = 0; i < rec.events.t.length; i += perMsg) {
      const end = Math.min(rec.events.t.length, i + perMsg);
      msgs.push(encodeEventsMessage({ t: rec.events.t.subarray(i, end), x: rec.events.x.subarray(i, end), y: rec.events.y.subarray(i, end), p: rec.events.p.subarray(i, end) }));
    }
  }
  let predictions = 0;
  const before = await metric(httpUrl, 'spikestream_events_processed_total');
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    const ws = await connect(url, { sensor: { width: 640, height: 480 }, mode: 'stream', decisionUs: 1000, windowUs: 10_000, overflow: 'backpressure' }, () => predictions++);
    if (kind === 'raw') ws.send(encodeRawMessage('evt2', rec.bytes.subarray(0, headerEnd)));
    while (performance.now() < deadline) {
      for (const m of msgs) {
        ws.send(m);
        await drained(ws);
      }
    }
    await new Promise<void>((r) => {
      ws.on('close', () => r());
      ws.send(packr.pack({ type: 'bye' }));
    });
  }));
  const wall = (performance.now() - t0) / 1000;
  const processed = (await metric(httpUrl, 'spikestream_events_processed_total')) - before;
  return { eventsPerS: processed / wall, predictionsPerS: predictions / wall, rssBytes: await rss(httpUrl) };
}

/** Length of the "% ..." header lines of a Prophesee raw file. */
function rawHeaderLength(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && b[i] === 0x25) {
    while (i < b.length && b[i] !== 0x0a) i++;
    i++;
  }
  return i;
}

/** Phase 2: paced streams; latency from sending a window's last events to its prediction. */
async function latency(url: string, httpUrl: string, clients: number, seconds: number, events: EventBatch): Promise<{ p50: number; p99: number; max: number; samples: number; predictionsPerS: number; serverP50: number; serverP99: number; rssBytes: number; achievedRate: number; droppedFraction: number; serverCpu: number; clientCpu: number; cpuUsPerEvent: number; loopDelay: Record<string, number>; outsideP99: number }> {
  const droppedBefore = await metric(httpUrl, 'spikestream_events_dropped_total');
  const t = events.t; // already re-timed to `rate` events/s, from t = 0
  // The first half second warms the sessions up (JIT, engine state) and is not measured.
  const warmupSlots = 500;
  const slots = warmupSlots + Math.floor(seconds * 1000);
  const recMs = Math.floor(t[t.length - 1] / 1000);
  // Pre-encode one message per millisecond: the events of [k, k+1) ms with clock = k+1 ms (the
  // protocol's events.clock), so the server can close the window as soon as the slice arrives.
  const msgs: Uint8Array[][] = [];
  let j = 0;
  for (let k = 0; k < slots; k++) {
    const loop = Math.floor(k / recMs);
    const base = loop * recMs * 1000;
    const lo = (k % recMs) * 1000;
    if (k % recMs === 0) j = 0;
    const start = j;
    while (j < t.length && t[j] < lo + 1000) j++;
    const part = { t: t.subarray(start, j).map((v) => v + base), x: events.x.subarray(start, j), y: events.y.subarray(start, j), p: events.p.subarray(start, j) };
    const ev = unpackr.unpack(encodeEventsMessage(part, { t0: base + lo })) as Record<string, unknown>;
    msgs.push([packr.pack({ ...ev, clock: base + lo + 1000 })]);
  }
  const decisionUs = 10_000;
  const lat: number[] = [];
  const server: number[] = [];
  let predictions = 0;
  const sockets: { ws: WebSocket; sentAt: Float64Array }[] = [];
  for (let c = 0; c < clients; c++) {
    const sentAt = new Float64Array(slots).fill(NaN);
    const hello = { sensor: { width: 640, height: 480 }, model: 'bench160', filters: [{ op: 'downsample', width: 160, height: 120 }], mode: 'stream', decisionUs, windowUs: 50_000 };
    const ws = await connect(url, hello, (p, at) => {
      predictions++;
      if (process.env.BENCH_DEBUG && predictions < 5) console.error(JSON.stringify(p).slice(0, 200));
      if (p.final) return;
      // Window [.., D): its last events were in the slot holding D - 1 us (each slot is 1 ms).
      const slot = Math.ceil(p.window[1] / 1000) - 1;
      if (slot >= warmupSlots && slot < slots && !Number.isNaN(sentAt[slot])) {
        lat.push(at - sentAt[slot]);
        server.push(p.latencyMs);
      }
    });
    sockets.push({ ws, sentAt });
  }
  const serverCpu0 = await metric(httpUrl, 'process_cpu_seconds_total');
  const processed0 = await metric(httpUrl, 'spikestream_events_processed_total');
  const clientCpu0 = process.cpuUsage();
  // Event-loop delay in both processes over the paced phase: a stall in either shows up end to end.
  await fetch(`${httpUrl}/bench/loop-delay`);
  const clientLoop = monitorEventLoopDelay({ resolution: 1 });
  clientLoop.enable();
  const t0 = performance.now() + 5;
  let next = 0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(slots, Math.floor(now - t0)); // slot k is due at t0 + k ms
      while (next < due) {
        for (const s of sockets) {
          for (const m of msgs[next]) s.ws.send(m);
          s.sentAt[next] = performance.now();
        }
        next++;
      }
      if (next >= slots) done();
      else setTimeout(tick, 0.5);
    };
    setTimeout(tick, 5);
  });
  const sendWall = (performance.now() - t0) / 1000;
  clientLoop.disable();
  const serverLoop = (await (await fetch(`${httpUrl}/bench/loop-delay`)).json()) as { p99: number; max: number };
  const loopDelay = { server_loop_delay_p99_ms: serverLoop.p99, server_loop_delay_max_ms: serverLoop.max, client_loop_delay_p99_ms: clientLoop.percentile(99) / 1e6, client_loop_delay_max_ms: clientLoop.max / 1e6 };
  const cu = process.cpuUsage(clientCpu0);
  const clientCpu = (cu.user + cu.system) / 1e6 / sendWall;
  const serverCpuS = (await metric(httpUrl, 'process_cpu_seconds_total')) - serverCpu0;
  const serverCpu = serverCpuS / sendWall;
  // CPU per event holds up on a loaded machine where wall-clock figures do not.
  const cpuUsPerEvent = (serverCpuS * 1e6) / ((await metric(httpUrl, 'spikestream_events_processed_total')) - processed0);
  await new Promise((r) => setTimeout(r, 200));
  const eventsSent = clients * countEvents(t, slots, recMs);
  const dropped = (await metric(httpUrl, 'spikestream_events_dropped_total')) - droppedBefore;
  for (const s of sockets) s.ws.terminate();
  await new Promise((r) => setTimeout(r, 100));
  // End to end minus server-side, per prediction: time outside the server's own measurement.
  const outside = lat.map((v, i) => v - server[i]).sort((a, b) => a - b);
  lat.sort((a, b) => a - b);
  server.sort((a, b) => a - b);
  const q = (a: number[], f: number) => a[Math.min(a.length - 1, Math.floor(f * a.length))];
  return {
    p50: q(lat, 0.5), p99: q(lat, 0.99), max: lat[lat.length - 1], samples: lat.length, predictionsPerS: predictions / sendWall,
    serverP50: q(server, 0.5), serverP99: q(server, 0.99), rssBytes: await rss(httpUrl), achievedRate: eventsSent / sendWall / clients, droppedFraction: dropped / eventsSent, serverCpu, clientCpu, cpuUsPerEvent, loopDelay, outsideP99: q(outside, 0.99),
  };
}

function countEvents(t: Float64Array, slots: number, recMs: number): number {
  let n = 0;
  for (let k = 0; k < slots; k++) {
    const lo = (k % recMs) * 1000;
    let a = 0;
    let b = t.length;
    while (a < b) { const m = (a + b) >> 1; if (t[m] < lo) a = m + 1; else b = m; }
    let c = a;
    let d = t.length;
    while (c < d) { const m = (c + d) >> 1; if (t[m] < lo + 1000) c = m + 1; else d = m; }
    n += c - a;
  }
  return n;
}

/** The recording re-timed to `rate` events/s from t = 0 (spatial structure kept). */
function retime(events: EventBatch, rate: number): EventBatch {
  const scale = (events.t.length / (events.t[events.t.length - 1] - events.t[0] + 1)) * 1e6 / rate;
  return { ...events, t: events.t.map((v) => Math.round((v - events.t[0]) * scale)) };
}

/** Baseline: one session's pipeline in this process, no network. */
function baseline(model: Model, bytes: Uint8Array, seconds: number): number {
  const sm = serveModel(model);
  const pipe = new InferencePipeline(sm, sm.acquireEngine(), {
    mode: 'stream', width: 640, height: 480, decisionUs: 1000, windowUs: 10_000, idleResetUs: 10_000,
    maxGapWindows: 100_000, maxSampleEvents: 4_000_000, maxWindowSteps: 100_000,
  });
  const chunk = 256 << 10;
  const dec = createDecoder('evt2');
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < bytes.length; i += chunk) {
      const b = dec.write(bytes.subarray(i, i + chunk));
      n += b.t.length;
      for (let j = 0; j < b.t.length; j += 65536) {
        pipe.push({ t: b.t.subarray(j, j + 65536), x: b.x.subarray(j, j + 65536), y: b.y.subarray(j, j + 65536), p: b.p.subarray(j, j + 65536) }, 0);
        pipe.run(Infinity, () => undefined);
      }
    }
  }
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  if (process.argv.includes('--server')) return serverMain();
  const quick = process.argv.includes('--quick');
  const clients = arg('clients', 8);
  const seconds = arg('seconds', quick ? 1 : 3);
  const rate = arg('rate', 1_000_000);
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  // `--only latency` skips the throughput phases' model and the baseline (which exist for them).
  const needFull = only !== 'latency';
  const rec = recording();
  const all = concatBatches([createDecoder('evt2').write(rec.bytes)]);
  // Calibrate on the recording as each phase delivers it: full speed at 640x480, and re-timed to
  // `rate` events/s and downsampled to 160x120 (first 100 ms).
  const full = needFull ? calibratedModel('bench640', [2, 480, 640], FULL_LAYERS, 5, binEventsByTime(all, { windowUs: 1000, width: 640, height: 480 }).timesteps) : undefined;
  const slow = retime(all, rate);
  const small = downsampleEvents(slow, { sensorWidth: 640, sensorHeight: 480, width: 160, height: 120 });
  const smallSteps = binEventsByTime(small, { windowUs: 1000, width: 160, height: 120 }).timesteps.slice(0, 100);
  const lat = calibratedModel('bench160', [2, 120, 160], SMALL_LAYERS, 6, smallSteps);
  const dir = mkdtempSync(join(tmpdir(), 'spikestream-bench-'));
  const modelPaths: string[] = [];
  if (full) {
    modelPaths.push(join(dir, 'bench640.msgpack'));
    await writeModelFile(modelPaths[0], full.model);
  }
  const latencyPath = join(dir, 'bench160.msgpack');
  await writeModelFile(latencyPath, lat.model);
  modelPaths.push(latencyPath);
  const common = { clients, model: 'conv 2->8 k4 s4, IF, sumpool 4, linear 9600->10, IF @ density 0.1, 640x480, 1 ms bins', spike_rates: full?.rates, recording: rec.source };

  // The baseline is measured before and after the server phases (the machine is shared: load varies).
  const base0 = full ? baseline(full.model, rec.bytes, Math.max(1, seconds / 2)) : NaN;

  const prof = process.env.BENCH_SERVER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SERVER_PROF}`] : [];
  if (process.env.BENCH_SERVER_FLAGS) prof.push(...process.env.BENCH_SERVER_FLAGS.split(' ').filter((f) => f !== ''));
  // The server runs as this script does: compiled under plain node (npm run bench) or through tsx.
  const loader = fileURLToPath(import.meta.url).endsWith('.ts') ? ['--import', 'tsx'] : [];
  // With the V8 flags `spikestream serve` relaunches itself with (src/serve/v8-flags.ts).
  const child = spawn(process.execPath, [...SERVE_V8_FLAGS, ...prof, ...loader, fileURLToPath(import.meta.url), '--server', ...(process.argv.includes('--workers') ? ['--workers', String(arg('workers', 1))] : []), '--models', ...modelPaths], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const [url, httpUrl] = await new Promise<[string, string]>((res, rej) => {
    let out = '';
    child.stdout.on('data', (d) => {
      // Anything else the server prints (e.g. --trace-gc through BENCH_SERVER_FLAGS) goes to stderr.
      if (process.env.BENCH_SERVER_FLAGS) process.stderr.write(d as Buffer);
      out += String(d);
      const m = /READY (\S+) (\S+)/.exec(out);
      if (m) res([m[1], m[2]]);
    });
    child.once('exit', (c) => rej(new Error(`server exited (${c})`)));
  });
  try {
    const results = [];
    for (const kind of ['raw', 'events'] as const) {
      if (only === undefined || only === kind) results.push({ kind, ...(await throughput(url, httpUrl, clients, seconds, kind, { bytes: rec.bytes, events: all })) });
    }
    // Latency at the target (clients streams), and with fewer streams to show where it holds.
    const sweep = process.argv.includes('--no-sweep') ? [clients] : [...new Set([1, 2, 4, clients].filter((c) => c <= clients))];
    for (const c of sweep) {
      if (only !== undefined && only !== 'latency') break;
      const l = await latency(url, httpUrl, c, seconds, slow);
      const tag = {
        ...common, clients: c, model: 'downsample 640x480 -> 160x120, conv 2->8 k4 s2, IF, sumpool 2, linear 9048->10, IF @ density 0.1, 1 ms bins',
        spike_rates: lat.rates, rate_per_stream: rate, achieved_rate_per_stream: Math.round(l.achievedRate), decisionUs: 10_000, windowUs: 50_000,
        samples: l.samples, server_dropped_fraction: Number(l.droppedFraction.toFixed(4)),
        // Latency tails follow the machine's load more than anything: say what it was.
        loadavg: loadavg().map((v) => Number(v.toFixed(1))),
      };
      const suffix = c === clients ? '' : `_${c}_streams`;
      emit(`serve.latency_p50${suffix}`, l.p50 ?? NaN, 'ms', tag);
      emit(`serve.latency_p99${suffix}`, l.p99 ?? NaN, 'ms', {
        ...tag, ...(c === clients ? { target: 5 } : {}), max: Number((l.max ?? NaN).toFixed(2)),
        outside_server_p99_ms: Number(l.outsideP99.toFixed(2)), ...Object.fromEntries(Object.entries(l.loopDelay).map(([k, v]) => [k, Number(v.toFixed(2))])),
      });
      const what = 'from receiving the message that completed the window to sending the prediction, measured in the server (excludes client scheduling and the network)';
      emit(`serve.latency_server_side_p50${suffix}`, l.serverP50 ?? NaN, 'ms', { clients: c, what });
      emit(`serve.latency_server_side_p99${suffix}`, l.serverP99 ?? NaN, 'ms', { clients: c, what });
      emit(`serve.latency_predictions_per_s${suffix}`, l.predictionsPerS, 'predictions/s', { clients: c });
      emit(`serve.latency_server_rss${suffix}`, l.rssBytes / 2 ** 20, 'MiB', { clients: c });
      emit(`serve.latency_server_cpu${suffix}`, l.serverCpu, 'cores', { clients: c, what: 'server process CPU time (all threads) per second of the paced phase', client_cpu_cores: Number(l.clientCpu.toFixed(3)), server_cpu_us_per_event: Number(l.cpuUsPerEvent.toFixed(4)) });
    }
    if (!full) return;
    const base1 = baseline(full.model, rec.bytes, Math.max(1, seconds / 2));
    const base = (base0 + base1) / 2;
    emit('serve.baseline_pipeline_events_per_s', base, 'events/s', {
      what: 'decode + binning + sparse engine of one session in one process, no network (mean of a run before and after the server phases)',
      before: Math.round(base0), after: Math.round(base1), loadavg: loadavg().map((v) => Number(v.toFixed(1))), cpus: cpus().length,
    });
    for (const r of results) {
      emit(`serve.throughput_${r.kind}_events_per_s`, r.eventsPerS, 'events/s', { ...common, ratio_vs_baseline: Number((r.eventsPerS / base).toFixed(3)), target: 10_000_000 });
      emit(`serve.throughput_${r.kind}_predictions_per_s`, r.predictionsPerS, 'predictions/s', { clients, decisionUs: 1000 });
      emit(`serve.throughput_${r.kind}_server_rss`, r.rssBytes / 2 ** 20, 'MiB', { clients });
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

await main();
