/**
 * The built-in demo: an in-process session (server.openLocalSession) fed by a DemoPlayer on a
 * timer, so a fresh server shows live classification with no camera. It is one session among
 * the others: clients connect at the same time, and the dashboard watches it by default.
 *
 * The session uses the model's default mode: stream mode (a prediction every decisionUs, a final
 * one when each recording ends) for live binnings, sample mode (one prediction per recording)
 * for whole-sample binnings. If the session closes while the server runs (an internal error),
 * the demo opens a new one after a second; it stops for good with the server or `stop()`.
 */
import type { Logger } from '../logger.js';
import type { LocalSession } from '../local-session.js';
import type { SpikestreamServer } from '../server.js';
import { DemoPlayer, type DemoPlaying } from './demo-player.js';
import { DEFAULT_DEMO_DIR, loadDemoSet, type DemoRecordingLimits, type DemoSet } from './demo-recordings.js';

export interface DemoOptions {
  /** Folder of recordings (default: the package's fixtures/nmnist-synth). */
  readonly dir?: string;
  /** Served model to use (default: the server's default model). */
  readonly model?: string;
  /** Event time per wall time (default 1: as recorded). */
  readonly speed?: number;
  /** Wall time between recordings (ms, default DEFAULT_DEMO_PAUSE_MS). */
  readonly pauseMs?: number;
  /** Timer period (ms, default 10). */
  readonly tickMs?: number;
  readonly limits?: Partial<DemoRecordingLimits>;
}

/** Long enough to read the final prediction of a digit before the next one starts. */
export const DEFAULT_DEMO_PAUSE_MS = 700;
const REOPEN_DELAY_MS = 1000;

/** How many played recordings are remembered for `truthAt` (a final prediction arrives shortly after its recording). */
const TRUTH_HISTORY = 16;

export class DemoSource {
  private local: LocalSession | undefined;
  private player: DemoPlayer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reopen: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly history: DemoPlaying[] = [];
  private readonly log: Logger;

  private constructor(private readonly server: SpikestreamServer, readonly set: DemoSet, private readonly o: DemoOptions) {
    this.log = server.logger.child({ demo: set.dir });
  }

  /** Loads the recordings and starts playing them into a new session of `server`. */
  static async start(server: SpikestreamServer, o: DemoOptions = {}): Promise<DemoSource> {
    const set = await loadDemoSet(o.dir ?? DEFAULT_DEMO_DIR, o.limits);
    const demo = new DemoSource(server, set, o);
    demo.open();
    server.logger.info({ dir: set.dir, recordings: set.recordings.length, session: demo.sessionId }, 'demo playing');
    return demo;
  }

  /** The demo's current session, if one is open. */
  get sessionId(): string | undefined {
    return this.local?.session.id;
  }

  /** The recording being played (during a pause: the one that just ended). */
  playing(): DemoPlaying | undefined {
    return this.player?.playing();
  }

  /** Ground truth of the recently played recording whose shifted event-time span contains `t`. */
  truthAt(t: number): string | undefined {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const h = this.history[i];
      if (t >= h.tStart && t <= h.tEnd) return h.label;
    }
    return undefined;
  }

  /** Stops playing and closes the demo's session. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.reopen) clearTimeout(this.reopen);
    this.timer = undefined;
    this.local?.close();
    this.local = undefined;
  }

  private open(): void {
    const local = this.server.openLocalSession({
      sensor: { width: this.set.width, height: this.set.height },
      ...(this.o.model !== undefined ? { model: this.o.model } : {}),
    }, 'demo');
    this.local = local;
    this.player = new DemoPlayer(this.set.recordings, {
      speed: this.o.speed ?? 1, pauseMs: this.o.pauseMs ?? DEFAULT_DEMO_PAUSE_MS, clock: local.ready.mode === 'stream',
    });
    this.history.length = 0;
    local.session.messages$.subscribe({ complete: () => this.onSessionClosed(local) });
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 10);
    this.timer.unref();
    this.tick();
  }

  private tick(): void {
    const local = this.local;
    const player = this.player;
    if (!local || !player) return;
    const before = player.playing();
    for (const a of player.advance(performance.now())) {
      if (a.kind === 'events') local.pushEvents(a.batch);
      else local.flush();
    }
    const now = player.playing();
    if (now && now !== before) {
      this.history.push(now);
      if (this.history.length > TRUTH_HISTORY) this.history.shift();
    }
  }

  private onSessionClosed(local: LocalSession): void {
    if (this.local !== local) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.local = undefined;
    if (this.stopped) return;
    this.reopen = setTimeout(() => {
      this.reopen = undefined;
      if (this.stopped) return;
      try {
        this.open();
        this.log.warn({ session: this.sessionId }, 'demo session reopened');
      } catch (e) {
        // The server is shutting down (or the model went away): nothing more to play.
        this.stopped = true;
        this.log.info({ reason: (e as Error).message }, 'demo stopped');
      }
    }, REOPEN_DELAY_MS);
    this.reopen.unref();
  }
}
