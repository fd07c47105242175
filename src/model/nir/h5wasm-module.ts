/**
 * The h5wasm runtime, loaded on first use (importing it instantiates a 4 MB wasm module, ~0.2 s,
 * which CLI commands and servers that never touch NIR should not pay). Its Node build reads and
 * writes real paths directly. HDF5's default error handler prints a diagnostic stack to stderr; we
 * switch to h5wasm's throwing handler so every HDF5 failure becomes a JS exception that we turn
 * into one clear NirError line.
 */
export type H5wasm = (typeof import('h5wasm/node'))['default'];

let loading: Promise<H5wasm> | undefined;

export function loadH5wasm(): Promise<H5wasm> {
  loading ??= import('h5wasm/node').then(async ({ default: h5wasm }) => {
    const module = await h5wasm.ready;
    module.activate_throwing_error_handler();
    return h5wasm;
  });
  return loading;
}

/**
 * HDF5's error stack as one short reason: the innermost frame's message plus its minor code, e.g.
 * "file signature not found (Not an HDF5 file)". Falls back to the first line of the message.
 */
export function hdf5Reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const frames = [...text.matchAll(/#\d+: .* in [\w.]+\(\): (.+)$/gm)].map((m) => m[1].trim());
  const minors = [...text.matchAll(/minor: (.+)$/gm)].map((m) => m[1].trim());
  if (frames.length > 0) {
    // File-system failures carry the OS reason inside a long "unable to open file: name = ..." line.
    const os = /error message = '([^']+)'/.exec(text);
    if (os) return os[1];
    const last = frames[frames.length - 1];
    const minor = minors[minors.length - 1];
    return minor && !last.toLowerCase().includes(minor.toLowerCase()) ? `${last} (${minor})` : last;
  }
  return text.split('\n')[0] || 'HDF5 error';
}
