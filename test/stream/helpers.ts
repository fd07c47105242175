/** Shared test helpers for src/stream. */
import { readFileSync } from 'node:fs';
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { concatBatches, sliceBatch, type EventBatch } from '../../src/events/batch.js';
import { NmnistDecoder } from '../../src/events/nmnist.js';
import type { Timestep } from '../../src/stream/timestep.js';
import { decodeChunked, toRows } from '../helpers/events.js';
import { sharedFixture } from '../helpers/fixtures.js';

export const NMNIST_REL = 'events/tonic/sample_nmnist.bin';

export function loadNmnistSample(): EventBatch {
  return decodeChunked(new NmnistDecoder(), new Uint8Array(readFileSync(sharedFixture(NMNIST_REL))));
}

/** All timesteps' dense counts, concatenated: (T, 2, H, W) row-major. */
export function denseFrames(ts: readonly Timestep[]): Float64Array {
  if (ts.length === 0) return new Float64Array(0);
  const size = 2 * ts[0].width * ts[0].height;
  const out = new Float64Array(ts.length * size);
  ts.forEach((t, i) => out.set(t.toDense(), i * size));
  return out;
}

/** A comparable plain form of timesteps. */
export function plain(ts: readonly Timestep[]): { index: number; tStart: number; tEnd: number; events: number[][] }[] {
  return ts.map((t) => ({ index: t.index, tStart: t.tStart, tEnd: t.tEnd, events: toRows(t.events) }));
}

/** Splits a batch at the given cut points (sorted, deduplicated, within range). */
export function splitAt(b: EventBatch, cuts: readonly number[]): EventBatch[] {
  const n = b.t.length;
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(n, c))))].sort((a, c) => a - c);
  const out: EventBatch[] = [];
  let prev = 0;
  for (const c of points) {
    out.push(sliceBatch(b, prev, c));
    prev = c;
  }
  out.push(sliceBatch(b, prev, n));
  return out;
}

export function collect<T>(o: Observable<T>): Promise<T[]> {
  return lastValueFrom(o.pipe(toArray()));
}

export function joined(bs: readonly EventBatch[]): number[][] {
  return toRows(concatBatches(bs.length ? [...bs] : [{ t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0) }]));
}
