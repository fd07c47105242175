/** fromEventFile on a real recording: exact events at 'max', recorded time on virtual time, errors. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { take, VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { expect, it } from 'vitest';
import type { EventBatch } from '../../src/events/batch.js';
import { DecodeError } from '../../src/events/decode-error.js';
import type { EventFileStream } from '../../src/events/open-event-file.js';
import { fromEventFile } from '../../src/stream/from-event-file.js';
import { toRows } from '../helpers/events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { collect, joined, loadNmnistSample, NMNIST_REL } from './helpers.js';

const trunc = () => {
  const dir = mkdtempSync(join(tmpdir(), 'spikestream-src-'));
  const p = join(dir, 'cut.bin');
  writeFileSync(p, readFileSync(sharedFixture(NMNIST_REL)).subarray(0, 5 * 100 + 3));
  return p;
};

describeWithFixtures('fromEventFile on the N-MNIST sample', [NMNIST_REL], () => {
  const path = sharedFixture(NMNIST_REL);

  it('at max speed delivers exactly the decoded events, with the opened stream reported first', async () => {
    let opened: EventFileStream | undefined;
    const bs = await collect(fromEventFile(path, { chunkBytes: 4096, onOpen: (s) => (opened = s) }));
    expect(opened?.format).toBe('nmnist');
    expect(bs.length).toBeGreaterThan(1);
    expect(joined(bs)).toEqual(toRows(loadNmnistSample()));
  });

  it('at speed 1 on virtual time emits every slice at its recorded time', async () => {
    const sched = new VirtualTimeScheduler(VirtualAction, Infinity);
    const seen: { at: number; b: EventBatch }[] = [];
    let done = false;
    fromEventFile(path, { speed: 1, scheduler: sched, chunkBytes: 4096 }).subscribe({
      next: (b) => seen.push({ at: sched.now(), b }),
      complete: () => (done = true),
    });
    // File reads resolve on the libuv threadpool: let real I/O happen, then run the virtual clock.
    for (let i = 0; i < 5000 && !done; i++) {
      await new Promise((r) => setTimeout(r, 1));
      sched.flush();
    }
    expect(done).toBe(true);
    const all = loadNmnistSample();
    expect(joined(seen.map((s) => s.b))).toEqual(toRows(all));
    const t0 = all.t[0];
    let prev = -1;
    for (const { at: when, b } of seen) {
      const last = Math.max(...b.t);
      expect(when).toBeCloseTo((last - t0) / 1000, 9);
      expect(when).toBeGreaterThanOrEqual(prev);
      prev = when;
    }
  });

  it('reports a missing file and a truncated one (after the events before the fault)', async () => {
    await expect(collect(fromEventFile(join(tmpdir(), 'no-such-spikestream-file.bin')))).rejects.toMatchObject({ code: 'ENOENT' });
    const got: EventBatch[] = [];
    const err = await new Promise((resolve) => fromEventFile(trunc(), { format: 'nmnist' }).subscribe({ next: (b) => got.push(b), error: resolve }));
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe('TRUNCATED');
    expect(joined(got).length).toBe(100);
  });

  it('stops reading when unsubscribed early', async () => {
    const first = await collect(fromEventFile(path, { chunkBytes: 1000 }).pipe(take(1)));
    expect(first.length).toBe(1);
  });
});
