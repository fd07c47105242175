/**
 * The demo's recordings: the package's own fixtures/nmnist-synth loads as ten labelled 34x34
 * digits; other folders load with or without labels.csv; every limit and every malformed folder
 * gives an error naming the folder and the problem.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNmnist } from '../../../src/events/nmnist.js';
import { DEFAULT_DEMO_DIR, loadDemoSet } from '../../../src/serve/demo/demo-recordings.js';

const tmp = mkdtempSync(join(tmpdir(), 'spikestream-demo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function nmnistFile(path: string, n: number, t0 = 0): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, encodeNmnist({
    t: Float64Array.from({ length: n }, (_, i) => t0 + 100 * i), x: Uint16Array.from({ length: n }, (_, i) => i % 20),
    y: Uint16Array.from({ length: n }, (_, i) => (i * 7) % 30), p: Uint8Array.from({ length: n }, (_, i) => i & 1),
  }));
}

function folder(name: string, files: Record<string, number>, labels?: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, n] of Object.entries(files)) nmnistFile(join(dir, f), n);
  if (labels !== undefined) writeFileSync(join(dir, 'labels.csv'), labels);
  return dir;
}

describe('demo recordings', () => {
  it("loads the package's synthetic digits: ten recordings labelled 0-9 on a 34x34 sensor", async () => {
    const set = await loadDemoSet(DEFAULT_DEMO_DIR);
    expect(set.recordings.map((r) => r.label)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect([set.width, set.height]).toEqual([34, 34]);
    for (const r of set.recordings) {
      expect(r.events.t.length).toBeGreaterThan(100);
      expect(r.tMax).toBeGreaterThan(r.tMin);
      expect(r.file).toMatch(new RegExp(`^Test/${r.label}/`));
    }
  });

  it('takes labels.csv in its own column order, and without it every event file (sorted, unlabelled)', async () => {
    const a = await loadDemoSet(folder('labelled', { 'a/x.bin': 5, 'b/y.bin': 7 }, 'label,file\ncat,b/y.bin\ndog,a/x.bin\n'));
    expect(a.recordings.map((r) => [r.file, r.label, r.events.t.length])).toEqual([['b/y.bin', 'cat', 7], ['a/x.bin', 'dog', 5]]);
    const b = await loadDemoSet(folder('plain', { 'z.bin': 3, 'sub/a.bin': 4, 'notes.txt': 0 }));
    expect(b.recordings.map((r) => [r.file, r.label])).toEqual([['sub/a.bin', undefined], ['z.bin', undefined]]);
  });

  it('names the folder and the problem for every bad folder', async () => {
    await expect(loadDemoSet(join(tmp, 'missing'))).rejects.toThrow(/demo: .*missing is not a folder of recordings/);
    await expect(loadDemoSet(folder('empty', {}))).rejects.toThrow(/demo: no recordings in .*empty/);
    await expect(loadDemoSet(folder('bad-header', { 'a.bin': 2 }, 'path,class\na.bin,1\n'))).rejects.toThrow(/needs a header with "file" and "label"/);
    await expect(loadDemoSet(folder('bad-row', { 'a.bin': 2 }, 'file,label\n,1\n'))).rejects.toThrow(/line 2 has no file or label/);
    await expect(loadDemoSet(folder('gone', { 'a.bin': 2 }, 'file,label\nb.bin,1\n'))).rejects.toThrow(/b\.bin is listed in labels\.csv but missing/);
    await expect(loadDemoSet(folder('escape', { 'a.bin': 2 }, 'file,label\n../labelled/a/x.bin,1\n'))).rejects.toThrow(/outside/);
    const broken = folder('broken', {}, 'file,label\nx.bin,1\n');
    writeFileSync(join(broken, 'x.bin'), new Uint8Array([1, 2, 3]));
    await expect(loadDemoSet(broken)).rejects.toThrow(/^demo: /);
  });

  it('enforces its limits as the recordings are read', async () => {
    const dir = folder('big', { 'a.bin': 50, 'b.bin': 50, 'c.bin': 50 });
    await expect(loadDemoSet(dir, { maxRecordings: 2 })).rejects.toThrow(/limit maxRecordings/);
    await expect(loadDemoSet(dir, { maxEvents: 120 })).rejects.toThrow(/more than 120 events \(limit maxEvents\) at c\.bin/);
    await expect(loadDemoSet(dir, { maxBytes: 5 * 50 + 10 })).rejects.toThrow(/limit maxBytes\) at b\.bin/);
    expect((await loadDemoSet(dir, { maxEvents: 150, maxBytes: 750, maxRecordings: 3 })).recordings).toHaveLength(3);
  });
});
