/**
 * Finds a Python interpreter with the given modules (Debian's /usr/bin/python3 gets
 * python3-msgpack/python3-numpy/python3-websockets from .ci/run; a pyenv python3 may have others).
 * Returns undefined when none has them: tests then skip elsewhere and fail in CI.
 */
import { spawnSync } from 'node:child_process';

const CANDIDATES = ['/usr/bin/python3', 'python3'];

export function findPython(modules: readonly string[]): string | undefined {
  for (const py of CANDIDATES) {
    const r = spawnSync(py, ['-c', modules.map((m) => `import ${m}`).join('; ') || 'pass'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

export function runPython(py: string, code: string, args: readonly string[] = [], input?: string): string {
  const r = spawnSync(py, ['-c', code, ...args], { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
