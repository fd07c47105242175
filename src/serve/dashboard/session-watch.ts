/**
 * One page watching one session: subscribes to the session's events$, steps$ and messages$,
 * folds them into bounded per-frame buffers (EventSampler, StepRaster, the last prediction) and
 * hands a FeedFrame to `send` every frameIntervalMs while something happens. Memory per viewer
 * is fixed by DashboardLimits, whatever the session's rate. The transport (server-sent events)
 * is dashboard.ts; this is the part that can be tested without sockets.
 */
import type { Subscription } from 'rxjs';
import type { PredictionMessage, ServerMessage } from '../protocol.js';
import type { Session } from '../session.js';
import type { DashboardLimits } from './dashboard-limits.js';
import { EventSampler } from './event-sampler.js';
import type { FeedFinal, FeedFrame, FeedPrediction, FeedWatchedSession } from './client/feed-message.js';
import { StepRaster } from './step-raster.js';

/** What the viewer needs to know about the demo (if any) to label its session and its finals. */
export interface DemoInfo {
  readonly sessionId: string | undefined;
  playing(): { readonly file: string; readonly label?: string } | undefined;
  truthAt(t: number): string | undefined;
}

/** Window of the events/s figure (ms of wall time). */
const RATE_WINDOW_MS = 1000;

export function describeSession(s: Session, demo: DemoInfo | undefined): FeedWatchedSession {
  const st = s.settings;
  return {
    id: s.id, peer: s.peer, demo: demo?.sessionId === s.id, mode: st.mode, sensor: { width: st.sensor.width, height: st.sensor.height },
    model: { name: s.model.name, labels: s.model.model.labels, density: s.model.density, binning: s.model.binning },
    ...(st.mode === 'stream' ? { decisionUs: st.decisionUs, windowUs: st.windowUs } : {}),
  };
}

export class SessionWatch {
  private readonly sampler: EventSampler;
  private readonly raster: StepRaster;
  private readonly subs: Subscription[] = [];
  private prediction: PredictionMessage | undefined;
  private predictions = 0;
  private latencyMax: number | null = null;
  private readonly finals: FeedFinal[] = [];
  private lastSent = -Infinity;
  private frameStart: number;
  /** (wall ms, eventsIn) samples over the last RATE_WINDOW_MS, oldest first. */
  private readonly rate: { at: number; n: number }[] = [];
  skippedFrames = 0;

  constructor(
    readonly session: Session,
    private readonly limits: DashboardLimits,
    private readonly demo: DemoInfo | undefined,
    /** Called once when the session ends. */
    onEnded: () => void,
    now: number = performance.now(),
  ) {
    this.sampler = new EventSampler(limits.maxFrameEvents);
    this.raster = new StepRaster(limits.maxFrameSteps, Math.min(session.model.outputs, limits.maxRasterOutputs));
    this.frameStart = now;
    this.rate.push({ at: now, n: session.eventsIn });
    this.subs.push(
      session.events$.subscribe((b) => this.sampler.add(b)),
      session.steps$.subscribe((s) => this.raster.add(s.tStart, s.tEnd, s.output)),
      session.messages$.subscribe({ next: (m) => this.onMessage(m), complete: onEnded }),
    );
  }

  /** Something new since the last frame. */
  get dirty(): boolean {
    return this.sampler.seen > 0 || this.raster.steps > 0 || this.predictions > 0;
  }

  /** The frame to send now, or undefined when it is too early (frameIntervalMs, or idleFrameIntervalMs when nothing happened). */
  frame(now: number): FeedFrame | undefined {
    const since = now - this.lastSent;
    if (since < this.limits.frameIntervalMs) return undefined;
    if (!this.dirty && since < this.limits.idleFrameIntervalMs) return undefined;
    const s = this.session;
    const r = this.raster;
    const values: number[] = [];
    const m = r.outputs;
    for (let i = 0; i < r.columns * m; i++) values.push(r.values[i]);
    const p = this.prediction;
    const playing = this.demo && this.demo.sessionId === s.id ? this.demo.playing() : undefined;
    const f: FeedFrame = {
      type: 'frame', session: s.id, dtMs: now - this.frameStart,
      events: { n: this.sampler.seen, kept: this.sampler.kept, data: this.sampler.encode().toString('base64') },
      steps: {
        n: r.steps, slots: r.columns, outputs: m, merged: Array.from(r.merged.subarray(0, r.columns)),
        tStart: Array.from(r.tStart.subarray(0, r.columns)), tEnd: Array.from(r.tEnd.subarray(0, r.columns)), values,
      },
      prediction: p ? toFeedPrediction(p) : null,
      predictions: this.predictions,
      latencyMaxMs: this.latencyMax,
      finals: this.finals.slice(),
      playing: playing ? { file: playing.file, ...(playing.label !== undefined ? { label: playing.label } : {}) } : null,
      stats: {
        eventsIn: s.eventsIn, eventsDropped: s.eventsDropped, predictions: s.predictions, predictionsDropped: s.predictionsDropped,
        queueDepth: s.queueDepth, eventsPerSec: this.eventsPerSec(now),
      },
      skippedFrames: this.skippedFrames,
    };
    this.lastSent = now;
    this.frameStart = now;
    this.sampler.clear();
    this.raster.clear();
    this.predictions = 0;
    this.latencyMax = null;
    this.finals.length = 0;
    this.skippedFrames = 0;
    // The last prediction stays until a newer one replaces it: a page that joins late still sees it.
    return f;
  }

  /** A frame was due but the page is behind: drop what was gathered (counted). */
  skip(now: number): void {
    this.skippedFrames++;
    this.lastSent = now;
    this.frameStart = now;
    this.sampler.clear();
    this.raster.clear();
    this.predictions = 0;
    this.latencyMax = null;
    this.finals.length = 0;
  }

  dispose(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  private onMessage(m: ServerMessage): void {
    if (m.type !== 'prediction') return;
    this.prediction = m;
    this.predictions++;
    this.latencyMax = this.latencyMax === null ? m.latencyMs : Math.max(this.latencyMax, m.latencyMs);
    if (m.final) {
      const truth = this.demo && this.demo.sessionId === this.session.id ? this.demo.truthAt((m.window[0] + m.window[1]) / 2) : undefined;
      if (this.finals.length === this.limits.maxFrameFinals) this.finals.shift();
      this.finals.push({ seq: m.seq, label: m.label, index: m.index, ...(truth !== undefined ? { truth } : {}) });
    }
  }

  private eventsPerSec(now: number): number {
    const r = this.rate;
    r.push({ at: now, n: this.session.eventsIn });
    // Keep one sample at or before the window's start so the rate spans the whole window.
    while (r.length > 2 && r[1].at <= now - RATE_WINDOW_MS) r.shift();
    const first = r[0];
    const dt = now - first.at;
    return dt > 0 ? ((this.session.eventsIn - first.n) * 1000) / dt : 0;
  }
}

function toFeedPrediction(p: PredictionMessage): FeedPrediction {
  return {
    seq: p.seq, label: p.label, index: p.index, scores: p.scores, counts: p.counts, window: p.window, events: p.events,
    timesteps: p.timesteps, final: p.final, latencyMs: p.latencyMs,
  };
}
