/**
 * The dashboard feed on a real server (127.0.0.1, port 0): which session a viewer watches (the
 * demo by default, any session on request, back to automatic when the chosen one ends), that
 * frames account for every event, timestep and output spike of the session while staying within
 * their limits, access (token, maxViewers), and the page and its assets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventBatch } from '../../../src/events/batch.js';
import type { FeedFrame, FeedSessions, FeedWatch } from '../../../src/serve/dashboard/client/feed-message.js';
import { attachDashboard, FEED_PATH } from '../../../src/serve/dashboard/dashboard.js';
import { DemoSource } from '../../../src/serve/demo/demo-source.js';
import type { PredictionMessage } from '../../../src/serve/protocol.js';
import type { SpikestreamServer } from '../../../src/serve/server.js';
import { encodeEventsMessage } from '../../../src/stream/protocol-events.js';
import { servedFromFile, sleep, startServer, TestClient, testModel, tmp } from '../helpers.js';
import { FeedReader } from './feed-reader.js';

const SENSOR = { width: 34, height: 34 };
const LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Seeded events on the 34x34 sensor, `n` of them over `spanUs`. */
function events(n: number, spanUs: number, seed = 1): EventBatch {
  let s = seed;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const t = new Float64Array(n);
  const x = new Uint16Array(n);
  const y = new Uint16Array(n);
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = Math.floor((i * spanUs) / n);
    // A blob moving across the sensor, so neurons see structure rather than noise.
    const cx = 6 + (22 * i) / n;
    x[i] = Math.min(33, Math.max(0, Math.round(cx + (rnd() - 0.5) * 10)));
    y[i] = Math.min(33, Math.max(0, Math.round(17 + (rnd() - 0.5) * 14)));
    p[i] = rnd() < 0.5 ? 1 : 0;
  }
  return { t, x, y, p };
}

function request(url: string): Promise<{ status: number; type: string; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, headers: res.headers }));
    }).on('error', reject);
  });
}

const model = testModel({ seed: 19, name: 'dash-model', labels: LABELS });
let server: SpikestreamServer | undefined;
let demo: DemoSource | undefined;
const readers: FeedReader[] = [];

async function feed(path = FEED_PATH): Promise<FeedReader> {
  const r = await FeedReader.open(`${(server as SpikestreamServer).httpUrl}${path}`);
  readers.push(r);
  return r;
}

afterEach(async () => {
  for (const r of readers.splice(0)) r.close();
  demo?.stop();
  demo = undefined;
  await server?.close();
  server = undefined;
});

describe('dashboard feed', () => {
  it('watches the demo by default: its events, timesteps and predictions, with the truth of each final one', async () => {
    server = await startServer([await servedFromFile(model)]);
    demo = await DemoSource.start(server, { speed: 4, pauseMs: 40 });
    attachDashboard(server, { demo, limits: { maxFrameEvents: 64, maxFrameSteps: 8 } });
    const r = await feed();
    const sessions = await r.next<FeedSessions>((m) => m.type === 'sessions');
    expect(sessions.sessions).toEqual([expect.objectContaining({ id: demo.sessionId, demo: true, model: 'dash-model', mode: 'stream', peer: 'demo' })]);
    const w = await r.next<FeedWatch>((m) => m.type === 'watch');
    expect(w).toMatchObject({ auto: true, session: { id: demo.sessionId, demo: true, sensor: SENSOR, model: { name: 'dash-model', labels: LABELS } } });
    // Play until four recordings have ended.
    for (let i = 0; i < 400 && r.frames().flatMap((f) => f.finals).length < 4; i++) await sleep(25);
    const frames = r.frames();
    const finals = frames.flatMap((f) => f.finals);
    expect(finals.length).toBeGreaterThanOrEqual(4);
    // The truth is the digit of the recording the final prediction covers: the demo plays 0..9 in order.
    const truths = finals.map((f) => Number(f.truth));
    for (let i = 1; i < truths.length; i++) expect(truths[i]).toBe((truths[i - 1] + 1) % 10);
    expect(frames.some((f) => f.events.kept > 0)).toBe(true);
    expect(frames.some((f) => f.steps.slots > 0)).toBe(true);
    for (const f of frames) {
      expect(f.session).toBe(demo.sessionId);
      expect(f.events.kept).toBeLessThanOrEqual(64);
      expect(f.events.kept).toBeLessThanOrEqual(f.events.n);
      expect(Buffer.from(f.events.data, 'base64').length).toBe(5 * f.events.kept);
      expect(f.steps.slots).toBeLessThanOrEqual(8);
      expect(f.steps.values).toHaveLength(f.steps.slots * 10);
      if (f.prediction) expect(LABELS).toContain(f.prediction.label);
    }
    const playing = frames.map((f) => f.playing).filter((p) => p !== null);
    expect(playing.length).toBeGreaterThan(0);
    for (const p of playing) expect(p?.file).toBe(`Test/${p?.label}/${Number(p?.label) + 1}.bin`);
  });

  it('accounts in its frames for every event, timestep and output value of the watched session', async () => {
    server = await startServer([await servedFromFile(model)]);
    attachDashboard(server, { limits: { maxFrameEvents: 16, maxFrameSteps: 4 } });
    const local = server.openLocalSession({ sensor: SENSOR, mode: 'sample' }, 'test');
    const r = await feed(`${FEED_PATH}?session=${local.session.id}`);
    expect(await r.next<FeedWatch>((m) => m.type === 'watch')).toMatchObject({ auto: false, session: { id: local.session.id, mode: 'sample' } });
    const preds: PredictionMessage[] = [];
    local.session.messages$.subscribe((m) => m.type === 'prediction' && preds.push(m));
    const ev = events(60_000, 300_000);
    for (let i = 0; i < ev.t.length; i += 5000) {
      local.pushEvents({ t: ev.t.subarray(i, i + 5000), x: ev.x.subarray(i, i + 5000), y: ev.y.subarray(i, i + 5000), p: ev.p.subarray(i, i + 5000) });
      await sleep(15);
    }
    local.flush();
    const last = await r.next<FeedFrame>((m) => m.type === 'frame' && m.finals.length > 0);
    expect(preds).toHaveLength(1);
    const pred = preds[0];
    const frames = r.frames().filter((f) => r.messages.indexOf(f) <= r.messages.indexOf(last));
    expect(frames.reduce((a, f) => a + f.events.n, 0)).toBe(ev.t.length);
    expect(frames.reduce((a, f) => a + f.steps.n, 0)).toBe(pred.timesteps);
    const sums = new Array<number>(10).fill(0);
    for (const f of frames) {
      expect(f.events.kept).toBeLessThanOrEqual(16);
      expect(f.steps.slots).toBeLessThanOrEqual(4);
      expect(f.steps.merged.reduce((a, b) => a + b, 0)).toBe(f.steps.n);
      for (let c = 0; c < f.steps.slots; c++) for (let k = 0; k < 10; k++) sums[k] += f.steps.values[c * 10 + k];
    }
    // The raster's totals are the prediction's output counts: nothing drawn that the model did not emit.
    expect(sums).toEqual(pred.counts);
    expect(pred.counts.some((c) => c > 0)).toBe(true);
    expect(last.prediction).toMatchObject({ seq: pred.seq, label: pred.label, scores: pred.scores, final: true });
    expect(last.finals).toEqual([{ seq: pred.seq, label: pred.label, index: pred.index }]);
    expect(last.stats).toMatchObject({ eventsIn: ev.t.length, eventsDropped: 0, predictions: 1 });
    expect(frames.some((f) => f.stats.eventsPerSec > 0)).toBe(true);
    local.close();
  });

  it('plays a whole-sample model (n_time_bins) in sample mode: one final prediction per recording, all its timesteps drawn', async () => {
    const sampleModel = testModel({ seed: 23, name: 'sample-model', labels: LABELS, binning: { mode: 'n_time_bins', bins: 12 } });
    server = await startServer([await servedFromFile(sampleModel)]);
    demo = await DemoSource.start(server, { speed: 4, pauseMs: 30 });
    attachDashboard(server, { demo });
    const r = await feed();
    expect(await r.next<FeedWatch>((m) => m.type === 'watch')).toMatchObject({ session: { demo: true, mode: 'sample' } });
    for (let i = 0; i < 400 && r.frames().flatMap((f) => f.finals).length < 3; i++) await sleep(25);
    const frames = r.frames();
    const preds = frames.map((f) => f.prediction).filter((p) => p !== null);
    expect(preds.length).toBeGreaterThan(0);
    for (const p of preds) expect(p).toMatchObject({ final: true, timesteps: 12 });
    const finals = frames.flatMap((f) => f.finals);
    expect(finals.length).toBeGreaterThanOrEqual(3);
    for (const f of finals) expect(LABELS).toContain(f.truth);
    // Every final covers one recording's twelve bins, so the raster got twelve steps per recording.
    expect(frames.reduce((a, f) => a + f.steps.n, 0)).toBeGreaterThanOrEqual(12 * (finals.length - 1));
  });

  it('watches a client session on request and falls back to the demo, saying why, when it ends', async () => {
    server = await startServer([await servedFromFile(model)]);
    demo = await DemoSource.start(server, { speed: 2 });
    attachDashboard(server, { demo });
    const c = await TestClient.open(server.streamUrl);
    const ready = await c.hello({ sensor: SENSOR });
    const id = (ready as { session: string }).session;
    const r = await feed(`${FEED_PATH}?session=${id}`);
    expect(await r.next<FeedWatch>((m) => m.type === 'watch')).toMatchObject({ auto: false, session: { id, demo: false, peer: expect.stringMatching(/127\.0\.0\.1/) } });
    const list = await r.next<FeedSessions>((m) => m.type === 'sessions');
    expect(list.sessions.map((s) => [s.id, s.demo])).toEqual([[demo.sessionId, true], [id, false]]);
    c.sendBytes(encodeEventsMessage(events(3000, 150_000, 5)));
    const f = await r.next<FeedFrame>((m) => m.type === 'frame' && m.events.n > 0);
    expect(f.session).toBe(id);
    c.send({ type: 'bye' });
    const back = await r.next<FeedWatch>((m) => m.type === 'watch' && m.session?.id === demo?.sessionId);
    expect(back.auto).toBe(true);
    expect(back.reason).toMatch(new RegExp(`session ${id.slice(0, 8)} .* ended`));
    // And an unknown session id is said to be unknown, then the demo is watched.
    const r2 = await feed(`${FEED_PATH}?session=no-such-session`);
    expect(await r2.next<FeedWatch>((m) => m.type === 'watch')).toMatchObject({ auto: true, reason: 'session no-such-session is not open', session: { id: demo.sessionId } });
  });

  it('without any session it says so, then follows the first one that opens', async () => {
    server = await startServer([await servedFromFile(model)]);
    attachDashboard(server);
    const r = await feed();
    expect(await r.next<FeedWatch>((m) => m.type === 'watch')).toMatchObject({ session: null, auto: true });
    const local = server.openLocalSession({ sensor: SENSOR }, 'late');
    expect(await r.next<FeedWatch>((m) => m.type === 'watch' && m.session !== null)).toMatchObject({ session: { id: local.session.id, peer: 'late' } });
    local.close();
  });

  it('needs the token when the server has one, limits viewers, and ends feeds at shutdown', async () => {
    server = await startServer([await servedFromFile(model)], { token: 'sekret' });
    const d = attachDashboard(server, { token: 'sekret', limits: { maxViewers: 2 } });
    for (const q of ['', '?token=wrong']) {
      const res = await request(`${server.httpUrl}${FEED_PATH}${q}`);
      expect(res.status).toBe(401);
      expect(res.body).toMatch(/AUTH_REQUIRED/);
    }
    const a = await feed(`${FEED_PATH}?token=sekret`);
    await a.next((m) => m.type === 'watch');
    const b = await feed(`${FEED_PATH}?token=sekret`);
    await b.next((m) => m.type === 'watch');
    const full = await request(`${server.httpUrl}${FEED_PATH}?token=sekret`);
    expect(full.status).toBe(503);
    expect(full.body).toMatch(/limit maxViewers/);
    expect(d.viewerCount).toBe(2);
    a.close();
    for (let i = 0; i < 200 && d.viewerCount > 1; i++) await sleep(5);
    expect(d.viewerCount).toBe(1);
    const c = await feed(`${FEED_PATH}?token=sekret`);
    await c.next((m) => m.type === 'watch');
    await server.close();
    server = undefined;
    for (let i = 0; i < 100 && !(b.ended && c.ended); i++) await sleep(10);
    expect([b.ended, c.ended]).toEqual([true, true]);
  });

  it('serves the page, its stylesheet and the built script from the package, and says when the script is not built', async () => {
    const built = join(tmp, 'client-built');
    mkdirSync(built, { recursive: true });
    writeFileSync(join(built, 'main.js'), 'export const built = true;\n');
    writeFileSync(join(built, 'notes.txt'), 'not served');
    server = await startServer([await servedFromFile(model)], { token: 'sekret' });
    attachDashboard(server, { clientDir: built });
    const page = await request(`${server.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/text\/html/);
    expect(page.body).toContain('<script type="module" src="/dashboard/client/main.js">');
    expect(page.body).not.toMatch(/https?:\/\//);
    expect(String(page.headers['content-security-policy'])).toMatch(/default-src 'none'/);
    for (const id of ['event-view', 'raster', 'scores', 'label', 'session-select', 'stat-rate', 'stat-latency', 'stat-dropped']) expect(page.body).toContain(`id="${id}"`);
    const css = await request(`${server.httpUrl}/dashboard/style.css`);
    expect([css.status, css.type]).toEqual([200, 'text/css; charset=utf-8']);
    const js = await request(`${server.httpUrl}/dashboard/client/main.js`);
    expect(js).toMatchObject({ status: 200, body: 'export const built = true;\n' });
    expect(js.type).toMatch(/javascript/);
    expect((await request(`${server.httpUrl}/dashboard/client/notes.txt`)).status).toBe(404);
    await server.close();

    server = await startServer([await servedFromFile(model)]);
    attachDashboard(server, { clientDir: join(tmp, 'nothing-built-here') });
    expect((await request(`${server.httpUrl}/`)).body).toMatch(/dashboard script is not built: run <code>npm run build<\/code>/);
  });
});
