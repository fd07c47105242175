/**
 * The inference server: HTTP and WebSocket on one port (DESIGN.md section 7).
 *
 * - WebSocket protocol v1 on /v1/stream (connection.ts, session.ts).
 * - GET /healthz (liveness; 503 while shutting down), /metrics (Prometheus), /v1/models,
 *   /v1/sessions; with a token, /metrics and /v1/* need `Authorization: Bearer <token>`.
 * - Seams for what is built on top (the dashboard): `addRoute(path, handler)`, `staticDir`
 *   (files served for other GET paths, `/` -> index.html), `openLocalSession()` (an in-process
 *   source such as a demo replay), `sessions()` and `sessionOpened$` (each session exposes the
 *   events it processes and the messages it sends as observables).
 * - Binds 127.0.0.1 by default and refuses a non-loopback address without a token unless
 *   `insecure`. Browser pages from other origins cannot open sessions.
 * - `close()` is the graceful shutdown: stop accepting, let every session finish what it has
 *   queued (its predictions are sent), close sessions with 1001; after shutdownTimeoutMs the
 *   rest is cut.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Duplex } from 'node:stream';
import { Subject } from 'rxjs';
import WebSocket, { WebSocketServer } from 'ws';
import { Connection } from './connection.js';
import { LocalSink, localSessionHandle, type LocalSession } from './local-session.js';
import { createLogger, type Logger } from './logger.js';
import { resolveServeLimits, type ServeLimits } from './limits.js';
import { createServeMetrics, type ServeMetrics } from './metrics.js';
import { helloSchema, describeIssues, STREAM_PATH, type HelloOptions, type ErrorMessage } from './protocol.js';
import { bearerMatches, checkBind, originAllowed } from './security.js';
import type { ServedModel } from './served-model.js';
import { ServeConfigError } from './serve-config-error.js';
import { ServeError } from './serve-error.js';
import { resolveSessionSettings } from './session-options.js';
import { Session, type SessionContext } from './session.js';
import { SliceScheduler } from './slice-scheduler.js';
import { ChunkCache } from './chunk-cache.js';
import { staticAssets, type HttpHandler } from './static-assets.js';
import { WorkerPool } from './worker-pool.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/**
 * Worker threads for the sessions' pipelines when ServeOptions.workers is not given: the
 * SPIKESTREAM_WORKERS environment variable, else one per core beside the main thread's on machines
 * with more than two cores, else none. On two cores the pipelines stay on the main thread: moving
 * them costs about half again as much CPU (the cross-thread hand-offs), which a machine that also
 * runs its clients or other work cannot spare, and the main thread alone keeps up with eight
 * 1 M events/s streams (bench/serve.ts). See worker-pool.ts.
 */
export function defaultWorkers(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): number {
  const v = env.SPIKESTREAM_WORKERS;
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new ServeConfigError(`SPIKESTREAM_WORKERS must be a whole number >= 0, got "${v}"`);
    return n;
  }
  return cores > 2 ? cores - 1 : 0;
}

export interface ServeOptions {
  /** Models to serve; the first is the default of a hello without `model`. Names must be unique. */
  readonly models: readonly ServedModel[];
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Shared secret a hello must carry (compared in constant time). */
  readonly token?: string;
  /** Allow a non-loopback bind without a token. */
  readonly insecure?: boolean;
  /** Browser origins allowed to open sessions besides the server's own ('*' for any). */
  readonly allowedOrigins?: readonly string[];
  readonly limits?: Partial<ServeLimits>;
  readonly logger?: Logger;
  /** Directory of static files served for GET paths no route claims. */
  readonly staticDir?: string;
  /**
   * Worker threads running the sessions' pipelines (default: defaultWorkers()); 0 runs them on
   * the main thread, between socket reads.
   */
  readonly workers?: number;
}

export interface SessionInfo {
  readonly id: string;
  readonly model: string;
  readonly mode: string;
  readonly peer: string;
  readonly startedAt: string;
  readonly eventsIn: number;
  readonly eventsDropped: number;
  readonly predictions: number;
  readonly queueDepth: number;
  readonly timesteps: number;
  /** Bytes waiting in the session's send buffer. */
  readonly sendBuffered: number;
}

export class SpikestreamServer {
  readonly limits: ServeLimits;
  readonly metrics: ServeMetrics;
  readonly logger: Logger;
  /** Emits every session once it is ready (WebSocket and in-process). */
  readonly sessionOpened$ = new Subject<Session>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly models = new Map<string, ServedModel>();
  private readonly defaultModel: ServedModel;
  private readonly connections = new Set<Connection>();
  private readonly live = new Set<Session>();
  private readonly locals = new Set<Session>();
  private readonly scheduler: SliceScheduler;
  private readonly sessionCtx: SessionContext;
  private pool: WorkerPool | undefined;
  private readonly workerCount: number;
  private readonly routes = new Map<string, HttpHandler>();
  private readonly statics: ReturnType<typeof staticAssets> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private draining = false;
  private closed: Promise<void> | undefined;
  private readonly startedAt = Date.now();

  private constructor(private readonly o: ServeOptions) {
    if (o.models.length === 0) throw new ServeConfigError('no model to serve');
    for (const m of o.models) {
      if (this.models.has(m.name)) throw new ServeConfigError(`two models are named "${m.name}"`);
      this.models.set(m.name, m);
    }
    this.defaultModel = o.models[0];
    this.limits = resolveServeLimits(o.limits);
    for (const m of o.models) {
      if (m.engineBytes > this.limits.maxEngineBytes) {
        throw new ServeConfigError(`model "${m.name}": one engine takes ${mib(m.engineBytes)} MiB, more than the limit maxEngineBytes (${mib(this.limits.maxEngineBytes)} MiB)`);
      }
    }
    this.logger = o.logger ?? createLogger();
    this.metrics = createServeMetrics(
      () => {
        let n = 0;
        for (const s of this.live) n += s.queueDepth;
        return n;
      },
      () => this.connections.size + this.locals.size,
    );
    this.scheduler = new SliceScheduler(this.limits.sliceMs, (w, e) => {
      this.logger.error({ err: e }, 'slice failed');
      (w as Session).close(1011, 'internal error');
    });
    const workers = o.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 0) throw new ServeConfigError(`workers must be a whole number >= 0, got ${workers}`);
    this.workerCount = workers;
    const pool = (): WorkerPool | undefined => this.pool; // started after construction (start())
    this.sessionCtx = {
      limits: this.limits, metrics: this.metrics, logger: this.logger, scheduler: this.scheduler,
      chunkCache: new ChunkCache(13 * this.limits.poolChunkEvents, this.limits.poolCacheChunks),
      get workers() {
        return pool();
      },
      onClosed: (s) => {
        this.live.delete(s);
        this.locals.delete(s);
      },
    };
    this.statics = o.staticDir ? staticAssets(o.staticDir) : undefined;
    this.http = createServer((req, res) => {
      this.onRequest(req, res).catch((e: unknown) => {
        this.logger.error({ err: e }, 'http handler failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    this.http.on('clientError', (_e, socket) => socket.destroy());
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxPayloadBytes, clientTracking: false, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  /** Checks the options, binds and starts serving. */
  static async start(o: ServeOptions): Promise<SpikestreamServer> {
    const host = o.host ?? DEFAULT_HOST;
    checkBind(host, o.token, o.insecure ?? false);
    const s = new SpikestreamServer(o);
    if (s.workerCount > 0) s.pool = await WorkerPool.start(o.models, s.workerCount, s.limits.sliceMs, s.logger);
    await new Promise<void>((resolveListen, reject) => {
      s.http.once('error', reject);
      s.http.listen(o.port ?? DEFAULT_PORT, host, () => {
        s.http.off('error', reject);
        resolveListen();
      });
    }).catch(async (e: unknown) => {
      await s.pool?.close();
      throw e;
    });
    s.startTimers();
    const a = s.address();
    s.logger.info({ host: a.host, port: a.port, models: [...s.models.keys()], auth: o.token !== undefined, workers: s.pool?.size ?? 0 }, 'serving');
    return s;
  }

  address(): { host: string; port: number } {
    const a = this.http.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** ws://host:port/v1/stream */
  get streamUrl(): string {
    const { host, port } = this.address();
    return `ws://${host.includes(':') ? `[${host}]` : host}:${port}${STREAM_PATH}`;
  }

  get httpUrl(): string {
    const { host, port } = this.address();
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** The worker threads running the sessions' pipelines (undefined when they run on this thread). */
  get workerPool(): WorkerPool | undefined {
    return this.pool;
  }

  /** Served model names, the default first. */
  modelNames(): string[] {
    return [...this.models.keys()];
  }

  sessions(): Session[] {
    return [...this.live];
  }

  sessionInfo(): SessionInfo[] {
    return this.sessions().map((s) => ({
      id: s.id, model: s.model.name, mode: s.settings.mode, peer: s.peer, startedAt: new Date(s.startedAt).toISOString(),
      eventsIn: s.eventsIn, eventsDropped: s.eventsDropped, predictions: s.predictions, queueDepth: s.queueDepth,
      timesteps: s.timesteps, sendBuffered: s.sendBuffered,
    }));
  }

  /** Adds an HTTP GET route (exact path), e.g. the dashboard page or its data endpoints. */
  addRoute(path: string, handler: HttpHandler): void {
    this.routes.set(path, handler);
  }

  /**
   * Opens a session fed from inside the process (no socket, no token). It counts among the
   * sessions and uses the same limits; `hello.sensor` is required as for a client.
   */
  openLocalSession(hello: HelloOptions, peer = 'local'): LocalSession {
    if (this.draining) throw new ServeConfigError('the server is shutting down');
    const r = helloSchema.safeParse({ ...hello, type: 'hello', protocol: 1 });
    if (!r.success) throw new ServeConfigError(describeIssues('hello', r.error.issues));
    const model = hello.model === undefined ? this.defaultModel : this.models.get(hello.model);
    if (!model) throw new ServeConfigError(`no model "${hello.model}"`);
    const settings = resolveSessionSettings(r.data, model, this.limits);
    this.admit(model);
    const session = new Session(model, settings, new LocalSink(), this.sessionCtx, peer);
    this.live.add(session);
    this.locals.add(session);
    this.metrics.sessionsOpened.inc();
    this.sessionOpened$.next(session);
    return localSessionHandle(session);
  }

  /** Stops on SIGINT/SIGTERM (graceful, then exits the process). Returns a function that removes the handlers. */
  handleSignals(exit: (code: number) => void = (c) => process.exit(c)): () => void {
    const onSignal = (sig: NodeJS.Signals): void => {
      this.logger.info({ signal: sig }, 'shutting down');
      this.close().then(() => exit(0), () => exit(1));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  }

  /** Graceful shutdown (see the module comment). Resolves when everything is closed. */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.draining = true;
    this.closed = (async () => {
      const httpClosed = new Promise<void>((r) => this.http.close(() => r()));
      this.http.closeIdleConnections();
      for (const c of this.connections) if (!c.session) c.close(1001, 'server shutting down');
      for (const s of this.live) s.drain();
      const deadline = Date.now() + this.limits.shutdownTimeoutMs;
      while ((this.connections.size > 0 || this.live.size > 0) && Date.now() < deadline) await sleep(10);
      for (const s of this.live) s.close(1001, 'server shutting down');
      for (const c of this.connections) c.terminate();
      this.scheduler.stop();
      await this.pool?.close();
      for (const t of this.timers) clearInterval(t);
      this.http.closeAllConnections();
      await httpClosed;
      this.sessionOpened$.complete();
      this.logger.info('stopped');
      this.logger.flush?.();
    })();
    return this.closed;
  }

  /**
   * Engine memory budget (maxEngineBytes): a new session's engine must fit beside those held by
   * sessions and kept idle; idle engines of other models are freed first. Throws RATE_LIMITED.
   */
  private admit(model: ServedModel): void {
    const used = (): number => {
      let n = 0;
      for (const m of this.models.values()) n += (m.activeEngines + m.pooledEngines) * m.engineBytes;
      return n;
    };
    const need = model.pooledEngines > 0 ? 0 : model.engineBytes;
    const budget = this.limits.maxEngineBytes;
    if (used() + need <= budget) return;
    for (const m of this.models.values()) if (m !== model) m.dropPooled();
    if (used() + need <= budget) return;
    this.metrics.sessionsRejected.inc({ reason: 'engine_memory' });
    throw new ServeError('RATE_LIMITED', `model "${model.name}" needs ${mib(model.engineBytes)} MiB per session and engines already hold ${mib(used())} MiB of ${mib(budget)} MiB (limit maxEngineBytes); try again later`, true);
  }

  private startTimers(): void {
    const l = this.limits;
    const hb = setInterval(() => {
      for (const c of this.connections) c.heartbeat();
    }, l.heartbeatIntervalMs);
    const tick = setInterval(() => {
      const now = performance.now();
      for (const c of this.connections) c.checkStall(now);
      for (const s of this.live) s.tick(now);
    }, Math.min(l.statsIntervalMs, l.stalledTimeoutMs / 2, 1000));
    hb.unref();
    tick.unref();
    this.timers.push(hb, tick);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const path = pathnameOf(req.url);
    if (this.draining) return reject(socket, 503, 'server shutting down');
    if (path !== STREAM_PATH) return reject(socket, 404, `no WebSocket endpoint at ${path}; use ${STREAM_PATH}`);
    if (!originAllowed(req.headers.origin, req.headers.host, this.o.allowedOrigins ?? [])) {
      this.metrics.sessionsRejected.inc({ reason: 'origin' });
      return reject(socket, 403, `origin ${req.headers.origin} is not allowed`);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    ws.on('error', () => undefined);
    if (this.draining) {
      ws.close(1001, 'server shutting down');
      return;
    }
    if (this.connections.size >= this.limits.maxSessions) {
      // Accepted only to say why: a text frame any client can read, then close 1013 (try again later).
      this.metrics.sessionsRejected.inc({ reason: 'max_sessions' });
      this.metrics.errors.inc({ code: 'RATE_LIMITED' });
      const msg: ErrorMessage = { type: 'error', code: 'RATE_LIMITED', message: `the server has ${this.limits.maxSessions} sessions (limit maxSessions); try again later`, fatal: true };
      ws.send(JSON.stringify(msg));
      ws.close(1013, 'RATE_LIMITED: too many sessions');
      setTimeout(() => ws.terminate(), 1000).unref();
      return;
    }
    const c = new Connection(ws, req, {
      limits: this.limits, metrics: this.metrics, logger: this.logger, models: this.models, defaultModel: this.defaultModel,
      token: this.o.token, session: this.sessionCtx, admit: (m) => this.admit(m),
      onGone: (conn) => this.connections.delete(conn),
      onSession: (s) => {
        this.live.add(s);
        this.sessionOpened$.next(s);
      },
    });
    this.connections.add(c);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathnameOf(req.url);
    const route = this.routes.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: `method ${req.method} not allowed` });
    }
    if (path === '/healthz') {
      const ok = !this.draining;
      return sendJson(res, ok ? 200 : 503, {
        status: ok ? 'ok' : 'shutting down', sessions: this.live.size, connections: this.connections.size, workerSessions: this.pool?.load() ?? [],
        models: [...this.models.keys()], uptimeS: (Date.now() - this.startedAt) / 1000, rssBytes: process.memoryUsage.rss(),
      });
    }
    const protectedPath = path === '/metrics' || path.startsWith('/v1/');
    if (protectedPath && this.o.token !== undefined && !bearerMatches(this.o.token, req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendJson(res, 401, { error: 'AUTH_REQUIRED: send Authorization: Bearer <token>' });
    }
    if (path === '/metrics') {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType, 'Cache-Control': 'no-store' });
      res.end(body);
      return;
    }
    if (path === '/v1/models') {
      return sendJson(res, 200, {
        protocol: 1, path: STREAM_PATH, default: this.defaultModel.name,
        models: [...this.models.values()].map((m) => ({ ...m.summary, defaults: m.defaults, modes: m.live ? ['stream', 'sample'] : ['sample'] })),
      });
    }
    if (path === '/v1/sessions') return sendJson(res, 200, { sessions: this.sessionInfo() });
    if (route) return route(req, res);
    if (this.statics && (await this.statics(req, res, path))) return;
    sendJson(res, 404, { error: `nothing at ${path}` });
  }
}

function pathnameOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '/';
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

function reject(socket: Duplex, status: number, message: string): void {
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
  }
  socket.destroy();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
