import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerSynth } from '../../src/cli/synth.js';
import type { SynthManifest } from '../../src/data/nmnist-synth.js';

async function run(args: string[]): Promise<string> {
  const program = new Command('spikestream').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerSynth(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'spikestream', ...args]);
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'synth-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('spikestream synth', () => {
  it('nmnist writes the layout and reports counts; --json gives one object; stats compares folders', async () => {
    const out = join(dir, 'a');
    const text = await run(['synth', 'nmnist', '--out', out, '--count', '12', '--seed', '5', '--split', 'train=0.75', '--workers', '0']);
    expect(text).toMatch(/^wrote 12 samples \(9 train from 9 digits, 3 test from 3 digits\)/);
    const m = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as SynthManifest;
    expect(m.command).toBe('spikestream synth nmnist --out DIR --count 12 --seed 5 --split train=0.75');
    expect(m.samples).toHaveLength(12);
    const json = JSON.parse(await run(['synth', 'nmnist', '--out', join(dir, 'b'), '--count', '4', '--seed', '5', '--json', '--stats'])) as { samples: number; stats: { synthetic: { summary: { samples: number } } } };
    expect(json.samples).toBe(4);
    expect(json.stats.synthetic.summary.samples).toBe(4);
    const table = await run(['synth', 'stats', join(dir, 'b'), '--real', out]);
    expect(table).toContain('events per sample');
    expect(table).toContain('real 12');
  });

  it('applies --params overrides and records them in the manifest', async () => {
    const params = join(dir, 'params.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(params, JSON.stringify({ emulator: { noiseRateHz: 0 }, hotPixels: [] }));
    const out = join(dir, 'c');
    await run(['synth', 'nmnist', '--out', out, '--count', '2', '--seed', '1', '--params', params]);
    const m = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as SynthManifest;
    expect(m.params.emulator.noiseRateHz).toBe(0);
    expect(m.params.hotPixels).toEqual([]);
    expect(m.params.emulator.thresholdOn).toBeGreaterThan(0);
  });

  it('rejects bad options before writing anything', async () => {
    const out = join(dir, 'never');
    await expect(run(['synth', 'nmnist', '--out', out, '--count', '5', '--seed', '1', '--split', '0.8'])).rejects.toThrow(/train=/);
    await expect(run(['synth', 'nmnist', '--out', out, '--count', '-5', '--seed', '1'])).rejects.toThrow(/positive integer/);
    await expect(run(['synth', 'nmnist', '--out', out, '--count', '5', '--seed', 'x'])).rejects.toThrow(/seed/);
    expect(existsSync(out)).toBe(false);
  });
});
