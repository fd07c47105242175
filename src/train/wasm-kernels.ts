/**
 * WebAssembly SIMD versions of the trainer's hot loops, run on tensors in the tfjs wasm backend's
 * own memory (this module imports it, so kernels take tensors' heap addresses and nothing is
 * copied):
 *
 * - lifPoolForward / lifPoolBackward: neuron-pool-loops.ts's fast loops (uniform decay-form LIF,
 *   subtract reset, no clamp; pooling fused). The forward runs four neurons per instruction in
 *   float32, the very operations of the JS loop (its float64 arithmetic rounded after every step
 *   to float32 gives the correctly rounded float32 result, which wasm's f32 operations compute);
 *   the backward runs two per instruction in float64 as the JS loop does. Both are bit-identical
 *   to the JS loops (tested).
 * - sparseFilterGrad: sparse-filter-grad.ts's scatter (stride 1), with the multiply-adds of one
 *   sample's nonzeros summed in float32 lanes, sample totals in float64.
 * - copyBlocks: strided block copies (the output gradient's layout changes for the conv gradients).
 *
 * Why: these loops are memory-bound float32 code that JS runs in float64 with a rounding after
 * every operation and a bounds check on every access; as SIMD they ran 3-8x faster (measured on
 * the reference network), which no tfjs kernel offers (none has spiking neurons or exploits input
 * sparsity). The kernels need channel counts divisible by 4 (SIMD lanes along the innermost NHWC
 * axis); callers fall back to the JS loops otherwise, and on every other backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmApi, type WasmApi } from '../wasm/api.js';
import { assembleModule, WasmFunction } from '../wasm/assembler.js';

export interface WasmKernels {
  /** neuron-pool-loops.ts's fast forward; addresses are byte offsets in the heap. */
  lifPoolForward(a: LifForwardArgs): void;
  lifPoolBackward(a: LifBackwardArgs): void;
  /** Adds the filter gradient into `acc` (float64 [kh, kw, Cin, Cout]); `list` is scratch of 16 * H * W bytes. */
  sparseFilterGrad(a: SparseGradArgs): void;
  /** Copies n1 x n2 blocks of `bytes` (a multiple of 16) from src + i*srcStride1 + j*srcStride2 to dst + i*dstStride1 + j*dstStride2. */
  copyBlocks(a: CopyArgs): void;
}

export interface CopyArgs {
  readonly src: number; readonly dst: number; readonly bytes: number;
  readonly n1: number; readonly srcStride1: number; readonly dstStride1: number;
  readonly n2: number; readonly srcStride2: number; readonly dstStride2: number;
}

interface Geometry {
  readonly T: number; readonly B: number; readonly h: number; readonly w: number; readonly c: number;
  /** Pooling window (1 x 1 without pooling). */
  readonly kh: number; readonly kw: number;
}

export interface LifForwardArgs extends Geometry {
  readonly input: number; readonly bias: number | null; readonly u: number; readonly out: number;
  /** Scratch of 4 * h * w * c bytes. */
  readonly v: number;
  readonly average: boolean;
  readonly a0: number; readonly r0: number; readonly vLeak: number; readonly threshold: number;
}

export interface LifBackwardArgs extends Geometry {
  readonly u: number; readonly gy: number; readonly g: number;
  /** Scratch of 4 * h * w * c bytes. */
  readonly gv: number;
  /** Gradient scale of a pooled value per input (1 / area for AvgPool, else 1). */
  readonly scale: number;
  readonly a0: number; readonly r0: number; readonly threshold: number;
  readonly surrogate: 'atan' | 'fast-sigmoid';
  readonly slope: number;
}

export interface SparseGradArgs {
  readonly x: number; readonly n: number; readonly h: number; readonly w: number; readonly cin: number;
  readonly dy: number; readonly ho: number; readonly wo: number; readonly cout: number;
  readonly kh: number; readonly kw: number; readonly dh: number; readonly dw: number;
  readonly acc: number; readonly list: number;
}

/** Loop counters and addresses of one function, declared as needed. */
function i32s(f: WasmFunction, n: number): number[] {
  return Array.from({ length: n }, () => f.local('i32'));
}

/** for (i = start; i < end; i += step) body(): start a constant or (startLocal) a local, end a local, signed compare. */
function forRange(f: WasmFunction, i: number, start: number, end: number, step: number, body: () => void, startLocal = false): void {
  if (startLocal) f.get(start).set(i);
  else f.i32(start).set(i);
  f.block((exit) => f.loop((top) => {
    f.get(i).get(end).op('i32.ge_s').brIf(exit);
    body();
    f.get(i).i32(step).op('i32.add').set(i).br(top);
  }));
}

/** for (i = start - 1; i >= 0; i--) body(), start a local. */
function forDown(f: WasmFunction, i: number, start: number, body: () => void): void {
  f.get(start).i32(1).op('i32.sub').set(i);
  f.block((exit) => f.loop((top) => {
    f.get(i).i32(0).op('i32.lt_s').brIf(exit);
    body();
    f.get(i).i32(1).op('i32.sub').set(i).br(top);
  }));
}

/** SIMD accesses here declare alignment 1 (log2 0): tensors' element offsets need not be 16-byte aligned. */
const UNALIGNED = 0;

/**
 * Sets the lif kernels' image sizes from their (h, w, c, kh, kw) parameters: byte sizes n4 = one
 * image, c4 = one pixel's channels, out4 = one pooled image; ho, wo = the pooled height and width.
 */
function imageSizes(f: WasmFunction, [h, w, c, kh, kw]: readonly number[], [n4, c4, ho, wo, out4]: readonly number[]): void {
  f.get(h).get(w).op('i32.mul').get(c).op('i32.mul').i32(2).op('i32.shl').set(n4);
  f.get(c).i32(2).op('i32.shl').set(c4);
  f.get(h).get(kh).op('i32.div_u').set(ho);
  f.get(w).get(kw).op('i32.div_u').set(wo);
  f.get(ho).get(wo).op('i32.mul').get(c4).op('i32.mul').set(out4);
}

/** lif_fwd(_bias): see LifForwardArgs for the parameters, in order. */
function buildForward(withBias: boolean): WasmFunction {
  const params = ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f32', 'f32', 'f32', 'f32'] as const;
  const f = new WasmFunction(withBias ? 'lif_fwd_bias' : 'lif_fwd', params, []);
  const [inp, bias, u, out, v, T, B, h, w, c, kh, kw, average] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const [a0, r0, vl, thr] = [13, 14, 15, 16];
  const [n4, ho, wo, out4, b, t, oy, ox, ch4, ky, kx, k, inImg, uImg, outImg, o, row, j, c4] = i32s(f, 19);
  const [vA0, vR0, vVl, vThr, one, area, acc, uu, msk] = Array.from({ length: 9 }, () => f.local('v128'));
  imageSizes(f, [h, w, c, kh, kw], [n4, c4, ho, wo, out4]);
  f.get(a0).op('f32x4.splat').set(vA0);
  f.get(r0).op('f32x4.splat').set(vR0);
  f.get(vl).op('f32x4.splat').set(vVl);
  f.get(thr).op('f32x4.splat').set(vThr);
  f.f32(1).op('f32x4.splat').set(one);
  f.get(kh).get(kw).op('i32.mul', 'f32.convert_i32_s', 'f32x4.splat').set(area);
  forRange(f, b, 0, B, 1, () => {
    forRange(f, k, 0, n4, 16, () => {
      f.get(v).get(k).op('i32.add').v128().mem('v128.store', 0, UNALIGNED);
    });
    forRange(f, t, 0, T, 1, () => {
      // img = t * B + b; its input, potentials and (pooled) output.
      f.get(t).get(B).op('i32.mul').get(b).op('i32.add').tee(k).get(n4).op('i32.mul').tee(j).get(inp).op('i32.add').set(inImg);
      f.get(j).get(u).op('i32.add').set(uImg);
      f.get(k).get(out4).op('i32.mul').get(out).op('i32.add').set(outImg);
      forRange(f, oy, 0, ho, 1, () => {
        forRange(f, ox, 0, wo, 1, () => {
          f.get(oy).get(wo).op('i32.mul').get(ox).op('i32.add').get(c4).op('i32.mul').get(outImg).op('i32.add').set(o);
          forRange(f, ch4, 0, c4, 16, () => {
            f.v128().set(acc);
            forRange(f, ky, 0, kh, 1, () => {
              // row = ((oy * kh + ky) * w + ox * kw) * c4 + ch4
              f.get(oy).get(kh).op('i32.mul').get(ky).op('i32.add').get(w).op('i32.mul').get(ox).get(kw).op('i32.mul', 'i32.add').get(c4).op('i32.mul').get(ch4).op('i32.add').set(row);
              forRange(f, kx, 0, kw, 1, () => {
                f.get(kx).get(c4).op('i32.mul').get(row).op('i32.add').set(j);
                // u = f(f(f(a0 * f(v - vl)) + vl) + f(r0 * x)), x = input (+ bias)
                f.get(vA0).get(v).get(j).op('i32.add').mem('v128.load', 0, UNALIGNED).get(vVl).op('f32x4.sub', 'f32x4.mul').get(vVl).op('f32x4.add');
                f.get(vR0).get(inImg).get(j).op('i32.add').mem('v128.load', 0, UNALIGNED);
                if (withBias) f.get(bias).get(ch4).op('i32.add').mem('v128.load', 0, UNALIGNED).op('f32x4.add');
                f.op('f32x4.mul', 'f32x4.add').set(uu);
                f.get(uImg).get(j).op('i32.add').get(uu).mem('v128.store', 0, UNALIGNED);
                f.get(uu).get(vThr).op('f32x4.gt').set(msk);
                f.get(acc).get(msk).get(one).op('v128.and', 'f32x4.add').set(acc);
                // v = spike ? u - thr : u
                f.get(v).get(j).op('i32.add').get(uu).get(vThr).op('f32x4.sub').get(uu).get(msk).op('v128.bitselect').mem('v128.store', 0, UNALIGNED);
              });
            });
            f.get(average).if(() => {
              f.get(acc).get(area).op('f32x4.div').set(acc);
            });
            f.get(o).get(ch4).op('i32.add').get(acc).mem('v128.store', 0, UNALIGNED);
          });
        });
      });
    });
  });
  return f;
}

/** lif_bwd_atan / lif_bwd_fs: see LifBackwardArgs. Two neurons per step, float64 as the JS loop. */
function buildBackward(atan: boolean): WasmFunction {
  const params = ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64'] as const;
  const f = new WasmFunction(atan ? 'lif_bwd_atan' : 'lif_bwd_fs', params, []);
  const [u, gy, g, gv, T, B, h, w, c, kh, kw] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [scale, a0, r0, thr, k1, k2] = [11, 12, 13, 14, 15, 16];
  const [n4, ho, wo, out4, b, t, oy, ox, ch4, ky, kx, k, uImg, gImg, gyImg, o, row, j, c4] = i32s(f, 19);
  const [vScale, vA0, vR0, vThr, vK1, vK2] = [scale, a0, r0, thr, k1, k2].map((p) => f.splat(p, 'f64x2.splat'));
  const [one, x, d, gu, go] = Array.from({ length: 5 }, () => f.local('v128'));
  imageSizes(f, [h, w, c, kh, kw], [n4, c4, ho, wo, out4]);
  f.f64(1).op('f64x2.splat').set(one);
  forRange(f, b, 0, B, 1, () => {
    forRange(f, k, 0, n4, 16, () => {
      f.get(gv).get(k).op('i32.add').v128().mem('v128.store', 0, UNALIGNED);
    });
    forDown(f, t, T, () => {
      f.get(t).get(B).op('i32.mul').get(b).op('i32.add').tee(k).get(n4).op('i32.mul').tee(j).get(u).op('i32.add').set(uImg);
      f.get(j).get(g).op('i32.add').set(gImg);
      f.get(k).get(out4).op('i32.mul').get(gy).op('i32.add').set(gyImg);
      forRange(f, oy, 0, ho, 1, () => {
        forRange(f, ox, 0, wo, 1, () => {
          f.get(oy).get(wo).op('i32.mul').get(ox).op('i32.add').get(c4).op('i32.mul').get(gyImg).op('i32.add').set(o);
          forRange(f, ch4, 0, c4, 8, () => {
            // go = f(gy * scale), as a float64 pair
            f.get(o).get(ch4).op('i32.add').mem('v128.load64_zero', 0, UNALIGNED).op('f64x2.promote_low_f32x4').get(vScale).op('f64x2.mul', 'f32x4.demote_f64x2_zero', 'f64x2.promote_low_f32x4').set(go);
            forRange(f, ky, 0, kh, 1, () => {
              f.get(oy).get(kh).op('i32.mul').get(ky).op('i32.add').get(w).op('i32.mul').get(ox).get(kw).op('i32.mul', 'i32.add').get(c4).op('i32.mul').get(ch4).op('i32.add').set(row);
              forRange(f, kx, 0, kw, 1, () => {
                f.get(kx).get(c4).op('i32.mul').get(row).op('i32.add').set(j);
                f.get(uImg).get(j).op('i32.add').mem('v128.load64_zero', 0, UNALIGNED).op('f64x2.promote_low_f32x4').get(vThr).op('f64x2.sub').set(x);
                if (atan) {
                  // z = kz x; d = (k / 2) / (1 + z z)
                  f.get(vK1);
                  f.get(vK2).get(x).op('f64x2.mul').tee(d).get(d).op('f64x2.mul').get(one).op('f64x2.add');
                  f.op('f64x2.div').set(d);
                } else {
                  // q = 1 + k |x|; d = 1 / (q q)
                  f.get(one);
                  f.get(vK1).get(x).op('f64x2.abs', 'f64x2.mul').get(one).op('f64x2.add').tee(d).get(d).op('f64x2.mul');
                  f.op('f64x2.div').set(d);
                }
                // gu = go d + gv; g = f(gu r0); gv = f(gu a0)
                f.get(go).get(d).op('f64x2.mul').get(gv).get(j).op('i32.add').mem('v128.load64_zero', 0, UNALIGNED).op('f64x2.promote_low_f32x4', 'f64x2.add').set(gu);
                f.get(gImg).get(j).op('i32.add').get(gu).get(vR0).op('f64x2.mul', 'f32x4.demote_f64x2_zero').laneMem('v128.store64_lane', 0, 0, UNALIGNED);
                f.get(gv).get(j).op('i32.add').get(gu).get(vA0).op('f64x2.mul', 'f32x4.demote_f64x2_zero').laneMem('v128.store64_lane', 0, 0, UNALIGNED);
              });
            });
          });
        });
      });
    });
  });
  return f;
}

/** sparse_grad_4 / sparse_grad_16: see SparseGradArgs; output channels in blocks of 4 or 16. */
function buildSparseGrad(lanes: 1 | 4): WasmFunction {
  const params = new Array<'i32'>(15).fill('i32');
  const f = new WasmFunction(lanes === 4 ? 'sparse_grad_16' : 'sparse_grad_4', params, []);
  const [x, n, h, w, cin, dy, ho, wo, cout, kh, kw, dh, dw, acc, list] = params.map((_, i) => i);
  const [b, ci, y, xx, cnt, ky, kx, co, e, dyImg, wb, addr, xImg, cout4, hw, yLo, xLo, tapOff, end] = i32s(f, 19);
  const sums = Array.from({ length: lanes }, () => f.local('v128'));
  const val = f.local('v128');
  const valF = f.local('f32');
  f.get(cout).i32(2).op('i32.shl').set(cout4);
  f.get(h).get(w).op('i32.mul').set(hw);
  forRange(f, b, 0, n, 1, () => {
    f.get(b).get(ho).op('i32.mul').get(wo).op('i32.mul').get(cout4).op('i32.mul').get(dy).op('i32.add').set(dyImg);
    f.get(b).get(hw).op('i32.mul').get(cin).op('i32.mul').i32(2).op('i32.shl').get(x).op('i32.add').set(xImg);
    forRange(f, ci, 0, cin, 1, () => {
      // The sample's nonzeros of channel ci as 16-byte records at `list`: y, x, the address of
      // dy at output (y, x) (valid for the taps that keep the output in range), value.
      f.i32(0).set(cnt);
      forRange(f, y, 0, h, 1, () => {
        forRange(f, xx, 0, w, 1, () => {
          f.get(y).get(w).op('i32.mul').get(xx).op('i32.add').get(cin).op('i32.mul').get(ci).op('i32.add').i32(2).op('i32.shl').get(xImg).op('i32.add').mem('f32.load').tee(valF);
          f.f32(0).op('f32.ne').if(() => {
            f.get(cnt).i32(4).op('i32.shl').get(list).op('i32.add').tee(e).get(y).mem('i32.store');
            f.get(e).get(xx).mem('i32.store', 4);
            f.get(e).get(y).get(wo).op('i32.mul').get(xx).op('i32.add').get(cout4).op('i32.mul').get(dyImg).op('i32.add').mem('i32.store', 8);
            f.get(e).get(valF).mem('f32.store', 12);
            f.get(cnt).i32(1).op('i32.add').set(cnt);
          });
        });
      });
      f.get(cnt).i32(4).op('i32.shl').get(list).op('i32.add').set(end);
      f.get(cnt).if(() => {
        forRange(f, ky, 0, kh, 1, () => {
          forRange(f, kx, 0, kw, 1, () => {
            // Tap (ky, kx) maps input (y, x) to output (y - ky dh, x - kx dw): in range when
            // y - yLo < ho and x - xLo < wo (unsigned), at dy address base - tapOff.
            f.get(ky).get(dh).op('i32.mul').set(yLo);
            f.get(kx).get(dw).op('i32.mul').set(xLo);
            f.get(yLo).get(wo).op('i32.mul').get(xLo).op('i32.add').get(cout4).op('i32.mul').set(tapOff);
            // wb = acc + ((ky * kw + kx) * cin + ci) * cout * 8
            f.get(ky).get(kw).op('i32.mul').get(kx).op('i32.add').get(cin).op('i32.mul').get(ci).op('i32.add').get(cout).op('i32.mul').i32(3).op('i32.shl').get(acc).op('i32.add').set(wb);
            forRange(f, co, 0, cout4, 16 * lanes, () => {
              for (const s of sums) f.v128().set(s);
              forRange(f, e, list, end, 16, () => {
                f.get(e).mem('i32.load').get(yLo).op('i32.sub').get(ho).op('i32.lt_u').get(e).mem('i32.load', 4).get(xLo).op('i32.sub').get(wo).op('i32.lt_u', 'i32.and').if(() => {
                  f.get(e).mem('f32.load', 12).op('f32x4.splat').set(val);
                  f.get(e).mem('i32.load', 8).get(tapOff).op('i32.sub').get(co).op('i32.add').set(addr);
                  sums.forEach((s, i) => {
                    f.get(s).get(val).get(addr).mem('v128.load', 16 * i, UNALIGNED).op('f32x4.mul', 'f32x4.add').set(s);
                  });
                });
              }, true);
              // acc[wb + co .. +4 lanes] += the float32 sums, widened to float64 pairs.
              sums.forEach((s, i) => {
                f.get(co).i32(1).op('i32.shl').get(wb).op('i32.add').i32(32 * i).op('i32.add').set(addr);
                f.get(addr).get(addr).mem('v128.load', 0, UNALIGNED).get(s).op('f64x2.promote_low_f32x4', 'f64x2.add').mem('v128.store', 0, UNALIGNED);
                f.get(addr).get(addr).mem('v128.load', 16, UNALIGNED).get(s).get(s).shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).op('f64x2.promote_low_f32x4', 'f64x2.add').mem('v128.store', 16, UNALIGNED);
              });
            });
          });
        });
      });
    });
  });
  return f;
}

/** copy_blocks: see CopyArgs (a layout change of the output gradient, 16 bytes per instruction). */
function buildCopy(): WasmFunction {
  const params = new Array<'i32'>(9).fill('i32');
  const f = new WasmFunction('copy_blocks', params, []);
  const [src, dst, bytes, n1, s1, d1, n2, s2, d2] = params.map((_, i) => i);
  const [i, j, k, from, to] = i32s(f, 5);
  forRange(f, i, 0, n1, 1, () => {
    forRange(f, j, 0, n2, 1, () => {
      f.get(i).get(s1).op('i32.mul').get(j).get(s2).op('i32.mul', 'i32.add').get(src).op('i32.add').set(from);
      f.get(i).get(d1).op('i32.mul').get(j).get(d2).op('i32.mul', 'i32.add').get(dst).op('i32.add').set(to);
      forRange(f, k, 0, bytes, 16, () => {
        f.get(to).get(k).op('i32.add').get(from).get(k).op('i32.add').mem('v128.load', 0, UNALIGNED).mem('v128.store', 0, UNALIGNED);
      });
    });
  });
  return f;
}

let compiled: object | null = null;

function compile(api: WasmApi): object {
  if (!compiled) {
    const fns = [buildForward(false), buildForward(true), buildBackward(true), buildBackward(false), buildSparseGrad(1), buildSparseGrad(4), buildCopy()];
    compiled = new api.Module(assembleModule(fns));
  }
  return compiled;
}

type Fn = (...args: number[]) => void;

/** What this module needs of tfjs-backend-wasm's Emscripten module (its own properties). */
interface EmscriptenModule {
  readonly asm?: { readonly memory?: object };
}

const instances = new WeakMap<object, WasmKernels>();
let unsupported = false;

/** The kernels over the current tfjs backend's heap, or null (not the wasm backend, or no wasm SIMD here). */
export function wasmKernels(): WasmKernels | null {
  const api = wasmApi();
  if (unsupported || !api || tf.getBackend() !== 'wasm') return null;
  const memory = (tf.backend() as unknown as { wasm?: EmscriptenModule }).wasm?.asm?.memory;
  if (!(memory instanceof api.Memory)) return null;
  const have = instances.get(memory);
  if (have) return have;
  let exports: Record<string, Fn>;
  try {
    exports = new api.Instance(compile(api), { env: { memory } }).exports as Record<string, Fn>;
  } catch {
    // No SIMD on this host (the module does not validate): the JS loops run instead.
    unsupported = true;
    return null;
  }
  const k: WasmKernels = {
    lifPoolForward: (a) => {
      const fn = a.bias === null ? exports.lif_fwd : exports.lif_fwd_bias;
      fn(a.input, a.bias ?? 0, a.u, a.out, a.v, a.T, a.B, a.h, a.w, a.c, a.kh, a.kw, a.average ? 1 : 0, a.a0, a.r0, a.vLeak, a.threshold);
    },
    lifPoolBackward: (a) => {
      const atan = a.surrogate === 'atan';
      const fn = atan ? exports.lif_bwd_atan : exports.lif_bwd_fs;
      // atan: (k / 2, pi / 2 k); fast-sigmoid: (k, unused)
      fn(a.u, a.gy, a.g, a.gv, a.T, a.B, a.h, a.w, a.c, a.kh, a.kw, a.scale, a.a0, a.r0, a.threshold, atan ? a.slope / 2 : a.slope, (Math.PI / 2) * a.slope);
    },
    sparseFilterGrad: (a) => {
      const fn = a.cout % 16 === 0 ? exports.sparse_grad_16 : exports.sparse_grad_4;
      fn(a.x, a.n, a.h, a.w, a.cin, a.dy, a.ho, a.wo, a.cout, a.kh, a.kw, a.dh, a.dw, a.acc, a.list);
    },
    copyBlocks: (a) => {
      if (a.bytes % 16 !== 0) throw new RangeError(`copyBlocks: ${a.bytes} bytes per block, expected a multiple of 16`);
      exports.copy_blocks(a.src, a.dst, a.bytes, a.n1, a.srcStride1, a.dstStride1, a.n2, a.srcStride2, a.dstStride2);
    },
  };
  instances.set(memory, k);
  return k;
}
