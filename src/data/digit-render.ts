/**
 * Renders a 28x28 MNIST digit, shown on a monitor and seen through a lens, onto a small sensor at
 * any sub-pixel offset: the scene model behind synthetic N-MNIST.
 *
 * Continuous model: each MNIST pixel is a uniform square of display luminance
 * black + (white - black) * (v/255)^gamma (or its mirror image for a dark digit), blurred by a
 * Gaussian point-spread function, then integrated over each square sensor pixel. We precompute
 * that image once per digit on a grid `oversample` times finer than the sensor pixels and sample
 * it bilinearly per frame, so the cost per frame is four reads per pixel and sub-pixel motion is
 * smooth (no staircase at integer shifts).
 */
import { MNIST_PIXELS, MNIST_SIDE } from './mnist-digits.js';

export interface DisplayParams {
  /** Luminance of MNIST value 0 relative to the brightest value (display black level + glare). */
  readonly black: number;
  /** Display gamma applied to v/255. */
  readonly gamma: number;
  /** True: the digit is drawn dark on a bright background (luminance mirrored). */
  readonly darkDigit: boolean;
}

export interface DigitFieldOptions {
  readonly display: DisplayParams;
  /** Gaussian PSF standard deviation, in sensor pixels (one MNIST pixel = one sensor pixel). */
  readonly psfSigmaPx: number;
  /** Fine-grid samples per sensor pixel. Default 4. */
  readonly oversample?: number;
}

/** A digit's luminance after PSF and pixel integration, on a fine grid, ready for sampling. */
export interface DigitField {
  readonly data: Float32Array;
  /** Fine-grid side length. */
  readonly side: number;
  readonly oversample: number;
  /** Margin around the 28x28 digit, in sensor pixels, where the blurred image may be non-background. */
  readonly pad: number;
  /** Background luminance (outside the field). */
  readonly background: number;
}

export function prepareDigitField(pixels: ArrayLike<number>, opts: DigitFieldOptions): DigitField {
  if (pixels.length !== MNIST_PIXELS) throw new RangeError(`prepareDigitField: expected ${MNIST_PIXELS} pixels, got ${pixels.length}`);
  const S = opts.oversample ?? 4;
  const { black, gamma, darkDigit } = opts.display;
  const sigma = opts.psfSigmaPx;
  if (!(S >= 1 && Number.isInteger(S))) throw new RangeError(`oversample ${S} must be an integer >= 1`);
  if (!(sigma >= 0) || !(black >= 0 && black < 1) || !(gamma > 0)) throw new RangeError('prepareDigitField: need psfSigmaPx >= 0, 0 <= black < 1, gamma > 0');
  const pad = Math.ceil(3 * sigma) + 2;
  const side = (MNIST_SIDE + 2 * pad) * S;
  const lum = (v: number): number => {
    const s = black + (1 - black) * Math.pow(v / 255, gamma);
    return darkDigit ? 1 + black - s : s;
  };
  const background = lum(0);
  let img: Float32Array = new Float32Array(side * side).fill(background);
  for (let v = 0; v < MNIST_SIDE; v++) {
    for (let u = 0; u < MNIST_SIDE; u++) {
      const val = lum(pixels[v * MNIST_SIDE + u]);
      const y0 = (v + pad) * S;
      const x0 = (u + pad) * S;
      for (let dy = 0; dy < S; dy++) img.fill(val, (y0 + dy) * side + x0, (y0 + dy) * side + x0 + S);
    }
  }
  if (sigma > 0) img = separable(img, side, gaussianKernel(sigma * S), background);
  // Integration over one sensor pixel: a box of S fine samples.
  if (S > 1) img = separable(img, side, boxKernel(S), background);
  return { data: img, side, oversample: S, pad, background };
}

/**
 * Writes the sensor image for a digit whose top-left corner sits at sensor coordinates (ox, oy)
 * (pixel (x, y) covers [x, x+1) x [y, y+1)) into `out` (width*height, row-major).
 */
export function renderDigit(field: DigitField, ox: number, oy: number, width: number, height: number, out: Float32Array): void {
  const { data, side, oversample: S, pad, background } = field;
  const maxF = side - 1;
  for (let y = 0; y < height; y++) {
    // Fine-grid coordinate of this sensor pixel's centre; fine sample j sits at (j + 0.5) / S - pad.
    const fy = (y + 0.5 - oy + pad) * S - 0.5;
    const y0 = Math.floor(fy);
    const wy = fy - y0;
    const row = y * width;
    if (y0 < 0 || y0 >= maxF) {
      out.fill(background, row, row + width);
      continue;
    }
    const r0 = y0 * side;
    const r1 = r0 + side;
    for (let x = 0; x < width; x++) {
      const fx = (x + 0.5 - ox + pad) * S - 0.5;
      const x0 = Math.floor(fx);
      if (x0 < 0 || x0 >= maxF) {
        out[row + x] = background;
        continue;
      }
      const wx = fx - x0;
      const a = data[r0 + x0] + wx * (data[r0 + x0 + 1] - data[r0 + x0]);
      const b = data[r1 + x0] + wx * (data[r1 + x0 + 1] - data[r1 + x0]);
      out[row + x] = a + wy * (b - a);
    }
  }
}

function gaussianKernel(sigma: number): Float64Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp((-i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Box of n samples, centred (half weights at both ends when n is even, so it stays symmetric). */
function boxKernel(n: number): Float64Array {
  if (n % 2 === 1) return new Float64Array(n).fill(1 / n);
  const k = new Float64Array(n + 1).fill(1 / n);
  k[0] = k[n] = 0.5 / n;
  return k;
}

/** Separable 2-D convolution with the same 1-D kernel on both axes; outside the grid is `edge`. */
function separable(src: Float32Array, side: number, k: Float64Array, edge: number): Float32Array {
  const r = (k.length - 1) / 2;
  const tmp = new Float32Array(side * side);
  const out = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    const row = y * side;
    for (let x = 0; x < side; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) {
        const xx = x + i;
        s += k[i + r] * (xx >= 0 && xx < side ? src[row + xx] : edge);
      }
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) {
        const yy = y + i;
        s += k[i + r] * (yy >= 0 && yy < side ? tmp[yy * side + x] : edge);
      }
      out[y * side + x] = s;
    }
  }
  return out;
}
