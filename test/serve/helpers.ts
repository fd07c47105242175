/**
 * Test helpers for the server: seeded random models written to model files and loaded back the
 * way `serve` loads them, a server on 127.0.0.1 port 0, and a bare protocol client that records
 * every frame (so tests see exactly what goes over the wire).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import { vi } from 'vitest';
import WebSocket from 'ws';
import { main } from '../../src/cli/main.js';
import type { RunJson } from '../../src/cli/run.js';
import type { EventBatch } from '../../src/events/batch.js';
import { writeModelFile } from '../../src/model/model-file.js';
import type { BinningSpec, Model } from '../../src/model/model.js';
import { randomModel } from '../../src/model/random-model.js';
import { createEngine } from '../../src/snn/create-engine.js';
import { runEngine, type RunResult } from '../../src/snn/engine.js';
import type { LayerSpec } from '../../src/snn/random-graph.js';
import { binEventsByTime } from '../../src/stream/bin-by-time.js';
import { binEventsByCount } from '../../src/stream/bin-by-count.js';
import { binEventsToNTimeBins } from '../../src/stream/bin-to-n-time-bins.js';
import { binEventsToNEventBins } from '../../src/stream/bin-to-n-event-bins.js';
import type { Timestep } from '../../src/stream/timestep.js';
import type { ServeLimits } from '../../src/serve/limits.js';
import { silentLogger } from '../../src/serve/logger.js';
import type { ServerMessage } from '../../src/serve/protocol.js';
import { loadServedModel, type ServedModel } from '../../src/serve/served-model.js';
import { SpikestreamServer, type ServeOptions } from '../../src/serve/server.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

export const tmp = mkdtempSync(join(tmpdir(), 'spikestream-serve-'));

/** A 2x34x34 N-MNIST-sized sparse network whose random weights make its layers spike. */
export function testModel(o: { seed?: number; name?: string; density?: number; binning?: BinningSpec; layers?: readonly LayerSpec[]; input?: [number, number, number]; labels?: string[] } = {}): Model {
  return randomModel({
    seed: o.seed ?? 7, density: o.density ?? 0.1, gain: 3, name: o.name ?? `m${o.seed ?? 7}`, binning: o.binning,
    layers: o.layers, input: o.input, labels: o.labels,
  });
}

/** Model files written by servedFromFile, by model name. */
export const modelPaths = new Map<string, string>();

/** Writes the model to a file and loads it as `serve` does. */
export async function servedFromFile(model: Model): Promise<ServedModel> {
  const path = join(tmp, `${model.name}-${Math.random().toString(36).slice(2)}.msgpack`);
  await writeModelFile(path, model);
  modelPaths.set(model.name, path);
  return loadServedModel(path);
}

/** `spikestream run MODEL FILE --json`, through the CLI entry point, as a user runs it. */
export async function runCommand(modelPath: string, recording: string): Promise<RunJson> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  let code: number;
  try {
    code = await main(['node', 'spikestream', 'run', modelPath, recording, '--json']);
  } finally {
    so.mockRestore();
    se.mockRestore();
    process.exitCode = undefined;
  }
  if (code !== 0) throw new Error(`spikestream run failed (${code}): ${err}`);
  return JSON.parse(out) as RunJson;
}

/**
 * `spikestream ARGS...` from the TypeScript sources in a child process (stdout and stderr piped),
 * as a user's shell would start the CLI.
 */
export function spawnCli(args: readonly string[], o: Pick<SpawnOptions, 'env'> = {}): ChildProcess {
  return spawn(process.execPath, [
    '--import', 'tsx', '--input-type=module', '-e',
    "import { main } from './src/cli/main.ts'; process.exitCode = await main(['node', ...process.argv.slice(1)]);",
    'spikestream', ...args,
  ], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...o });
}

export async function startServer(models: ServedModel[], o: Partial<ServeOptions> & { limits?: Partial<ServeLimits> } = {}): Promise<SpikestreamServer> {
  return SpikestreamServer.start({ models, port: 0, logger: silentLogger(), ...o });
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export const pack = (m: unknown): Buffer => packr.pack(m);

/** A protocol client that records every frame it receives. */
export class TestClient {
  readonly messages: ServerMessage[] = [];
  readonly textFrames: boolean[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<void>;
  private waiters: { pred: (m: ServerMessage) => boolean; done: (m: ServerMessage) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((r) => ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString('utf8');
      r();
    }));
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      const m = (isBinary ? unpackr.unpack(buf) : JSON.parse(buf.toString('utf8'))) as ServerMessage;
      this.messages.push(m);
      this.textFrames.push(!isBinary);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.done(m);
        return false;
      });
    });
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const c = new TestClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  send(m: unknown): void {
    this.ws.send(pack(m));
  }

  sendJson(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }

  sendBytes(b: Uint8Array, binary = true): void {
    this.ws.send(b, { binary });
  }

  /** Resolves with the first message (already received or future) matching `pred`. */
  next<T extends ServerMessage>(pred: (m: ServerMessage) => boolean, timeoutMs = 10_000): Promise<T> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting; got ${JSON.stringify(this.messages.map((m) => m.type))} close=${this.closeCode}`)), timeoutMs);
      this.waiters.push({ pred, done: (m) => {
        clearTimeout(timer);
        resolve(m as T);
      } });
    });
  }

  /** The n-th message of a type that arrives after the messages seen so far. */
  nextNew<T extends ServerMessage>(type: ServerMessage['type'], timeoutMs = 10_000): Promise<T> {
    const seen = this.messages.length;
    let i = 0;
    return this.next<T>((m) => m.type === type && this.messages.indexOf(m) >= seen && i++ === 0, timeoutMs);
  }

  ofType<T extends ServerMessage>(type: ServerMessage['type']): T[] {
    return this.messages.filter((m) => m.type === type) as T[];
  }

  /** Sends hello; resolves with the ready or error that answers it. */
  async hello(h: Record<string, unknown>): Promise<ServerMessage> {
    const seen = this.messages.length;
    this.send({ type: 'hello', protocol: 1, ...h });
    return this.next((m) => (m.type === 'ready' || m.type === 'error') && this.messages.indexOf(m) >= seen);
  }
}

/** What `spikestream run` computes for a recording: the model's binning over the whole recording, the sparse engine, its result. */
export function runOracle(model: Model, events: EventBatch, width = model.input.width, height = model.input.height): RunResult {
  const ts = binAll(model.input.binning, events, width, height);
  return runEngine(createEngine('sparse', model.graph, { labels: model.labels }), ts);
}

export function binAll(spec: BinningSpec, events: EventBatch, width: number, height: number): Timestep[] {
  switch (spec.mode) {
    case 'time_window': return binEventsByTime(events, { windowUs: spec.windowUs, strideUs: spec.strideUs, includeIncomplete: spec.includeIncomplete, width, height }).timesteps;
    case 'event_count': return binEventsByCount(events, { count: spec.count, overlap: spec.overlap, includeIncomplete: spec.includeIncomplete, width, height }).timesteps;
    case 'n_time_bins': return binEventsToNTimeBins(events, spec.bins, { overlap: spec.overlap, spikingjelly: spec.spikingjelly, width, height }).timesteps;
    case 'n_event_bins': return binEventsToNEventBins(events, spec.bins, { overlap: spec.overlap, spikingjelly: spec.spikingjelly, width, height }).timesteps;
  }
}

/** Splits a batch at the given cut points (sorted, within range). */
export function splitBatch(b: EventBatch, cuts: readonly number[]): EventBatch[] {
  const out: EventBatch[] = [];
  let prev = 0;
  for (const c of [...cuts, b.t.length]) {
    if (c <= prev) continue;
    out.push({ t: b.t.subarray(prev, c), x: b.x.subarray(prev, c), y: b.y.subarray(prev, c), p: b.p.subarray(prev, c) });
    prev = c;
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
