/**
 * Renders bench JSON lines as the README's results section, between the markers
 * `<!-- bench:start -->` and `<!-- bench:end -->`, so no figure in the README is typed by hand.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface BenchLine {
  name: string;
  value: number;
  unit: string;
  [key: string]: unknown;
}

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

function fmt(v: unknown): string {
  if (typeof v === 'number') return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(3)));
  if (v === undefined || v === null) return '';
  return String(v);
}

/** `command`: the command that measured the lines; `rerun`: a later one that re-measured some benches. */
export function renderReport(lines: readonly BenchLine[], command: string, date = new Date(), rerun?: string): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const out = [
    START,
    `Measured by \`${command}\`${rerun ? ` (the rows of ${rerun.split(' ').slice(5).join(', ')} re-measured by \`${rerun}\`)` : ''} on ${date.toISOString().slice(0, 10)}: ${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
    'Machines here are shared: compare the ratio column (figure / baseline measured in the same run), not absolute values across runs.',
    '',
    '| figure | value | unit | baseline | ratio | notes |',
    '|---|---|---|---|---|---|',
  ];
  for (const l of lines) {
    const { name, value, unit, baseline, ratio, ...rest } = l;
    const notes = Object.entries(rest)
      .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(', ');
    out.push(`| ${name} | ${fmt(value)} | ${unit} | ${fmt(typeof baseline === 'object' ? JSON.stringify(baseline) : baseline)} | ${fmt(ratio)} | ${notes.replace(/\|/g, '/')} |`);
  }
  out.push(END);
  return out.join('\n');
}

/** Replaces the marked section of `readmePath` (appends one if missing). */
export function updateReadme(readmePath: string, section: string): void {
  const text = readFileSync(readmePath, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + END.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(readmePath, next);
}
