/**
 * Measures where a known MNIST digit sits on the sensor over time in an N-MNIST recording: for each
 * time window, the sub-pixel offset of the digit's top-left corner that best explains the window's
 * events, scored as the sum over events of the digit's (blurred) edge strength at the event's
 * position relative to the offset.
 *
 * Used to measure the real recordings' saccade path and to check that synthetic recordings move
 * the same way, by running the same estimator on both (its own biases then cancel).
 */
import type { EventBatch } from '../events/batch.js';
import { MNIST_PIXELS, MNIST_SIDE } from './mnist-digits.js';

export interface RegisterOptions {
  readonly windowUs: number;
  readonly endUs: number;
  /** Windows with fewer events are not registered (NaN). */
  readonly minEvents: number;
  /** Blur of the edge template, pixels: a smooth score gives sub-pixel estimates. */
  readonly templateSigmaPx: number;
  /** Offsets searched around the whole-recording estimate, pixels. */
  readonly searchRadiusPx: number;
}

export const DEFAULT_REGISTER_OPTIONS: RegisterOptions = Object.freeze({
  windowUs: 5000,
  endUs: 320_000,
  minEvents: 25,
  templateSigmaPx: 1,
  searchRadiusPx: 3,
});

const PAD = 6;
const SIDE = MNIST_SIDE + 2 * PAD;

/** Blurred gradient magnitude of the digit on a padded grid. */
function edgeTemplate(pixels: ArrayLike<number>, sigma: number): Float64Array {
  if (pixels.length !== MNIST_PIXELS) throw new RangeError(`registerDigit: expected ${MNIST_PIXELS} pixels`);
  const I = new Float64Array(SIDE * SIDE);
  for (let y = 0; y < MNIST_SIDE; y++) for (let x = 0; x < MNIST_SIDE; x++) I[(y + PAD) * SIDE + x + PAD] = pixels[y * MNIST_SIDE + x] / 255;
  const G = new Float64Array(SIDE * SIDE);
  for (let y = 1; y < SIDE - 1; y++) {
    for (let x = 1; x < SIDE - 1; x++) {
      const gx = I[y * SIDE + x + 1] - I[y * SIDE + x - 1];
      const gy = I[(y + 1) * SIDE + x] - I[(y - 1) * SIDE + x];
      G[y * SIDE + x] = Math.hypot(gx, gy);
    }
  }
  const r = Math.ceil(3 * sigma);
  const k: number[] = [];
  for (let i = -r; i <= r; i++) k.push(Math.exp((-i * i) / (2 * sigma * sigma)));
  const T = new Float64Array(SIDE * SIDE);
  const O = new Float64Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) if (x + i >= 0 && x + i < SIDE) s += G[y * SIDE + x + i] * k[i + r];
      T[y * SIDE + x] = s;
    }
  }
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) if (y + i >= 0 && y + i < SIDE) s += T[(y + i) * SIDE + x] * k[i + r];
      O[y * SIDE + x] = s;
    }
  }
  return O;
}

function sample(G: Float64Array, u: number, v: number): number {
  // Pixel (x, y) of the sensor covers [x, x+1); the template's samples are at MNIST pixel corners + 0, so
  // an event at pixel x with the digit at offset o looks up digit coordinate x - o.
  const X = u + PAD;
  const Y = v + PAD;
  const x0 = Math.floor(X);
  const y0 = Math.floor(Y);
  if (x0 < 0 || y0 < 0 || x0 >= SIDE - 1 || y0 >= SIDE - 1) return 0;
  const fx = X - x0;
  const fy = Y - y0;
  const i = y0 * SIDE + x0;
  return G[i] * (1 - fx) * (1 - fy) + G[i + 1] * fx * (1 - fy) + G[i + SIDE] * (1 - fx) * fy + G[i + SIDE + 1] * fx * fy;
}

function score(G: Float64Array, xs: ArrayLike<number>, ys: ArrayLike<number>, n: number, ox: number, oy: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += sample(G, xs[i] - ox, ys[i] - oy);
  return s;
}

/**
 * Best whole-pixel offset within `radius` of (cx, cy), refined to sub-pixel by a parabola through
 * the scores of the neighbours on each axis. (Event coordinates are integers, so with a bilinear
 * template the score has kinks at whole-pixel offsets and a finer grid search would stick to them.)
 */
function bestOffset(G: Float64Array, xs: ArrayLike<number>, ys: ArrayLike<number>, n: number, cx: number, cy: number, radius: number): [number, number] {
  let best = -1;
  let bx = Math.round(cx);
  let by = Math.round(cy);
  const r = Math.ceil(radius);
  for (let ox = Math.round(cx) - r; ox <= Math.round(cx) + r; ox++) {
    for (let oy = Math.round(cy) - r; oy <= Math.round(cy) + r; oy++) {
      const s = score(G, xs, ys, n, ox, oy);
      if (s > best) {
        best = s;
        bx = ox;
        by = oy;
      }
    }
  }
  const vertex = (minus: number, plus: number): number => {
    const den = minus - 2 * best + plus;
    return den < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (minus - plus)) / den)) : 0;
  };
  const dx = vertex(score(G, xs, ys, n, bx - 1, by), score(G, xs, ys, n, bx + 1, by));
  const dy = vertex(score(G, xs, ys, n, bx, by - 1), score(G, xs, ys, n, bx, by + 1));
  return [bx + dx, by + dy];
}

/** Offset per window (NaN where too few events): xs[k], ys[k] for window [k*windowUs, (k+1)*windowUs). */
export function registerDigit(events: EventBatch, pixels: ArrayLike<number>, options: Partial<RegisterOptions> = {}): { x: Float64Array; y: Float64Array } {
  const o = { ...DEFAULT_REGISTER_OPTIONS, ...options };
  const G = edgeTemplate(pixels, o.templateSigmaPx);
  const nW = Math.ceil(o.endUs / o.windowUs);
  const outX = new Float64Array(nW).fill(NaN);
  const outY = new Float64Array(nW).fill(NaN);
  const n = events.t.length;
  if (n === 0) return { x: outX, y: outY };
  // Whole-recording estimate first (coarse, wide), then each window searches near it.
  const [gx, gy] = bestOffset(G, events.x, events.y, n, 3, 3, 5);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  let i = 0;
  for (let w = 0; w < nW; w++) {
    const end = (w + 1) * o.windowUs;
    let m = 0;
    while (i < n && events.t[i] < end) {
      if (events.t[i] >= w * o.windowUs) {
        xs[m] = events.x[i];
        ys[m] = events.y[i];
        m++;
      }
      i++;
    }
    if (m < o.minEvents) continue;
    const [fx, fy] = bestOffset(G, xs, ys, m, gx, gy, o.searchRadiusPx);
    outX[w] = fx;
    outY[w] = fy;
  }
  return { x: outX, y: outY };
}
