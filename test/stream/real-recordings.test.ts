/**
 * The pipeline on real recordings whose timestamps step back (jAER DVS128 files): file chunking
 * does not change the timesteps, late events are counted and kept, nothing is lost silently.
 */
import { expect, it } from 'vitest';
import { binByTime } from '../../src/stream/bin-by-time.js';
import { createBinningStats, type BinningStats } from '../../src/stream/binning-stats.js';
import { fromEventFile } from '../../src/stream/from-event-file.js';
import type { Timestep } from '../../src/stream/timestep.js';
import { describeWithFixtures, loadManifest, sharedFixture } from '../helpers/fixtures.js';
import { collect, plain } from './helpers.js';

const REL = 'aer/DVS128-2014-09-16T15-49-51+0200-20000-0.aedat';

describeWithFixtures('time binning a DVS128 recording with backward timestamps', [`events/${REL}`, 'MANIFEST.json'], () => {
  const run = async (chunkBytes: number): Promise<{ ts: Timestep[]; stats: BinningStats }> => {
    const stats = createBinningStats();
    const ts = await collect(fromEventFile(sharedFixture(`events/${REL}`), { chunkBytes }).pipe(binByTime({ windowUs: 50_000, width: 128, height: 128, includeIncomplete: true, stats })));
    return { ts, stats };
  };

  it('gives the same timesteps whatever the read size, and accounts for every event', async () => {
    const a = await run(1 << 20);
    const b = await run(3001);
    expect(plain(b.ts)).toEqual(plain(a.ts));
    expect(b.stats).toEqual(a.stats);
    const n = loadManifest()[REL].n_events;
    expect(a.stats.eventsIn).toBe(n);
    expect(a.stats.late).toBeGreaterThan(0);
    const binned = a.ts.reduce((s, t) => s + t.events.t.length, 0);
    expect(binned + a.stats.dropped).toBe(n);
    // Late events sit in a window that started after their timestamp; nothing else does.
    let early = 0;
    for (const t of a.ts) for (const v of t.events.t) if (v < t.tStart) early++;
    expect(early).toBe(a.stats.late);
  });
});
