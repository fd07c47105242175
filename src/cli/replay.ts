/**
 * `spikestream replay FILE --url ws://HOST:PORT/v1/stream [--speed 1|N|max] [--loop]
 * [--mode sample|stream] [--model NAME] [--token T] [--raw] [--json] ...`: streams a recording
 * to a server as a live camera would and prints the predictions that come back.
 *
 * Events mode (default) decodes here and sends `events` messages; at a finite speed the recording
 * is paced by fromEventFile and clock ticks follow quiet periods, as a camera driver would send
 * them. `--raw` sends the file's own bytes as `raw` chunks for the server to decode (paced by the
 * timestamps a local decoder finds in each chunk). At `--speed max` the session uses
 * 'backpressure' overflow so nothing is dropped, and sending waits for the socket to drain.
 *
 * In sample mode each pass is a sample, ended by a flush whose prediction is printed. In stream
 * mode the passes form one continuous stream (each pass shifted by the recording's span, so event
 * time keeps increasing), flushed after the last pass. `--loop` repeats until interrupted. Raw
 * passes each use a new connection (and end with a flush), since the bytes restart with the
 * file's header.
 */
import { open } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { Observable } from 'rxjs';
import { SpikestreamClient, type PredictionMessage } from '../client/client.js';
import type { EventBatch, EventFormat } from '../events/batch.js';
import { createDecoder } from '../events/create-decoder.js';
import { openEventFile } from '../events/open-event-file.js';
import { clockOf, type ClockedBatch } from '../stream/clocked-batch.js';
import { fromEventFile } from '../stream/from-event-file.js';
import { probeGeometry } from '../stream/probe-geometry.js';
import type { SessionMode } from '../serve/protocol.js';
import { parseFormat, parsePositiveInt } from './parse.js';

export interface ReplayOptions {
  readonly url: string;
  readonly speed: number | 'max';
  readonly loop?: boolean;
  /** Passes to play (default 1; with loop, until stopped). */
  readonly passes?: number;
  readonly mode?: SessionMode;
  readonly model?: string;
  readonly token?: string;
  readonly raw?: boolean;
  readonly decisionUs?: number;
  readonly windowUs?: number;
  readonly format?: EventFormat;
  readonly width?: number;
  readonly height?: number;
  /** Bytes per raw chunk (default: the server's message limit). */
  readonly chunkBytes?: number;
}

export interface ReplaySummary {
  passes: number;
  eventsSent: number;
  predictions: number;
  /** The final prediction of each pass. */
  finals: PredictionMessage[];
  eventsDropped: number;
}

/** Heartbeat period of timed replay (recorded us): quiet windows close within a millisecond. */
const REPLAY_HEARTBEAT_US = 1000;

export function parseSpeed(v: string): number | 'max' {
  if (v === 'max') return 'max';
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number or "max", got "${v}"`);
  return n;
}

function shifted(b: ClockedBatch, by: number): ClockedBatch {
  if (by === 0) return b;
  const t = new Float64Array(b.t.length);
  for (let i = 0; i < t.length; i++) t[i] = b.t[i] + by;
  const c = clockOf(b);
  return { t, x: b.x, y: b.y, p: b.p, ...(c !== undefined ? { clockUs: c + by } : {}) };
}

/** Streams a recording to a server; `onPrediction` sees every prediction. Stops early when `signal` aborts. */
export async function replay(file: string, o: ReplayOptions, onPrediction: (p: PredictionMessage) => void, signal?: AbortSignal): Promise<ReplaySummary> {
  const meta = await probeGeometry(file, { format: o.format, width: o.width, height: o.height });
  const format = o.format ?? meta.format;
  const hello = {
    sensor: { width: meta.width, height: meta.height },
    ...(o.model ? { model: o.model } : {}), ...(o.token ? { token: o.token } : {}), ...(o.mode ? { mode: o.mode } : {}),
    ...(o.decisionUs ? { decisionUs: o.decisionUs } : {}), ...(o.windowUs ? { windowUs: o.windowUs } : {}),
    overflow: o.speed === 'max' ? ('backpressure' as const) : ('drop-oldest' as const),
  };
  const summary: ReplaySummary = { passes: 0, eventsSent: 0, predictions: 0, finals: [], eventsDropped: 0 };
  const passes = o.loop ? Infinity : (o.passes ?? 1);
  let client: SpikestreamClient | undefined;
  const connect = async (): Promise<SpikestreamClient> => {
    const c = await SpikestreamClient.connect({ url: o.url, hello });
    c.predictions$.subscribe({ next: (p) => {
      summary.predictions++;
      onPrediction(p);
    }, error: () => undefined });
    return c;
  };
  let span = 0;
  try {
    for (let k = 0; k < passes && !signal?.aborted; k++) {
      if (!client || (o.raw && k > 0)) {
        if (client) await closeClient(client, summary);
        client = await connect();
      }
      const c = client;
      let range: { first: number; last: number } | undefined;
      if (o.raw) range = await sendRaw(c, file, format, o, signal);
      else range = await sendEvents(c, file, o, k * span, signal);
      if (range) span = Math.max(span, range.last - range.first + REPLAY_HEARTBEAT_US);
      if (signal?.aborted) break;
      summary.passes++;
      // Sample mode: each pass is a sample. Stream mode: one continuous stream, flushed at its end.
      const lastPass = k + 1 >= passes;
      if (c.ready?.mode === 'sample' || lastPass || o.raw) summary.finals.push(await c.flush());
    }
  } finally {
    if (client) await closeClient(client, summary);
  }
  return summary;
}

async function closeClient(c: SpikestreamClient, summary: ReplaySummary): Promise<void> {
  summary.eventsSent += c.stats.eventsSent;
  await c.close();
  summary.eventsDropped += c.serverStats?.eventsDropped ?? 0;
}

async function sendEvents(c: SpikestreamClient, file: string, o: ReplayOptions, offset: number, signal?: AbortSignal): Promise<{ first: number; last: number } | undefined> {
  let first = Infinity;
  let last = -Infinity;
  const track = (b: EventBatch): void => {
    for (let i = 0; i < b.t.length; i++) {
      const t = b.t[i];
      if (t < first) first = t;
      if (t > last) last = t;
    }
  };
  const fileOptions = { format: o.format, width: o.width, height: o.height };
  if (o.speed === 'max') {
    const stream = await openEventFile(file, fileOptions);
    try {
      for await (const b of stream) {
        if (signal?.aborted) break;
        track(b);
        c.sendEvents(shifted(b, offset));
        await c.drained();
      }
    } finally {
      await stream.close();
    }
  } else {
    const paced: Observable<ClockedBatch> = fromEventFile(file, { ...fileOptions, speed: o.speed, heartbeatUs: REPLAY_HEARTBEAT_US });
    const stop = new Observable<never>((s) => {
      const on = (): void => s.complete();
      signal?.addEventListener('abort', on);
      return () => signal?.removeEventListener('abort', on);
    });
    await new Promise<void>((done, fail) => {
      const sub = paced.subscribe({
        next: (b) => {
          track(b);
          c.sendEvents(shifted(b, offset));
        },
        error: fail,
        complete: done,
      });
      stop.subscribe({ complete: () => {
        sub.unsubscribe();
        done();
      } });
    });
  }
  return first <= last ? { first, last } : undefined;
}

async function sendRaw(c: SpikestreamClient, file: string, format: EventFormat, o: ReplayOptions, signal?: AbortSignal): Promise<{ first: number; last: number } | undefined> {
  const chunk = o.chunkBytes ?? Math.max(1, (c.ready?.limits.maxMessageBytes ?? 1 << 20) - 64);
  // A local decoder finds each chunk's timestamps, to pace the chunks at the recorded speed.
  const local = createDecoder(format);
  const fh = await open(file, 'r');
  let first = Infinity;
  let last = -Infinity;
  const wallStart = performance.now();
  try {
    while (!signal?.aborted) {
      const buf = new Uint8Array(chunk);
      const { bytesRead } = await fh.read(buf, 0, chunk, null);
      if (bytesRead === 0) break;
      const bytes = buf.subarray(0, bytesRead);
      if (o.speed !== 'max') {
        const ev = local.write(bytes);
        for (let i = 0; i < ev.t.length; i++) {
          if (ev.t[i] < first) first = ev.t[i];
          if (ev.t[i] > last) last = ev.t[i];
        }
        if (last > -Infinity) {
          const due = wallStart + (last - first) / (o.speed * 1000);
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      }
      c.sendRaw(format, bytes);
      if (o.speed === 'max') await c.drained();
    }
  } finally {
    await fh.close();
  }
  return first <= last ? { first, last } : undefined;
}

export function formatPrediction(p: PredictionMessage): string {
  const score = p.index >= 0 ? p.scores[p.index] : 0;
  return `${p.final ? 'final ' : ''}prediction #${p.seq} [${p.window[0]}, ${p.window[1]}) us: ${p.label || '-'} (score ${score}, ${p.events} events, ${p.timesteps} steps, server latency ${p.latencyMs.toFixed(2)} ms)`;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('Stream a recording to a spikestream server as a live camera would, and print the predictions')
    .argument('<file>', 'recording (any supported format)')
    .requiredOption('--url <url>', 'server stream URL, e.g. ws://127.0.0.1:8080/v1/stream')
    .option('--speed <speed>', 'pace: 1 = recorded time, N = N times faster, max = as fast as the server takes it', parseSpeed, 1)
    .option('--loop', 'repeat until interrupted')
    .option('--mode <mode>', 'sample (one prediction per pass) or stream (a prediction every decision period)', (v: string) => {
      if (v !== 'sample' && v !== 'stream') throw new InvalidArgumentError(`expected sample or stream, got "${v}"`);
      return v;
    })
    .option('--model <name>', 'model to use (default: the server\'s default)')
    .option('--token <token>', 'server token (default: $SPIKESTREAM_TOKEN)')
    .option('--raw', 'send the file\'s bytes as raw chunks for the server to decode')
    .option('--decision-us <n>', 'stream mode: prediction period in event-time microseconds', parsePositiveInt)
    .option('--window-us <n>', 'stream mode: trailing window of each prediction in microseconds', parsePositiveInt)
    .option('--format <format>', 'skip detection and read the file as this format', parseFormat)
    .option('--width <n>', 'sensor width when the file does not declare it', parsePositiveInt)
    .option('--height <n>', 'sensor height when the file does not declare it', parsePositiveInt)
    .option('--json', 'print each prediction as one JSON line')
    .action(async (file: string, opts: ReplayOptions & { json?: boolean }) => {
      const ac = new AbortController();
      const onSignal = (): void => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const s = await replay(file, { ...opts, token: opts.token ?? (process.env.SPIKESTREAM_TOKEN || undefined) }, (p) => {
          process.stdout.write(opts.json ? `${JSON.stringify(p)}\n` : `${formatPrediction(p)}\n`);
        }, ac.signal);
        process.stderr.write(`replay: ${s.passes} pass(es), ${s.eventsSent} events sent, ${s.predictions} predictions, ${s.eventsDropped} events dropped by the server\n`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
