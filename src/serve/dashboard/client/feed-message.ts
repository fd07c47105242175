/**
 * What the dashboard feed (GET /dashboard/feed, server-sent events, one JSON message per `data:`
 * line) sends to the page. Types only: the server (dashboard-viewer.ts) and the browser script
 * both import them, so the two sides cannot drift apart.
 *
 * A viewer watches one session at a time. It gets `watch` whenever the watched session changes
 * (also when it ends and the feed falls back to another), `sessions` about once a second for the
 * selector, and `frame` at most every frameIntervalMs while something happens (at least every
 * idleFrameIntervalMs otherwise). Everything in a frame is bounded whatever the session's rate:
 * events are decimated to at most maxFrameEvents, timesteps merged into at most maxFrameSteps
 * slots, predictions summarised by the last one.
 */

export interface FeedSessionInfo {
  readonly id: string;
  readonly model: string;
  readonly mode: string;
  readonly peer: string;
  /** ISO time the session started. */
  readonly startedAt: string;
  readonly eventsIn: number;
  /** The built-in demo replay. */
  readonly demo: boolean;
}

export interface FeedWatchedSession {
  readonly id: string;
  readonly peer: string;
  readonly demo: boolean;
  readonly mode: string;
  readonly sensor: { readonly width: number; readonly height: number };
  readonly model: { readonly name: string; readonly labels: readonly string[]; readonly density: number; readonly binning: unknown };
  /** Stream mode: prediction period and trailing window, event-time us. */
  readonly decisionUs?: number;
  readonly windowUs?: number;
}

export interface FeedWatch {
  readonly type: 'watch';
  /** null: no session to watch (yet). */
  readonly session: FeedWatchedSession | null;
  /** The feed picks the session itself (demo first, else the newest) and follows changes. */
  readonly auto: boolean;
  /** Why the watched session changed, for the page to say (e.g. the chosen session ended). */
  readonly reason?: string;
}

export interface FeedSessions {
  readonly type: 'sessions';
  readonly sessions: readonly FeedSessionInfo[];
}

export interface FeedPrediction {
  readonly seq: number;
  readonly label: string;
  readonly index: number;
  readonly scores: readonly number[];
  readonly counts: readonly number[];
  /** Event time covered, [start, end) us. */
  readonly window: readonly [number, number];
  readonly events: number;
  readonly timesteps: number;
  readonly final: boolean;
  readonly latencyMs: number;
}

/** A prediction that ended a sample or segment, with the demo's ground truth when known. */
export interface FeedFinal {
  readonly seq: number;
  readonly label: string;
  readonly index: number;
  readonly truth?: string;
}

export interface FeedEvents {
  /** Events the session processed during the frame. */
  readonly n: number;
  /** Events in `data` (an even spread over the frame's events when n > kept). */
  readonly kept: number;
  /** base64 of x (u16 LE) * kept, then y (u16 LE) * kept, then p (u8) * kept. */
  readonly data: string;
}

export interface FeedSteps {
  /** Engine timesteps during the frame. */
  readonly n: number;
  /** Columns sent; each sums `merged[i]` consecutive timesteps. */
  readonly slots: number;
  /** Output neurons per column (the model's outputs, capped at maxRasterOutputs). */
  readonly outputs: number;
  readonly merged: readonly number[];
  /** Event-time span [tStart, tEnd) of each column, us. */
  readonly tStart: readonly number[];
  readonly tEnd: readonly number[];
  /** Output values summed over the column's timesteps, column-major: values[slot * outputs + k]. */
  readonly values: readonly number[];
}

export interface FeedStats {
  readonly eventsIn: number;
  readonly eventsDropped: number;
  readonly predictions: number;
  readonly predictionsDropped: number;
  readonly queueDepth: number;
  /** Events received per second of wall time over about the last second. */
  readonly eventsPerSec: number;
}

export interface FeedFrame {
  readonly type: 'frame';
  readonly session: string;
  /** Wall time the frame covers, ms. */
  readonly dtMs: number;
  readonly events: FeedEvents;
  readonly steps: FeedSteps;
  /** The last prediction of the frame, if any. */
  readonly prediction: FeedPrediction | null;
  /** Predictions during the frame, and the largest latency among them. */
  readonly predictions: number;
  readonly latencyMaxMs: number | null;
  /** Final predictions during the frame (at most a few; older ones are counted, not sent). */
  readonly finals: readonly FeedFinal[];
  /** What the demo is playing now (demo sessions only). */
  readonly playing: { readonly label?: string; readonly file: string } | null;
  readonly stats: FeedStats;
  /** Frames not sent since the last one because the page was not reading fast enough. */
  readonly skippedFrames: number;
}

export type FeedMessage = FeedWatch | FeedSessions | FeedFrame;
