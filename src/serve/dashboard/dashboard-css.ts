/** The dashboard's stylesheet (served at /dashboard/style.css; a module for the same reason as page.ts). */
export const DASHBOARD_CSS = `
:root {
  --bg: #070b14;
  --panel: #0f1626;
  --panel-2: #131c30;
  --border: #1d2740;
  --text: #e4e9f4;
  --muted: #8390ab;
  --faint: #5f6b85;
  --accent: #7aa2ff;
  --on: rgb(64, 214, 255);
  --off: rgb(255, 84, 140);
  --good: #3ddc97;
  --bad: #ff6b6b;
  --warn: #ffd166;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  color-scheme: dark;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--text); }
body {
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  min-height: 100vh; display: flex; flex-direction: column;
}
code { font-family: var(--mono); font-size: 12px; background: var(--panel-2); padding: 1px 5px; border-radius: 4px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }

header.top {
  display: flex; align-items: center; gap: 24px; padding: 12px 20px;
  border-bottom: 1px solid var(--border); background: linear-gradient(180deg, #0c1322, #09101d);
}
.brand { display: flex; align-items: center; gap: 10px; font-weight: 650; font-size: 17px; letter-spacing: .2px; }
.brand .logo { width: 24px; height: 24px; color: var(--on); }
.brand .tag {
  font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: .8px; color: var(--on);
  border: 1px solid rgba(64, 214, 255, .4); border-radius: 999px; padding: 1px 8px;
}
.picker { display: flex; align-items: center; gap: 10px; margin-left: auto; color: var(--muted); font-size: 13px; }
.picker select {
  background: var(--panel-2); color: var(--text); border: 1px solid var(--border); border-radius: 8px;
  padding: 6px 10px; font: inherit; min-width: 320px; max-width: 46vw;
}
.picker small { color: var(--faint); }
.conn { display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 13px; min-width: 120px; }
.conn .dot { width: 9px; height: 9px; border-radius: 50%; background: var(--faint); }
.conn[data-state="live"] .dot { background: var(--good); box-shadow: 0 0 0 3px rgba(61, 220, 151, .18); }
.conn[data-state="connecting"] .dot, .conn[data-state="reconnecting"] .dot { background: var(--warn); }
.conn[data-state="closed"] .dot { background: var(--bad); }

.notice {
  margin: 12px 20px 0; padding: 9px 14px; border-radius: 8px; font-size: 13px;
  background: rgba(255, 209, 102, .08); border: 1px solid rgba(255, 209, 102, .3); color: #f3dfa6;
}
.notice[hidden] { display: none; }

main.grid {
  flex: 1; display: grid; gap: 16px; padding: 16px 20px;
  grid-template-columns: minmax(300px, 5fr) minmax(300px, 4fr) minmax(240px, 3fr);
  grid-template-areas: "events prediction stats" "raster raster raster";
  grid-template-rows: auto auto;
}
.card {
  background: var(--panel); border: 1px solid var(--border); border-radius: 12px; padding: 14px 16px;
  display: flex; flex-direction: column; min-width: 0;
}
.events-card { grid-area: events; }
.prediction-card { grid-area: prediction; }
.stats-card { grid-area: stats; }
.raster-card { grid-area: raster; }
.card-head { display: flex; align-items: center; justify-content: space-between; gap: 12px; margin-bottom: 10px; }
h2 { margin: 0; font-size: 12px; font-weight: 650; text-transform: uppercase; letter-spacing: 1px; color: var(--muted); }
h3 { margin: 0; font-size: 12px; font-weight: 600; color: var(--muted); }
.hint, .card-foot { color: var(--faint); font-size: 12px; }
.card-foot { margin-top: 8px; }
.legend { display: flex; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); }
.swatch { width: 10px; height: 10px; border-radius: 2px; display: inline-block; margin-left: 8px; }
.swatch.on { background: var(--on); }
.swatch.off { background: var(--off); }
.pill {
  font-size: 11px; text-transform: uppercase; letter-spacing: .8px; color: var(--accent);
  border: 1px solid rgba(122, 162, 255, .35); border-radius: 999px; padding: 1px 9px;
}

.canvas-wrap { position: relative; width: 100%; }
/* Out of the flow: a canvas's own backing-store size must never feed back into the layout. */
.canvas-wrap canvas { position: absolute; inset: 0; display: block; width: 100%; height: 100%; }
.canvas-wrap.sensor { aspect-ratio: 1 / 1; max-height: 52vh; border-radius: 8px; overflow: hidden; background: #090d18; }
.canvas-wrap.raster { height: 210px; }
.canvas-wrap.spark { flex: 1; min-height: 92px; margin-top: 12px; }
.empty-state {
  position: absolute; inset: 0; display: flex; flex-direction: column; justify-content: center; align-items: center;
  text-align: center; padding: 24px; color: var(--muted); font-size: 13px; gap: 4px;
}
.empty-state[hidden] { display: none; }

.label-row { display: flex; align-items: center; gap: 18px; margin: 2px 0 14px; }
.big-label {
  font-size: 76px; line-height: 1; font-weight: 700; min-width: 96px; text-align: center; padding: 10px 14px;
  border-radius: 12px; background: radial-gradient(circle at 50% 35%, rgba(122, 162, 255, .18), rgba(122, 162, 255, .04));
  border: 1px solid rgba(122, 162, 255, .25); font-variant-numeric: tabular-nums; overflow: hidden; text-overflow: ellipsis;
  max-width: 60%; white-space: nowrap;
}
.big-label.flash { animation: flash .45s ease-out; }
@keyframes flash { from { box-shadow: 0 0 0 6px rgba(122, 162, 255, .35); } to { box-shadow: 0 0 0 0 rgba(122, 162, 255, 0); } }
.label-side { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; font-size: 13px; align-content: center; }
.label-side div { display: contents; }
.label-side div[hidden] { display: none; }
.label-side dt { color: var(--faint); }
.label-side dd { margin: 0; font-family: var(--mono); font-size: 12.5px; color: var(--text); }

.scores { display: flex; flex-direction: column; gap: 5px; }
.score-row { display: grid; grid-template-columns: 48px 1fr 56px; align-items: center; gap: 10px; font-size: 13px; }
.score-label { font-family: var(--mono); color: var(--muted); text-align: right; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.score-track { height: 14px; background: var(--panel-2); border-radius: 4px; overflow: hidden; }
.score-fill { height: 100%; width: 0; background: linear-gradient(90deg, rgba(122, 162, 255, .55), rgba(122, 162, 255, .85)); border-radius: 4px; transition: width .18s ease-out; }
.score-value { font-family: var(--mono); font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
.score-row.top .score-label, .score-row.top .score-value { color: var(--text); font-weight: 650; }
.score-row.top .score-fill { background: linear-gradient(90deg, #f5b942, var(--warn)); }

.history-block { margin-top: 14px; padding-top: 12px; border-top: 1px solid var(--border); }
.sub-head { display: flex; justify-content: space-between; align-items: baseline; margin-bottom: 8px; }
.sub-head small { color: var(--faint); font-size: 12px; }
.history { display: flex; flex-wrap: wrap; gap: 6px; min-height: 26px; }
.chip {
  font-family: var(--mono); font-size: 13px; padding: 2px 8px; border-radius: 6px; background: var(--panel-2);
  border: 1px solid var(--border); display: inline-flex; gap: 5px; align-items: baseline;
}
.chip small { font-size: 11px; color: var(--muted); }
.chip.right { border-color: rgba(61, 220, 151, .45); }
.chip.right small { color: var(--good); }
.chip.wrong { border-color: rgba(255, 107, 107, .45); }
.chip.wrong small { color: var(--bad); }
.muted { color: var(--faint); font-size: 12px; }

.tiles { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
.tile { background: var(--panel-2); border: 1px solid var(--border); border-radius: 10px; padding: 10px 12px; min-width: 0; }
.tile:first-child { grid-column: 1 / -1; }
.tile-title { font-size: 11px; text-transform: uppercase; letter-spacing: .8px; color: var(--faint); }
.tile-value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; margin-top: 2px; white-space: nowrap; }
.tile:first-child .tile-value { font-size: 34px; color: var(--on); }
.tile-value.warn { color: var(--warn); }
.tile-sub { font-size: 11.5px; color: var(--muted); min-height: 16px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }

footer {
  display: flex; justify-content: space-between; gap: 16px; padding: 10px 20px 16px; color: var(--faint); font-size: 12px;
}

@media (max-width: 1100px) {
  main.grid { grid-template-columns: 1fr 1fr; grid-template-areas: "events prediction" "stats stats" "raster raster"; }
  .tiles { grid-template-columns: repeat(5, 1fr); }
  .tile:first-child { grid-column: auto; }
}
@media (max-width: 720px) {
  header.top { flex-wrap: wrap; gap: 10px; }
  .picker { margin-left: 0; width: 100%; }
  .picker select { min-width: 0; flex: 1; max-width: none; }
  main.grid { grid-template-columns: 1fr; grid-template-areas: "events" "prediction" "stats" "raster"; }
  .tiles { grid-template-columns: 1fr 1fr; }
  .tile:first-child { grid-column: 1 / -1; }
}
`;
