/**
 * The filter gradient of a 'valid' convolution (conv2d-op.ts's convValid) whose input is mostly
 * zeros, as a scatter over the input's nonzeros: dw[ky, kx, ci, co] += x[n, y, x, ci] *
 * dy[n, oy, ox, co] for every tap that maps input (y, x) to an output (oy, ox).
 *
 * Why: a network's first convolution sees event counts, about 8% nonzero on N-MNIST (real and
 * synthetic alike). Its filter gradient as a forward conv (batch and channel axes swapped) costs
 * the full dense work plus a transpose and a filter packing of the 4.6M-value output gradient;
 * this loop does 8% of the multiply-adds and reads dy where it lies. Hand-written because no tfjs
 * kernel exploits input sparsity. It is slower than the conv once the input is dense enough:
 * `sparseFilterGradPays` decides per batch.
 *
 * Sums run in float64 and round once at the end (more exact than the conv's float32 sums; tests
 * compare both against tfjs's reference kernels).
 */
import type { ConvGeometry } from './conv2d-op.js';

export type Shape4 = readonly [number, number, number, number];

/**
 * Whether the scatter is expected to beat the conv path for input `x`: the scatter costs about
 * nonzero x kh x kw x Cout multiply-adds of this file's loop (divided by `speedup` for a faster
 * implementation: 3.5 for the wasm SIMD kernel), the conv path about 1/12 of one per dense
 * multiply-add plus transposing and packing dy (measured on the reference network's first layer:
 * at 8% input density this loop is 1.5x faster than the conv path, break-even near 12%; the SIMD
 * kernel's near 40%). Counting stops once the nonzeros are too many.
 */
export function sparseFilterGradPays(x: Float32Array, xShape: Shape4, dyShape: Shape4, kernel: readonly [number, number], speedup = 1): boolean {
  const [n, , , cin] = xShape;
  const [, ho, wo, cout] = dyShape;
  const taps = kernel[0] * kernel[1];
  const conv = (n * ho * wo * taps * cin * cout) / 12 + 4 * n * ho * wo * cout;
  const most = (speedup * conv) / (taps * cout);
  let k = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== 0 && ++k >= most) return false;
  }
  return true;
}

/** dw [kh, kw, Cin, Cout] from x [N, H, W, Cin] and dy [N, Ho, Wo, Cout] (NHWC values). */
export function sparseFilterGrad(x: Float32Array, xShape: Shape4, dy: Float32Array, dyShape: Shape4, kernel: readonly [number, number], g: ConvGeometry): Float32Array {
  const [n, h, w, cin] = xShape;
  const [dn, ho, wo, cout] = dyShape;
  const [kh, kw] = kernel;
  const [sh, sw] = g.stride;
  const [dh, dw] = g.dilation;
  if (dn !== n || x.length !== n * h * w * cin || dy.length !== n * ho * wo * cout) throw new RangeError('sparseFilterGrad: shapes do not match the values');
  const acc = new Float64Array(kh * kw * cin * cout);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const xi = ((b * h + y) * w + xx) * cin;
        for (let ci = 0; ci < cin; ci++) {
          const val = x[xi + ci];
          if (val === 0) continue;
          for (let ky = 0; ky < kh; ky++) {
            const oyN = y - ky * dh;
            if (oyN < 0) break;
            const oy = oyN / sh;
            if (oy >= ho || oy !== Math.floor(oy)) continue;
            for (let kx = 0; kx < kw; kx++) {
              const oxN = xx - kx * dw;
              if (oxN < 0) break;
              const ox = oxN / sw;
              if (ox >= wo || ox !== Math.floor(ox)) continue;
              const gb = ((b * ho + oy) * wo + ox) * cout;
              const wb = ((ky * kw + kx) * cin + ci) * cout;
              for (let co = 0; co < cout; co++) acc[wb + co] += val * dy[gb + co];
            }
          }
        }
      }
    }
  }
  return Float32Array.from(acc);
}
