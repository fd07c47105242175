/**
 * Every decoder copies what it carries from one write() to the next, so a caller may reuse a
 * chunk's memory as soon as write() returns (openEventFile reads every chunk into one buffer).
 * Each format's input is decoded twice under the same chunking: from fresh subarrays, and from
 * one scratch buffer that is overwritten with garbage after every write. The events must match.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_FORMATS, batchFrom, concatBatches, type EventBatch, type EventFormat } from '../../src/events/batch.js';
import { encodeAedat2 } from '../../src/events/aedat2.js';
import { encodeAedat3 } from '../../src/events/aedat3.js';
import { createDecoder } from '../../src/events/create-decoder.js';
import { encodeCsv } from '../../src/events/csv.js';
import { encodeDat } from '../../src/events/dat.js';
import { encodeEvt21 } from '../../src/events/evt21.js';
import { encodeEvt2 } from '../../src/events/evt2.js';
import { encodeEvt3 } from '../../src/events/evt3.js';
import { encodeNmnist } from '../../src/events/nmnist.js';
import { writeAedat4 } from '../helpers/aedat4-writer.js';
import { decodeChunked, toRows } from '../helpers/events.js';

/** Sensor size every format can hold (DVS128 for AEDAT 2.0, N-MNIST's 8-bit addresses). */
const SIDE = 34;

/** The bytes of `b` in each format; a format missing here fails the test below. */
const ENCODE: Record<EventFormat, (b: EventBatch) => Uint8Array> = {
  nmnist: (b) => encodeNmnist(b),
  aedat2: (b) => encodeAedat2(b),
  aedat3: (b) => encodeAedat3(b, { width: SIDE, height: SIDE, eventsPerPacket: 7 }),
  aedat4: (b) => {
    // Packets of up to 7 events, so some fit in a chunk (decoded in place) and some are split.
    const packets = [];
    for (let i = 0; i < b.t.length; i += 7) {
      const e = (k: number) => Math.min(k, b.t.length);
      packets.push({ streamId: 0, events: { t: b.t.subarray(i, e(i + 7)), x: b.x.subarray(i, e(i + 7)), y: b.y.subarray(i, e(i + 7)), p: b.p.subarray(i, e(i + 7)) } });
    }
    return writeAedat4({ compression: b.t.length % 2 ? 'LZ4' : 'NONE', streams: [{ id: 0, type: 'EVTS', sizeX: SIDE, sizeY: SIDE }], packets }).bytes;
  },
  evt2: (b) => encodeEvt2(b, { width: SIDE, height: SIDE }),
  evt21: (b) => encodeEvt21(b, { width: SIDE, height: SIDE }),
  evt3: (b) => encodeEvt3(b, { width: SIDE, height: SIDE }),
  dat: (b) => encodeDat(b, { width: SIDE, height: SIDE }),
  csv: (b) => encodeCsv(b),
};

const eventsArb: fc.Arbitrary<EventBatch> = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: SIDE - 1 }), fc.integer({ min: 0, max: SIDE - 1 }), fc.integer({ min: 0, max: 1 })),
  { maxLength: 60 },
).map((rows) => {
  let t = 0;
  return batchFrom({
    t: rows.map((r) => (t += r[0])), x: rows.map((r) => r[1]), y: rows.map((r) => r[2]), p: rows.map((r) => r[3]),
  });
});

/** Decodes `bytes` through one scratch buffer that is scribbled over after every write. */
function decodeThroughScratch(format: EventFormat, bytes: Uint8Array, sizes: readonly number[]): EventBatch {
  const dec = createDecoder(format);
  const scratch = new Uint8Array(Math.max(1, ...sizes));
  const out: EventBatch[] = [];
  let i = 0;
  let k = 0;
  while (i < bytes.length) {
    const n = Math.min(Math.max(1, sizes[k++ % sizes.length]), bytes.length - i);
    scratch.set(bytes.subarray(i, i + n));
    out.push(dec.write(scratch.subarray(0, n)));
    scratch.fill(0xa5);
    i += n;
  }
  out.push(dec.end());
  return concatBatches(out);
}

describe('decoders and chunk memory', () => {
  it('has an input for every format', () => {
    expect(Object.keys(ENCODE).sort()).toEqual([...EVENT_FORMATS].sort());
  });

  for (const format of EVENT_FORMATS) {
    it(`${format}: decodes the same events when each chunk's memory is overwritten after its write`, () => {
      fc.assert(fc.property(eventsArb, fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 5 }), (events, sizes) => {
        const bytes = ENCODE[format](events);
        const expected = toRows(decodeChunked(createDecoder(format), bytes, sizes));
        expect(toRows(decodeThroughScratch(format, bytes, sizes))).toEqual(expected);
      }), { numRuns: 60 });
    });
  }
});
