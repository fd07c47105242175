/**
 * Compressed connectivity for the event-driven engine, built once per model: for each input neuron,
 * the list of existing (mask bit set) connections it drives. Only these lists are walked per spike.
 *
 * Convolutions share weights across positions, so the lists are kept per input channel and per
 * stride phase ("class"): an input at (ci, iy, ix) with ty = iy + ph = qy*sh + ry drives output
 * (co, qy + dy, qx + dx) for each entry (ky, kx, co) of class (ci, ry, rx) whose
 * (ry - ky*dh) is a multiple of sh, with dy = (ry - ky*dh) / sh (likewise along x). An entry stores
 * the output offset co*Ho*Wo + dy*Wo + dx relative to qy*Wo + qx, its weight and (dy, dx) for the
 * bounds check near borders. Memory is that of the weights; an interior input needs no bounds
 * checks at all (the class's dy/dx range fits). Pooling uses the same structure with weight 1.
 *
 * Linear/Affine layers get CSR by input: for input i, (output, weight) pairs.
 */
import type { Conv2dNode, LinearNode, AffineNode, PoolNode } from './graph.js';

export interface ConvConnectivity {
  readonly cin: number;
  readonly h: number;
  readonly w: number;
  readonly cout: number;
  readonly ho: number;
  readonly wo: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  /** Class c's entries are [start[c], start[c+1]); class = (ci*sh + ry)*sw + rx. */
  readonly start: Int32Array;
  readonly off: Int32Array;
  readonly weight: Float32Array;
  readonly dy: Int32Array;
  readonly dx: Int32Array;
  readonly dyMin: Int32Array;
  readonly dyMax: Int32Array;
  readonly dxMin: Int32Array;
  readonly dxMax: Int32Array;
  /** Per output channel, for Conv2d with bias. */
  readonly bias: Float32Array | null;
  /** Window area for AvgPool2d (the sum is divided by it), 0 otherwise. */
  readonly avgArea: number;
  /** Whether visits count as SynOps (weighted layers, not pooling). */
  readonly weighted: boolean;
  /** Existing connections (entries) in total. */
  readonly connections: number;
  /**
   * Per input neuron i: qy*Wo + qx (the output offset its entries are relative to), and its class;
   * the class is stored as ~cls (negative) when some entry of it falls outside the output there, so
   * the scatter loop needs neither divisions nor bounds checks for interior inputs.
   */
  readonly inBase: Int32Array;
  readonly inClass: Int32Array;
  /** Per input neuron: qy and qx (floor((iy + ph) / sh), likewise along x), for border inputs. */
  readonly inQy: Int32Array;
  readonly inQx: Int32Array;
}

export interface LinearConnectivity {
  readonly nIn: number;
  readonly nOut: number;
  /** Input i's entries are [rowStart[i], rowStart[i+1]). */
  readonly rowStart: Int32Array;
  readonly col: Int32Array;
  readonly weight: Float32Array;
  readonly bias: Float32Array | null;
  readonly connections: number;
}

interface ConvSpec {
  cin: number; h: number; w: number; cout: number; ho: number; wo: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  groups: number;
  /** Weight of connection (co, cg, ky, kx), or NaN when the connection does not exist. */
  weightAt: (co: number, cg: number, ky: number, kx: number) => number;
}

function buildConv(s: ConvSpec, bias: Float32Array | null, avgArea: number, weighted: boolean): ConvConnectivity {
  const nClasses = s.cin * s.sh * s.sw;
  const cinG = s.cin / s.groups;
  const coutG = s.cout / s.groups;
  const start = new Int32Array(nClasses + 1);
  const off: number[] = [];
  const wt: number[] = [];
  const dys: number[] = [];
  const dxs: number[] = [];
  const dyMin = new Int32Array(nClasses);
  const dyMax = new Int32Array(nClasses);
  const dxMin = new Int32Array(nClasses);
  const dxMax = new Int32Array(nClasses);
  const plane = s.ho * s.wo;
  for (let ci = 0; ci < s.cin; ci++) {
    const g = Math.floor(ci / cinG);
    const cg = ci - g * cinG;
    for (let ry = 0; ry < s.sh; ry++) {
      for (let rx = 0; rx < s.sw; rx++) {
        const cls = (ci * s.sh + ry) * s.sw + rx;
        start[cls] = off.length;
        let y0 = Infinity, y1 = -Infinity, x0 = Infinity, x1 = -Infinity;
        for (let co = g * coutG; co < (g + 1) * coutG; co++) {
          for (let ky = 0; ky < s.kh; ky++) {
            const ny = ry - ky * s.dh;
            if (ny % s.sh !== 0) continue;
            const dy = ny / s.sh;
            for (let kx = 0; kx < s.kw; kx++) {
              const nx = rx - kx * s.dw;
              if (nx % s.sw !== 0) continue;
              const w = s.weightAt(co, cg, ky, kx);
              if (Number.isNaN(w)) continue;
              const dx = nx / s.sw;
              off.push(co * plane + dy * s.wo + dx);
              wt.push(w);
              dys.push(dy);
              dxs.push(dx);
              if (dy < y0) y0 = dy;
              if (dy > y1) y1 = dy;
              if (dx < x0) x0 = dx;
              if (dx > x1) x1 = dx;
            }
          }
        }
        dyMin[cls] = y0 === Infinity ? 0 : y0;
        dyMax[cls] = y1 === -Infinity ? 0 : y1;
        dxMin[cls] = x0 === Infinity ? 0 : x0;
        dxMax[cls] = x1 === -Infinity ? 0 : x1;
      }
    }
  }
  start[nClasses] = off.length;
  const inBase = new Int32Array(s.cin * s.h * s.w);
  const inClass = new Int32Array(s.cin * s.h * s.w);
  const inQy = new Int32Array(s.cin * s.h * s.w);
  const inQx = new Int32Array(s.cin * s.h * s.w);
  for (let ci = 0, i = 0; ci < s.cin; ci++) {
    for (let iy = 0; iy < s.h; iy++) {
      for (let ix = 0; ix < s.w; ix++, i++) {
        const ty = iy + s.ph;
        const tx = ix + s.pw;
        const qy = Math.floor(ty / s.sh);
        const qx = Math.floor(tx / s.sw);
        const cls = (ci * s.sh + (ty - qy * s.sh)) * s.sw + (tx - qx * s.sw);
        const interior = qy + dyMin[cls] >= 0 && qy + dyMax[cls] < s.ho && qx + dxMin[cls] >= 0 && qx + dxMax[cls] < s.wo;
        inBase[i] = qy * s.wo + qx;
        inClass[i] = interior ? cls : ~cls;
        inQy[i] = qy;
        inQx[i] = qx;
      }
    }
  }
  return {
    cin: s.cin, h: s.h, w: s.w, cout: s.cout, ho: s.ho, wo: s.wo, sh: s.sh, sw: s.sw, ph: s.ph, pw: s.pw,
    start, off: Int32Array.from(off), weight: Float32Array.from(wt), dy: Int32Array.from(dys), dx: Int32Array.from(dxs),
    dyMin, dyMax, dxMin, dxMax, bias, avgArea, weighted, connections: off.length, inBase, inClass, inQy, inQx,
  };
}

export function convConnectivity(node: Conv2dNode, inShape: readonly number[], outShape: readonly number[]): ConvConnectivity {
  const { weight, bias, stride, padding, dilation, groups } = node.params;
  const [, cinG, kh, kw] = weight.shape;
  const data = weight.data;
  const mask = node.mask;
  return buildConv({
    cin: inShape[0], h: inShape[1], w: inShape[2], cout: outShape[0], ho: outShape[1], wo: outShape[2],
    kh, kw, sh: stride[0], sw: stride[1], ph: padding[0], pw: padding[1], dh: dilation[0], dw: dilation[1], groups,
    weightAt: (co, cg, ky, kx) => {
      const i = ((co * cinG + cg) * kh + ky) * kw + kx;
      return mask && mask[i] === 0 ? NaN : data[i];
    },
  }, bias ? Float32Array.from(bias.data) : null, 0, true);
}

export function poolConnectivity(node: PoolNode, inShape: readonly number[], outShape: readonly number[]): ConvConnectivity {
  const { kernel_size: k, stride, padding } = node.params;
  return buildConv({
    cin: inShape[0], h: inShape[1], w: inShape[2], cout: outShape[0], ho: outShape[1], wo: outShape[2],
    kh: k[0], kw: k[1], sh: stride[0], sw: stride[1], ph: padding[0], pw: padding[1], dh: 1, dw: 1, groups: inShape[0],
    weightAt: () => 1,
  }, null, node.op === 'AvgPool2d' ? k[0] * k[1] : 0, false);
}

export function linearConnectivity(node: LinearNode | AffineNode): LinearConnectivity {
  const [nOut, nIn] = node.params.weight.shape;
  const w = node.params.weight.data;
  const mask = node.mask;
  const rowStart = new Int32Array(nIn + 1);
  let e = 0;
  for (let i = 0; i < nIn; i++) {
    for (let o = 0; o < nOut; o++) if (!mask || mask[o * nIn + i] !== 0) e++;
  }
  const col = new Int32Array(e);
  const weight = new Float32Array(e);
  e = 0;
  for (let i = 0; i < nIn; i++) {
    rowStart[i] = e;
    for (let o = 0; o < nOut; o++) {
      const k = o * nIn + i;
      if (mask && mask[k] === 0) continue;
      col[e] = o;
      weight[e] = w[k];
      e++;
    }
  }
  rowStart[nIn] = e;
  const bias = node.op === 'Affine' ? Float32Array.from(node.params.bias.data) : null;
  return { nIn, nOut, rowStart, col, weight, bias, connections: e };
}
