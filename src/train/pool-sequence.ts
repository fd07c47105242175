/**
 * Non-overlapping 2-D window pooling (kernel = stride, no padding) on typed arrays in the trainer's
 * NHWC layout, fused into the neuron op that feeds it (neuron-op.ts): the op then hands tfjs the
 * pooled values only, and the full-size spike tensor and its gradient never become tfjs tensors
 * (on the reference network that is 4.6M values per step forward and backward).
 *
 * Semantics of the engines (dense-engine.ts): window sum in ascending (ky, kx) order, each
 * addition rounded to float32, then AvgPool divides by the area. Windows cut off by the edge are
 * dropped (floor), as the output-size formula does.
 */

export interface PoolGeometry {
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly kh: number;
  readonly kw: number;
  readonly average: boolean;
}

export function pooledSize(g: PoolGeometry): number {
  return Math.floor(g.h / g.kh) * Math.floor(g.w / g.kw) * g.c;
}

/** Pools `count` consecutive [h, w, c] images of `x` into [ho, wo, c] images. */
export function poolForward(x: Float32Array, count: number, g: PoolGeometry, into?: Float32Array): Float32Array {
  const { h, w, c, kh, kw, average } = g;
  const ho = Math.floor(h / kh);
  const wo = Math.floor(w / kw);
  const area = kh * kw;
  const inSize = h * w * c;
  const outSize = ho * wo * c;
  const out = into && into.length === count * outSize ? into.fill(0) : new Float32Array(count * outSize);
  const f = Math.fround;
  for (let n = 0; n < count; n++) {
    const xi = n * inSize;
    const yo = n * outSize;
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const o = yo + (oy * wo + ox) * c;
        for (let ky = 0; ky < kh; ky++) {
          const row = xi + ((oy * kh + ky) * w + ox * kw) * c;
          for (let kx = 0; kx < kw; kx++) {
            const src = row + kx * c;
            // A Float32Array store rounds like fround; adding the zeros the engines skip changes nothing.
            for (let ch = 0; ch < c; ch++) out[o + ch] += x[src + ch];
          }
        }
        if (average) for (let ch = 0; ch < c; ch++) out[o + ch] = f(out[o + ch] / area);
      }
    }
  }
  return out;
}

/** dL/dx from dL/d(pooled): each window's gradient (divided by the area for AvgPool) spread over it. */
export function poolBackward(gy: Float32Array, count: number, g: PoolGeometry, into?: Float32Array): Float32Array {
  const { h, w, c, kh, kw, average } = g;
  const ho = Math.floor(h / kh);
  const wo = Math.floor(w / kw);
  const scale = average ? 1 / (kh * kw) : 1;
  const inSize = h * w * c;
  const outSize = ho * wo * c;
  const gx = into && into.length === count * inSize ? into : new Float32Array(count * inSize);
  for (let n = 0; n < count; n++) {
    const xi = n * inSize;
    const yo = n * outSize;
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const o = yo + (oy * wo + ox) * c;
        for (let ky = 0; ky < kh; ky++) {
          const row = xi + ((oy * kh + ky) * w + ox * kw) * c;
          for (let kx = 0; kx < kw; kx++) {
            const dst = row + kx * c;
            for (let ch = 0; ch < c; ch++) gx[dst + ch] = gy[o + ch] * scale;
          }
        }
      }
    }
  }
  return gx;
}
