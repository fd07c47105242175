/**
 * The main job's command: `serve --demo` (what `npm start` runs) with the default model or a
 * given one, the dashboard on by default and off with --no-dashboard, and one clear line when
 * the default model does not exist.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/errors.js';
import { DEFAULT_MODEL, resolveModelPaths, startServe } from '../../../src/cli/serve.js';
import type { FeedFrame, FeedWatch } from '../../../src/serve/dashboard/client/feed-message.js';
import { writeModelFile } from '../../../src/model/model-file.js';
import { PROJECT_ROOT } from '../../helpers/fixtures.js';
import { spawnCli, testModel, tmp } from '../helpers.js';
import { FeedReader } from './feed-reader.js';

function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

describe('serve --demo', () => {
  it(`serves ${DEFAULT_MODEL} first when serving every shipped model`, () => {
    const dir = join(tmp, 'shipped');
    mkdirSync(dir, { recursive: true });
    for (const f of ['a-dense.msgpack', `${DEFAULT_MODEL}.msgpack`, 'z.msgpack', 'notes.md']) writeFileSync(join(dir, f), '');
    expect(resolveModelPaths(undefined, dir)).toEqual([`${DEFAULT_MODEL}.msgpack`, 'a-dense.msgpack', 'z.msgpack'].map((f) => join(dir, f)));
  });

  it('fails with one line naming the default model when it does not exist', async () => {
    const empty = join(tmp, 'no-models');
    mkdirSync(empty, { recursive: true });
    const err = await startServe({ demo: true, modelsDir: empty, port: 0, logLevel: 'silent' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toBe(`the demo runs the default model ${join(empty, `${DEFAULT_MODEL}.msgpack`)}, which does not exist; train it (spikestream train) or pass --model PATH`);
  });

  it('plays the demo with the default model into the dashboard; --no-dashboard leaves / alone', async () => {
    const models = join(tmp, 'with-default');
    mkdirSync(models, { recursive: true });
    await writeModelFile(join(models, `${DEFAULT_MODEL}.msgpack`), testModel({ seed: 3, name: DEFAULT_MODEL }));
    const server = await startServe({ demo: true, modelsDir: models, port: 0, logLevel: 'silent' });
    try {
      expect(server.modelNames()).toEqual([DEFAULT_MODEL]);
      expect(await status(`${server.httpUrl}/`)).toBe(200);
      const r = await FeedReader.open(`${server.httpUrl}/dashboard/feed`);
      const w = await r.next<FeedWatch>((m) => m.type === 'watch');
      expect(w.session).toMatchObject({ demo: true, model: { name: DEFAULT_MODEL } });
      const f = await r.next<FeedFrame>((m) => m.type === 'frame' && m.prediction !== null, 15_000);
      expect(f.prediction?.label).toMatch(/^\d$/);
      r.close();
    } finally {
      await server.close();
    }
    const bare = await startServe({ model: [join(models, `${DEFAULT_MODEL}.msgpack`)], dashboard: false, port: 0, logLevel: 'silent' });
    try {
      expect(await status(`${bare.httpUrl}/`)).toBe(404);
      expect(bare.sessions()).toEqual([]);
    } finally {
      await bare.close();
    }
  });

  it('the command prints where the dashboard is, plays the demo from a given folder, and stops on SIGTERM', async () => {
    const modelPath = join(tmp, 'cli-demo.msgpack');
    await writeModelFile(modelPath, testModel({ seed: 4, name: 'cli-demo' }));
    const child = spawnCli(['serve', '--demo', join(PROJECT_ROOT, 'fixtures/nmnist-synth'), '--model', modelPath, '--port', '0', '--log-level', 'warn']);
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += String(d)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d) => {
        out += String(d);
        const m = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/) \(demo playing\)$/m.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    const r = await FeedReader.open(`${url}dashboard/feed`);
    expect((await r.next<FeedWatch>((m) => m.type === 'watch')).session).toMatchObject({ demo: true, model: { name: 'cli-demo' } });
    await r.next<FeedFrame>((m) => m.type === 'frame' && m.events.n > 0);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(r.ended || (await new Promise((res) => setTimeout(() => res(r.ended), 200)))).toBe(true);
  }, 60_000);
});
