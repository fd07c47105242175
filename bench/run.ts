/**
 * `npm run bench`: compiles src/ and bench/ to .bench-dist/ and runs every bench script (except
 * this one, helpers named _*, and those that need arguments) in its own process, one after
 * another so they do not compete for the cores, passing their JSON lines through. Compiled JS
 * under plain node, because hot loops measured up to ~30% slower under the tsx loader.
 *
 *   npm run bench [-- [--readme] [name ...]]
 *
 * Names (without extension) select a subset. --readme also writes the lines to
 * docs/bench-results.jsonl and regenerates the README's results table from them; with a subset,
 * the other benches' lines already in docs/bench-results.jsonl are kept (only the named benches'
 * figures are replaced), so one bench can be re-measured without re-running the rest.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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
  const jsonl = join(root, 'docs/bench-results.jsonl');
  let lines = collected;
  let command = 'npm run bench -- --readme';
  let rerun: string | undefined;
  if (only.length > 0 && existsSync(jsonl)) {
    const measured = new Set(files.map((f) => f.slice(0, -ext.length)));
    const kept = readFileSync(jsonl, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as BenchLine).filter((l) => !measured.has(String(l.bench)));
    // Grouped by bench in file order, as a full run writes them.
    lines = [...kept, ...collected].map((l, i) => ({ l, i })).sort((a, b) => String(a.l.bench).localeCompare(String(b.l.bench)) || a.i - b.i).map((x) => x.l);
    rerun = `npm run bench -- --readme ${only.join(' ')}`;
  } else if (only.length > 0) {
    command = `npm run bench -- --readme ${only.join(' ')}`;
  }
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(jsonl, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  updateReadme(join(root, 'README.md'), renderReport(lines, command, new Date(), rerun));
  process.stderr.write(`# wrote docs/bench-results.jsonl and the README results table (${lines.length} figures, ${collected.length} measured now)\n`);
}
process.exitCode = failed ? 1 : 0;
