/**
 * Writes models/<name>.md, the model card of a shipped model, from the model file itself (graph,
 * binning, neuron parameters, ESL record) and from `spikestream eval --json` outputs, so every
 * figure in a card comes from a command.
 *
 *   npx tsx scripts/model-card.ts MODEL.msgpack --eval NAME=EVAL.json [--eval ...] \
 *     --commands COMMANDS.txt [--machine "..."] [--out models/NAME.md]
 *
 * COMMANDS.txt: the exact commands that produced the model, one per line, in order.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { readModelFile } from '../src/model/model-file.js';
import type { Model } from '../src/model/model.js';

interface EvalJson {
  data: string;
  samples: number;
  accuracy: number;
  density: { overall: number; perLayer: Record<string, number> };
  /** Distributions over samples: mean, p50, p95, max. */
  synopsPerSample: { mean: number };
  spikesPerSample: { mean: number };
  denseMacsPerSample: number;
  timestepsPerSample: number;
  latencyMs: Record<string, number>;
}

function arg(name: string): string[] {
  const out: string[] = [];
  for (let i = 2; i < process.argv.length; i++) if (process.argv[i] === `--${name}`) out.push(process.argv[i + 1]);
  return out;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const num = (x: number) => Math.round(x).toLocaleString('en-US');

function describeNode(m: Model, id: string): string {
  const n = m.graph.nodes.find((x) => x.id === id);
  if (!n) return id;
  const p = n.params as Record<string, unknown>;
  const shape = (v: unknown) => (v && typeof v === 'object' && 'shape' in (v as object) ? `[${((v as { shape: number[] }).shape).join(',')}]` : JSON.stringify(v));
  switch (n.op) {
    case 'Conv2d': return `Conv2d ${shape(p.weight)} stride ${JSON.stringify(p.stride)} padding ${JSON.stringify(p.padding)}${p.bias ? ' +bias' : ''}`;
    case 'Linear': case 'Affine': return `${n.op} ${shape(p.weight)}`;
    case 'LIF': case 'LI': case 'IF': {
      const keys = Object.entries(p).map(([k, v]) => `${k}=${typeof v === 'number' || typeof v === 'string' ? v : shape(v)}`);
      return `${n.op} (${keys.join(', ')})`;
    }
    default: return `${n.op} ${JSON.stringify(p)}`;
  }
}

async function main(): Promise<void> {
  const modelPath = process.argv[2];
  const m = await readModelFile(modelPath);
  const evals = arg('eval').map((s) => {
    const [name, file] = s.split('=');
    return { name, e: JSON.parse(readFileSync(file, 'utf8')) as EvalJson };
  });
  const commands = arg('commands').flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()));
  const machine = arg('machine')[0] ?? `${cpus().length} cores (${cpus()[0]?.model ?? 'CPU'}), Node ${process.version}, tfjs wasm backend`;
  const t = m.training as Record<string, unknown> | null;
  const metrics = (t?.metrics ?? {}) as Record<string, number | Record<string, number>>;
  const rules = (t?.rules ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  out.push(`# ${m.name}`, '');
  out.push(`Labels: ${m.labels.join(', ')}. Input: ${m.input.channels}x${m.input.height}x${m.input.width} (channel = polarity), binning ${JSON.stringify(m.input.binning)}.`, '');
  out.push('## Architecture', '');
  for (const n of m.graph.nodes) out.push(`- \`${n.id}\`: ${describeNode(m, n.id)}`);
  out.push(`- edges: ${m.graph.edges.map(([a, b]) => `${a}->${b}`).join(', ')}`, '');
  out.push('## Training', '');
  if (t) {
    out.push(`- method: ${String(t.method)}, target density ${String(t.density)}`);
    out.push(`- ESL / sparsity rules: ${JSON.stringify(rules)}`);
    out.push(`- dataset: ${JSON.stringify(t.dataset)}`);
    out.push(`- epochs: ${String(t.epochs)}; training time ${num(Number(metrics.seconds ?? 0))} s at ${Number(metrics.samplesPerSecond ?? 0).toFixed(1)} samples/s`);
    out.push(`- density per layer: ${Object.entries((metrics.densityPerLayer ?? {}) as Record<string, number>).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}; explored ${metrics.explored !== undefined ? pct(Number(metrics.explored)) : '-'}`);
  }
  out.push(`- machine: ${machine}`, '');
  out.push('Exact commands, in order (seeds included):', '', '```sh', ...commands, '```', '');
  out.push('## Evaluation (`spikestream eval`, sparse engine)', '');
  out.push('| data | samples | accuracy | SynOps / sample (mean) | dense MACs / sample | spikes / sample (mean) | latency / sample (mean) |', '|---|---|---|---|---|---|---|');
  for (const { name, e } of evals) {
    const synops = e.synopsPerSample.mean;
    const spikes = e.spikesPerSample.mean;
    const lat = e.latencyMs.mean ?? e.latencyMs.p50 ?? Object.values(e.latencyMs)[0];
    out.push(`| ${name}: ${e.data} | ${e.samples} | ${pct(e.accuracy)} | ${num(synops)} | ${num(e.denseMacsPerSample)} | ${num(spikes)} | ${Number(lat).toFixed(2)} ms |`);
  }
  out.push('', 'Reproduce the accuracy from the committed file: the commands of the table are `npx spikestream eval --model models/' + `${m.name}.msgpack --data DIR [--split ...] --json\`; ` + 'test/model/shipped-models.test.ts checks it on a fixed subset in CI.', '');
  const dest = arg('out')[0] ?? `models/${m.name}.md`;
  writeFileSync(dest, `${out.join('\n')}\n`);
  process.stderr.write(`wrote ${dest}\n`);
}

await main();
