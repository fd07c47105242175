/**
 * Typed-array access to tfjs tensors for the hand-written loops, without copies on the wasm
 * backend.
 *
 * Why: `dataSync` on the wasm backend copies the tensor out of the wasm heap into a fresh array
 * (page faults and all: 9 ms for the 4.6M values of the reference network's first conv output)
 * and `tf.tensor` copies a result back in; around the neuron loops that was a third of their
 * time. The wasm backend itself hands its kernels views of the heap (`typedArrayFromHeap`) and
 * allocates their outputs there (`makeOutput`); the loops here do the same.
 *
 * A heap view is valid until the next tfjs allocation: an allocation may grow the wasm memory,
 * which detaches every view of the old buffer. So callers allocate every output first, then take
 * their views, run their loops, and allocate nothing until they are done; `checkAttached` turns a
 * broken rule into an error instead of silently lost values. On other backends reads are
 * `dataSync` (the cpu backend returns its own array, no copy) and outputs plain arrays handed to
 * `tf.tensor`.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The two methods of tfjs-backend-wasm's BackendWasm used here (public methods of its class). */
interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

function heapBackend(): HeapBackend | null {
  const be = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof be.makeOutput === 'function' && typeof be.typedArrayFromHeap === 'function' && tf.getBackend() === 'wasm' ? (be as HeapBackend) : null;
}

/** The values of a float32 tensor, read-only: a heap view on wasm (see above), else dataSync. */
export function readValues(x: tf.Tensor): Float32Array {
  if (x.dtype !== 'float32') throw new TypeError(`readValues: ${x.dtype} tensor, expected float32`);
  const be = heapBackend();
  if (be) return be.typedArrayFromHeap({ dataId: x.dataId, shape: x.shape, dtype: 'float32' });
  return x.dataSync() as Float32Array;
}

/** A new float32 tensor whose values the caller writes (all of them: heap memory is not cleared). */
export interface OutputTensor {
  /** Take after every allocation of the phase (see above). */
  values(): Float32Array;
  /** The tensor, once its values are written. */
  finish(): tf.Tensor;
}

export function newOutput(shape: readonly number[]): OutputTensor {
  const be = heapBackend();
  if (be) {
    const info = be.makeOutput([...shape], 'float32');
    const tensor = tf.engine().makeTensorFromTensorInfo(info);
    return { values: () => be.typedArrayFromHeap(info), finish: () => tensor };
  }
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  return { values: () => data, finish: () => tf.tensor(data, [...shape], 'float32') };
}

/** Throws when a view was detached by a heap growth during its use (a bug in the caller's ordering). */
export function checkAttached(...views: Float32Array[]): void {
  for (const v of views) if (v.buffer.byteLength === 0) throw new Error('heap-io: a wasm heap view was detached while in use (a tfjs allocation happened between taking it and its last use)');
}

/** Byte offset of a tensor's values in the wasm heap (the wasm backend only). */
export function heapAddress(x: tf.Tensor): number {
  const be = tf.backend() as unknown as { getMemoryOffset?: (dataId: object) => number };
  if (tf.getBackend() !== 'wasm' || typeof be.getMemoryOffset !== 'function') throw new Error('heap-io: heap addresses exist on the wasm backend only');
  return be.getMemoryOffset(x.dataId);
}

/** The parts of tfjs-backend-wasm's Emscripten module used for scratch memory. */
interface EmscriptenHeap {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  readonly HEAPU8: Uint8Array;
}

function emscripten(): EmscriptenHeap | null {
  const mod = (tf.backend() as unknown as { wasm?: Partial<EmscriptenHeap> }).wasm;
  return tf.getBackend() === 'wasm' && mod && typeof mod._malloc === 'function' && typeof mod._free === 'function' ? (mod as EmscriptenHeap) : null;
}

/**
 * Named regions of the wasm heap owned by one object (a layer), reused from call to call (fresh
 * multi-megabyte allocations each step would cost page faults the first time and heap churn after)
 * and freed when the owner is garbage-collected. Not tensors: tf.memory() does not count them.
 */
export class HeapScratch {
  private readonly regions = new Map<string, { ptr: number; bytes: number }>();

  constructor(private readonly mod: EmscriptenHeap) {}

  /** Byte address of region `name`, at least `bytes` long (contents undefined). May grow the heap. */
  address(name: string, bytes: number): number {
    const r = this.regions.get(name);
    if (r && r.bytes >= bytes) return r.ptr;
    if (r) this.mod._free(r.ptr);
    const ptr = this.mod._malloc(bytes) >>> 0;
    if (ptr === 0) throw new RangeError(`heap-io: cannot allocate ${bytes} bytes in the wasm heap`);
    this.regions.set(name, { ptr, bytes });
    return ptr;
  }

  /** A float32 view of `length` values at `address` (valid until the next heap allocation). */
  f32(address: number, length: number): Float32Array {
    return new Float32Array(this.mod.HEAPU8.buffer, address, length);
  }

  /** A float64 view of `length` values at `address` (8-byte aligned: malloc's alignment). */
  f64(address: number, length: number): Float64Array {
    if (address % 8 !== 0) throw new RangeError('heap-io: unaligned float64 region');
    return new Float64Array(this.mod.HEAPU8.buffer, address, length);
  }

  release(): void {
    for (const { ptr } of this.regions.values()) this.mod._free(ptr);
    this.regions.clear();
  }
}

const scratchOwners = new WeakMap<object, HeapScratch>();
const scratchRegistry = new FinalizationRegistry<HeapScratch>((s) => s.release());

/** The heap scratch of `owner` on the wasm backend, or null on other backends. */
export function heapScratch(owner: object): HeapScratch | null {
  const mod = emscripten();
  if (!mod) return null;
  let s = scratchOwners.get(owner);
  if (!s) {
    s = new HeapScratch(mod);
    scratchOwners.set(owner, s);
    scratchRegistry.register(owner, s);
  }
  return s;
}
