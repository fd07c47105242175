/**
 * The WebAssembly API as this project uses it (the sparse engine's kernels and arena, the trainer's
 * kernels): not in this project's TS libs (no DOM lib), and absent on hosts without WebAssembly
 * (node --jitless), where the callers run their JavaScript paths.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
  validate(bytes: Uint8Array): boolean;
}

/** The host's WebAssembly API, or null. */
export function wasmApi(): WasmApi | null {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly ?? null;
}
