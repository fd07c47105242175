import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { CsvDecoder, encodeCsv } from '../../src/events/csv.js';
import { DecodeError } from '../../src/events/decode-error.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { decodeChunked, toRows } from '../helpers/events.js';
import type { EventBatch } from '../../src/events/batch.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('CsvDecoder', () => {
  it('reads headerless t,x,y,p with any separator, comments and blank lines', () => {
    const text = '# comment\n10,1,2,1\n\n11 3 4 0\r\n12\t5\t6\t-1\n13;7;8;1';
    expect(toRows(decodeChunked(new CsvDecoder(), enc(text)))).toEqual([
      [10, 1, 2, 1], [11, 3, 4, 0], [12, 5, 6, 0], [13, 7, 8, 1],
    ]);
  });

  it('reads a first line longer than the engine allows as call arguments when maxLineBytes is raised', () => {
    // 300,000 bytes: spread into String.fromCharCode this was a RangeError, not a decode.
    const text = `x,y,p,t${' '.repeat(300_000)}\n1,2,1,100\n`;
    const dec = new CsvDecoder({ limits: { maxLineBytes: 1 << 20 } });
    expect(toRows(decodeChunked(dec, enc(text)))).toEqual([[100, 1, 2, 1]]);
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

/** How one data line is written; every style must decode to the same event. */
const lineStyle = fc.record({
  sep: fc.constantFrom(',', ',', ',', ' ', '\t', ';', ', ', '  ', ' ,'),
  crlf: fc.boolean(),
  pad: fc.constantFrom('', '', '', ' ', '\t'),
  zeros: fc.constantFrom('', '', '', '0', '00'),
  minusOne: fc.boolean(),
  extra: fc.constantFrom('', '', '', '7', '123456'),
});

const csvEvent = fc.record({
  t: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 99_999_999 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 999 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1e9, max: Number.MAX_SAFE_INTEGER }) },
    { weight: 1, arbitrary: fc.integer({ min: -1e6, max: -1 }) },
  ),
  x: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 1279 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) }),
  y: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 719 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }) }),
  p: fc.integer({ min: 0, max: 1 }),
});

/** Column orders a header may give, with names the decoder accepts and an ignored column. */
const COLUMN_OF: Record<string, string> = { t: 't', ts: 't', timestamp: 't', x: 'x', y: 'y', p: 'p', polarity: 'p' };
const headers = fc.constantFrom(
  undefined,
  ['t', 'x', 'y', 'p'],
  ['timestamp', 'x', 'y', 'polarity'],
  ['x', 'y', 'p', 't'],
  ['x', 'y', 't', 'p', 'extra'],
  ['ts', 'extra', 'p', 'y', 'x'],
);

interface Doc {
  readonly text: string;
  /** Whether the first line names the columns. */
  readonly header: boolean;
  /** The events of the data lines, in order. */
  readonly events: number[][];
  /** For each line of `text` (1-based index - 1): its start offset and, for data lines, the event index. */
  readonly lines: { start: number; text: string; event: number }[];
}

/** A CSV document (header, data lines in random styles, comments, blank lines) and its events. */
const csvDoc = fc.tuple(headers, fc.array(fc.tuple(csvEvent, lineStyle, fc.nat(30)), { maxLength: 60 })).map(([names, rows]): Doc => {
  const order = names ?? ['t', 'x', 'y', 'p'];
  const out: { start: number; text: string; event: number }[] = [];
  let text = '';
  const push = (line: string, event: number) => {
    out.push({ start: text.length, text: line, event });
    text += line;
  };
  if (names) push(`${names.join(',')}\n`, -1);
  const events: number[][] = [];
  for (const [e, st, r] of rows) {
    if (r === 0) push('# a comment, with 1,2,3,4\n', -1);
    else if (r === 1) push(st.crlf ? '\r\n' : '\n', -1);
    const field: Record<string, string> = {
      t: String(e.t),
      x: st.zeros + String(e.x),
      y: String(e.y),
      p: e.p === 1 ? '1' : st.minusOne ? '-1' : '0',
    };
    const cols = order.map((name) => field[COLUMN_OF[name]] ?? (st.extra || '0'));
    // Without a header, a fifth field is an ignored column.
    if (!names && st.extra) cols.push(st.extra);
    push(`${st.pad}${cols.join(st.sep)}${st.crlf ? '\r\n' : '\n'}`, events.length);
    events.push([e.t, e.x, e.y, e.p]);
  }
  return { text, header: names !== undefined, events, lines: out };
});

const chunkSizes = fc.array(fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 13, max: 70_000 })), { minLength: 1, maxLength: 4 });

/** Feeds `bytes` in `sizes` and returns every event delivered, the fault's included, and the fault. */
function decodeUntilFault(bytes: Uint8Array, sizes: readonly number[]): { rows: number[][]; error: DecodeError } {
  const dec = new CsvDecoder();
  const rows: number[][] = [];
  const take = (b: EventBatch) => rows.push(...toRows(b));
  const error = decodeErrorOf(() => {
    let i = 0;
    let k = 0;
    while (i < bytes.length) {
      const n = sizes[k++ % sizes.length];
      take(dec.write(bytes.subarray(i, i + n)));
      i += n;
    }
    take(dec.end());
  });
  take(error.events);
  return { rows, error };
}

describe('CsvDecoder on generated documents', () => {
  it('decodes every line style to its event under any chunking, Buffer or Uint8Array chunks', () => {
    fc.assert(fc.property(csvDoc, chunkSizes, fc.boolean(), (doc, sizes, asBuffer) => {
      const bytes = asBuffer ? Buffer.from(doc.text, 'latin1') : enc(doc.text);
      expect(toRows(decodeChunked(new CsvDecoder(), bytes, sizes))).toEqual(doc.events);
    }), { numRuns: 300 });
  });

  it('decodes the final line without a newline', () => {
    fc.assert(fc.property(csvDoc, chunkSizes, (doc, sizes) => {
      const text = doc.text.replace(/\r?\n$/, '');
      expect(toRows(decodeChunked(new CsvDecoder(), enc(text), sizes))).toEqual(doc.events);
    }), { numRuns: 100 });
  });

  it('names the line and column of a bad character, keeping every event before it', () => {
    const withBad = csvDoc.filter((d) => d.events.length > 0).chain((doc) => {
      const dataLines = doc.lines.filter((l) => l.event >= 0);
      return fc.tuple(fc.constant(doc), fc.constantFrom(...dataLines).chain((l) => fc.tuple(
        fc.constant(l), fc.integer({ min: 0, max: l.text.replace(/\r?\n$/, '').length - 1 }), fc.constantFrom('x', '!', '"', ':', '+'),
      )));
    });
    fc.assert(fc.property(withBad, chunkSizes, ([doc, [line, col, ch]], sizes) => {
      // Without a header, a letter in the first data line makes it read as a (bad) header.
      fc.pre(doc.header || line !== doc.lines.find((l) => l.event >= 0) || !/[a-z]/i.test(ch));
      const at = line.start + col;
      const text = doc.text.slice(0, at) + ch + doc.text.slice(at + 1);
      const { rows, error } = decodeUntilFault(enc(text), sizes);
      expect(error.code).toBe('CORRUPT');
      expect(error.offset).toBe(at);
      expect(error.message).toContain(`line ${doc.lines.indexOf(line) + 1}, column ${col + 1}:`);
      expect(rows).toEqual(doc.events.slice(0, line.event));
    }), { numRuns: 300 });
  });

  it('grows its output when a dense stretch follows a sparse one', () => {
    // The first 8 KiB are comments, so the events-per-byte estimate is low when the data arrives.
    const events = Array.from({ length: 3000 }, (_, i) => [i, i % 7, i % 5, i & 1]);
    const text = '# padding line of a comment block\n'.repeat(240) + events.map((e) => `${e.join(',')}\n`).join('');
    for (const sizes of [[8192], [8192, 30000], [4096, 3]]) {
      expect(toRows(decodeChunked(new CsvDecoder(), enc(text), sizes))).toEqual(events);
    }
  });

  it('points range errors at the field and a short line at its end', () => {
    const cases: { text: string; offset: number; line: number; column: number; reason: RegExp }[] = [
      { text: 't,x,y,p\n1,2,3,1\n10,70000,3,1\n', offset: 19, line: 3, column: 4, reason: /x=70000/ },
      { text: '1,2,3,1\r\n2,3,65536,0\r\n', offset: 13, line: 2, column: 5, reason: /y=65536/ },
      { text: '# c\n5 6 7 1\n5 6 7 2\n', offset: 18, line: 3, column: 7, reason: /polarity 2/ },
      { text: 'x,y,p,t\n1,2,1,5\n1,2,1,5.5\n', offset: 22, line: 3, column: 7, reason: /not an integer/ },
      { text: '1,2,3,1\n4,5,6\n', offset: 13, line: 2, column: 6, reason: /expected 4 fields/ },
      { text: 'x,y,p,extra,t\n1,2,1,0,5\n1,2,1,0\n', offset: 31, line: 3, column: 8, reason: /missing the header's column t/ },
    ];
    for (const c of cases) {
      for (const sizes of [[c.text.length], [1], [3, 7]]) {
        const { error } = decodeUntilFault(enc(c.text), sizes);
        expect(error.code).toBe('CORRUPT');
        expect(error.offset).toBe(c.offset);
        expect(error.message).toContain(`line ${c.line}, column ${c.column}:`);
        expect(error.message).toMatch(c.reason);
      }
    }
  });
});
