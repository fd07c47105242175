/**
 * Output ownership of the decoders that implement `reuseOutput` (EVT 2.0, 2.1, 3.0, DAT, CSV):
 * by default a returned batch is never written again; with `reuseOutput: true` a batch is valid
 * until the next write()/end() and holds the same events the default mode returns.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom, concatBatches, type EventBatch } from '../../src/events/batch.js';
import { createDecoder } from '../../src/events/create-decoder.js';
import { encodeCsv } from '../../src/events/csv.js';
import { encodeDat } from '../../src/events/dat.js';
import type { DecoderOptions, EventDecoder } from '../../src/events/decoder.js';
import { encodeEvt21 } from '../../src/events/evt21.js';
import { encodeEvt2 } from '../../src/events/evt2.js';
import { encodeEvt3 } from '../../src/events/evt3.js';
import { chunkCycles } from '../helpers/chunk-sizes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { columnDigests, toRows } from '../helpers/events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';

type Fmt = 'evt2' | 'evt21' | 'evt3' | 'dat' | 'csv';
const FORMATS: readonly Fmt[] = ['evt2', 'evt21', 'evt3', 'dat', 'csv'];
const W = 320;
const H = 240;

function encode(fmt: Fmt, b: EventBatch): Uint8Array {
  switch (fmt) {
    case 'evt2': return encodeEvt2(b, { width: W, height: H });
    case 'evt21': return encodeEvt21(b, { width: W, height: H });
    case 'evt3': return encodeEvt3(b, { width: W, height: H });
    case 'dat': return encodeDat(b, { width: W, height: H });
    case 'csv': return encodeCsv(b);
  }
}

/**
 * Events with non-decreasing times, mixing scattered events and runs along a row (same t, y, p,
 * increasing x), which EVT 3.0 packs into vector units (up to 32 events per 6 bytes): the output
 * estimate is exceeded and has to grow mid-write.
 */
const eventsArb: fc.Arbitrary<EventBatch> = fc.array(
  fc.record({
    dt: fc.integer({ min: 0, max: 3000 }),
    x: fc.integer({ min: 0, max: W - 40 }),
    y: fc.integer({ min: 0, max: H - 1 }),
    p: fc.integer({ min: 0, max: 1 }),
    run: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 32 })),
  }),
  { maxLength: 120 },
).map((groups) => {
  const t: number[] = [];
  const x: number[] = [];
  const y: number[] = [];
  const p: number[] = [];
  let now = 1000;
  for (const g of groups) {
    now += g.dt;
    for (let k = 0; k < g.run; k++) {
      t.push(now);
      x.push(g.x + k);
      y.push(g.y);
      p.push(g.p);
    }
  }
  return batchFrom({ t, x, y, p });
});

const copy = (b: EventBatch): EventBatch => ({ t: b.t.slice(), x: b.x.slice(), y: b.y.slice(), p: b.p.slice() });

/** Feeds `bytes` in chunks cycling through `sizes`; `each` sees every returned batch right away. */
function feed(dec: EventDecoder, bytes: Uint8Array, sizes: readonly number[], each: (b: EventBatch) => void): void {
  let i = 0;
  let k = 0;
  while (i < bytes.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]);
    each(dec.write(bytes.subarray(i, i + n)));
    i += n;
  }
  each(dec.end());
}

/** Borrowed decoding the way a consumer must do it: copy each batch before the next call. */
function decodeBorrowed(fmt: Fmt, bytes: Uint8Array, sizes: readonly number[], o: DecoderOptions = {}): EventBatch {
  const parts: EventBatch[] = [];
  feed(createDecoder(fmt, { ...o, reuseOutput: true }), bytes, sizes, (b) => parts.push(copy(b)));
  return concatBatches(parts);
}

function decodeDefault(fmt: Fmt, bytes: Uint8Array, sizes: readonly number[]): { parts: EventBatch[]; snapshots: EventBatch[] } {
  const parts: EventBatch[] = [];
  const snapshots: EventBatch[] = [];
  feed(createDecoder(fmt), bytes, sizes, (b) => {
    parts.push(b);
    snapshots.push(copy(b));
  });
  return { parts, snapshots };
}

const fmtArb = fc.constantFrom(...FORMATS);
const chunksArb = fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 6 });

describe('decoder output ownership', () => {
  it('default mode never writes to a batch it has returned (later writes leave every earlier batch intact)', () => {
    fc.assert(fc.property(fmtArb, eventsArb, chunksArb, (fmt, events, sizes) => {
      const { parts, snapshots } = decodeDefault(fmt, encode(fmt, events), sizes);
      parts.forEach((b, k) => expect(toRows(b)).toEqual(toRows(snapshots[k])));
      expect(toRows(concatBatches(parts))).toEqual(toRows(events));
    }), { numRuns: 150 });
  });

  it('borrowed mode returns the same events as the default mode under any chunking', () => {
    fc.assert(fc.property(fmtArb, eventsArb, chunksArb, (fmt, events, sizes) => {
      const bytes = encode(fmt, events);
      expect(toRows(decodeBorrowed(fmt, bytes, sizes))).toEqual(toRows(events));
    }), { numRuns: 150 });
  });

  it('a borrowed batch stays intact until the next write, which may then overwrite it in place', () => {
    for (const fmt of FORMATS) {
      const events = batchFrom({ t: [10, 20, 30, 40, 50, 60], x: [1, 2, 3, 4, 5, 6], y: [7, 8, 9, 10, 11, 12], p: [1, 0, 1, 0, 1, 0] });
      const bytes = encode(fmt, events);
      const dec = createDecoder(fmt, { reuseOutput: true });
      // Everything but the last 5 events' bytes (whole units for every format), then the rest.
      const cut = fmt === 'csv' ? bytes.length - 30 : bytes.length - (fmt === 'evt2' ? 4 : 8);
      const first = dec.write(bytes.subarray(0, cut));
      const kept = toRows(first);
      expect(kept.length).toBeGreaterThan(0);
      // Reading the decoder's info in between changes nothing.
      expect(dec.info.events).toBe(kept.length);
      expect(toRows(first)).toEqual(kept);
      const second = dec.write(bytes.subarray(cut));
      expect(toRows(concatBatches([copy(second), copy(dec.end())]))).toEqual(toRows(events).slice(kept.length));
      // The second batch was written over the first one's memory: that is the borrowed contract.
      expect(second.t.buffer, fmt).toBe(first.t.buffer);
    }
  });

  it('borrowed batches expose no uninitialised memory through their buffers', () => {
    for (const fmt of FORMATS) {
      const events = batchFrom({ t: [5, 6, 7], x: [1, 2, 3], y: [4, 5, 6], p: [1, 1, 0] });
      const b = createDecoder(fmt, { reuseOutput: true }).write(encode(fmt, events));
      expect(toRows(b)).toEqual(toRows(events));
      const views = [b.t, b.x, b.y, b.p];
      const bytes = new Uint8Array(b.t.buffer);
      for (let k = 0; k < bytes.length; k++) {
        const inView = views.some((v) => v.buffer === b.t.buffer && k >= v.byteOffset && k < v.byteOffset + v.byteLength);
        if (!inView && bytes[k] !== 0) expect.fail(`${fmt}: byte ${k} outside the views is ${bytes[k]}`);
      }
    }
  });

  it('the events of a DecodeError in borrowed mode survive the calls after the fault', () => {
    const ok = encodeEvt3(batchFrom({ t: [1, 2, 3], x: [1, 2, 3], y: [1, 1, 1], p: [0, 1, 0] }), { width: W, height: H });
    // A reserved word type (0x9) is CORRUPT in strict mode.
    const bad = Uint8Array.of(...ok, 0x00, 0x90);
    const dec = createDecoder('evt3', { reuseOutput: true, strict: true });
    const err = decodeErrorOf(() => dec.write(bad));
    expect(err.code).toBe('CORRUPT');
    const before = toRows(err.events);
    expect(before).toEqual([[1, 1, 1, 0], [2, 2, 1, 1], [3, 3, 1, 0]]);
    expect(() => dec.write(ok)).toThrow(err);
    expect(() => dec.end()).toThrow(err);
    expect(toRows(err.events)).toEqual(before);
  });
});

describeWithFixtures('borrowed output on real recordings', ['events/expelliarmus/evt3_sample.raw', 'events/expelliarmus/evt2_sample.raw'], () => {
  for (const [fmt, rel] of [['evt3', 'events/expelliarmus/evt3_sample.raw'], ['evt2', 'events/expelliarmus/evt2_sample.raw']] as const) {
    const bytes = new Uint8Array(readFileSync(sharedFixture(rel)));
    it(`${rel}: same column digests as the default mode under any chunking`, () => {
      const whole = columnDigests(concatBatches(decodeDefault(fmt, bytes, [65536]).parts));
      fc.assert(fc.property(chunkCycles(bytes.length, 4), (sizes) => {
        expect(columnDigests(decodeBorrowed(fmt, bytes, sizes))).toEqual(whole);
      }), { numRuns: 8 });
    });
  }
});
