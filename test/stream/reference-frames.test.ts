/**
 * Acceptance: frames and filter survivors for the real N-MNIST sample equal, element for element,
 * the references tonic and SpikingJelly produced (../shared/fixtures/reference).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { EventBatch } from '../../src/events/batch.js';
import { binEventsByCount } from '../../src/stream/bin-by-count.js';
import { binEventsByTime } from '../../src/stream/bin-by-time.js';
import { binEventsToNEventBins } from '../../src/stream/bin-to-n-event-bins.js';
import { binEventsToNTimeBins } from '../../src/stream/bin-to-n-time-bins.js';
import { denoiseEvents, initDenoise } from '../../src/stream/denoise.js';
import type { EventTimestep } from '../../src/stream/event-timestep.js';
import { initRefractoryPeriod, refractoryPeriodEvents } from '../../src/stream/refractory-period.js';
import type { Timestep } from '../../src/stream/timestep.js';
import { toRows } from '../helpers/events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';
import { denseFrames, joined, loadNmnistSample, NMNIST_REL, splitAt } from './helpers.js';

const REF = 'reference/nmnist_sample_frames_reference.json';
const NPY = (name: string) => `reference/npy/${name}.npy`;
const W = 34;
const H = 34;

const CASES: { name: string; bin: (e: EventBatch) => Timestep[] }[] = [
  { name: 'tonic_time_window_10000', bin: (e) => binEventsByTime(e, { windowUs: 10000, width: W, height: H }).timesteps },
  { name: 'tonic_time_window_10000_incl', bin: (e) => binEventsByTime(e, { windowUs: 10000, includeIncomplete: true, width: W, height: H }).timesteps },
  { name: 'tonic_time_window_50000_overlap_10000', bin: (e) => binEventsByTime(e, { windowUs: 50000, strideUs: 40000, width: W, height: H }).timesteps },
  { name: 'tonic_event_count_500', bin: (e) => binEventsByCount(e, { count: 500, width: W, height: H }).timesteps },
  { name: 'tonic_n_time_bins_10', bin: (e) => binEventsToNTimeBins(e, 10, { width: W, height: H }).timesteps },
  { name: 'tonic_n_time_bins_10_overlap_0.5', bin: (e) => binEventsToNTimeBins(e, 10, { overlap: 0.5, width: W, height: H }).timesteps },
  { name: 'tonic_n_event_bins_10', bin: (e) => binEventsToNEventBins(e, 10, { width: W, height: H }).timesteps },
  { name: 'spikingjelly_time_10', bin: (e) => binEventsToNTimeBins(e, 10, { spikingjelly: true, width: W, height: H }).timesteps },
  { name: 'spikingjelly_number_10', bin: (e) => binEventsToNEventBins(e, 10, { spikingjelly: true, width: W, height: H }).timesteps },
];

describeWithFixtures('binning parity with tonic and SpikingJelly on the N-MNIST sample', [NMNIST_REL, REF, ...CASES.map((c) => NPY(c.name))], () => {
  const events = loadNmnistSample();
  const ref = JSON.parse(readFileSync(sharedFixture(REF), 'utf8')) as Record<string, { shape: number[]; per_frame_sum: number[] }>;

  for (const c of CASES) {
    it(`${c.name}: every frame element equals the reference`, () => {
      const want = readNpy(sharedFixture(NPY(c.name)));
      const ts = c.bin(events);
      expect([ts.length, 2, H, W]).toEqual(want.shape);
      expect(ref[c.name].shape).toEqual(want.shape);
      const got = denseFrames(ts);
      expect(got.length).toBe(want.data.length);
      let mismatches = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== want.data[i]) mismatches++;
      expect(mismatches).toBe(0);
      // The Int16 frames (what `spikestream frames` writes) hold the same counts.
      const size = 2 * H * W;
      const i16 = new Int16Array(size);
      ts.forEach((t, k) => {
        (t as EventTimestep).toDenseInt16(i16);
        for (let i = 0; i < size; i++) if (i16[i] !== want.data[k * size + i]) mismatches++;
      });
      expect(mismatches).toBe(0);
      expect(ts.map((t) => t.events.t.length)).toEqual(ref[c.name].per_frame_sum);
      expect(ts.map((t) => t.index)).toEqual(ts.map((_, i) => i));
    });
  }
});

const FILTERS = [
  { name: 'tonic_denoise_10000_events', run: (bs: EventBatch[]) => { let s = initDenoise({ filterTimeUs: 10000, width: W, height: H }); return bs.map((b) => { const r = denoiseEvents(s, b); s = r.state; return r.events; }); } },
  { name: 'tonic_refractory_1000_events', run: (bs: EventBatch[]) => { let s = initRefractoryPeriod({ refractoryUs: 1000, width: W, height: H }); return bs.map((b) => { const r = refractoryPeriodEvents(s, b); s = r.state; return r.events; }); } },
];

describeWithFixtures('filter parity with tonic on the N-MNIST sample', [NMNIST_REL, ...FILTERS.map((f) => NPY(f.name))], () => {
  const events = loadNmnistSample();
  for (const f of FILTERS) {
    const want = readNpy(sharedFixture(NPY(f.name)));
    const rows: number[][] = [];
    for (let i = 0; i < want.shape[0]; i++) rows.push(Array.from(want.data.subarray(i * 4, i * 4 + 4)));

    it(`${f.name}: the survivors (t, x, y, p) equal tonic's`, () => {
      expect(joined(f.run([events]))).toEqual(rows);
      expect(toRows(events).length).toBeGreaterThan(rows.length);
    });

    it(`${f.name}: the same survivors whatever the batch split (state carried across batches)`, () => {
      fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: events.t.length }), { maxLength: 12 }), (cuts) => {
        expect(joined(f.run(splitAt(events, cuts)))).toEqual(rows);
      }), { numRuns: 40 });
    });
  }
});
