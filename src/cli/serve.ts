/**
 * `spikestream serve [--model PATH|NAME ...] [--host 127.0.0.1] [--port 8080] [--token T]
 * [--insecure] [--allow-origin O ...] [--limit key=value ...] [--log-level L]`: the inference
 * server (src/serve). A --model that is not a file names a shipped model (models/NAME.msgpack);
 * without --model every shipped model is served. The first model is the default of a hello that
 * names none. The token may also come from SPIKESTREAM_TOKEN. Stops gracefully on SIGINT/SIGTERM.
 *
 * The live dashboard is served at / (--no-dashboard turns it off). `--demo [DIR]` also replays
 * recordings (default: the package's fixtures/nmnist-synth) in a loop as an in-process session,
 * with DEFAULT_MODEL unless --model says otherwise: what `npm start` runs.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_SERVE_LIMITS, type ServeLimits } from '../serve/limits.js';
import { createLogger } from '../serve/logger.js';
import { loadServedModel, type ServedModel } from '../serve/served-model.js';
import { DEFAULT_HOST, DEFAULT_PORT, SpikestreamServer } from '../serve/server.js';
import { attachDashboard } from '../serve/dashboard/dashboard.js';
import { DemoSource } from '../serve/demo/demo-source.js';
import { CliError } from './errors.js';
import { SERVE_V8_FLAGS } from '../serve/v8-flags.js';
import { needsRelaunch, relaunch, watchLauncher } from './relaunch.js';

/** models/ of the package (src/cli and dist/cli are both two levels below the root). */
export const SHIPPED_MODELS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../models');

/**
 * The shipped model `npm start` (serve --demo) runs, and the default (first) model when serve
 * serves every shipped one: models/<DEFAULT_MODEL>.msgpack.
 */
export const DEFAULT_MODEL = 'nmnist-esl10';

export interface ServeCommandOptions {
  readonly model?: readonly string[];
  readonly host?: string;
  readonly port?: number;
  readonly token?: string;
  readonly insecure?: boolean;
  readonly allowOrigin?: readonly string[];
  readonly limit?: Partial<ServeLimits>;
  readonly logLevel?: string;
  readonly modelsDir?: string;
  readonly staticDir?: string;
  /** Replay recordings in a loop as an in-process session: true for the package's demo folder, or a folder. */
  readonly demo?: boolean | string;
  /** Serve the dashboard at / (default true). */
  readonly dashboard?: boolean;
}

/** PATH, or NAME of a shipped model; without any, every shipped model. */
export function resolveModelPaths(specs: readonly string[] | undefined, modelsDir = SHIPPED_MODELS_DIR): string[] {
  if (!specs || specs.length === 0) {
    const shipped = existsSync(modelsDir) ? readdirSync(modelsDir).filter((f) => f.endsWith('.msgpack')).sort() : [];
    if (shipped.length === 0) throw new CliError(`no --model given and no shipped model in ${modelsDir}; pass --model PATH`);
    const first = `${DEFAULT_MODEL}.msgpack`;
    return [...shipped.filter((f) => f === first), ...shipped.filter((f) => f !== first)].map((f) => join(modelsDir, f));
  }
  return specs.map((s) => {
    if (existsSync(s) && statSync(s).isFile()) return s;
    const named = join(modelsDir, `${s}.msgpack`);
    if (existsSync(named)) return named;
    throw new CliError(`--model ${s}: no such file, and no shipped model named "${s}" in ${modelsDir}`);
  });
}

/** Loads the models and starts the server (the CLI action without signal handling). */
export async function startServe(o: ServeCommandOptions): Promise<SpikestreamServer> {
  if (o.demo && (!o.model || o.model.length === 0)) {
    const dir = o.modelsDir ?? SHIPPED_MODELS_DIR;
    if (!existsSync(join(dir, `${DEFAULT_MODEL}.msgpack`))) {
      throw new CliError(`the demo runs the default model ${join(dir, `${DEFAULT_MODEL}.msgpack`)}, which does not exist; train it (spikestream train) or pass --model PATH`);
    }
  }
  const paths = resolveModelPaths(o.model, o.modelsDir);
  const limits = { ...o.limit };
  const models: ServedModel[] = [];
  for (const p of paths) models.push(await loadServedModel(p, { maxPooledEngines: limits.maxPooledEngines }));
  const token = o.token ?? (process.env.SPIKESTREAM_TOKEN || undefined);
  const server = await SpikestreamServer.start({
    models, host: o.host ?? DEFAULT_HOST, port: o.port ?? DEFAULT_PORT, token, insecure: o.insecure ?? false,
    allowedOrigins: o.allowOrigin ?? [], limits, logger: createLogger(o.logLevel), staticDir: o.staticDir,
  });
  let demo: DemoSource | undefined;
  try {
    if (o.demo) demo = await DemoSource.start(server, { dir: typeof o.demo === 'string' ? o.demo : undefined, model: models[0].name });
  } catch (e) {
    await server.close();
    throw e;
  }
  if (o.dashboard !== false) attachDashboard(server, { token, demo });
  return server;
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port in 0..65535, got "${v}"`);
  return n;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function parseLimit(v: string, prev: Partial<ServeLimits> = {}): Partial<ServeLimits> {
  const m = /^([A-Za-z]+)=(.+)$/.exec(v);
  const keys = Object.keys(DEFAULT_SERVE_LIMITS);
  if (!m || !keys.includes(m[1])) throw new InvalidArgumentError(`expected key=value with key one of ${keys.join(', ')}, got "${v}"`);
  const n = Number(m[2]);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`limit ${m[1]} must be a positive number, got "${m[2]}"`);
  return { ...prev, [m[1]]: n };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve classifications over WebSockets (protocol v1 on /v1/stream; /healthz, /metrics, /v1/models on the same port)')
    .option('--model <path|name>', 'model file, or name of a shipped model (repeatable; the first is the default)', collect)
    .option('--host <host>', 'address to bind (non-loopback needs --token or --insecure)', DEFAULT_HOST)
    .option('--port <port>', 'port (0: any free port)', parsePort, DEFAULT_PORT)
    .option('--token <token>', 'shared secret clients must send in hello (default: $SPIKESTREAM_TOKEN)')
    .option('--insecure', 'allow a non-loopback bind without a token')
    .option('--allow-origin <origin>', 'browser origin allowed to open sessions (repeatable; * for any)', collect)
    .option('--limit <key=value>', `override a limit (repeatable): ${Object.keys(DEFAULT_SERVE_LIMITS).join(', ')}`, parseLimit)
    .option('--log-level <level>', 'pino log level (logs go to stderr)', process.env.SPIKESTREAM_LOG_LEVEL ?? 'info')
    .option('--demo [dir]', `replay recordings in a loop as an in-process session (default folder: the package's fixtures/nmnist-synth; default model: ${DEFAULT_MODEL})`)
    .option('--no-dashboard', 'do not serve the live dashboard at /')
    .action(async (o: ServeCommandOptions) => {
      if (needsRelaunch(SERVE_V8_FLAGS)) {
        process.exitCode = await relaunch(SERVE_V8_FLAGS);
        return;
      }
      watchLauncher();
      const server = await startServe(o);
      server.handleSignals();
      process.stdout.write(`spikestream serving ${server.modelNames().join(', ')} on ${server.streamUrl} (http: ${server.httpUrl}/healthz, /metrics, /v1/models)\n`);
      if (o.dashboard !== false) {
        const withToken = (o.token ?? process.env.SPIKESTREAM_TOKEN) ? '?token=<token>' : '';
        process.stdout.write(`dashboard: ${server.httpUrl}/${withToken}${o.demo ? ' (demo playing)' : ''}\n`);
      }
    });
}
