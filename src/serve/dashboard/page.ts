/**
 * The dashboard's HTML. Kept in a module (not a file copied next to the build) so that `npm run
 * build` is the only step that produces what the server sends; the script and stylesheet it loads
 * are served from the package too (dashboard.ts). Every element main.ts drives has an id.
 */

const LOGO = `<svg class="logo" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" stroke-width="1.6" opacity=".35"/><path d="M3 12h4l2-6 3 12 2-9 1.5 3H21" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

function tile(id: string, title: string): string {
  return `<div class="tile"><div class="tile-title">${title}</div><div class="tile-value" id="stat-${id}">–</div><div class="tile-sub" id="stat-${id}-sub"></div></div>`;
}

export function dashboardPage(o: { scriptMissing?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spikestream · live</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/style.css">
<script type="module" src="/dashboard/client/main.js"></script>
</head>
<body>
<header class="top">
  <div class="brand">${LOGO}<span class="name">spikestream</span><span class="tag">live</span></div>
  <label class="picker"><span>Session</span><select id="session-select" aria-label="Session to watch"><option value="">Automatic</option></select><small id="session-count"></small></label>
  <div id="conn" class="conn" data-state="connecting"><span class="dot"></span><span id="conn-text">connecting…</span></div>
</header>
${o.scriptMissing ? '<div class="notice">The dashboard script is not built: run <code>npm run build</code> in the package folder, then restart the server.</div>' : ''}
<div id="notice" class="notice" hidden></div>
<main class="grid">
  <section class="card events-card">
    <div class="card-head"><h2>Events</h2><div class="legend"><span class="swatch on"></span>ON<span class="swatch off"></span>OFF</div></div>
    <div class="canvas-wrap sensor">
      <canvas id="event-view" aria-label="Live events"></canvas>
      <div id="empty-state" class="empty-state" hidden>
        <p><strong>No session yet.</strong></p>
        <p>Stream events to <code>ws://&lt;this host&gt;/v1/stream</code>, e.g.<br><code>npx spikestream replay FILE --url ws://127.0.0.1:8080/v1/stream</code>,<br>or start the server with <code>--demo</code>.</p>
      </div>
    </div>
    <div class="card-foot" id="sensor-info">–</div>
  </section>
  <section class="card prediction-card">
    <div class="card-head"><h2>Prediction</h2><span id="pred-kind" class="pill">–</span></div>
    <div class="label-row">
      <div id="label" class="big-label" data-seq="">–</div>
      <dl class="label-side">
        <dt>confidence (softmax)</dt><dd id="confidence">–</dd>
        <dt>covers</dt><dd id="window">–</dd>
        <div id="truth-row" hidden><dt>playing</dt><dd id="truth"></dd></div>
      </dl>
    </div>
    <div id="scores" class="scores" aria-label="Class scores"></div>
    <div class="history-block">
      <div class="sub-head"><h3>Recent results</h3><small id="history-summary"></small></div>
      <div id="history" class="history"></div>
    </div>
  </section>
  <section class="card stats-card">
    <div class="card-head"><h2>Throughput</h2></div>
    <div class="tiles">
      ${tile('rate', 'events / s')}
      ${tile('latency', 'latency')}
      ${tile('dropped', 'dropped events')}
      ${tile('preds', 'predictions')}
      ${tile('queue', 'queued events')}
    </div>
    <div class="canvas-wrap spark"><canvas id="rate-chart" aria-label="Events per second"></canvas></div>
  </section>
  <section class="card raster-card">
    <div class="card-head"><h2>Output layer spikes</h2><span class="hint" id="raster-info"></span></div>
    <div class="canvas-wrap raster"><canvas id="raster" aria-label="Output layer spike raster"></canvas></div>
  </section>
</main>
<footer><span id="model-info"></span><span class="links"><a href="/v1/models">models</a> · <a href="/metrics">metrics</a> · <a href="/healthz">health</a></span></footer>
</body>
</html>
`;
}
