/**
 * `npm run bench`: runs every bench/*.ts (except this file) in its own process, one after the
 * other so they do not compete for the two cores, and passes their JSON lines through.
 * Usage: npm run bench [-- name ...]   (names without .ts select a subset)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.ts$/, '')))
  .sort();
let failed = 0;
for (const f of files) {
  process.stderr.write(`# bench/${f}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`# bench/${f} exited with ${r.status}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
