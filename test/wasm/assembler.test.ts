/**
 * The WebAssembly emitter on its own: modules it assembles validate and compute what the
 * instructions mean (checked against the same arithmetic in JavaScript), for the control flow and
 * encodings both kernel sets rely on (LEB128 immediates, labels, memargs with offsets and
 * alignment hints, lane accesses, v128 constants and shuffles, float32/float64 lanes).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wasmApi, type WasmMemory } from '../../src/wasm/api.js';
import { assembleModule, WasmFunction } from '../../src/wasm/assembler.js';

const f = Math.fround;

type Exports = Record<string, (...args: number[]) => number>;

function instantiate(fns: WasmFunction[]): { ex: Exports; memory: WasmMemory } {
  const api = wasmApi();
  if (!api) throw new Error('no WebAssembly on this host');
  const memory = new api.Memory({ initial: 1 });
  const ex = new api.Instance(new api.Module(assembleModule(fns)), { env: { memory } }).exports as Exports;
  return { ex, memory };
}

describe('wasm assembler', () => {
  it('encodes constants (multi-byte LEB128, float bits), locals, nested labels and loops', () => {
    const consts = new WasmFunction('consts', ['i32'], ['i32']);
    consts.get(0).i32(-1_000_000).op('i32.add');
    const extremes = new WasmFunction('extremes', [], ['i32']);
    // -2^31 + (2^31 - 1) = -1 needs both five-byte signed encodings right.
    extremes.i32(-(2 ** 31)).i32(2 ** 31 - 1).op('i32.add');
    const fl = new WasmFunction('fl', [], ['f32']);
    fl.f32(0.1);
    const db = new WasmFunction('db', [], ['f64']);
    db.f64(0.1);
    const sum = new WasmFunction('sum', ['i32'], ['i32']);
    // Sum of 1..n, skipping multiples of 4, with a break-out block around a loop.
    const i = sum.local('i32');
    const acc = sum.local('i32');
    sum.block((exit) => sum.loop((top) => {
      sum.get(i).get(0).op('i32.ge_s').brIf(exit);
      sum.get(i).i32(1).op('i32.add').set(i);
      sum.block((skip) => {
        sum.get(i).i32(3).op('i32.and').op('i32.eqz').brIf(skip); // skip multiples of 4
        sum.get(acc).get(i).op('i32.add').set(acc);
      });
      sum.br(top);
    }));
    sum.get(acc);
    const { ex } = instantiate([consts, extremes, fl, db, sum]);
    expect(ex.consts(7)).toBe(7 - 1_000_000);
    expect(ex.extremes()).toBe(-1);
    expect(ex.fl()).toBe(f(0.1));
    expect(ex.db()).toBe(0.1);
    const want = (n: number) => Array.from({ length: n }, (_, k) => k + 1).filter((k) => k % 4 !== 0).reduce((a, b) => a + b, 0);
    for (const n of [0, 1, 4, 10, 1000]) expect(ex.sum(n)).toBe(want(n));
  });

  it('i32.div_u divides as unsigned integers', () => {
    const div = new WasmFunction('div', ['i32', 'i32'], ['i32']);
    div.get(0).get(1).op('i32.div_u');
    const { ex } = instantiate([div]);
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 2 ** 32 - 1 }), (a, b) => {
      expect(ex.div(a, b | 0) >>> 0).toBe(Math.floor((a >>> 0) / b));
    }));
  });

  it('loads and stores at constant offsets, with the alignment hint lowered for unaligned addresses', () => {
    // copy(src, dst): one v128 at src + 4 to dst + 8 (declared alignment 1), then an i32 at src to dst.
    const copy = new WasmFunction('copy', ['i32', 'i32'], []);
    copy.get(1).get(0).mem('v128.load', 4, 0).mem('v128.store', 8, 0);
    copy.get(1).get(0).mem('i32.load').mem('i32.store');
    const { ex, memory } = instantiate([copy]);
    const bytes = new Uint8Array(memory.buffer);
    for (let k = 0; k < 64; k++) bytes[k] = k + 1;
    ex.copy(3, 101);
    expect([...bytes.subarray(101, 105)]).toEqual([4, 5, 6, 7]);
    expect([...bytes.subarray(109, 125)]).toEqual(Array.from({ length: 16 }, (_, k) => 3 + 4 + k + 1));
    expect(() => new WasmFunction('x', ['i32'], []).get(0).mem('f32.load', 0, 3)).toThrow(RangeError);
  });

  it('builds v128 constants, shuffles bytes of two vectors and reads and writes single lanes', () => {
    // shuf(dst): bytes 0..15 and 16..31 as two constants, interleaved by a shuffle.
    const lanes = Array.from({ length: 16 }, (_, k) => (k % 2 === 0 ? k / 2 : 16 + 15 - (k - 1) / 2));
    const shuf = new WasmFunction('shuf', ['i32'], []);
    shuf.get(0).v128(Array.from({ length: 16 }, (_, k) => k)).v128(Array.from({ length: 16 }, (_, k) => 16 + k)).shuffle(lanes).mem('v128.store');
    // zeroStore(src, dst): the 8 bytes at src + 8 (unaligned) moved by a shuffle into lane 1 of a zero vector, stored from lane 1 to dst.
    const zeroThenStore = new WasmFunction('zeroStore', ['i32', 'i32'], []);
    zeroThenStore.get(1).v128().get(0).mem('v128.load64_zero', 8, 0).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]).laneMem('v128.store64_lane', 1, 0, 0);
    const { ex, memory } = instantiate([shuf, zeroThenStore]);
    const bytes = new Uint8Array(memory.buffer);
    ex.shuf(32);
    expect([...bytes.subarray(32, 48)]).toEqual(lanes);
    for (let k = 0; k < 16; k++) bytes[200 + k] = 100 + k;
    ex.zeroStore(200, 301);
    expect([...bytes.subarray(301, 309)]).toEqual([108, 109, 110, 111, 112, 113, 114, 115]);
    expect(() => new WasmFunction('x', [], []).shuffle([0, 1])).toThrow(RangeError);
    expect(() => new WasmFunction('x', [], []).v128([0])).toThrow(RangeError);
  });

  it('computes float64 lanes widened from and narrowed to float32 as JavaScript does', () => {
    // lanes(src, dst, s): two float32 at src widened, each (|x| * s + x) / s - x in float64, narrowed to float32 at dst.
    const fn = new WasmFunction('lanes', ['i32', 'i32', 'f64'], []);
    const x = fn.local('v128');
    const s = fn.local('v128');
    fn.get(2).op('f64x2.splat').set(s);
    fn.get(0).mem('v128.load64_zero').op('f64x2.promote_low_f32x4').set(x);
    fn.get(1).get(x).op('f64x2.abs').get(s).op('f64x2.mul').get(x).op('f64x2.add').get(s).op('f64x2.div').get(x).op('f64x2.sub');
    fn.op('f32x4.demote_f64x2_zero').laneMem('v128.store64_lane', 0);
    const { ex, memory } = instantiate([fn]);
    const f32 = new Float32Array(memory.buffer);
    const finite = fc.float({ noNaN: true, noDefaultInfinity: true });
    fc.assert(fc.property(finite, finite, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (a, b, sc) => {
      f32[0] = a;
      f32[1] = b;
      f32[4] = 7; // the demoted vector's upper lanes are zero, but only the low 8 bytes are stored
      ex.lanes(0, 8, sc);
      for (const [k, v] of [a, b].entries()) expect(Object.is(f32[2 + k], f((Math.abs(v) * sc + v) / sc - v))).toBe(true);
      expect(f32[4]).toBe(7);
    }));
  });
});
