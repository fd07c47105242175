/**
 * `npm run bench`: compiles src/ and bench/ to .bench-dist/ and runs every bench script (except
 * this one and helpers named _*) in its own process, one after another so they do not compete for
 * the cores, passing their JSON lines through. Compiled JS under plain node, because hot loops
 * measured up to ~30% slower under the tsx loader. `npx tsx bench/run.ts` runs the sources instead.
 * Usage: npm run bench [-- name ...]   (names without extension select a subset)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const dir = dirname(self);
const ext = self.endsWith('.ts') ? '.ts' : '.js';
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(ext) && f !== `run${ext}` && !f.startsWith('_'))
  .filter((f) => only.length === 0 || only.includes(f.slice(0, -ext.length)))
  .sort();
let failed = 0;
for (const f of files) {
  process.stderr.write(`# bench/${f}\n`);
  const args = ext === '.ts' ? ['--import', 'tsx', join(dir, f)] : [join(dir, f)];
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`# bench/${f} exited with ${r.status}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
