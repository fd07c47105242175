/**
 * Worker thread of synthesizeNmnist: renders the samples it is sent and writes their files itself,
 * so only small result records cross threads.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { loadMnistDigits } from './mnist-digits.js';
import type { NmnistSimParams } from './nmnist-sim.js';
import { renderPlannedSample } from './nmnist-synth.js';
import { sampleFile, type PlannedSample } from './nmnist-synth-plan.js';

const { params, outDir } = workerData as { params: NmnistSimParams; outDir: string };
const digitsP = loadMnistDigits();

parentPort?.on('message', (msg: { jobs: { i: number; sample: PlannedSample }[] }) => {
  void digitsP.then((digits) => {
    const results = msg.jobs.map(({ i, sample }) => {
      try {
        const r = renderPlannedSample(digits, params, sample);
        writeFileSync(join(outDir, sampleFile(sample)), r.bytes);
        return { i, events: r.events, durationUs: r.durationUs };
      } catch (e) {
        return { i, error: `${sampleFile(sample)}: ${e instanceof Error ? e.message : String(e)}` };
      }
    });
    parentPort?.postMessage({ results });
  }, (e: unknown) => parentPort?.postMessage({ results: [{ i: -1, error: e instanceof Error ? e.message : String(e) }] }));
});
