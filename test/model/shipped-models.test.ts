/**
 * Every shipped model reproduces, from the committed file, the accuracy its model card reports on
 * the fixed CI subset (models/NAME.ci-eval.json, written by scripts/ship-model.sh from
 * `spikestream eval`). The engine is deterministic, so the figure must match exactly.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { describeWithFixtures, PROJECT_ROOT, sharedFixture } from '../helpers/fixtures.js';

interface CiEval {
  model: string;
  data: string;
  args: string[];
  samples: number;
  accuracy: number;
}

const modelsDir = join(PROJECT_ROOT, 'models');
const checks: CiEval[] = existsSync(modelsDir)
  ? readdirSync(modelsDir).filter((f) => f.endsWith('.ci-eval.json')).map((f) => JSON.parse(readFileSync(join(modelsDir, f), 'utf8')) as CiEval)
  : [];

describe('shipped models', () => {
  it('ship the default model that npm start serves, each with a card and a CI check', () => {
    expect(existsSync(join(modelsDir, 'nmnist-esl10.msgpack'))).toBe(true);
    for (const c of checks) {
      expect(existsSync(join(modelsDir, `${c.model}.msgpack`))).toBe(true);
      expect(existsSync(join(modelsDir, `${c.model}.md`))).toBe(true);
    }
    expect(checks.map((c) => c.model)).toContain('nmnist-esl10');
  });
});

describeWithFixtures('shipped models reproduce their card accuracy', ['nmnist-real/labels.csv'], () => {
  for (const c of checks) {
    it(`${c.model}: ${c.samples} held-out real recordings at ${(100 * c.accuracy).toFixed(1)}%`, async () => {
      const r = await runCli('eval', '--model', join(modelsDir, `${c.model}.msgpack`), '--data', sharedFixture(c.data), ...c.args, '--json');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out) as { samples: number; accuracy: number };
      expect(j.samples).toBe(c.samples);
      expect(j.accuracy).toBe(c.accuracy);
    });
  }
});
