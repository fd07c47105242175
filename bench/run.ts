/**
 * `npm run bench`: compiles src/ and bench/ to .bench-dist/ and runs every bench script (except
 * this one, helpers named _*, and those that need arguments) in its own process, one after
 * another so they do not compete for the cores, passing their JSON lines through. Compiled JS
 * under plain node, because hot loops measured up to ~30% slower under the tsx loader.
 *
 *   npm run bench [-- [--readme] [name ...]]
 *
 * Names (without extension) select a subset. --readme also writes the lines to
 * docs/bench-results.jsonl and regenerates the README's results table from them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReport, updateReadme, type BenchLine } from './_report.js';
import { projectRoot } from './_root.js';

/** Scripts that need data or arguments the default run does not have. */
const NEEDS_ARGS = new Set(['nmnist-sim2real']);

const self = fileURLToPath(import.meta.url);
const dir = dirname(self);
const ext = self.endsWith('.ts') ? '.ts' : '.js';
const args = process.argv.slice(2);
const readme = args.includes('--readme');
const only = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(dir)
  .filter((f) => f.endsWith(ext) && f !== `run${ext}` && !f.startsWith('_'))
  .filter((f) => (only.length === 0 ? !NEEDS_ARGS.has(f.slice(0, -ext.length)) : only.includes(f.slice(0, -ext.length))))
  .sort();
let failed = 0;
const collected: BenchLine[] = [];
for (const f of files) {
  process.stderr.write(`# bench/${f}\n`);
  const argv = ext === '.ts' ? ['--import', 'tsx', join(dir, f)] : [join(dir, f)];
  const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 });
  process.stdout.write(r.stdout);
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as BenchLine;
      if (typeof o.name === 'string' && typeof o.value === 'number') collected.push({ bench: f.slice(0, -ext.length), ...o });
    } catch {
      // not a figure line
    }
  }
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`# bench/${f} exited with ${r.status}\n`);
  }
}
if (readme) {
  const root = projectRoot(import.meta.url);
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, 'docs/bench-results.jsonl'), collected.map((l) => JSON.stringify(l)).join('\n') + '\n');
  updateReadme(join(root, 'README.md'), renderReport(collected, `npm run bench -- --readme${only.length ? ` ${only.join(' ')}` : ''}`));
  process.stderr.write(`# wrote docs/bench-results.jsonl and the README results table (${collected.length} figures)\n`);
}
process.exitCode = failed ? 1 : 0;
