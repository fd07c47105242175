/**
 * Prometheus metrics of one server, in its own registry (several servers in one process, e.g. in
 * tests, do not share counters). Exposed at /metrics.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Counts bumped on every message, kept as plain numbers (a prom-client inc costs about a
 * microsecond) and copied into their counters when /metrics is scraped.
 */
export interface HotCounts {
  eventsIn: number;
  eventsProcessed: number;
  timesteps: number;
  readonly messages: Map<string, number>;
}

export interface ServeMetrics {
  readonly registry: Registry;
  readonly hot: HotCounts;
  readonly sessions: Gauge;
  readonly sessionsOpened: Counter;
  readonly sessionsRejected: Counter<'reason'>;
  readonly sessionsClosed: Counter<'reason'>;
  readonly messages: Counter<'type'>;
  readonly errors: Counter<'code'>;
  readonly eventsIn: Counter;
  readonly eventsDropped: Counter;
  readonly eventsProcessed: Counter;
  readonly predictions: Counter;
  readonly predictionsDropped: Counter;
  readonly timesteps: Counter;
  readonly latency: Histogram;
  readonly queueEvents: Gauge;
}

/** `queueDepth` (sum over sessions) and `openSessions` are read at scrape time. */
export function createServeMetrics(queueDepth: () => number, openSessions: () => number): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const hot: HotCounts = { eventsIn: 0, eventsProcessed: 0, timesteps: 0, messages: new Map() };
  const fromHot = (key: 'eventsIn' | 'eventsProcessed' | 'timesteps') => function collect(this: Counter): void {
    this.reset();
    if (hot[key] > 0) this.inc(hot[key]);
  };
  return {
    registry,
    hot,
    sessions: new Gauge({
      name: 'spikestream_sessions', help: 'Open WebSocket connections and in-process sessions', registers,
      collect() {
        this.set(openSessions());
      },
    }),
    sessionsOpened: new Counter({ name: 'spikestream_sessions_opened_total', help: 'Sessions that completed hello', registers }),
    sessionsRejected: new Counter({ name: 'spikestream_sessions_rejected_total', help: 'Connections refused, by reason', labelNames: ['reason'], registers }),
    sessionsClosed: new Counter({ name: 'spikestream_sessions_closed_total', help: 'Connections closed, by reason', labelNames: ['reason'], registers }),
    messages: new Counter({
      name: 'spikestream_messages_total', help: 'Client messages received, by type', labelNames: ['type'], registers,
      collect() {
        this.reset();
        for (const [type, n] of hot.messages) if (n > 0) this.inc({ type }, n);
      },
    }),
    errors: new Counter({ name: 'spikestream_errors_total', help: 'Error messages sent, by code', labelNames: ['code'], registers }),
    eventsIn: new Counter({ name: 'spikestream_events_in_total', help: 'Events received (events messages and decoded raw chunks)', registers, collect: fromHot('eventsIn') }),
    eventsDropped: new Counter({ name: 'spikestream_events_dropped_total', help: 'Events dropped from full session queues (oldest first)', registers }),
    eventsProcessed: new Counter({ name: 'spikestream_events_processed_total', help: 'Events that went through binning into the engine', registers, collect: fromHot('eventsProcessed') }),
    predictions: new Counter({ name: 'spikestream_predictions_total', help: 'Predictions sent', registers }),
    predictionsDropped: new Counter({ name: 'spikestream_predictions_dropped_total', help: 'Predictions not sent because the client was not reading (send buffer full)', registers }),
    timesteps: new Counter({ name: 'spikestream_timesteps_total', help: 'Engine timesteps run', registers, collect: fromHot('timesteps') }),
    latency: new Histogram({
      name: 'spikestream_processing_latency_seconds',
      help: 'From receiving the message that completed a prediction window to sending the prediction',
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    queueEvents: new Gauge({
      name: 'spikestream_queue_events', help: 'Events waiting in session queues', registers,
      collect() {
        this.set(queueDepth());
      },
    }),
  };
}
