/**
 * The dashboard page: connects to the feed, keeps the views in step with the watched session and
 * redraws the canvases on animation frames. The page's URL may carry `?session=ID` (watch that
 * session) and `?token=T` (servers started with a token).
 */
import { decodeEvents } from './decode-events.js';
import { EventView } from './event-view.js';
import { FeedClient, type FeedState } from './feed-client.js';
import type { FeedFrame, FeedSessionInfo, FeedWatch, FeedWatchedSession } from './feed-message.js';
import { formatCount, formatMs, formatPercent, formatUs } from './format.js';
import { HistoryStrip } from './history-strip.js';
import { RasterView } from './raster-view.js';
import { RateChart } from './rate-chart.js';
import { ScoreBars } from './score-bars.js';

/** Wall time over which the latency peak and the prediction rate are taken (ms). */
const RECENT_MS = 10_000;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`dashboard: #${id} is missing from the page`);
  return e as T;
}

class DashboardPage {
  private readonly eventView = new EventView(byId<HTMLCanvasElement>('event-view'));
  private readonly raster = new RasterView(byId<HTMLCanvasElement>('raster'));
  private readonly rate = new RateChart(byId<HTMLCanvasElement>('rate-chart'));
  private readonly scores = new ScoreBars(byId('scores'));
  private readonly history = new HistoryStrip(byId('history'), byId('history-summary'));
  private readonly select = byId<HTMLSelectElement>('session-select');
  private readonly feed: FeedClient;
  private watched: FeedWatchedSession | null = null;
  private auto = true;
  private lastSeq = -1;
  private latencies: { at: number; ms: number }[] = [];
  private predCounts: { at: number; n: number }[] = [];
  private sessions: readonly FeedSessionInfo[] = [];

  constructor() {
    const params = new URLSearchParams(location.search);
    this.feed = new FeedClient(params.get('token'), (m) => {
      if (m.type === 'watch') this.onWatch(m);
      else if (m.type === 'sessions') this.onSessions(m.sessions);
      else this.onFrame(m);
    }, (s) => this.onState(s));
    this.select.addEventListener('change', () => {
      const id = this.select.value || undefined;
      const url = new URL(location.href);
      if (id) url.searchParams.set('session', id);
      else url.searchParams.delete('session');
      history.replaceState(null, '', url);
      this.feed.connect(id);
    });
    this.feed.connect(params.get('session') || undefined);
    const loop = (now: number): void => {
      this.eventView.draw(now);
      this.raster.draw();
      this.rate.draw(now);
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  private onState(s: FeedState): void {
    const conn = byId('conn');
    conn.dataset.state = s;
    byId('conn-text').textContent = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', closed: 'disconnected' }[s];
  }

  private onWatch(m: FeedWatch): void {
    this.watched = m.session;
    this.auto = m.auto;
    this.lastSeq = -1;
    this.latencies = [];
    this.predCounts = [];
    this.rate.clear();
    this.history.clear();
    const notice = byId('notice');
    notice.hidden = m.reason === undefined;
    notice.textContent = m.reason ? `${m.reason}${m.session ? ` — now watching ${describe(m.session)}` : ''}` : '';
    const s = m.session;
    const label = byId('label');
    label.textContent = '–';
    label.dataset.seq = '';
    byId('confidence').textContent = '–';
    byId('window').textContent = '–';
    byId('pred-kind').textContent = s ? s.mode : '–';
    byId('truth-row').hidden = true;
    byId('empty-state').hidden = s !== null;
    if (!s) {
      this.scores.setLabels([]);
      this.raster.setLabels([]);
      this.eventView.setSensor(1, 1);
      byId('sensor-info').textContent = 'no session';
      byId('model-info').textContent = '';
      this.renderSelect();
      return;
    }
    this.eventView.setSensor(s.sensor.width, s.sensor.height);
    this.scores.setLabels(s.model.labels);
    this.raster.setLabels(s.model.labels);
    byId('sensor-info').textContent = `${s.sensor.width} × ${s.sensor.height} sensor · colours fade in ${Math.round(this.eventView.tauMs)} ms`;
    const timing = s.mode === 'stream' && s.decisionUs !== undefined && s.windowUs !== undefined
      ? ` · a prediction every ${formatUs(s.decisionUs)} over the last ${formatUs(s.windowUs)}`
      : s.mode === 'sample' ? ' · one prediction per sample' : '';
    byId('model-info').textContent = `model ${s.model.name} · ${formatPercent(s.model.density)} of connections · ${binningText(s.model.binning)} · ${s.mode} mode${timing}`;
    this.renderSelect();
  }

  private onSessions(list: readonly FeedSessionInfo[]): void {
    this.sessions = list;
    this.renderSelect();
  }

  private renderSelect(): void {
    const opts: HTMLOptionElement[] = [];
    const autoOpt = new Option(this.auto && this.watched ? `Automatic — ${describe(this.watched)}` : 'Automatic (demo, else the newest session)', '');
    opts.push(autoOpt);
    for (const s of this.sessions) {
      opts.push(new Option(`${s.demo ? 'demo' : s.peer} · ${s.model} · ${s.mode} · ${s.id.slice(0, 8)}`, s.id));
    }
    if (!this.auto && this.watched && !this.sessions.some((s) => s.id === this.watched?.id)) {
      opts.push(new Option(`${describe(this.watched)} (ended)`, this.watched.id));
    }
    this.select.replaceChildren(...opts);
    this.select.value = this.auto ? '' : (this.watched?.id ?? '');
    byId('session-count').textContent = `${this.sessions.length} open`;
  }

  private onFrame(f: FeedFrame): void {
    const s = this.watched;
    if (!s || f.session !== s.id) return;
    const now = performance.now();
    if (f.events.kept > 0) {
      const e = decodeEvents(f.events.data, f.events.kept);
      this.eventView.add(e.x, e.y, e.p, f.events.kept, f.events.n);
    }
    if (f.steps.slots > 0) this.raster.add(f.steps);
    // What has been drawn, readable from outside (the browser test, curious users).
    byId('event-view').dataset.events = String(this.eventView.drawnEvents);
    byId('raster').dataset.steps = String(this.raster.stepsSeen);
    const span = this.raster.spanUs();
    byId('raster-info').textContent = span > 0 ? `${formatCount(this.raster.visibleSteps())} timesteps · ${formatUs(span)} of event time` : 'no timesteps yet';
    const p = f.prediction;
    if (p && p.seq !== this.lastSeq) {
      this.lastSeq = p.seq;
      const label = byId('label');
      label.textContent = p.index < 0 ? '–' : p.label;
      label.dataset.seq = String(p.seq);
      label.dataset.index = String(p.index);
      label.classList.remove('flash');
      void label.offsetWidth; // restart the CSS animation
      label.classList.add('flash');
      // Softmax of the scores: what the training loss reads them as (membrane or spike counts).
      const top = p.index >= 0 ? p.scores[p.index] : 0;
      let sum = 0;
      for (const v of p.scores) sum += Math.exp(v - top);
      byId('confidence').textContent = p.index >= 0 && sum > 0 ? formatPercent(1 / sum) : '–';
      byId('window').textContent = `${formatUs(p.window[1] - p.window[0])} · ${formatCount(p.events)} events · ${p.timesteps} steps`;
      byId('pred-kind').textContent = p.final ? 'final' : s.mode === 'stream' ? 'live' : s.mode;
      this.scores.show(p.scores, p.index);
      this.raster.setHighlight(p.index);
    }
    this.history.add(f.finals);
    const truthRow = byId('truth-row');
    truthRow.hidden = f.playing === null;
    if (f.playing) byId('truth').textContent = f.playing.label !== undefined ? `${f.playing.label}  (${f.playing.file})` : f.playing.file;
    // Counters.
    const st = f.stats;
    if (f.latencyMaxMs !== null) this.latencies.push({ at: now, ms: f.latencyMaxMs });
    this.predCounts.push({ at: now, n: st.predictions });
    while (this.latencies.length > 0 && this.latencies[0].at < now - RECENT_MS) this.latencies.shift();
    while (this.predCounts.length > 2 && this.predCounts[1].at < now - RECENT_MS) this.predCounts.shift();
    const peak = this.latencies.reduce((a, l) => Math.max(a, l.ms), 0);
    const first = this.predCounts[0];
    const predRate = now > first.at ? ((st.predictions - first.n) * 1000) / (now - first.at) : 0;
    byId('stat-rate').textContent = formatCount(st.eventsPerSec);
    byId('stat-rate-sub').textContent = `${formatCount(st.eventsIn)} events in all`;
    byId('stat-latency').textContent = p ? formatMs(p.latencyMs) : '–';
    byId('stat-latency-sub').textContent = this.latencies.length > 0 ? `peak ${formatMs(peak)} in 10 s` : 'none in 10 s';
    byId('stat-dropped').textContent = formatCount(st.eventsDropped);
    byId('stat-dropped').classList.toggle('warn', st.eventsDropped > 0);
    byId('stat-dropped-sub').textContent = `predictions: ${formatCount(st.predictionsDropped)}${f.skippedFrames > 0 ? ` · frames: ${f.skippedFrames}` : ''}`;
    byId('stat-preds').textContent = formatCount(st.predictions);
    byId('stat-preds-sub').textContent = `${predRate.toFixed(1)} / s`;
    byId('stat-queue').textContent = formatCount(st.queueDepth);
    this.rate.push(now, st.eventsPerSec);
  }
}

function describe(s: FeedWatchedSession): string {
  return `${s.demo ? 'the demo' : s.peer} (${s.model.name}, ${s.id.slice(0, 8)})`;
}

function binningText(b: unknown): string {
  const o = (b ?? {}) as Record<string, unknown>;
  switch (o.mode) {
    case 'time_window': return `${formatUs(Number(o.windowUs))} time bins`;
    case 'event_count': return `bins of ${formatCount(Number(o.count))} events`;
    case 'n_time_bins': return `${String(o.bins)} time bins per sample`;
    case 'n_event_bins': return `${String(o.bins)} event bins per sample`;
    default: return 'binning unknown';
  }
}

new DashboardPage();
