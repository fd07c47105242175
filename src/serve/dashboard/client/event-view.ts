/**
 * Live event view: each pixel holds an ON and an OFF intensity that every event raises and that
 * decays exponentially (time constant tauMs), drawn at the sensor's resolution into an
 * offscreen canvas and scaled up without smoothing, so a pixel stays a crisp square.
 *
 * The feed sends an even spread of each frame's events when there are more than it keeps; each
 * kept event then stands for n / kept events, so brightness follows the real rate.
 */
import { HidpiCanvas } from './hidpi-canvas.js';

/** ON (brightness increase) and OFF colours; the legend in the page uses the same (--on, --off). */
const ON_RGB = [64, 214, 255] as const;
const OFF_RGB = [255, 84, 140] as const;
const BG_RGB = [9, 13, 24] as const;
/** Intensity at which a pixel reaches about 63% of its colour. */
const SATURATION = 1.5;

export class EventView {
  /** Decay time constant (ms of wall time). */
  tauMs = 150;
  private readonly view: HidpiCanvas;
  private readonly off: HTMLCanvasElement;
  private readonly offCtx: CanvasRenderingContext2D;
  private img: ImageData | undefined;
  private on = new Float32Array(0);
  private offI = new Float32Array(0);
  private w = 0;
  private h = 0;
  private last = performance.now();
  /** Events drawn since the sensor was set (for the page's own checks). */
  drawnEvents = 0;

  constructor(canvas: HTMLCanvasElement) {
    this.view = new HidpiCanvas(canvas);
    this.off = document.createElement('canvas');
    const ctx = this.off.getContext('2d');
    if (!ctx) throw new Error('canvas 2d context unavailable');
    this.offCtx = ctx;
  }

  setSensor(width: number, height: number): void {
    if (width === this.w && height === this.h) {
      this.clear();
      return;
    }
    this.w = width;
    this.h = height;
    this.on = new Float32Array(width * height);
    this.offI = new Float32Array(width * height);
    this.off.width = width;
    this.off.height = height;
    this.img = this.offCtx.createImageData(width, height);
    this.clear();
  }

  clear(): void {
    this.on.fill(0);
    this.offI.fill(0);
    this.drawnEvents = 0;
  }

  /** Adds `kept` events standing for `n` events in all. */
  add(x: Uint16Array, y: Uint16Array, p: Uint8Array, kept: number, n: number): void {
    const w = this.w;
    const h = this.h;
    const weight = kept > 0 ? Math.max(1, n / kept) : 1;
    for (let i = 0; i < kept; i++) {
      const xi = x[i];
      const yi = y[i];
      if (xi >= w || yi >= h) continue;
      const k = yi * w + xi;
      if (p[i]) this.on[k] += weight;
      else this.offI[k] += weight;
    }
    this.drawnEvents += kept;
  }

  /** Decays to `now` and draws. */
  draw(now: number): void {
    this.view.fit();
    const ctx = this.view.ctx;
    const W = this.view.width;
    const H = this.view.height;
    ctx.fillStyle = `rgb(${BG_RGB.join(',')})`;
    ctx.fillRect(0, 0, W, H);
    const img = this.img;
    if (!img) return;
    const decay = Math.exp(-Math.max(0, now - this.last) / this.tauMs);
    this.last = now;
    const on = this.on;
    const off = this.offI;
    const d = img.data;
    for (let k = 0; k < on.length; k++) {
      const a = (on[k] *= decay);
      const b = (off[k] *= decay);
      let ia = a > 0.01 ? 1 - Math.exp(-a / SATURATION) : 0;
      let ib = b > 0.01 ? 1 - Math.exp(-b / SATURATION) : 0;
      // A busy pixel with both polarities mixes the two colours rather than washing out to white.
      const sum = ia + ib;
      if (sum > 1) {
        ia /= sum;
        ib /= sum;
      }
      const rest = 1 - ia - ib;
      const j = 4 * k;
      d[j] = BG_RGB[0] * rest + ON_RGB[0] * ia + OFF_RGB[0] * ib;
      d[j + 1] = BG_RGB[1] * rest + ON_RGB[1] * ia + OFF_RGB[1] * ib;
      d[j + 2] = BG_RGB[2] * rest + ON_RGB[2] * ia + OFF_RGB[2] * ib;
      d[j + 3] = 255;
    }
    this.offCtx.putImageData(img, 0, 0);
    // Letterboxed, integer-free scaling: the sensor keeps its aspect ratio in any panel shape.
    const scale = Math.min(W / this.w, H / this.h);
    const dw = this.w * scale;
    const dh = this.h * scale;
    const dx = (W - dw) / 2;
    const dy = (H - dh) / 2;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.off, dx, dy, dw, dh);
    ctx.strokeStyle = 'rgba(140, 160, 200, 0.25)';
    ctx.lineWidth = 1;
    ctx.strokeRect(dx + 0.5, dy + 0.5, dw - 1, dh - 1);
  }
}
