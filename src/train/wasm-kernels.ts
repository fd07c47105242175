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
import { FunctionBuilder, ModuleBuilder, type Local } from './wasm-builder.js';

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
function i32s(f: FunctionBuilder, n: number): Local[] {
  return Array.from({ length: n }, () => f.local('i32'));
}

/** lif_fwd(_bias): see LifForwardArgs for the parameters, in order. */
function buildForward(m: ModuleBuilder, withBias: boolean): void {
  const params = ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f32', 'f32', 'f32', 'f32'] as const;
  m.func(withBias ? 'lif_fwd_bias' : 'lif_fwd', params, [], (f) => {
    const [inp, bias, u, out, v, T, B, h, w, c, kh, kw, average] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => f.param(i));
    const [a0, r0, vl, thr] = [13, 14, 15, 16].map((i) => f.param(i));
    const [n4, ho, wo, out4, b, t, oy, ox, ch4, ky, kx, k, inImg, uImg, outImg, o, row, j, c4] = i32s(f, 19);
    const [vA0, vR0, vVl, vThr, one, area, acc, uu, msk] = Array.from({ length: 9 }, () => f.local('v128'));
    // Byte sizes: n4 = one image, out4 = one pooled image, c4 = one pixel's channels.
    f.get(h).get(w).i32Mul().get(c).i32Mul().i32Const(2).i32Shl().set(n4);
    f.get(c).i32Const(2).i32Shl().set(c4);
    f.get(h).get(kh).i32DivU().set(ho);
    f.get(w).get(kw).i32DivU().set(wo);
    f.get(ho).get(wo).i32Mul().get(c4).i32Mul().set(out4);
    f.get(a0).f32x4Splat().set(vA0);
    f.get(r0).f32x4Splat().set(vR0);
    f.get(vl).f32x4Splat().set(vVl);
    f.get(thr).f32x4Splat().set(vThr);
    f.f32Const(1).f32x4Splat().set(one);
    f.get(kh).get(kw).i32Mul().f32ConvertI32S().f32x4Splat().set(area);
    f.forRange(b, 0, B, 1, () => {
      f.forRange(k, 0, n4, 16, () => {
        f.get(v).get(k).i32Add().v128Const0().v128Store();
      });
      f.forRange(t, 0, T, 1, () => {
        // img = t * B + b; its input, potentials and (pooled) output.
        f.get(t).get(B).i32Mul().get(b).i32Add().tee(k).get(n4).i32Mul().tee(j).get(inp).i32Add().set(inImg);
        f.get(j).get(u).i32Add().set(uImg);
        f.get(k).get(out4).i32Mul().get(out).i32Add().set(outImg);
        f.forRange(oy, 0, ho, 1, () => {
          f.forRange(ox, 0, wo, 1, () => {
            f.get(oy).get(wo).i32Mul().get(ox).i32Add().get(c4).i32Mul().get(outImg).i32Add().set(o);
            f.forRange(ch4, 0, c4, 16, () => {
              f.v128Const0().set(acc);
              f.forRange(ky, 0, kh, 1, () => {
                // row = ((oy * kh + ky) * w + ox * kw) * c4 + ch4
                f.get(oy).get(kh).i32Mul().get(ky).i32Add().get(w).i32Mul().get(ox).get(kw).i32Mul().i32Add().get(c4).i32Mul().get(ch4).i32Add().set(row);
                f.forRange(kx, 0, kw, 1, () => {
                  f.get(kx).get(c4).i32Mul().get(row).i32Add().set(j);
                  // u = f(f(f(a0 * f(v - vl)) + vl) + f(r0 * x)), x = input (+ bias)
                  f.get(vA0).get(v).get(j).i32Add().v128Load().get(vVl).f32x4Sub().f32x4Mul().get(vVl).f32x4Add();
                  f.get(vR0).get(inImg).get(j).i32Add().v128Load();
                  if (withBias) f.get(bias).get(ch4).i32Add().v128Load().f32x4Add();
                  f.f32x4Mul().f32x4Add().set(uu);
                  f.get(uImg).get(j).i32Add().get(uu).v128Store();
                  f.get(uu).get(vThr).f32x4Gt().set(msk);
                  f.get(acc).get(msk).get(one).v128And().f32x4Add().set(acc);
                  // v = spike ? u - thr : u
                  f.get(v).get(j).i32Add().get(uu).get(vThr).f32x4Sub().get(uu).get(msk).v128Bitselect().v128Store();
                });
              });
              f.get(average).if(() => {
                f.get(acc).get(area).f32x4Div().set(acc);
              });
              f.get(o).get(ch4).i32Add().get(acc).v128Store();
            });
          });
        });
      });
    });
  });
}

/** lif_bwd_atan / lif_bwd_fs: see LifBackwardArgs. Two neurons per step, float64 as the JS loop. */
function buildBackward(m: ModuleBuilder, atan: boolean): void {
  const params = ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64'] as const;
  m.func(atan ? 'lif_bwd_atan' : 'lif_bwd_fs', params, [], (f) => {
    const [u, gy, g, gv, T, B, h, w, c, kh, kw] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => f.param(i));
    const [scale, a0, r0, thr, k1, k2] = [11, 12, 13, 14, 15, 16].map((i) => f.param(i));
    const [n4, ho, wo, out4, b, t, oy, ox, ch4, ky, kx, k, uImg, gImg, gyImg, o, row, j, c4] = i32s(f, 19);
    const [vScale, vA0, vR0, vThr, vK1, vK2, one, x, d, gu, go] = Array.from({ length: 11 }, () => f.local('v128'));
    f.get(h).get(w).i32Mul().get(c).i32Mul().i32Const(2).i32Shl().set(n4);
    f.get(c).i32Const(2).i32Shl().set(c4);
    f.get(h).get(kh).i32DivU().set(ho);
    f.get(w).get(kw).i32DivU().set(wo);
    f.get(ho).get(wo).i32Mul().get(c4).i32Mul().set(out4);
    f.get(scale).f64x2Splat().set(vScale);
    f.get(a0).f64x2Splat().set(vA0);
    f.get(r0).f64x2Splat().set(vR0);
    f.get(thr).f64x2Splat().set(vThr);
    f.get(k1).f64x2Splat().set(vK1);
    f.get(k2).f64x2Splat().set(vK2);
    f.f64Const(1).f64x2Splat().set(one);
    f.forRange(b, 0, B, 1, () => {
      f.forRange(k, 0, n4, 16, () => {
        f.get(gv).get(k).i32Add().v128Const0().v128Store();
      });
      f.forDown(t, T, () => {
        f.get(t).get(B).i32Mul().get(b).i32Add().tee(k).get(n4).i32Mul().tee(j).get(u).i32Add().set(uImg);
        f.get(j).get(g).i32Add().set(gImg);
        f.get(k).get(out4).i32Mul().get(gy).i32Add().set(gyImg);
        f.forRange(oy, 0, ho, 1, () => {
          f.forRange(ox, 0, wo, 1, () => {
            f.get(oy).get(wo).i32Mul().get(ox).i32Add().get(c4).i32Mul().get(gyImg).i32Add().set(o);
            f.forRange(ch4, 0, c4, 8, () => {
              // go = f(gy * scale), as a float64 pair
              f.get(o).get(ch4).i32Add().v128Load64Zero().f64x2PromoteLowF32x4().get(vScale).f64x2Mul().f32x4DemoteF64x2Zero().f64x2PromoteLowF32x4().set(go);
              f.forRange(ky, 0, kh, 1, () => {
                f.get(oy).get(kh).i32Mul().get(ky).i32Add().get(w).i32Mul().get(ox).get(kw).i32Mul().i32Add().get(c4).i32Mul().get(ch4).i32Add().set(row);
                f.forRange(kx, 0, kw, 1, () => {
                  f.get(kx).get(c4).i32Mul().get(row).i32Add().set(j);
                  f.get(uImg).get(j).i32Add().v128Load64Zero().f64x2PromoteLowF32x4().get(vThr).f64x2Sub().set(x);
                  if (atan) {
                    // z = kz x; d = (k / 2) / (1 + z z)
                    f.get(vK1);
                    f.get(vK2).get(x).f64x2Mul().tee(d).get(d).f64x2Mul().get(one).f64x2Add();
                    f.f64x2Div().set(d);
                  } else {
                    // q = 1 + k |x|; d = 1 / (q q)
                    f.get(one);
                    f.get(vK1).get(x).f64x2Abs().f64x2Mul().get(one).f64x2Add().tee(d).get(d).f64x2Mul();
                    f.f64x2Div().set(d);
                  }
                  // gu = go d + gv; g = f(gu r0); gv = f(gu a0)
                  f.get(go).get(d).f64x2Mul().get(gv).get(j).i32Add().v128Load64Zero().f64x2PromoteLowF32x4().f64x2Add().set(gu);
                  f.get(gImg).get(j).i32Add().get(gu).get(vR0).f64x2Mul().f32x4DemoteF64x2Zero().v128Store64Lane(0);
                  f.get(gv).get(j).i32Add().get(gu).get(vA0).f64x2Mul().f32x4DemoteF64x2Zero().v128Store64Lane(0);
                });
              });
            });
          });
        });
      });
    });
  });
}

/** sparse_grad_4 / sparse_grad_16: see SparseGradArgs; output channels in blocks of 4 or 16. */
function buildSparseGrad(m: ModuleBuilder, lanes: 1 | 4): void {
  const params = new Array<'i32'>(15).fill('i32');
  m.func(lanes === 4 ? 'sparse_grad_16' : 'sparse_grad_4', params, [], (f) => {
    const [x, n, h, w, cin, dy, ho, wo, cout, kh, kw, dh, dw, acc, list] = params.map((_, i) => f.param(i));
    const [b, ci, y, xx, cnt, ky, kx, co, e, dyImg, wb, addr, xImg, cout4, hw, yLo, xLo, tapOff, end] = i32s(f, 19);
    const sums = Array.from({ length: lanes }, () => f.local('v128'));
    const val = f.local('v128');
    const valF = f.local('f32');
    f.get(cout).i32Const(2).i32Shl().set(cout4);
    f.get(h).get(w).i32Mul().set(hw);
    f.forRange(b, 0, n, 1, () => {
      f.get(b).get(ho).i32Mul().get(wo).i32Mul().get(cout4).i32Mul().get(dy).i32Add().set(dyImg);
      f.get(b).get(hw).i32Mul().get(cin).i32Mul().i32Const(2).i32Shl().get(x).i32Add().set(xImg);
      f.forRange(ci, 0, cin, 1, () => {
        // The sample's nonzeros of channel ci as 16-byte records at `list`: y, x, the address of
        // dy at output (y, x) (valid for the taps that keep the output in range), value.
        f.i32Const(0).set(cnt);
        f.forRange(y, 0, h, 1, () => {
          f.forRange(xx, 0, w, 1, () => {
            f.get(y).get(w).i32Mul().get(xx).i32Add().get(cin).i32Mul().get(ci).i32Add().i32Const(2).i32Shl().get(xImg).i32Add().f32Load().tee(valF);
            f.f32Const(0).f32Ne().if(() => {
              f.get(cnt).i32Const(4).i32Shl().get(list).i32Add().tee(e).get(y).i32Store();
              f.get(e).get(xx).i32Store(4);
              f.get(e).get(y).get(wo).i32Mul().get(xx).i32Add().get(cout4).i32Mul().get(dyImg).i32Add().i32Store(8);
              f.get(e).get(valF).f32Store(12);
              f.get(cnt).i32Const(1).i32Add().set(cnt);
            });
          });
        });
        f.get(cnt).i32Const(4).i32Shl().get(list).i32Add().set(end);
        f.get(cnt).if(() => {
          f.forRange(ky, 0, kh, 1, () => {
            f.forRange(kx, 0, kw, 1, () => {
              // Tap (ky, kx) maps input (y, x) to output (y - ky dh, x - kx dw): in range when
              // y - yLo < ho and x - xLo < wo (unsigned), at dy address base - tapOff.
              f.get(ky).get(dh).i32Mul().set(yLo);
              f.get(kx).get(dw).i32Mul().set(xLo);
              f.get(yLo).get(wo).i32Mul().get(xLo).i32Add().get(cout4).i32Mul().set(tapOff);
              // wb = acc + ((ky * kw + kx) * cin + ci) * cout * 8
              f.get(ky).get(kw).i32Mul().get(kx).i32Add().get(cin).i32Mul().get(ci).i32Add().get(cout).i32Mul().i32Const(3).i32Shl().get(acc).i32Add().set(wb);
              f.forRange(co, 0, cout4, 16 * lanes, () => {
                for (const s of sums) f.v128Const0().set(s);
                f.forRangeFrom(e, list, end, 16, () => {
                  f.get(e).i32Load().get(yLo).i32Sub().get(ho).i32LtU().get(e).i32Load(4).get(xLo).i32Sub().get(wo).i32LtU().i32And().if(() => {
                    f.get(e).f32Load(12).f32x4Splat().set(val);
                    f.get(e).i32Load(8).get(tapOff).i32Sub().get(co).i32Add().set(addr);
                    sums.forEach((s, i) => {
                      f.get(s).get(val).get(addr).v128Load(16 * i).f32x4Mul().f32x4Add().set(s);
                    });
                  });
                });
                // acc[wb + co .. +4 lanes] += the float32 sums, widened to float64 pairs.
                sums.forEach((s, i) => {
                  f.get(co).i32Const(1).i32Shl().get(wb).i32Add().i32Const(32 * i).i32Add().set(addr);
                  f.get(addr).get(addr).v128Load().get(s).f64x2PromoteLowF32x4().f64x2Add().v128Store();
                  f.get(addr).get(addr).v128Load(16).get(s).get(s).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2PromoteLowF32x4().f64x2Add().v128Store(16);
                });
              });
            });
          });
        });
      });
    });
  });
}

/** copy_blocks: see CopyArgs (a layout change of the output gradient, 16 bytes per instruction). */
function buildCopy(m: ModuleBuilder): void {
  const params = new Array<'i32'>(9).fill('i32');
  m.func('copy_blocks', params, [], (f) => {
    const [src, dst, bytes, n1, s1, d1, n2, s2, d2] = params.map((_, i) => f.param(i));
    const [i, j, k, from, to] = i32s(f, 5);
    f.forRange(i, 0, n1, 1, () => {
      f.forRange(j, 0, n2, 1, () => {
        f.get(i).get(s1).i32Mul().get(j).get(s2).i32Mul().i32Add().get(src).i32Add().set(from);
        f.get(i).get(d1).i32Mul().get(j).get(d2).i32Mul().i32Add().get(dst).i32Add().set(to);
        f.forRange(k, 0, bytes, 16, () => {
          f.get(to).get(k).i32Add().get(from).get(k).i32Add().v128Load().v128Store();
        });
      });
    });
  });
}

/** The WebAssembly API as used here (this project's TS libs have no DOM lib, so no WebAssembly types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
  Memory: abstract new (...args: never[]) => object;
}

let compiled: object | null = null;

function compile(api: WasmApi): object {
  if (!compiled) {
    const m = new ModuleBuilder();
    buildForward(m, false);
    buildForward(m, true);
    buildBackward(m, true);
    buildBackward(m, false);
    buildSparseGrad(m, 1);
    buildSparseGrad(m, 4);
    buildCopy(m);
    compiled = new api.Module(m.bytes());
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
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
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
