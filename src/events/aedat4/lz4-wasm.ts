/**
 * LZ4 frame decompression through @foxglove/wasm-lz4 (the reference liblz4 LZ4F decoder compiled
 * to WebAssembly), the fast path for AEDAT 4.0 packets: about 5x the bounded JS decoder
 * (lz4-frame.ts) on DV recordings, which lifts the whole AEDAT 4.0 decoder about 2x.
 *
 * The package's own wrapper is not used: it loads asynchronously, copies every input and output
 * through fresh heap allocations (a third of the speed), and keeps one LZ4F context for the whole
 * process that a single corrupt frame, or an output buffer that is too small, leaves mid-frame:
 * every later frame, from any decoder, then fails. Instead the emscripten module is instantiated
 * synchronously through its documented `instantiateWasm` hook, input and output live in buffers
 * kept in its memory (output is read in place), and after ANY failure the instance is dropped,
 * never reused. So a failure cannot poison later frames.
 *
 * A failed or unavailable wasm path returns null and the caller decodes the frame with the JS
 * decoder, which stays the authority on corrupt input (typed CodecError naming the fault) and
 * covers hosts without WebAssembly (node --jitless) or where an instance cannot be created.
 * For well-formed frames both give the same bytes. On malformed ones they differ in two ways:
 * - liblz4 is stricter in places (it verifies header/block/content checksums, and wants the last
 *   5 bytes of its output buffer to be literals): it refuses, and the JS decoder then decodes the
 *   frame, as it would have anyway.
 * - liblz4 (this build) accepts a match at offset 0, which the LZ4 format calls invalid; its
 *   bytes are whatever the output buffer held there (zeros in every case tried here). The output
 *   region is zeroed before each frame anyway, so they can never be bytes of an earlier packet
 *   (possibly another decoder's stream). The JS decoder refuses such a frame (CORRUPT): a crafted
 *   packet can thus decode to zeros instead of an error, as a valid packet of zeros could.
 *
 * Bounds: only frames of at most MAX_WASM_OUT bytes, compressed and decompressed, go through
 * wasm, so the process-wide wasm memory stays within a few times MAX_WASM_OUT plus liblz4's block
 * buffers (8 MiB at most); larger packets use the JS decoder (bounded by the decoder's limits).
 * A new instance after a failure is created at most once per REPLACE_INTERVAL_MS, so hostile
 * input cannot make the process churn through wasm instances (each reserves address space until
 * garbage collected, and creating many in a row slowed to milliseconds each here); until then
 * frames go through JS.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Largest decompressed frame (bytes) decoded through wasm; larger ones use the JS decoder. */
export const MAX_WASM_OUT = 8 << 20;
/** Least time (ms) between creating an instance and replacing it after a failure. */
const REPLACE_INTERVAL_MS = 1000;

/** The parts of the emscripten module (built from wasm-lz4.c) that are used here. */
interface Lz4Module {
  /** Set once the runtime is initialised (constructors run), synchronously with our hook. */
  calledRun?: boolean;
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _createDecompressionContext(): number;
  /** LZ4F_decompress of one whole frame: bytes written, or -1 unless the frame was fully decoded. */
  _decompressFrame(ctx: number, dst: number, dstSize: number, src: number, srcSize: number): number;
}

/** The WebAssembly API as used here (absent under node --jitless; not in this project's TS libs). */
interface WasmInstance {
  readonly exports: object;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
}

interface EmscriptenOverrides {
  instantiateWasm(imports: object, receive: (instance: WasmInstance) => void): object;
  print(): void;
  printErr(): void;
}

type Factory = (overrides: EmscriptenOverrides) => Promise<unknown>;

/** One wasm instance with its context and reusable input/output buffers; unusable after a failure. */
export class Lz4Wasm {
  private broken = false;
  private readonly ctx: number;
  private src = 0;
  private srcCap = 0;
  private dst = 0;
  private dstCap = 0;
  /** Bytes from `dst` on that may be non-zero (liblz4 never writes past the capacity it is given). */
  private dirty = 0;

  private constructor(private readonly m: Lz4Module) {
    this.ctx = m._createDecompressionContext();
    if (this.ctx === 0) throw new Error('wasm-lz4: no decompression context');
  }

  /** A fresh instance, or null when WebAssembly or the package is unavailable here. */
  static create(): Lz4Wasm | null {
    const loaded = load();
    if (!loaded) return null;
    let instantiated = false;
    const overrides: EmscriptenOverrides = {
      // Synchronous instantiation; never throws (a throw would make emscripten retry asynchronously).
      instantiateWasm(imports, receive) {
        try {
          const instance = new loaded.wasm.Instance(loaded.module, imports);
          receive(instance);
          instantiated = true;
          return instance.exports;
        } catch {
          return {};
        }
      },
      print() {},
      printErr() {},
    };
    try {
      // An abort inside the module rejects this promise: handled here, never an unhandled rejection.
      loaded.factory(overrides).catch(() => {});
      const m = overrides as unknown as Lz4Module;
      return instantiated && m.calledRun === true ? new Lz4Wasm(m) : null;
    } catch {
      return null;
    }
  }

  get usable(): boolean {
    return !this.broken;
  }

  /**
   * Decompresses the LZ4 frame `frame` (already walked by lz4FrameLayout: `bound` is its output
   * bound) and returns its bytes as a view into wasm memory, valid until the next call; null on
   * any failure, after which this instance refuses all work.
   */
  decompress(frame: Uint8Array, bound: number): Uint8Array | null {
    if (this.broken || bound > MAX_WASM_OUT || frame.length > MAX_WASM_OUT) return null;
    const m = this.m;
    try {
      if (frame.length > this.srcCap && !this.grow('src', frame.length)) return null;
      if (bound > this.dstCap && !this.grow('dst', bound)) return null;
      m.HEAPU8.set(frame, this.src);
      if (this.dirty > 0) m.HEAPU8.fill(0, this.dst, this.dst + this.dirty);
      this.dirty = bound;
      const n = m._decompressFrame(this.ctx, this.dst, bound, this.src, frame.length);
      if (n < 0 || n > bound) {
        this.broken = true;
        return null;
      }
      // Read HEAPU8 again: liblz4's allocations may have grown (and replaced) the memory.
      return m.HEAPU8.subarray(this.dst, this.dst + n);
    } catch {
      this.broken = true;
      return null;
    }
  }

  private grow(which: 'src' | 'dst', need: number): boolean {
    const m = this.m;
    const cap = Math.max(need, Math.min(MAX_WASM_OUT, Math.max(64 << 10, 2 * (which === 'src' ? this.srcCap : this.dstCap))));
    const old = which === 'src' ? this.src : this.dst;
    if (old !== 0) m._free(old);
    const p = m._malloc(cap);
    if (which === 'src') {
      this.src = p;
      this.srcCap = p === 0 ? 0 : cap;
    } else {
      this.dst = p;
      this.dstCap = p === 0 ? 0 : cap;
      this.dirty = this.dstCap; // malloc may hand back memory that held anything
    }
    return p !== 0;
  }
}

interface Loaded {
  readonly wasm: WasmApi;
  readonly factory: Factory;
  /** The compiled module, instantiated anew for each Lz4Wasm. */
  readonly module: object;
}

let loaded: Loaded | null | undefined;

function load(): Loaded | null {
  if (loaded !== undefined) return loaded;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wasm) throw new Error('no WebAssembly');
    const require = createRequire(import.meta.url);
    const factory = require('@foxglove/wasm-lz4/dist/wasm-lz4.js') as Factory;
    const module = new wasm.Module(readFileSync(require.resolve('@foxglove/wasm-lz4/dist/wasm-lz4.wasm')));
    loaded = { wasm, factory, module };
  } catch {
    loaded = null;
  }
  return loaded;
}

let shared: Lz4Wasm | null = null;
let createdAt = -Infinity;

/**
 * Decompresses `frame` through the process-wide instance (see Lz4Wasm.decompress); null when wasm
 * is unavailable, the frame is too large for it, or decompression failed: use the JS decoder then.
 */
export function decompressLz4FrameWasm(frame: Uint8Array, bound: number): Uint8Array | null {
  if (bound > MAX_WASM_OUT || frame.length > MAX_WASM_OUT) return null;
  if (!shared?.usable) {
    const now = performance.now();
    if (now - createdAt < REPLACE_INTERVAL_MS) return null;
    createdAt = now;
    shared = Lz4Wasm.create();
    if (!shared) return null;
  }
  return shared.decompress(frame, bound);
}
