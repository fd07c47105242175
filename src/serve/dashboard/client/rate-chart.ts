/** Events per second over the last minute, as a filled line with its peak marked. */
import { formatCount } from './format.js';
import { HidpiCanvas } from './hidpi-canvas.js';

const SPAN_MS = 60_000;

export class RateChart {
  private readonly view: HidpiCanvas;
  private pts: { at: number; v: number }[] = [];

  constructor(canvas: HTMLCanvasElement) {
    this.view = new HidpiCanvas(canvas);
  }

  clear(): void {
    this.pts = [];
  }

  push(at: number, v: number): void {
    this.pts.push({ at, v });
    while (this.pts.length > 0 && this.pts[0].at < at - SPAN_MS) this.pts.shift();
  }

  draw(now: number): void {
    this.view.fit();
    const ctx = this.view.ctx;
    const W = this.view.width;
    const H = this.view.height;
    ctx.clearRect(0, 0, W, H);
    const top = 14;
    const plotH = H - top - 2;
    ctx.strokeStyle = 'rgba(140, 160, 200, 0.15)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, H - 1.5);
    ctx.lineTo(W, H - 1.5);
    ctx.stroke();
    let max = 0;
    for (const p of this.pts) max = Math.max(max, p.v);
    ctx.font = '10px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
    ctx.fillStyle = '#5f6b85';
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    ctx.fillText('events/s · last 60 s', 0, 0);
    if (this.pts.length < 2 || max === 0) return;
    ctx.textAlign = 'right';
    ctx.fillText(`peak ${formatCount(max)}`, W, 0);
    const xOf = (at: number): number => W - ((now - at) / SPAN_MS) * W;
    const yOf = (v: number): number => top + plotH - (v / max) * plotH;
    ctx.beginPath();
    ctx.moveTo(xOf(this.pts[0].at), top + plotH);
    for (const p of this.pts) ctx.lineTo(xOf(p.at), yOf(p.v));
    ctx.lineTo(xOf(this.pts[this.pts.length - 1].at), top + plotH);
    ctx.closePath();
    const g = ctx.createLinearGradient(0, top, 0, top + plotH);
    g.addColorStop(0, 'rgba(64, 214, 255, 0.35)');
    g.addColorStop(1, 'rgba(64, 214, 255, 0.02)');
    ctx.fillStyle = g;
    ctx.fill();
    ctx.beginPath();
    this.pts.forEach((p, i) => (i === 0 ? ctx.moveTo(xOf(p.at), yOf(p.v)) : ctx.lineTo(xOf(p.at), yOf(p.v))));
    ctx.strokeStyle = 'rgba(64, 214, 255, 0.9)';
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
}
