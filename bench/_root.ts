/**
 * The project root, found by walking up from a bench script to the folder holding package.json,
 * so a script works both from bench/ under tsx and compiled into .bench-dist/bench/ under node.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function projectRoot(fromUrl: string): string {
  let dir = dirname(fileURLToPath(fromUrl));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'spikestream') return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error(`bench: no spikestream package.json above ${fromUrl}`);
    dir = up;
  }
}
