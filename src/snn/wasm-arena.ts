/**
 * Where the sparse engine's hot arrays live: plain typed arrays (PlainAllocator, which also
 * measures how many bytes they take), or views into one WebAssembly.Memory (WasmArena) so the
 * WebAssembly kernels and the JavaScript paths work on the same data without copies. Every array
 * starts on a 16-byte boundary (f32x4 loads) and the arena never grows, so views stay valid.
 */
import { wasmApi, type WasmMemory } from '../wasm/api.js';

export interface Allocator {
  float32(n: number): Float32Array;
  int32(n: number): Int32Array;
  float64(n: number): Float64Array;
  /** A copy of `src` in this allocator's memory (PlainAllocator returns `src` itself). */
  copyFloat32(src: Float32Array): Float32Array;
  copyInt32(src: Int32Array): Int32Array;
}

/** Bytes an array of n elements of `size` bytes takes, rounded up to 16. */
function span(n: number, size: number): number {
  return (n * size + 15) & ~15;
}

export class PlainAllocator implements Allocator {
  /** Bytes the same allocations would take in an arena. */
  bytes = 0;

  float32(n: number): Float32Array {
    this.bytes += span(n, 4);
    return new Float32Array(n);
  }

  int32(n: number): Int32Array {
    this.bytes += span(n, 4);
    return new Int32Array(n);
  }

  float64(n: number): Float64Array {
    this.bytes += span(n, 8);
    return new Float64Array(n);
  }

  copyFloat32(src: Float32Array): Float32Array {
    this.bytes += span(src.length, 4);
    return src;
  }

  copyInt32(src: Int32Array): Int32Array {
    this.bytes += span(src.length, 4);
    return src;
  }
}

/** Upper bound on an engine's arena; larger graphs run on the JavaScript paths. */
export const MAX_ARENA_BYTES = 1 << 30;

export class WasmArena implements Allocator {
  readonly memory: WasmMemory;
  private offset = 0;

  /** Throws a RangeError when the memory cannot be had (the caller falls back to plain arrays). */
  constructor(readonly bytes: number) {
    if (bytes > MAX_ARENA_BYTES) throw new RangeError(`arena of ${bytes} bytes exceeds ${MAX_ARENA_BYTES}`);
    const api = wasmApi();
    if (!api) throw new RangeError('no WebAssembly on this host');
    const pages = Math.max(1, Math.ceil(bytes / 65536));
    this.memory = new api.Memory({ initial: pages, maximum: pages });
  }

  float32(n: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.take(span(n, 4)), n);
  }

  int32(n: number): Int32Array {
    return new Int32Array(this.memory.buffer, this.take(span(n, 4)), n);
  }

  float64(n: number): Float64Array {
    return new Float64Array(this.memory.buffer, this.take(span(n, 8)), n);
  }

  copyFloat32(src: Float32Array): Float32Array {
    const v = this.float32(src.length);
    v.set(src);
    return v;
  }

  copyInt32(src: Int32Array): Int32Array {
    const v = this.int32(src.length);
    v.set(src);
    return v;
  }

  private take(bytes: number): number {
    const at = this.offset;
    if (at + bytes > this.bytes) throw new RangeError(`arena of ${this.bytes} bytes exhausted`);
    this.offset += bytes;
    return at;
  }
}
