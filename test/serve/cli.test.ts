/**
 * `spikestream serve` in a child process (started from the CLI, stopped by SIGTERM) and
 * `spikestream replay` against it: sample passes predict what `run` computes for the file, in
 * events and raw form, at max speed and at a recorded pace; stream mode loops keep time moving.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { replay } from '../../src/cli/replay.js';
import { resolveModelPaths } from '../../src/cli/serve.js';
import { writeModelFile } from '../../src/model/model-file.js';
import type { PredictionMessage } from '../../src/serve/protocol.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { runCommand, spawnCli, testModel, tmp } from './helpers.js';

const NMNIST = 'events/tonic/sample_nmnist.bin';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  try {
    return { code: await main(['node', 'spikestream', ...args]), out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
    process.exitCode = undefined;
  }
}

describe('serve: model resolution', () => {
  it('names a shipped model or a file; without models it says what to do', () => {
    expect(() => resolveModelPaths(undefined, join(tmp, 'no-such-dir'))).toThrow(/pass --model PATH/);
    expect(() => resolveModelPaths(['nope'], tmp)).toThrow(/no such file, and no shipped model named "nope"/);
  });
});

describeWithFixtures('serve + replay commands', [NMNIST], () => {
  const model = testModel({ seed: 71, name: 'cli-model' });
  const modelPath = join(tmp, 'cli-model.msgpack');
  let child: ChildProcess;
  let url: string;
  let stderr = '';

  beforeAll(async () => {
    await writeModelFile(modelPath, model);
    child = spawnCli(['serve', '--model', modelPath, '--port', '0', '--log-level', 'warn', '--limit', 'maxSessions=8']);
    child.stderr?.on('data', (d) => (stderr += String(d)));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d) => {
        out += String(d);
        const m = /on (ws:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('replay in sample mode, events or raw, at max speed or a recorded pace: what `spikestream run` prints', async () => {
    const r = await runCommand(modelPath, sharedFixture(NMNIST));
    for (const o of [{ speed: 'max' as const }, { speed: 'max' as const, raw: true }, { speed: 25 }, { speed: 25, raw: true, chunkBytes: 1000 }]) {
      const s = await replay(sharedFixture(NMNIST), { url, mode: 'sample', ...o }, () => undefined);
      expect(s.passes).toBe(1);
      expect(s.finals[0]).toMatchObject({ index: r.index, label: r.label, scores: r.scores, counts: r.outputCounts, timesteps: r.timesteps });
      expect(s.eventsDropped).toBe(0);
    }
  });

  it('replay --loop in stream mode keeps event time increasing across passes (no segment reset between them)', async () => {
    const seen: PredictionMessage[] = [];
    const s = await replay(sharedFixture(NMNIST), { url, mode: 'stream', speed: 'max', passes: 3, decisionUs: 50_000, windowUs: 100_000 }, (p) => seen.push(p));
    expect(s.passes).toBe(3);
    expect(seen.filter((p) => p.final)).toEqual([seen[seen.length - 1]]); // one stream, flushed once at its end
    const ends = seen.map((p) => p.window[1]);
    expect(ends.length).toBeGreaterThan(12);
    for (let i = 1; i < ends.length; i++) expect(ends[i]).toBeGreaterThan(ends[i - 1]);
  });

  it('the replay command prints one line per prediction (JSON with --json) and a summary', async () => {
    const r = await cli('replay', sharedFixture(NMNIST), '--url', url, '--speed', 'max', '--mode', 'sample', '--json');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as PredictionMessage);
    expect(lines).toHaveLength(1);
    expect(lines[0].final).toBe(true);
    expect(r.err).toMatch(/1 pass\(es\), 4325 events sent, 1 predictions, 0 events dropped/);
    const bad = await cli('replay', sharedFixture(NMNIST), '--url', url, '--model', 'nope');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/UNKNOWN_MODEL/);
  });

  it('SIGTERM stops the server gracefully (exit code 0)', async () => {
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(0);
  });
});

describe('serve relaunch (V8 flags, src/cli/relaunch.ts)', () => {
  it('runs the server in a child with the flags, and the child stops when its launcher is killed', async () => {
    const modelPath = join(tmp, 'relaunch-model.msgpack');
    await writeModelFile(modelPath, testModel({ seed: 72, name: 'relaunch-model' }));
    const launcher = spawnCli(['serve', '--model', modelPath, '--port', '0', '--log-level', 'warn', '--no-dashboard'], {
      env: { ...process.env, SPIKESTREAM_NO_RELAUNCH: '', SPIKESTREAM_RELAUNCHED: '' },
    });
    const http = await new Promise<string>((resolve, reject) => {
      let out = '';
      launcher.stdout?.on('data', (d) => {
        out += String(d);
        const m = /\(http: (http:\/\/\S+)\/healthz/.exec(out);
        if (m) resolve(m[1]);
      });
      launcher.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    // The server answers from a process other than the launcher, started with the flags.
    const port = new URL(http).port;
    const pid = launcher.pid as number;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    const args = children.map((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0').join(' '));
    expect(args.some((a) => /--initial-heap-size=64 .*spikestream serve .*--port 0/.test(a))).toBe(true);
    expect((await fetch(`${http}/healthz`)).ok).toBe(true);
    // Killed without a chance to forward a signal: the child notices and shuts down.
    launcher.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    let up = true;
    while (up && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      up = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false);
    }
    expect(up).toBe(false);
  }, 60_000);
});
