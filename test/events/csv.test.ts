import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { CsvDecoder, encodeCsv } from '../../src/events/csv.js';
import { DecodeError } from '../../src/events/decode-error.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { decodeChunked, toRows } from '../helpers/events.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('CsvDecoder', () => {
  it('reads headerless t,x,y,p with any separator, comments and blank lines', () => {
    const text = '# comment\n10,1,2,1\n\n11 3 4 0\r\n12\t5\t6\t-1\n13;7;8;1';
    expect(toRows(decodeChunked(new CsvDecoder(), enc(text)))).toEqual([
      [10, 1, 2, 1], [11, 3, 4, 0], [12, 5, 6, 0], [13, 7, 8, 1],
    ]);
  });

  it('maps columns by header names in any order and ignores extra columns', () => {
    const text = 'x,y,polarity,timestamp,extra\n1,2,1,100,9\n3,4,0,200,9\n';
    expect(toRows(decodeChunked(new CsvDecoder(), enc(text)))).toEqual([[100, 1, 2, 1], [200, 3, 4, 0]]);
  });

  it('reads decimal seconds as microseconds (RPG events.txt style) in auto mode', () => {
    const text = '0.000001 1 2 1\n1.5 3 4 0\n';
    const dec = new CsvDecoder();
    expect(toRows(decodeChunked(dec, enc(text)))).toEqual([[1, 1, 2, 1], [1_500_000, 3, 4, 0]]);
    expect(dec.info.details.timeUnit).toBe('s');
  });

  it('rejects decimal timestamps in microsecond mode, naming the line', () => {
    const e = decodeErrorOf(() => decodeChunked(new CsvDecoder({ timeUnit: 'us' }), enc('1,2,3,1\n1.5,2,3,1\n')));
    expect(e.code).toBe('CORRUPT');
    expect(e.message).toContain('line 2');
    expect(e.offset).toBe(8);
    expect(toRows(e.events)).toEqual([[1, 2, 3, 1]]);
  });

  it('rejects bad fields, short lines, bad headers and over-long lines with typed errors', () => {
    expect(decodeErrorOf(() => decodeChunked(new CsvDecoder(), enc('1,2,3,7\n'))).code).toBe('CORRUPT');
    expect(decodeErrorOf(() => decodeChunked(new CsvDecoder(), enc('1,2,3\n'))).code).toBe('CORRUPT');
    expect(decodeErrorOf(() => decodeChunked(new CsvDecoder(), enc('1,70000,3,1\n'))).code).toBe('CORRUPT');
    expect(decodeErrorOf(() => decodeChunked(new CsvDecoder(), enc('1,2,3,1\n1,2,x3,1\n'))).code).toBe('CORRUPT');
    expect(decodeErrorOf(() => decodeChunked(new CsvDecoder(), enc('a,b,c,d\n1,2,3,4\n'))).code).toBe('BAD_HEADER');
    const long = decodeErrorOf(() => decodeChunked(new CsvDecoder({ limits: { maxLineBytes: 64 } }), enc('1'.repeat(100)), [10]));
    expect(long.code).toBe('TOO_LARGE');
  });

  it('stays failed after an error', () => {
    const dec = new CsvDecoder();
    expect(() => dec.write(enc('1,2,3,9\n'))).toThrow(DecodeError);
    expect(() => dec.write(enc('1,2,3,1\n'))).toThrow(DecodeError);
    expect(() => dec.end()).toThrow(DecodeError);
  });

  it('round-trips encodeCsv for any events and any chunking', () => {
    const ev = fc.record({
      t: fc.integer({ min: -1e12, max: 1e15 }), x: fc.integer({ min: 0, max: 65535 }),
      y: fc.integer({ min: 0, max: 65535 }), p: fc.integer({ min: 0, max: 1 }),
    });
    fc.assert(fc.property(fc.array(ev, { maxLength: 50 }), fc.array(fc.integer({ min: 1, max: 23 }), { minLength: 1, maxLength: 4 }), (evs, sizes) => {
      const b = batchFrom({ t: evs.map((e) => e.t), x: evs.map((e) => e.x), y: evs.map((e) => e.y), p: evs.map((e) => e.p) });
      expect(toRows(decodeChunked(new CsvDecoder(), encodeCsv(b), sizes))).toEqual(toRows(b));
    }));
  });

  it('never throws anything but DecodeError on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 50 }), (bytes, size) => {
      try {
        decodeChunked(new CsvDecoder(), bytes, [size]);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
    }), { numRuns: 300 });
  });
});
