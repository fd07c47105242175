/**
 * Output-layer raster: one row per output neuron (class), one column per engine timestep (or per
 * group of timesteps when the feed merged them), newest on the right. A cell's brightness is the
 * neuron's output per timestep in that column (spikes per step for a spiking output layer),
 * relative to the largest value on screen, so non-spiking readouts (membrane values) show too.
 * A gap in event time between columns (a new recording, an idle stretch) is drawn as a dashed
 * line; the row of the current prediction is highlighted.
 */
import type { FeedSteps } from './feed-message.js';
import { HidpiCanvas } from './hidpi-canvas.js';

interface Column {
  readonly tStart: number;
  readonly tEnd: number;
  readonly merged: number;
  readonly values: Float32Array;
  readonly gapBefore: boolean;
}

/** Longest label drawn (characters); the gutter fits the labels up to this. */
const LABEL_CHARS = 14;
const TOP = 6;
const BOTTOM = 18;

export class RasterView {
  /** Columns kept (the visible history). */
  readonly capacity: number;
  private readonly view: HidpiCanvas;
  private cols: Column[] = [];
  private labels: readonly string[] = [];
  private outputs = 0;
  private highlight = -1;
  /** Steps received since the last clear (for the page's own checks). */
  stepsSeen = 0;

  constructor(canvas: HTMLCanvasElement, capacity = 300) {
    this.view = new HidpiCanvas(canvas);
    this.capacity = capacity;
  }

  setLabels(labels: readonly string[]): void {
    this.labels = labels;
    this.clear();
  }

  clear(): void {
    this.cols = [];
    this.highlight = -1;
    this.stepsSeen = 0;
  }

  setHighlight(index: number): void {
    this.highlight = index;
  }

  /** Span of event time on screen (us), for the caption. */
  spanUs(): number {
    if (this.cols.length === 0) return 0;
    let s = 0;
    for (const c of this.cols) s += c.tEnd - c.tStart;
    return s;
  }

  visibleSteps(): number {
    let n = 0;
    for (const c of this.cols) n += c.merged;
    return n;
  }

  add(steps: FeedSteps): void {
    const m = steps.outputs;
    this.outputs = m;
    this.stepsSeen += steps.n;
    for (let i = 0; i < steps.slots; i++) {
      const prev = this.cols[this.cols.length - 1];
      const tStart = steps.tStart[i];
      this.cols.push({
        tStart, tEnd: steps.tEnd[i], merged: steps.merged[i],
        values: Float32Array.from(steps.values.slice(i * m, (i + 1) * m)),
        gapBefore: prev !== undefined && Math.abs(tStart - prev.tEnd) > Math.max(1, (prev.tEnd - prev.tStart) / prev.merged),
      });
    }
    if (this.cols.length > this.capacity) this.cols.splice(0, this.cols.length - this.capacity);
  }

  draw(): void {
    this.view.fit();
    const ctx = this.view.ctx;
    const W = this.view.width;
    const H = this.view.height;
    ctx.clearRect(0, 0, W, H);
    const rows = Math.max(this.outputs, this.labels.length, 1);
    ctx.font = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
    let widest = 0;
    for (let r = 0; r < rows; r++) widest = Math.max(widest, ctx.measureText(truncate(this.labels[r] ?? String(r), LABEL_CHARS)).width);
    const gutter = Math.ceil(Math.min(W / 3, widest + 16));
    const plotW = W - gutter - 4;
    const plotH = H - TOP - BOTTOM;
    const rowH = plotH / rows;
    const colW = plotW / this.capacity;
    // Row bands and labels.
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (let r = 0; r < rows; r++) {
      const y = TOP + r * rowH;
      if (r === this.highlight) {
        ctx.fillStyle = 'rgba(122, 162, 255, 0.16)';
        ctx.fillRect(gutter, y, plotW, rowH);
      } else if (r % 2 === 1) {
        ctx.fillStyle = 'rgba(255, 255, 255, 0.025)';
        ctx.fillRect(gutter, y, plotW, rowH);
      }
      if (rowH >= 9) {
        ctx.fillStyle = r === this.highlight ? '#dfe8ff' : '#7f8ca8';
        ctx.fillText(truncate(this.labels[r] ?? String(r), LABEL_CHARS), gutter - 8, y + rowH / 2);
      }
    }
    // Cells: brightness relative to the largest per-step value on screen.
    let max = 0;
    for (const c of this.cols) for (let k = 0; k < c.values.length; k++) max = Math.max(max, Math.abs(c.values[k]) / c.merged);
    const x0 = gutter + plotW - this.cols.length * colW;
    const cellW = Math.max(1, colW - (colW > 3 ? 1 : 0));
    const cellH = Math.max(1, rowH - (rowH > 6 ? 2 : 0));
    for (let i = 0; i < this.cols.length; i++) {
      const c = this.cols[i];
      const x = x0 + i * colW;
      if (c.gapBefore) {
        ctx.strokeStyle = 'rgba(140, 160, 200, 0.35)';
        ctx.setLineDash([3, 3]);
        ctx.beginPath();
        ctx.moveTo(Math.round(x) + 0.5, TOP);
        ctx.lineTo(Math.round(x) + 0.5, TOP + plotH);
        ctx.stroke();
        ctx.setLineDash([]);
      }
      if (max === 0) continue;
      for (let k = 0; k < c.values.length && k < rows; k++) {
        const v = Math.abs(c.values[k]) / c.merged / max;
        if (v <= 0.02) continue;
        ctx.fillStyle = k === this.highlight ? `rgba(255, 209, 102, ${0.25 + 0.75 * v})` : `rgba(122, 162, 255, ${0.2 + 0.8 * v})`;
        ctx.fillRect(x, TOP + k * rowH + (rowH - cellH) / 2, cellW, cellH);
      }
    }
    // Axis caption.
    ctx.fillStyle = '#5f6b85';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    ctx.fillText('older', gutter, H - 4);
    ctx.textAlign = 'right';
    ctx.fillText('now', gutter + plotW, H - 4);
  }
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
