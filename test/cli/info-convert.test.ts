import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { CsvDecoder } from '../../src/events/csv.js';
import { encodeEvt3 } from '../../src/events/evt3.js';
import { readEventFile } from '../../src/events/open-event-file.js';
import { decodeChunked, toRows } from '../helpers/events.js';
import { runCli } from '../helpers/cli.js';
import { describeWithFixtures, loadManifest, PROJECT_ROOT, sharedFixture } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'spikestream-cli-'));

const run = runCli;


describe('spikestream info / convert', () => {
  const sample = batchFrom({ t: [100, 150, 140, 400], x: [1, 2, 3, 4], y: [5, 6, 7, 8], p: [1, 0, 1, 1] });
  const raw = join(dir, 's.raw');
  writeFileSync(raw, encodeEvt3(sample, { width: 32, height: 16 }));

  it('info --json reports format, geometry, counts, span, rate and backward steps', async () => {
    const r = await run('info', raw, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      format: 'evt3', width: 32, height: 16, geometry: 'header', events: 4, tFirst: 100, tLast: 400,
      durationUs: 300, backwardSteps: 1, largestBackwardStepUs: -10, onFraction: 0.75,
    });
    expect(j.meanRateEventsPerS).toBeCloseTo(4 / 300e-6, 3);
  });

  it('info prints a readable table', async () => {
    const r = await run('info', raw);
    expect(r.out).toMatch(/format\s+evt3/);
    expect(r.out).toMatch(/backward t\s+1 steps/);
  });

  it('convert .raw -> .csv -> .raw round-trips the events', async () => {
    const csv = join(dir, 's.csv');
    expect((await run('convert', raw, csv)).code).toBe(0);
    const text = readFileSync(csv);
    expect(text.toString().startsWith('t,x,y,p\n')).toBe(true);
    expect(toRows(decodeChunked(new CsvDecoder(), text))).toEqual(toRows(sample));
    const back = join(dir, 'back.raw');
    expect((await run('convert', csv, back, '--width', '32', '--height', '16')).code).toBe(0);
    expect(toRows((await readEventFile(back)).events)).toEqual(toRows(sample));
  });

  it('errors are one line with a non-zero exit code, and leave no partial output', async () => {
    const bad = join(dir, 'bad.raw');
    writeFileSync(bad, Buffer.concat([Buffer.from(encodeEvt3(sample, { width: 32, height: 16 })), Buffer.from([0x01])]));
    const r = await run('info', bad);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain(bad);
    expect(r.err).toMatch(/TRUNCATED/);
    const out = join(dir, 'never.csv');
    expect((await run('convert', bad, out)).code).not.toBe(0);
    expect(existsSync(out)).toBe(false);
    const missing = await run('info', join(dir, 'missing.raw'));
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/ENOENT|no such file/);
    const ext = await run('convert', raw, join(dir, 'x.unknown'));
    expect(ext.code).not.toBe(0);
    expect(ext.err).toMatch(/output format/);
  });

  it('the installed launcher answers --help when dist/ is built', () => {
    const bin = join(PROJECT_ROOT, 'bin/spikestream.js');
    if (!existsSync(join(PROJECT_ROOT, 'dist/cli/main.js'))) {
      if (process.env.CI) throw new Error('dist/ missing in CI: npm ci should have built it (prepare)');
      console.warn('[skip] dist/ not built; run npm run build');
      return;
    }
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: spikestream/);
    expect(r.stdout).toMatch(/info/);
  });
});

describeWithFixtures('spikestream info on real recordings', ['events/aer/chessboard.aedat'], () => {
  it('counts the backward time steps of a real DVS128 file', async () => {
    const m = loadManifest()['aer/chessboard.aedat'];
    const r = await run('info', sharedFixture('events/aer/chessboard.aedat'), '--json');
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ format: 'aedat2', width: 128, height: 128, events: m.n_events, tFirst: m.t_first, tLast: m.t_last, backwardSteps: 737 });
  });
});
