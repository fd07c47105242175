/**
 * 2-D convolution (NHWC input, [kh, kw, Cin, Cout] filter, 'valid' windows: callers pad first)
 * with a gradient built only from forward convolutions.
 *
 * Why: tfjs 4.22's wasm backend has no Conv2DBackpropFilter kernel and the cpu backend's takes
 * seconds per call, while forward Conv2D is fast everywhere (XNNPACK on wasm). Both gradients
 * are forward convs (for stride s, dilation d, kernel K, output gradient dy):
 * - input gradient: dx[i] = sum_k dy~[i - k*d] w[k] with dy~ = dy dilated by s (s - 1 zeros
 *   between entries). That is a stride-1 correlation, at dilation d, of dy~ padded by (K-1)*d
 *   before and H - len(dy~) after, with the spatially flipped filter whose in/out channels are
 *   swapped.
 * - filter gradient: dw[k, ci, co] = sum_{n, o} x[n, o*s + k*d, ci] dy[n, o, co]. Read x as a
 *   batch of Cin images with N channels and dy as a [Ho, Wo, N, Cout] filter: a correlation with
 *   stride d and dilation s (batch and channel axes swapped on both), cropped to K x K.
 *   (An im2col + matMul filter gradient was measured 4x slower on wasm; a hand-written scatter
 *   over the nonzero inputs of the first layer, whose input is ~10% nonzero event counts, 1.3x
 *   slower than this conv.)
 * tfjs refuses stride > 1 together with dilation > 1 in one conv, so that case runs at stride 1
 * and subsamples with a strided slice.
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.js';

export interface ConvGeometry {
  readonly stride: readonly [number, number];
  readonly dilation: readonly [number, number];
}

/** Stride/dilation conv in 'valid' mode that works on every backend, including stride and dilation both > 1. */
export function convValid(x: tf.Tensor4D, w: tf.Tensor4D, stride: readonly [number, number], dilation: readonly [number, number]): tf.Tensor4D {
  const strided = stride[0] > 1 || stride[1] > 1;
  const dilated = dilation[0] > 1 || dilation[1] > 1;
  if (!(strided && dilated)) return tf.conv2d(x, w, [stride[0], stride[1]], 'valid', 'NHWC', [dilation[0], dilation[1]]);
  const full = tf.conv2d(x, w, 1, 'valid', 'NHWC', [dilation[0], dilation[1]]);
  const [n, h, wd, c] = full.shape;
  return tf.stridedSlice(full, [0, 0, 0, 0], [n, h, wd, c], [1, stride[0], stride[1], 1]) as tf.Tensor4D;
}

/** Inserts s - 1 zeros between neighbouring entries along H and W. */
function dilateSpatial(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const expanded = tf.reshape(dy, [n, h, 1, w, 1, c]);
  const padded = tf.pad(expanded, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  const flat = tf.reshape(padded, [n, h * sh, w * sw, c]) as tf.Tensor4D;
  return tf.slice(flat, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
}

/** Height and width of dy padded (and stride-dilated) for the input-gradient conv: [top + h, left + w]. */
export function paddedGradShape(inShape: readonly [number, number, number, number], kernel: readonly [number, number], g: ConvGeometry): { top: number; left: number; height: number; width: number } {
  const top = (kernel[0] - 1) * g.dilation[0];
  const left = (kernel[1] - 1) * g.dilation[1];
  return { top, left, height: top + inShape[1], width: left + inShape[2] };
}

/** dL/dx of convValid from dy already stride-dilated and padded as paddedGradShape says. */
export function convInputGradPadded(padded: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => tf.conv2d(padded, flippedFilter(w), 1, 'valid', 'NHWC', [g.dilation[0], g.dilation[1]]));
}

/** w [kh, kw, Cin, Cout] spatially flipped, channels swapped: [kh, kw, Cout, Cin] (a JS loop: tfjs's Reverse kernel costs more than this on a 5x5x16x32 filter). */
function flippedFilter(w: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  const src = w.dataSync();
  const out = new Float32Array(src.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const from = ((kh - 1 - y) * kw + (kw - 1 - x)) * cin * cout;
      const to = (y * kw + x) * cout * cin;
      for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) out[to + co * cin + ci] = src[from + ci * cout + co];
    }
  }
  return tf.tensor4d(out, [kh, kw, cout, cin]);
}

/** dL/dx of convValid. */
export function convInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, inShape: readonly [number, number, number, number], g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = w.shape;
    const dyd = dilateSpatial(dy, g.stride[0], g.stride[1]);
    const [, lh, lw] = dyd.shape;
    const { top, left, height, width } = paddedGradShape(inShape, [kh, kw], g);
    const padded = tf.pad(dyd, [[0, 0], [top, height - top - lh], [left, width - left - lw], [0, 0]]) as tf.Tensor4D;
    return convInputGradPadded(padded, w, g);
  });
}

/** dL/dw of convValid from dy already transposed to [Ho, Wo, N, Cout]. */
export function convFilterGradTransposed(x: tf.Tensor4D, dyt: tf.Tensor4D, kernel: readonly [number, number], g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const xt = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; // [Cin, H, W, N]
    // Output position k of this correlation is kernel tap k: stride d, dilation s.
    const r = convValid(xt, dyt, g.dilation, g.stride); // [Cin, >=kh, >=kw, Cout]
    const [cin, , , cout] = r.shape;
    const cropped = tf.slice(r, [0, 0, 0, 0], [cin, kernel[0], kernel[1], cout]);
    return tf.transpose(cropped, [1, 2, 0, 3]) as tf.Tensor4D; // [kh, kw, Cin, Cout]
  });
}

/** dL/dw of convValid. */
export function convFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, kernel: readonly [number, number], g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => convFilterGradTransposed(x, tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D, kernel, g));
}

/**
 * Convolution with the custom gradient above. `inputGrad: false` (the first layer, whose input is
 * data) skips the input-gradient conv and returns zeros for it.
 */
export function conv2dOp(
  x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry, inputGrad = true,
  onTime?: (group: 'conv-forward' | 'conv-input-grad' | 'conv-filter-grad', ms: number) => void,
): tf.Tensor4D {
  const now = () => (onTime ? performance.now() : 0);
  const op = customOp<tf.Tensor4D>(([xIn, wIn], save) => {
    const xx = xIn as tf.Tensor4D;
    const ww = wIn as tf.Tensor4D;
    save([xx, ww]);
    const t0 = now();
    const value = convValid(xx, ww, g.stride, g.dilation);
    if (onTime) {
      value.dataSync();
      onTime('conv-forward', performance.now() - t0);
    }
    return {
      value,
      gradFunc: (d: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const t1 = now();
        const dx = inputGrad ? convInputGrad(d, ws, xs.shape, g) : tf.zerosLike(xs);
        if (onTime) {
          dx.dataSync();
          onTime('conv-input-grad', performance.now() - t1);
        }
        const t2 = now();
        const dw = convFilterGrad(xs, d, [ws.shape[0], ws.shape[1]], g);
        if (onTime) {
          dw.dataSync();
          onTime('conv-filter-grad', performance.now() - t2);
        }
        return [dx, dw];
      },
    };
  });
  return op(x, w);
}
