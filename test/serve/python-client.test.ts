/**
 * examples/python_client.py (websockets + msgpack only) against a real server: its predictions
 * for the N-MNIST sample, sent as events or as raw bytes, equal what `run` computes and what a
 * TypeScript client receives. Needs python3 with websockets and msgpack: fails in CI without
 * them (.ci/run installs python3-websockets and python3-msgpack), skips elsewhere.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEventFile } from '../../src/events/open-event-file.js';
import type { EventBatch } from '../../src/events/batch.js';
import type { PredictionMessage } from '../../src/serve/protocol.js';
import type { SpikestreamServer } from '../../src/serve/server.js';
import { encodeEventsMessage } from '../../src/stream/protocol-events.js';
import { PROJECT_ROOT, describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { findPython } from '../helpers/python.js';
import { modelPaths, runCommand, servedFromFile, startServer, testModel, TestClient } from './helpers.js';

const NMNIST = 'events/tonic/sample_nmnist.bin';
const CLIENT = join(PROJECT_ROOT, 'examples', 'python_client.py');
const py = findPython(['websockets', 'msgpack']);
const inCI = process.env.CI === 'true' || process.env.CI === '1';
if (!py && !inCI) console.warn('[skip] Python client: no python3 with websockets and msgpack (Debian: apt-get install python3-websockets python3-msgpack)');

const run = promisify(execFile);

describe.skipIf(!py && !inCI)('examples/python_client.py', () => {
  describeWithFixtures('against a real server', [NMNIST], () => {
    const model = testModel({ seed: 51, name: 'py' });
    let server: SpikestreamServer;
    let events: EventBatch;

    beforeAll(async () => {
      if (!py) throw new Error('CI requires python3 with websockets and msgpack (python3-websockets, python3-msgpack)');
      server = await startServer([await servedFromFile(model)]);
      events = (await readEventFile(sharedFixture(NMNIST))).events;
    });
    afterAll(async () => {
      await server?.close();
    });

    async function python(...args: string[]): Promise<PredictionMessage[]> {
      const { stdout } = await run(py as string, [CLIENT, server.streamUrl, sharedFixture(NMNIST), '--json', ...args], { timeout: 30_000 });
      return stdout.trim().split('\n').map((l) => JSON.parse(l) as PredictionMessage);
    }

    it('sample mode, events and raw (odd chunk sizes): what `spikestream run` prints for the file', async () => {
      const r = await runCommand(modelPaths.get(model.name) as string, sharedFixture(NMNIST));
      for (const args of [['--mode', 'sample'], ['--mode', 'sample', '--chunk-events', '333'], ['--mode', 'sample', '--raw', 'nmnist', '--chunk-bytes', '777']]) {
        const preds = await python(...args);
        expect(preds).toHaveLength(1);
        expect(preds[0]).toMatchObject({ final: true, index: r.index, label: r.label, scores: r.scores, counts: r.outputCounts, timesteps: r.timesteps });
      }
    });

    it('stream mode: the same predictions a TypeScript client gets for the same messages', async () => {
      const got = await python('--mode', 'stream', '--decision-us', '30000', '--window-us', '60000');
      const c = await TestClient.open(server.streamUrl);
      await c.hello({ sensor: { width: 34, height: 34 }, mode: 'stream', decisionUs: 30_000, windowUs: 60_000 });
      c.sendBytes(encodeEventsMessage(events));
      c.send({ type: 'flush' });
      await c.next((m) => m.type === 'prediction' && m.final);
      c.send({ type: 'bye' });
      await c.closed;
      const strip = (p: PredictionMessage) => ({ ...p, latencyMs: 0 });
      expect(got.length).toBeGreaterThan(5);
      expect(got.map(strip)).toEqual(c.ofType<PredictionMessage>('prediction').map(strip));
    });
  });
});
