/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (no browser is
 * downloaded), a real server on 127.0.0.1 with the demo source, the page's script compiled from
 * the current source by the project's own tsc. Asserts that predictions appear (the label and the
 * score bars change), that the event view and the raster draw, that the selector switches to a
 * client's session, and that the page logs no error. Saves test-results/dashboard.png.
 *
 * Needs /usr/bin/chromium (.ci/run installs it): fails in CI without it, skips elsewhere.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachDashboard } from '../../../src/serve/dashboard/dashboard.js';
import { DemoSource } from '../../../src/serve/demo/demo-source.js';
import type { SpikestreamServer } from '../../../src/serve/server.js';
import { encodeEventsMessage } from '../../../src/stream/protocol-events.js';
import { PROJECT_ROOT } from '../../helpers/fixtures.js';
import { servedFromFile, sleep, startServer, TestClient, testModel } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run',
];
const inCI = process.env.CI === 'true' || process.env.CI === '1';
const LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const BACKGROUND = [9, 13, 24];

function describeWithChromium(name: string, body: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, body);
    return;
  }
  if (inCI) {
    describe(name, () => {
      it('has a browser', () => {
        throw new Error(`${CHROMIUM} is missing (CI installs Debian's chromium in .ci/run)`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${CHROMIUM} is missing (apt-get install chromium)`);
  describe.skip(name, body);
}

/** Pixels of the event view lit by events (clearly off its background colour). */
async function litPixels(page: Page, selector: string): Promise<number> {
  return page.locator(selector).evaluate((el, bg: number[]) => {
    // The Node program has no DOM types: the little of the canvas API used here, by hand.
    const c = el as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null };
    const ctx = c.getContext('2d');
    if (!ctx) return 0;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    // A channel far from the background: lit by events (the faint frame around the sensor is not).
    for (let i = 0; i < d.length; i += 4) if (Math.max(Math.abs(d[i] - bg[0]), Math.abs(d[i + 1] - bg[1]), Math.abs(d[i + 2] - bg[2])) > 80) n++;
    return n;
  }, BACKGROUND);
}

const barWidths = (page: Page): Promise<string[]> => page.locator('#scores .score-fill').evaluateAll((els) => els.map((e) => (e as unknown as { style: { width: string } }).style.width));

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await fn();
  while (!ok(v)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(50);
    v = await fn();
  }
  return v;
}

describeWithChromium('dashboard in chromium', () => {
  let server: SpikestreamServer;
  let demo: DemoSource;
  let ctx: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const tmpDirs: string[] = [];

  beforeAll(async () => {
    // The page's script as `npm run build` makes it, from the current source.
    const clientDir = mkdtempSync(join(tmpdir(), 'spikestream-dashboard-client-'));
    const profile = mkdtempSync(join(tmpdir(), 'spikestream-chromium-'));
    tmpDirs.push(clientDir, profile);
    await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'src/serve/dashboard/client/tsconfig.json', '--outDir', clientDir], { cwd: PROJECT_ROOT });
    server = await startServer([await servedFromFile(testModel({ seed: 11, name: 'browser-model', labels: LABELS }))]);
    demo = await DemoSource.start(server);
    attachDashboard(server, { demo, clientDir });
    // A fresh profile (--user-data-dir) per run: nothing carried over between runs.
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 },
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('requestfailed', (r) => {
      // The feed is cut when the page goes away; anything else failing is a problem.
      if (!r.url().includes('/dashboard/feed')) problems.push(`request failed: ${r.url()}`);
    });
    await page.goto(`${server.httpUrl}/`);
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    demo?.stop();
    await server?.close();
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });

  it('shows live predictions of the demo: the label and the score bars change, events and output spikes are drawn', async () => {
    await until('the feed to be live', () => page.locator('#conn').getAttribute('data-state'), (s) => s === 'live');
    const first = await until('a prediction', () => page.locator('#label').getAttribute('data-seq'), (s) => s !== null && s !== '');
    expect(LABELS).toContain((await page.locator('#label').textContent())?.trim());
    const widths1 = await barWidths(page);
    expect(widths1).toHaveLength(10);
    expect(widths1.some((w) => w !== '0%')).toBe(true);
    // Later predictions replace it, with other scores.
    await until('a newer prediction', () => page.locator('#label').getAttribute('data-seq'), (s) => s !== null && s !== '' && Number(s) > Number(first));
    await until('the score bars to change', () => barWidths(page), (w) => JSON.stringify(w) !== JSON.stringify(widths1));
    expect(LABELS).toContain((await page.locator('#label').textContent())?.trim());
    expect(await page.locator('#scores .score-row.top').count()).toBe(1);
    // Events reach the event view and light its pixels; output spikes reach the raster.
    await until('events to be drawn', async () => Number(await page.locator('#event-view').getAttribute('data-events')), (n) => n > 100);
    await until('lit pixels in the event view', () => litPixels(page, '#event-view'), (n) => n > 20);
    await until('timesteps in the raster', async () => Number(await page.locator('#raster').getAttribute('data-steps')), (n) => n > 50);
    // Counters and the demo's ground truth.
    await until('events per second', async () => (await page.locator('#stat-rate').textContent()) ?? '', (t) => t !== '–' && t !== '0');
    expect(await page.locator('#stat-dropped').textContent()).toBe('0');
    expect(await page.locator('#stat-latency').textContent()).toMatch(/ms$/);
    expect(await page.locator('#truth').textContent()).toMatch(/^\d {2}\(Test\/\d\/\d+\.bin\)$/);
    await until('a final prediction in the history', () => page.locator('#history .chip').count(), (n) => n > 0);
    expect(await page.locator('#session-select').inputValue()).toBe('');
    expect(await page.locator('#session-select option').allTextContents()).toEqual([expect.stringMatching(/^Automatic — the demo \(browser-model, /), expect.stringMatching(/^demo · browser-model · stream · /)]);
    mkdirSync(join(PROJECT_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(PROJECT_ROOT, 'test-results/dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it("switches to a client's session from the selector", async () => {
    const c = await TestClient.open(server.streamUrl);
    const ready = (await c.hello({ sensor: { width: 34, height: 34 } })) as { session: string };
    // A camera-like client: a bar sweeping across the sensor, 2,000 events per 20 ms.
    let t = 0;
    const timer = setInterval(() => {
      const n = 2000;
      const ev = { t: new Float64Array(n), x: new Uint16Array(n), y: new Uint16Array(n), p: new Uint8Array(n) };
      for (let i = 0; i < n; i++) {
        ev.t[i] = t + Math.floor((i * 20_000) / n);
        ev.x[i] = Math.floor(t / 20_000) % 34;
        ev.y[i] = i % 34;
        ev.p[i] = i & 1;
      }
      t += 20_000;
      c.sendBytes(encodeEventsMessage(ev));
    }, 20);
    try {
      await until('the client session in the selector', () => page.locator('#session-select option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value)), (v) => v.includes(ready.session), 5000);
      await page.locator('#session-select').selectOption(ready.session);
      expect(new URL(page.url()).searchParams.get('session')).toBe(ready.session);
      await until('the model line of a client session', async () => (await page.locator('#model-info').textContent()) ?? '', (s) => s.includes('browser-model'));
      await until('a prediction for the client session', () => page.locator('#label').getAttribute('data-seq'), (s) => s !== null && s !== '');
      expect(await page.locator('#truth-row').isHidden()).toBe(true);
      await until('the client events drawn', async () => Number(await page.locator('#event-view').getAttribute('data-events')), (n) => n > 100);
      await page.screenshot({ path: join(PROJECT_ROOT, 'test-results/dashboard-client-session.png'), fullPage: true });
    } finally {
      clearInterval(timer);
      c.ws.terminate();
    }
    // The session is gone: the page says so and goes back to the demo.
    await until('the notice', async () => (await page.locator('#notice').textContent()) ?? '', (s) => /ended — now watching the demo/.test(s));
    expect(await page.locator('#session-select').inputValue()).toBe('');
    expect(problems).toEqual([]);
  });
});
