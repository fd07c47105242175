import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchFrom, type EventBatch } from '../../src/events/batch.js';
import { encodeCsv } from '../../src/events/csv.js';
import { DecodeError } from '../../src/events/decode-error.js';
import { encodeEvt3 } from '../../src/events/evt3.js';
import { encodeNmnist } from '../../src/events/nmnist.js';
import { READ_YIELD_MS, openEventFile, readEventFile } from '../../src/events/open-event-file.js';
import { toRows } from '../helpers/events.js';

const dir = mkdtempSync(join(tmpdir(), 'spikestream-open-'));
const sample: EventBatch = batchFrom({ t: [5, 9, 7, 20], x: [1, 30, 2, 3], y: [4, 5, 33, 6], p: [1, 0, 1, 0] });

describe('openEventFile', () => {
  it('detects the format by content and streams the same events in any chunk size', async () => {
    const path = join(dir, 'a.raw');
    writeFileSync(path, encodeEvt3(sample, { width: 64, height: 48 }));
    for (const chunkBytes of [1, 3, 64, 1 << 20]) {
      const s = await openEventFile(path, { chunkBytes });
      const rows: number[][] = [];
      for await (const b of s) rows.push(...toRows(b));
      expect(rows).toEqual(toRows(sample));
      expect(s.format).toBe('evt3');
      expect(s.detectedBy).toBe('content');
      expect(s.meta()).toMatchObject({ width: 64, height: 48, geometry: 'header', format: 'evt3' });
    }
  });

  it('takes geometry from options when the file has none, else infers it from the largest coordinate', async () => {
    const path = join(dir, 'digit.bin');
    writeFileSync(path, encodeNmnist(sample));
    const withOpt = await readEventFile(path, { width: 34, height: 34 });
    expect(withOpt.meta).toMatchObject({ width: 34, height: 34, geometry: 'option', format: 'nmnist' });
    const inferred = await readEventFile(path);
    expect(inferred.meta).toMatchObject({ width: 31, height: 34, geometry: 'inferred' });
    expect(toRows(inferred.events)).toEqual(toRows(sample));
  });

  it('delivers events decoded before a fault, then throws a DecodeError naming the file', async () => {
    const path = join(dir, 'bad.csv');
    writeFileSync(path, Buffer.concat([Buffer.from(encodeCsv(sample)), Buffer.from('1,2,3,9\n')]));
    const s = await openEventFile(path);
    const rows: number[][] = [];
    let err: unknown;
    try {
      for await (const b of s) rows.push(...toRows(b));
    } catch (e) {
      err = e;
    }
    expect(rows).toEqual(toRows(sample));
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe('CORRUPT');
    expect((err as DecodeError).message).toContain(path);
  });

  it('rejects unknown content with BAD_MAGIC and honours an explicit format', async () => {
    const path = join(dir, 'mystery');
    writeFileSync(path, Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5]));
    await expect(openEventFile(path)).rejects.toMatchObject({ code: 'BAD_MAGIC' });
    const forced = await readEventFile(path, { format: 'nmnist' });
    expect(forced.format).toBe('nmnist');
    expect(forced.events.t.length).toBe(2);
  });

  it('reads the same events synchronously (default) and asynchronously, in any chunk size', async () => {
    const path = join(dir, 'both.raw');
    const events = batchFrom({
      t: Array.from({ length: 500 }, (_, i) => 100 + i * 7), x: Array.from({ length: 500 }, (_, i) => i % 64),
      y: Array.from({ length: 500 }, (_, i) => (i * 5) % 48), p: Array.from({ length: 500 }, (_, i) => i & 1),
    });
    writeFileSync(path, encodeEvt3(events, { width: 64, height: 48 }));
    for (const reads of ['auto', 'async'] as const) {
      for (const chunkBytes of [1, 7, 100, 4096]) {
        const rows: number[][] = [];
        for await (const b of await openEventFile(path, { chunkBytes, reads })) rows.push(...toRows(b));
        expect(rows, `${reads} ${chunkBytes}`).toEqual(toRows(events));
      }
    }
  });

  it('gives the event loop a turn during a long synchronous iteration', async () => {
    const path = join(dir, 'turns.csv');
    writeFileSync(path, encodeCsv(sample));
    const s = await openEventFile(path, { chunkBytes: 8 });
    let ran = false;
    setImmediate(() => {
      ran = true;
    });
    const seen: boolean[] = [];
    for await (const _ of s) {
      seen.push(ran);
      // Consume each batch for longer than READ_YIELD_MS: the next read must let the loop run.
      const until = performance.now() + READ_YIELD_MS + 1;
      while (performance.now() < until) { /* busy consumer */ }
    }
    expect(seen.length).toBeGreaterThan(2);
    expect(seen[1]).toBe(true);
  });

  it('fails the iteration with EBADF when the stream is closed in the middle, as with async reads', async () => {
    const path = join(dir, 'closed.csv');
    writeFileSync(path, encodeCsv(sample));
    for (const reads of ['auto', 'async'] as const) {
      const s = await openEventFile(path, { chunkBytes: 8, reads });
      const it = s[Symbol.asyncIterator]();
      expect((await it.next()).done).toBe(false);
      await s.close();
      await expect(it.next()).rejects.toMatchObject({ code: 'EBADF' });
    }
  });

  it('hands out borrowed batches with decoder.reuseOutput, each intact until the iteration continues', async () => {
    const path = join(dir, 'borrowed.raw');
    const events = batchFrom({
      t: Array.from({ length: 300 }, (_, i) => 10 + i), x: Array.from({ length: 300 }, (_, i) => i % 60),
      y: Array.from({ length: 300 }, (_, i) => i % 40), p: Array.from({ length: 300 }, (_, i) => (i >> 2) & 1),
    });
    writeFileSync(path, encodeEvt3(events, { width: 64, height: 48 }));
    const s = await openEventFile(path, { chunkBytes: 64, decoder: { reuseOutput: true } });
    const rows: number[][] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const b of s) {
      rows.push(...toRows(b));
      buffers.add(b.t.buffer);
    }
    expect(rows).toEqual(toRows(events));
    expect(buffers.size).toBeLessThan(3);
  });

  it('fails with ENOENT for a missing file', async () => {
    await expect(openEventFile(join(dir, 'nope.raw'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
