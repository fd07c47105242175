/**
 * The live dashboard at `/` (DESIGN.md section 7), attached to a running server through its
 * seams (addRoute, sessions(), sessionOpened$):
 *
 * - GET / : the page (page.ts) with its stylesheet (/dashboard/style.css) and the browser script
 *   (/dashboard/client/*.js, compiled from src/serve/dashboard/client by `npm run build` into
 *   dist/; no CDN, nothing fetched from elsewhere).
 * - GET /dashboard/feed?session=ID : server-sent events (one JSON FeedMessage per event) for one
 *   viewer watching one session; without `session` (or after the chosen one ends) the feed picks
 *   the demo, else the newest session, and follows changes. Server-sent events rather than a
 *   second WebSocket path: the page only listens, browsers reconnect by themselves, and it is
 *   plain HTTP on the server's existing routes.
 *
 * Access: with a server token the feed needs `?token=` (the page passes on the token of its own
 * URL), compared in constant time; the page and its assets are static and public. The feed sends
 * no CORS headers, so pages of other origins cannot read it. Each viewer costs a bounded amount
 * of memory (DashboardLimits); beyond maxViewers the feed answers 503.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import { tokenMatches } from '../security.js';
import type { SpikestreamServer } from '../server.js';
import type { Session } from '../session.js';
import { staticAssets } from '../static-assets.js';
import type { FeedMessage, FeedSessionInfo } from './client/feed-message.js';
import { resolveDashboardLimits, type DashboardLimits } from './dashboard-limits.js';
import { DASHBOARD_CSS } from './dashboard-css.js';
import { dashboardPage } from './page.js';
import { describeSession, SessionWatch, type DemoInfo } from './session-watch.js';

/** The compiled browser script (src/serve/dashboard and dist/serve/dashboard are both three levels below the root). */
export const DASHBOARD_CLIENT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dist/serve/dashboard/client');

export const FEED_PATH = '/dashboard/feed';
const CLIENT_PREFIX = '/dashboard/client/';

export interface DashboardOptions {
  /** The server's token: the feed then requires ?token=. */
  readonly token?: string;
  /** The demo source, so the feed can prefer and label its session. */
  readonly demo?: DemoInfo;
  readonly limits?: Partial<DashboardLimits>;
  /** Where the compiled browser script is (default DASHBOARD_CLIENT_DIR). */
  readonly clientDir?: string;
}

export class Dashboard {
  readonly limits: DashboardLimits;
  private readonly viewers = new Set<Viewer>();
  private readonly sub: Subscription;

  constructor(readonly server: SpikestreamServer, private readonly o: DashboardOptions = {}) {
    this.limits = resolveDashboardLimits(o.limits);
    const clientDir = o.clientDir ?? DASHBOARD_CLIENT_DIR;
    const scripts = existsSync(clientDir) ? readdirSync(clientDir).filter((f) => /\.js(\.map)?$/.test(f)) : [];
    if (!scripts.includes('main.js')) server.logger.warn({ clientDir }, 'dashboard script not built (run npm run build): the page will not update');
    const page = dashboardPage({ scriptMissing: !scripts.includes('main.js') });
    const sendPage = (_req: IncomingMessage, res: ServerResponse): void => sendText(res, 'text/html; charset=utf-8', page, {
      'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'Referrer-Policy': 'no-referrer',
    });
    server.addRoute('/', sendPage);
    server.addRoute('/index.html', sendPage);
    server.addRoute('/dashboard/style.css', (_req, res) => sendText(res, 'text/css; charset=utf-8', DASHBOARD_CSS));
    const statics = staticAssets(clientDir);
    for (const f of scripts) {
      server.addRoute(CLIENT_PREFIX + f, async (req, res) => {
        if (!(await statics(req, res, `/${f}`))) sendText(res, 'text/plain; charset=utf-8', 'not found', {}, 404);
      });
    }
    server.addRoute(FEED_PATH, (req, res) => this.openFeed(req, res));
    this.sub = server.sessionOpened$.subscribe({
      next: () => {
        for (const v of this.viewers) v.follow();
      },
      complete: () => this.close(),
    });
  }

  /** Viewers connected now. */
  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Ends every feed (the server's shutdown does this by itself). */
  close(): void {
    this.sub.unsubscribe();
    for (const v of [...this.viewers]) v.end();
  }

  /** Open sessions, the demo's first, then the newest first. */
  sessionList(): FeedSessionInfo[] {
    const demoId = this.o.demo?.sessionId;
    return this.openSessions()
      .map((s) => ({
        id: s.id, model: s.model.name, mode: s.settings.mode, peer: s.peer, startedAt: new Date(s.startedAt).toISOString(),
        eventsIn: s.eventsIn, demo: s.id === demoId,
      }))
      .sort((a, b) => Number(b.demo) - Number(a.demo) || b.startedAt.localeCompare(a.startedAt));
  }

  /** The session an automatic viewer watches: the demo's, else the newest. */
  autoChoice(): Session | undefined {
    const open = this.openSessions();
    const demoId = this.o.demo?.sessionId;
    return open.find((s) => s.id === demoId) ?? open.sort((a, b) => b.startedAt - a.startedAt)[0];
  }

  findSession(id: string): Session | undefined {
    return this.openSessions().find((s) => s.id === id);
  }

  private openSessions(): Session[] {
    return this.server.sessions().filter((s) => s.state !== 'closed');
  }

  private openFeed(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (this.o.token !== undefined && !tokenMatches(this.o.token, url.searchParams.get('token') ?? undefined)) {
      return sendText(res, 'application/json', JSON.stringify({ error: 'AUTH_REQUIRED: open the dashboard as /?token=<token>' }), {}, 401);
    }
    if (this.viewers.size >= this.limits.maxViewers) {
      return sendText(res, 'application/json', JSON.stringify({ error: `the dashboard has ${this.limits.maxViewers} viewers (limit maxViewers); try again later` }), {}, 503);
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write('retry: 2000\n\n');
    const v = new Viewer(this, res, this.o.demo, url.searchParams.get('session') || undefined);
    this.viewers.add(v);
    const done = (): void => {
      v.end();
      this.viewers.delete(v);
    };
    req.on('close', done);
    res.on('close', done);
    res.on('error', done);
  }
}

/** One page's feed: its watch, its timer and its socket. */
class Viewer {
  private watch: SessionWatch | undefined;
  private auto: boolean;
  private readonly timer: NodeJS.Timeout;
  private lastSessions = -Infinity;
  private ended = false;
  private stalledSince: number | undefined;

  constructor(private readonly d: Dashboard, private readonly res: ServerResponse, private readonly demo: DemoInfo | undefined, requested: string | undefined) {
    const chosen = requested === undefined ? undefined : d.findSession(requested);
    this.auto = chosen === undefined;
    this.sendSessions(performance.now());
    this.switchTo(chosen ?? d.autoChoice(), requested !== undefined && chosen === undefined ? `session ${requested} is not open` : undefined);
    this.timer = setInterval(() => this.tick(), d.limits.frameIntervalMs);
    this.timer.unref();
  }

  /** Automatic viewers move to a better session when one opens (the demo, or the first one). */
  follow(): void {
    if (this.ended || !this.auto) return;
    const best = this.d.autoChoice();
    if (best !== undefined && best !== this.watch?.session) this.switchTo(best);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    this.watch?.dispose();
    this.watch = undefined;
    if (!this.res.writableEnded) this.res.end();
  }

  private switchTo(s: Session | undefined, reason?: string): void {
    this.watch?.dispose();
    this.watch = s ? new SessionWatch(s, this.d.limits, this.demo, () => setImmediate(() => this.onEnded(s))) : undefined;
    this.send({ type: 'watch', session: s ? describeSession(s, this.demo) : null, auto: this.auto, ...(reason ? { reason } : {}) });
  }

  private onEnded(s: Session): void {
    if (this.ended || this.watch?.session !== s) return;
    const wasAuto = this.auto;
    this.auto = true;
    this.switchTo(this.d.autoChoice(), wasAuto ? undefined : `session ${s.id.slice(0, 8)} (${s.peer}) ended`);
    this.sendSessions(performance.now());
  }

  private tick(): void {
    if (this.ended) return;
    const now = performance.now();
    if (now - this.lastSessions >= this.d.limits.sessionsIntervalMs) {
      this.sendSessions(now);
      this.follow();
    }
    const w = this.watch;
    if (this.behind) {
      // The page is not keeping up: frames are skipped (and counted in the next one), never
      // queued; a page that reads nothing for stalledTimeoutMs is cut off.
      this.stalledSince ??= now;
      if (now - this.stalledSince >= this.d.limits.stalledTimeoutMs) this.end();
      else if (w?.dirty) w.skip(now);
      return;
    }
    this.stalledSince = undefined;
    const f = w?.frame(now);
    if (f) this.send(f);
  }

  private get behind(): boolean {
    return this.res.writableLength > this.d.limits.maxViewerBufferedBytes;
  }

  private sendSessions(now: number): void {
    this.lastSessions = now;
    this.send({ type: 'sessions', sessions: this.d.sessionList() });
  }

  private send(m: FeedMessage): void {
    if (this.ended || this.res.writableEnded) return;
    // Only the rare `watch` goes out while the page is behind (it must know what it watches).
    if (m.type !== 'watch' && this.behind) return;
    this.res.write(`data: ${JSON.stringify(m)}\n\n`);
  }
}

function sendText(res: ServerResponse, type: string, body: string, headers: Record<string, string> = {}, status = 200): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(body);
}

/** Serves the dashboard on `server` (see the module comment). */
export function attachDashboard(server: SpikestreamServer, o: DashboardOptions = {}): Dashboard {
  return new Dashboard(server, o);
}
