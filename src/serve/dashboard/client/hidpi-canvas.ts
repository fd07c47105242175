/**
 * Keeps a canvas's backing store at its displayed size times devicePixelRatio, so lines and text
 * stay sharp, and tells the owner when it changed (the owner redraws on its next frame anyway).
 */
export class HidpiCanvas {
  readonly ctx: CanvasRenderingContext2D;
  /** Size in CSS pixels. */
  width = 0;
  height = 0;
  dpr = 1;

  constructor(readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('canvas 2d context unavailable');
    this.ctx = ctx;
    this.fit();
    new ResizeObserver(() => this.fit()).observe(canvas);
  }

  /** Matches the backing store to the displayed size; true when it changed. */
  fit(): boolean {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width));
    const h = Math.max(1, Math.round(r.height));
    if (w === this.width && h === this.height && dpr === this.dpr) return false;
    this.width = w;
    this.height = h;
    this.dpr = dpr;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return true;
  }
}
