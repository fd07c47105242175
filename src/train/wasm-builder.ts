/**
 * A minimal WebAssembly module encoder, for the trainer's SIMD kernels (wasm-kernels.ts): functions
 * are written as stack-machine instruction sequences, one call per instruction, in the order and
 * with the names of the WebAssembly text format, and encoded to a binary module that imports one
 * memory ("env" "memory").
 *
 * Why hand-rolled: the kernels are a few hundred instructions and this project has no wasm
 * toolchain (the npm registry is the only reachable source, and a compiler there would be a large
 * dependency for three loops); the binary format for this subset is small. Encodings follow the
 * WebAssembly core specification and its SIMD proposal (BinarySIMD.md); a module that does not
 * validate fails at construction, and the kernels' tests compare their results with the JS loops.
 */

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

function uleb(out: number[], v: number): void {
  let x = v >>> 0;
  do {
    let byte = x & 0x7f;
    x >>>= 7;
    if (x !== 0) byte |= 0x80;
    out.push(byte);
  } while (x !== 0);
}

function sleb(out: number[], v: number): void {
  let x = v | 0;
  for (;;) {
    const byte = x & 0x7f;
    x >>= 7;
    if ((x === 0 && (byte & 0x40) === 0) || (x === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  out.push(...bytes);
}

/** A local variable (parameters first, in order). */
export type Local = number & { readonly __local: unique symbol };

/** One function's body; instruction methods append to it and return the builder. */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly extra: ValType[] = [];

  constructor(readonly params: readonly ValType[], readonly results: readonly ValType[]) {}

  /** Parameter i. */
  param(i: number): Local {
    if (i < 0 || i >= this.params.length) throw new RangeError(`wasm-builder: no parameter ${i}`);
    return i as Local;
  }

  /** A new local of `type`. */
  local(type: ValType): Local {
    this.extra.push(type);
    return (this.params.length + this.extra.length - 1) as Local;
  }

  /** The locals declaration of the code entry. */
  localsBytes(): number[] {
    const out: number[] = [];
    const groups: [number, ValType][] = [];
    for (const t of this.extra) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(out, groups.length);
    for (const [n, t] of groups) {
      uleb(out, n);
      out.push(VALTYPE[t]);
    }
    return out;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private simd(code: number, ...imm: number[]): this {
    this.code.push(0xfd);
    uleb(this.code, code);
    this.code.push(...imm);
    return this;
  }

  private memarg(align: number, offset: number): number[] {
    const out = [align];
    uleb(out, offset);
    return out;
  }

  // Control. Blocks take no parameters and leave no values (block type 0x40).
  block(body: () => void): this {
    this.op(0x02, 0x40);
    body();
    return this.op(0x0b);
  }
  loop(body: () => void): this {
    this.op(0x03, 0x40);
    body();
    return this.op(0x0b);
  }
  /** if (pops an i32) body [else otherwise] end. */
  if(body: () => void, otherwise?: () => void): this {
    this.op(0x04, 0x40);
    body();
    if (otherwise) {
      this.op(0x05);
      otherwise();
    }
    return this.op(0x0b);
  }
  br(depth: number): this {
    this.op(0x0c);
    uleb(this.code, depth);
    return this;
  }
  brIf(depth: number): this {
    this.op(0x0d);
    uleb(this.code, depth);
    return this;
  }

  /**
   * for (i = start; i < end; i += step) body, start a constant, end a local (i32, signed compare).
   * Inside `body`, depth 0 continues the loop and depth 1 breaks out of it.
   */
  forRange(i: Local, start: number, end: Local, step: number, body: () => void): this {
    this.i32Const(start).set(i);
    return this.block(() => {
      this.loop(() => {
        this.get(i).get(end).i32GeS().brIf(1);
        body();
        this.get(i).i32Const(step).i32Add().set(i).br(0);
      });
    });
  }

  /** forRange with a local start. */
  forRangeFrom(i: Local, start: Local, end: Local, step: number, body: () => void): this {
    this.get(start).set(i);
    return this.block(() => {
      this.loop(() => {
        this.get(i).get(end).i32GeS().brIf(1);
        body();
        this.get(i).i32Const(step).i32Add().set(i).br(0);
      });
    });
  }

  /** for (i = start - 1; i >= 0; i--) body, start a local (the same depths as forRange). */
  forDown(i: Local, start: Local, body: () => void): this {
    this.get(start).i32Const(1).i32Sub().set(i);
    return this.block(() => {
      this.loop(() => {
        this.get(i).i32Const(0).i32LtS().brIf(1);
        body();
        this.get(i).i32Const(1).i32Sub().set(i).br(0);
      });
    });
  }

  // Variables.
  get(l: Local): this {
    this.op(0x20);
    uleb(this.code, l);
    return this;
  }
  set(l: Local): this {
    this.op(0x21);
    uleb(this.code, l);
    return this;
  }
  tee(l: Local): this {
    this.op(0x22);
    uleb(this.code, l);
    return this;
  }

  // Scalars.
  i32Const(v: number): this {
    this.op(0x41);
    sleb(this.code, v);
    return this;
  }
  f32Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  f64Const(v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    return this.op(0x44, ...b);
  }
  i32Load(offset = 0): this {
    return this.op(0x28, ...this.memarg(2, offset));
  }
  f32Load(offset = 0): this {
    return this.op(0x2a, ...this.memarg(2, offset));
  }
  i32Store(offset = 0): this {
    return this.op(0x36, ...this.memarg(2, offset));
  }
  f32Store(offset = 0): this {
    return this.op(0x38, ...this.memarg(2, offset));
  }
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32LtS(): this {
    return this.op(0x48);
  }
  i32LtU(): this {
    return this.op(0x49);
  }
  i32GeS(): this {
    return this.op(0x4e);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32DivU(): this {
    return this.op(0x6e);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  f32Ne(): this {
    return this.op(0x5c);
  }
  f32ConvertI32S(): this {
    return this.op(0xb2);
  }

  // SIMD (0xfd prefix; memory accesses declare alignment 1: addresses need not be aligned).
  v128Load(offset = 0): this {
    return this.simd(0x00, ...this.memarg(0, offset));
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b, ...this.memarg(0, offset));
  }
  v128Load64Zero(offset = 0): this {
    return this.simd(0x5d, ...this.memarg(0, offset));
  }
  v128Store64Lane(lane: number, offset = 0): this {
    return this.simd(0x5b, ...this.memarg(0, offset), lane);
  }
  v128Const0(): this {
    return this.simd(0x0c, ...new Array<number>(16).fill(0));
  }
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16) throw new RangeError('wasm-builder: a shuffle takes 16 lane indices');
    return this.simd(0x0d, ...lanes);
  }
  f32x4Splat(): this {
    return this.simd(0x13);
  }
  f64x2Splat(): this {
    return this.simd(0x14);
  }
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  v128And(): this {
    return this.simd(0x4e);
  }
  v128Bitselect(): this {
    return this.simd(0x52);
  }
  f32x4DemoteF64x2Zero(): this {
    return this.simd(0x5e);
  }
  f64x2PromoteLowF32x4(): this {
    return this.simd(0x5f);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  f64x2Abs(): this {
    return this.simd(0xec);
  }
  f64x2Add(): this {
    return this.simd(0xf0);
  }
  f64x2Sub(): this {
    return this.simd(0xf1);
  }
  f64x2Mul(): this {
    return this.simd(0xf2);
  }
  f64x2Div(): this {
    return this.simd(0xf3);
  }
}

/** A module of exported functions over one imported memory ("env" "memory"). */
export class ModuleBuilder {
  private readonly funcs: { name: string; f: FunctionBuilder }[] = [];

  func(exportName: string, params: readonly ValType[], results: readonly ValType[], build: (f: FunctionBuilder) => void): void {
    const f = new FunctionBuilder(params, results);
    build(f);
    this.funcs.push({ name: exportName, f });
  }

  bytes(): Uint8Array {
    const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, body: number[]) => {
      out.push(id);
      uleb(out, body.length);
      out.push(...body);
    };
    const types: number[] = [];
    uleb(types, this.funcs.length);
    for (const { f } of this.funcs) {
      types.push(0x60);
      uleb(types, f.params.length);
      for (const p of f.params) types.push(VALTYPE[p]);
      uleb(types, f.results.length);
      for (const r of f.results) types.push(VALTYPE[r]);
    }
    section(1, types);
    const imports: number[] = [1];
    name(imports, 'env');
    name(imports, 'memory');
    imports.push(0x02, 0x00, 0x01); // memory, limits without maximum, at least one page
    section(2, imports);
    const fns: number[] = [];
    uleb(fns, this.funcs.length);
    this.funcs.forEach((_, i) => uleb(fns, i));
    section(3, fns);
    const exps: number[] = [];
    uleb(exps, this.funcs.length);
    this.funcs.forEach(({ name: n }, i) => {
      name(exps, n);
      exps.push(0x00);
      uleb(exps, i);
    });
    section(7, exps);
    const code: number[] = [];
    uleb(code, this.funcs.length);
    for (const { f } of this.funcs) {
      const body = [...f.localsBytes(), ...f.code, 0x0b];
      uleb(code, body.length);
      code.push(...body);
    }
    section(10, code);
    return Uint8Array.from(out);
  }
}
