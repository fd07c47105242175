/**
 * A minimal WebAssembly binary emitter, shared by the sparse engine's kernels (snn/sparse-kernels.ts)
 * and the trainer's SIMD kernels (train/wasm-kernels.ts): one module importing one memory ("env"
 * "memory"), functions built instruction by instruction with the text format's opcode names and
 * structured labels, encoded to bytes that `new WebAssembly.Module` compiles.
 *
 * Why hand-assembled WebAssembly at all: the kernels' float32 arithmetic is the product, and in
 * JavaScript every float32 operation is a float64 operation plus a Math.fround round trip (two
 * conversions, on the latency chain), while WebAssembly has native f32 and f32x4 instructions with
 * the same IEEE-754 rounding, so the results are bit for bit those of the JS definition in
 * neuron.ts at a fraction of the cost (the trainer's loops likewise, in float32 and float64 lanes).
 * Why not a toolchain (wat2wasm, AssemblyScript, clang): the kernels are a few hundred instructions
 * each; an emitter of a few hundred lines keeps the build a plain `tsc` and the kernels readable
 * next to the JS they must match. Nothing here imports tfjs or engine code: both sides use it.
 *
 * Only what the kernels use is here; opcodes are those of the WebAssembly 2.0 spec (core + fixed-
 * width SIMD, section 5.4). A module that does not validate fails at `new WebAssembly.Module`.
 */

export type WasmType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

const TYPE_CODE: Record<WasmType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Instructions without immediates: name -> encoding (SIMD ops: 0xfd + LEB128 opcode). */
const PLAIN = {
  'unreachable': [0x00], 'return': [0x0f], 'drop': [0x1a], 'select': [0x1b],
  'i32.eqz': [0x45], 'i32.eq': [0x46], 'i32.ne': [0x47], 'i32.lt_s': [0x48], 'i32.lt_u': [0x49], 'i32.gt_s': [0x4a],
  'i32.gt_u': [0x4b], 'i32.le_s': [0x4c], 'i32.le_u': [0x4d], 'i32.ge_s': [0x4e], 'i32.ge_u': [0x4f],
  'f32.eq': [0x5b], 'f32.ne': [0x5c], 'f32.lt': [0x5d], 'f32.gt': [0x5e], 'f32.le': [0x5f], 'f32.ge': [0x60],
  'f64.eq': [0x61], 'f64.ne': [0x62], 'f64.lt': [0x63], 'f64.gt': [0x64], 'f64.le': [0x65], 'f64.ge': [0x66],
  'i32.clz': [0x67], 'i32.ctz': [0x68], 'i32.popcnt': [0x69], 'i32.add': [0x6a], 'i32.sub': [0x6b], 'i32.mul': [0x6c],
  'i32.div_u': [0x6e], 'i32.and': [0x71], 'i32.or': [0x72], 'i32.xor': [0x73], 'i32.shl': [0x74], 'i32.shr_s': [0x75], 'i32.shr_u': [0x76],
  'f32.abs': [0x8b], 'f32.neg': [0x8c], 'f32.floor': [0x8e], 'f32.add': [0x92], 'f32.sub': [0x93], 'f32.mul': [0x94], 'f32.div': [0x95],
  'f64.abs': [0x99], 'f64.add': [0xa0], 'f64.sub': [0xa1], 'f64.mul': [0xa2],
  'f32.convert_i32_s': [0xb2], 'f64.convert_i32_s': [0xb7], 'f64.promote_f32': [0xbb],
  'i32.reinterpret_f32': [0xbc], 'f32.reinterpret_i32': [0xbe],
  'v128.any_true': [0xfd, 0x53], 'v128.bitselect': [0xfd, 0x52], 'v128.and': [0xfd, 0x4e], 'i32x4.bitmask': [0xfd, 0xa4, 0x01],
  'f32x4.floor': [0xfd, 0x68], 'f32x4.div': [0xfd, 0xe7, 0x01], 'i8x16.swizzle': [0xfd, 0x0e],
  'i32x4.splat': [0xfd, 0x11], 'f32x4.splat': [0xfd, 0x13], 'f64x2.splat': [0xfd, 0x14],
  'f32x4.eq': [0xfd, 0x41], 'f32x4.ne': [0xfd, 0x42], 'f32x4.lt': [0xfd, 0x43], 'f32x4.gt': [0xfd, 0x44], 'f32x4.le': [0xfd, 0x45], 'f32x4.ge': [0xfd, 0x46],
  'i32x4.add': [0xfd, 0xae, 0x01], 'i32x4.sub': [0xfd, 0xb1, 0x01],
  'f32x4.add': [0xfd, 0xe4, 0x01], 'f32x4.sub': [0xfd, 0xe5, 0x01], 'f32x4.mul': [0xfd, 0xe6, 0x01], 'f32x4.pmax': [0xfd, 0xeb, 0x01],
  'f32x4.demote_f64x2_zero': [0xfd, 0x5e], 'f64x2.promote_low_f32x4': [0xfd, 0x5f],
  'f64x2.abs': [0xfd, 0xec, 0x01], 'f64x2.add': [0xfd, 0xf0, 0x01], 'f64x2.sub': [0xfd, 0xf1, 0x01], 'f64x2.mul': [0xfd, 0xf2, 0x01],
  'f64x2.div': [0xfd, 0xf3, 0x01],
} as const;

export type PlainOp = keyof typeof PLAIN;

/** Loads/stores: encoding and natural alignment (log2 bytes). */
const MEMORY = {
  'i32.load': [[0x28], 2], 'f32.load': [[0x2a], 2], 'f64.load': [[0x2b], 3],
  'i32.store': [[0x36], 2], 'f32.store': [[0x38], 2], 'f64.store': [[0x39], 3],
  'v128.load': [[0xfd, 0x00], 4], 'v128.store': [[0xfd, 0x0b], 4], 'v128.load32_zero': [[0xfd, 0x5c], 2],
  'v128.load64_zero': [[0xfd, 0x5d], 3],
} as const satisfies Record<string, readonly [readonly number[], number]>;

export type MemoryOp = keyof typeof MEMORY;

/** Single-lane loads/stores ([address, vector] -> vector / nothing): SIMD opcode and natural alignment. */
const LANE_MEMORY = {
  'v128.load32_lane': [0x56, 2], 'v128.store32_lane': [0x5a, 2], 'v128.store64_lane': [0x5b, 3],
} as const satisfies Record<string, readonly [number, number]>;

export type LaneMemoryOp = keyof typeof LANE_MEMORY;

const ZERO_V128: readonly number[] = new Array<number>(16).fill(0);

/** The memarg: `align` (log2 bytes) is a hint, which may not exceed the access's natural alignment. */
function memarg(natural: number, align: number | undefined, offset: number, out: number[]): void {
  const a = align ?? natural;
  if (!Number.isInteger(a) || a < 0 || a > natural) throw new RangeError(`wasm assembler: alignment 2^${a} exceeds the access's natural 2^${natural}`);
  uleb(a, out);
  uleb(offset, out);
}

/** A branch target created by block/loop; only valid inside the callback that received it. */
export interface Label {
  readonly depth: number;
}

function uleb(n: number, out: number[]): void {
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

function sleb(n: number, out: number[]): void {
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function name(s: string, out: number[]): void {
  const bytes = new TextEncoder().encode(s);
  uleb(bytes.length, out);
  for (const b of bytes) out.push(b);
}

/** One exported function: parameters are locals 0..params.length-1; `local()` adds more. */
export class WasmFunction {
  private readonly code: number[] = [];
  private readonly locals: WasmType[] = [];
  private depth = 0;

  constructor(readonly name: string, readonly params: readonly WasmType[], readonly results: readonly WasmType[]) {}

  /** A new local of the given type; returns its index. */
  local(type: WasmType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  /** A new v128 local holding local `i` copied to every lane by `op`; returns its index. */
  splat(i: number, op: 'f32x4.splat' | 'f64x2.splat' | 'i32x4.splat'): number {
    const v = this.local('v128');
    this.get(i).op(op).set(v);
    return v;
  }

  op(...ops: PlainOp[]): this {
    for (const o of ops) this.code.push(...PLAIN[o]);
    return this;
  }

  get(i: number): this {
    this.code.push(0x20);
    uleb(i, this.code);
    return this;
  }

  set(i: number): this {
    this.code.push(0x21);
    uleb(i, this.code);
    return this;
  }

  tee(i: number): this {
    this.code.push(0x22);
    uleb(i, this.code);
    return this;
  }

  i32(n: number): this {
    this.code.push(0x41);
    sleb(n, this.code);
    return this;
  }

  f32(x: number): this {
    this.code.push(0x43, ...new Uint8Array(Float32Array.of(x).buffer));
    return this;
  }

  f64(x: number): this {
    this.code.push(0x44, ...new Uint8Array(Float64Array.of(x).buffer));
    return this;
  }

  /** v128.const (16 bytes, little-endian lanes; all zero by default). */
  v128(bytes: readonly number[] = ZERO_V128): this {
    if (bytes.length !== 16) throw new RangeError(`wasm assembler: v128.const takes 16 bytes, got ${bytes.length}`);
    this.code.push(0xfd, 0x0c, ...bytes);
    return this;
  }

  /** i8x16.shuffle of the two vectors on the stack: byte i of the result is byte lanes[i] of a:b (0..31). */
  shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16) throw new RangeError(`wasm assembler: i8x16.shuffle takes 16 lane indices, got ${lanes.length}`);
    this.code.push(0xfd, 0x0d, ...lanes);
    return this;
  }

  /**
   * A load or store with a constant byte offset added to the address on the stack. `align` (log2
   * bytes, default natural) only promises alignment: the trainer's kernels declare 0 for addresses
   * that need not be aligned.
   */
  mem(o: MemoryOp, offset = 0, align?: number): this {
    const [enc, natural] = MEMORY[o];
    this.code.push(...enc);
    memarg(natural, align, offset, this.code);
    return this;
  }

  /** A single-lane load/store of lane i: [address, vector] -> vector / nothing; offset and align as mem(). */
  laneMem(o: LaneMemoryOp, i: number, offset = 0, align?: number): this {
    const [opcode, natural] = LANE_MEMORY[o];
    this.code.push(0xfd, opcode);
    memarg(natural, align, offset, this.code);
    this.code.push(i);
    return this;
  }

  /** i32x4.extract_lane. */
  lane(i: number): this {
    this.code.push(0xfd, 0x1b, i);
    return this;
  }

  /** f32x4.extract_lane. */
  flane(i: number): this {
    this.code.push(0xfd, 0x1f, i);
    return this;
  }

  /** block ... end: `br(exit)` inside jumps past the end. */
  block(body: (exit: Label) => void): this {
    return this.structured(0x02, body);
  }

  /** loop ... end: `br(top)` inside jumps back to the start. */
  loop(body: (top: Label) => void): this {
    return this.structured(0x03, body);
  }

  /** if ... (else ...) end on the i32 on the stack. */
  if(then: () => void, otherwise?: () => void): this {
    this.code.push(0x04, 0x40);
    this.depth++;
    then();
    if (otherwise) {
      this.code.push(0x05);
      otherwise();
    }
    this.depth--;
    this.code.push(0x0b);
    return this;
  }

  br(l: Label): this {
    this.code.push(0x0c);
    uleb(this.depth - l.depth, this.code);
    return this;
  }

  brIf(l: Label): this {
    this.code.push(0x0d);
    uleb(this.depth - l.depth, this.code);
    return this;
  }

  /** The function body: local declarations, code, end. */
  encode(): number[] {
    const out: number[] = [];
    const groups: [number, WasmType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(groups.length, out);
    for (const [n, t] of groups) {
      uleb(n, out);
      out.push(TYPE_CODE[t]);
    }
    out.push(...this.code, 0x0b);
    return out;
  }

  private structured(opcode: number, body: (l: Label) => void): this {
    this.code.push(opcode, 0x40);
    this.depth++;
    body({ depth: this.depth });
    this.depth--;
    this.code.push(0x0b);
    return this;
  }
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  out.push(...body);
}

/** A module importing `memory` as (env, memory) and exporting every function under its name. */
export function assembleModule(functions: readonly WasmFunction[]): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(functions.length, types);
  for (const fn of functions) {
    types.push(0x60);
    uleb(fn.params.length, types);
    for (const t of fn.params) types.push(TYPE_CODE[t]);
    uleb(fn.results.length, types);
    for (const t of fn.results) types.push(TYPE_CODE[t]);
  }
  section(1, types, out);
  const imports: number[] = [1];
  name('env', imports);
  name('memory', imports);
  imports.push(0x02, 0x00, 0x01); // memory, limits: min 1 page, no max
  section(2, imports, out);
  const funcs: number[] = [];
  uleb(functions.length, funcs);
  functions.forEach((_, i) => uleb(i, funcs));
  section(3, funcs, out);
  const exports: number[] = [];
  uleb(functions.length, exports);
  functions.forEach((fn, i) => {
    name(fn.name, exports);
    exports.push(0x00);
    uleb(i, exports);
  });
  section(7, exports, out);
  const code: number[] = [];
  uleb(functions.length, code);
  for (const fn of functions) {
    const body = fn.encode();
    uleb(body.length, code);
    code.push(...body);
  }
  section(10, code, out);
  return Uint8Array.from(out);
}
