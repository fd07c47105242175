import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NmnistDecoder } from '../../src/events/nmnist.js';
import { synthesizeNmnist, type SynthManifest } from '../../src/data/nmnist-synth.js';
import { decodeChunked } from '../helpers/events.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const DIR = join(PROJECT_ROOT, 'fixtures', 'nmnist-synth');

describe('fixtures/nmnist-synth', () => {
  it('holds one decodable recording per digit', async () => {
    const m = JSON.parse(await readFile(join(DIR, 'manifest.json'), 'utf8')) as SynthManifest;
    expect(m.samples.map((s) => s.label).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const s of m.samples) {
      const ev = decodeChunked(new NmnistDecoder(), new Uint8Array(await readFile(join(DIR, s.file))));
      expect(ev.t.length).toBe(s.events);
    }
  });

  it('is reproduced byte for byte by the command in fixtures/README.md', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'fixture-regen-'));
    try {
      await synthesizeNmnist({ outDir: tmp, count: 10, seed: 1, trainFraction: 0, balanced: true, includeRealDigits: false, workers: 0 });
      const list = async (d: string) => (await readdir(d, { recursive: true })).map(String).filter((f) => /\.(bin|csv|json)$/.test(f)).sort();
      const files = await list(DIR);
      expect(await list(tmp)).toEqual(files);
      for (const f of files) {
        const same = (await readFile(join(tmp, f))).equals(await readFile(join(DIR, f)));
        expect(same, `${f} differs: regenerate fixtures/nmnist-synth (see fixtures/README.md)`).toBe(true);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
