/** Wire protocol v1 <-> EventBatch: round trips, every validation error, raw chunks, Python interop. */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { DecodeError } from '../../src/events/decode-error.js';
import { NmnistDecoder } from '../../src/events/nmnist.js';
import type { ClockedBatch } from '../../src/stream/clocked-batch.js';
import { ProtocolError } from '../../src/stream/protocol-error.js';
import {
  decodeFrame, encodeEventsMessage, encodeRawMessage, endRawDecode, eventsMessageToBatch, initRawDecode, parseEventsClock, parseEventsMessage, parseRawMessage,
  rawMessageToBatch, type EventsMessage,
} from '../../src/stream/protocol-events.js';
import { decodeChunked, toRows } from '../helpers/events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { findPython, runPython } from '../helpers/python.js';
import { joined, NMNIST_REL, splitAt } from './helpers.js';

const packr = new Packr({ useRecords: false });
const toBatch = (bytes: Uint8Array, o = {}) => eventsMessageToBatch(parseEventsMessage(decodeFrame(bytes, true)), o);

function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('events messages', () => {
  it('round-trip any batch (negative offsets included) through msgpack bytes', () => {
    const ev = fc.tuple(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.nat(65535), fc.nat(65535), fc.nat(1));
    fc.assert(fc.property(fc.array(ev, { minLength: 1, maxLength: 50 }), fc.integer({ min: 0, max: 2 ** 40 }), (rows, base) => {
      const b = batchFrom({ t: rows.map((r) => base + r[0]), x: rows.map((r) => r[1]), y: rows.map((r) => r[2]), p: rows.map((r) => r[3]) });
      expect(toRows(toBatch(encodeEventsMessage(b, { seq: 3 })))).toEqual(toRows(b));
    }));
  });

  it('turns an events message without events into a heartbeat at t0', () => {
    const hb = toBatch(encodeEventsMessage(batchFrom({ t: [], x: [], y: [], p: [] }), { t0: 123456 })) as ClockedBatch;
    expect(hb.t.length).toBe(0);
    expect(hb.clockUs).toBe(123456);
  });

  it('copies columns out of the message even when they sit at odd offsets', () => {
    const x = Buffer.alloc(5);
    x.writeUInt16LE(7, 1);
    x.writeUInt16LE(9, 3);
    const msg = { type: 'events', t0: 10, t: new Uint8Array(8), x: x.subarray(1), y: new Uint8Array(4), p: new Uint8Array(2) };
    expect(toRows(toBatch(packr.pack(msg)))).toEqual([[10, 7, 0, 0], [10, 9, 0, 0]]);
  });

  it('agrees with a straightforward DataView reference for random messages at any byte offsets, errors included', () => {
    // The reference reads every field with DataView, one event at a time, and validates in order.
    const reference = (msg: EventsMessage, w = 65536, h = 65536, maxEvents = 1 << 22): unknown => {
      const n = msg.p.length;
      if (msg.t.length !== 4 * n || msg.x.length !== 2 * n || msg.y.length !== 2 * n) return 'BAD_MESSAGE';
      if (!Number.isInteger(msg.t0) || Math.abs(msg.t0) > 2 ** 53 - 1 - 2 ** 31) return 'BAD_MESSAGE';
      if (n > maxEvents) return 'TOO_LARGE';
      const dv = (u: Uint8Array) => new DataView(u.buffer, u.byteOffset, u.byteLength);
      const rows: number[][] = [];
      for (let i = 0; i < n; i++) {
        const row = [msg.t0 + dv(msg.t).getInt32(4 * i, true), dv(msg.x).getUint16(2 * i, true), dv(msg.y).getUint16(2 * i, true), msg.p[i]];
        if (row[3] > 1) return `BAD_MESSAGE events.p[${i}]`;
        if (row[1] >= w || row[2] >= h) return `OUT_OF_RANGE events[${i}]`;
        rows.push(row);
      }
      return rows;
    };
    const outcome = (fn: () => ClockedBatch): unknown => {
      try {
        const b = fn();
        return b.t.length === 0 ? `heartbeat ${b.clockUs}` : toRows(b);
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
        const m = /^(events(?:\.p)?\[\d+\])/.exec((e as ProtocolError).message);
        return m ? `${(e as ProtocolError).code} ${m[1]}` : (e as ProtocolError).code;
      }
    };
    // A column's bytes placed at `offset` inside a larger buffer (msgpack bins sit at any offset).
    const placed = (bytes: Uint8Array, offset: number) => {
      const whole = new Uint8Array(bytes.length + offset + 3).fill(0xa5);
      whole.set(bytes, offset);
      return whole.subarray(offset, offset + bytes.length);
    };
    const column = (len: fc.Arbitrary<number>) => fc.tuple(len.chain((k) => fc.uint8Array({ minLength: k, maxLength: k })), fc.nat(7)).map(([b, o]) => placed(b, o));
    const arb = fc.nat(40).chain((n) => fc.record({
      // Mostly consistent lengths, sometimes one byte off.
      t: column(fc.oneof({ weight: 9, arbitrary: fc.constant(4 * n) }, { weight: 1, arbitrary: fc.nat(4 * n + 1) })),
      x: column(fc.oneof({ weight: 9, arbitrary: fc.constant(2 * n) }, { weight: 1, arbitrary: fc.nat(2 * n + 1) })),
      y: column(fc.constant(2 * n)),
      p: fc.tuple(fc.array(fc.oneof({ weight: 30, arbitrary: fc.nat(1) }, { weight: 1, arbitrary: fc.nat(255) }), { minLength: n, maxLength: n }), fc.nat(7))
        .map(([v, o]) => placed(Uint8Array.from(v), o)),
      t0: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: -(2 ** 52), max: 2 ** 52 }) }, { weight: 1, arbitrary: fc.constantFrom(0.5, Infinity, -Infinity, NaN, 2 ** 53) }),
      // Sensor sides: none, random, or right at the largest coordinate sent (the boundary).
      w: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 65536 }), fc.constantFrom('max' as const, 'max+1' as const)),
      h: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 65536 }), fc.constantFrom('max' as const, 'max+1' as const)),
      maxEvents: fc.option(fc.nat(45)),
    }));
    const side = (s: number | 'max' | 'max+1' | undefined, col: Uint8Array): number | undefined => {
      if (typeof s !== 'string') return s;
      let m = 0;
      for (let i = 0; i + 1 < col.length; i += 2) m = Math.max(m, col[i] | (col[i + 1] << 8));
      return Math.max(1, s === 'max' ? m : m + 1);
    };
    fc.assert(fc.property(arb, ({ t, x, y, p, t0, w: ws, h: hs, maxEvents }) => {
      const msg: EventsMessage = { type: 'events', t0, t, x, y, p };
      const w = side(ws, x);
      const h = side(hs, y);
      const o = { width: w, height: h, limits: maxEvents === null ? undefined : { maxEventsPerMessage: maxEvents } };
      const want = reference(msg, w, h, maxEvents ?? undefined);
      const got = outcome(() => eventsMessageToBatch(msg, o));
      expect(got).toEqual(Array.isArray(want) && want.length === 0 ? `heartbeat ${t0}` : want);
      if (Array.isArray(got) && got.length > 0) {
        // The batch owns its data: overwriting the message afterwards does not change it.
        const b = eventsMessageToBatch(msg, o);
        for (const c of [t, x, y, p]) c.fill(0xff);
        expect(toRows(b)).toEqual(got);
      }
    }), { numRuns: 500 });
  });

  it('converts large messages (both allocation strategies) at aligned and odd offsets, owning their data', () => {
    for (const n of [4096, 4097, 20000]) {
      const ts = Array.from({ length: n }, (_, i) => 2 ** 40 + ((i * 7919) % 100000) - 50000);
      const b = batchFrom({ t: ts, x: ts.map((_, i) => (i * 31) % 640), y: ts.map((_, i) => (i * 17) % 480), p: ts.map((_, i) => (i >> 1) & 1) });
      const msg = parseEventsMessage(decodeFrame(encodeEventsMessage(b), true));
      for (const offset of [0, 1, 2, 3]) {
        const at = (u: Uint8Array) => {
          const whole = new Uint8Array(u.length + offset);
          whole.set(u, offset);
          return whole.subarray(offset);
        };
        const m: EventsMessage = { ...msg, t: at(msg.t), x: at(msg.x), y: at(msg.y), p: at(msg.p) };
        const got = eventsMessageToBatch(m, { width: 640, height: 480 });
        for (const c of [m.t, m.x, m.y, m.p]) c.fill(0);
        expect(toRows(got)).toEqual(toRows(b));
      }
    }
  });

  it('carries an optional clock with the events, keeping messages without one unchanged', () => {
    const b = batchFrom({ t: [1000, 1010], x: [1, 2], y: [3, 4], p: [0, 1] });
    const withClock = decodeFrame(encodeEventsMessage(b, { seq: 4, clock: 1500 }), true);
    expect(withClock.clock).toBe(1500);
    expect(parseEventsClock(withClock)).toBe(1500);
    // Readers that ignore the clock see the same events as before.
    expect(toRows(eventsMessageToBatch(parseEventsMessage(withClock)))).toEqual(toRows(b));
    const without = decodeFrame(encodeEventsMessage(b, { seq: 4 }), true);
    expect('clock' in without).toBe(false);
    expect(parseEventsClock(without)).toBeUndefined();
    // A clock alone is a tick whose t0 is the clock too, so clock-unaware readers see the same tick.
    const tick = decodeFrame(encodeEventsMessage(batchFrom({ t: [], x: [], y: [], p: [] }), { clock: 2000 }), true);
    expect(tick.clock).toBe(2000);
    expect((eventsMessageToBatch(parseEventsMessage(tick)) as ClockedBatch).clockUs).toBe(2000);
    expect(() => encodeEventsMessage(b, { clock: 1.5 })).toThrowError(RangeError);
    expect(() => encodeEventsMessage(b, { clock: 2 ** 53 })).toThrowError(RangeError);
    // Clock and t0 share one bound: a tick at the largest clock the encoder accepts decodes, one past it is refused.
    const edge = 2 ** 53 - 1 - 2 ** 31;
    const edgeTick = parseEventsMessage(decodeFrame(encodeEventsMessage(batchFrom({ t: [], x: [], y: [], p: [] }), { clock: edge }), true));
    expect((eventsMessageToBatch(edgeTick) as ClockedBatch).clockUs).toBe(edge);
    expect(() => encodeEventsMessage(b, { clock: edge + 1 })).toThrowError(RangeError);
    expect(protocolError(() => parseEventsClock({ type: 'events', clock: edge + 1 })).code).toBe('BAD_MESSAGE');
    for (const clock of [1.5, '7', Infinity, 2 ** 53]) {
      const e = protocolError(() => parseEventsClock({ type: 'events', clock }));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.message).toMatch(/events\.clock/);
    }
  });

  const good = () => ({ type: 'events', t0: 1000, t: new Uint8Array(4), x: new Uint8Array([3, 0]), y: new Uint8Array([4, 0]), p: new Uint8Array([1]) });
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['missing t0', { t0: undefined }, 'BAD_MESSAGE', /events\.t0/],
    ['non-finite t0', { t0: Infinity }, 'BAD_MESSAGE', /t0/],
    ['fractional t0', { t0: 1.5 }, 'BAD_MESSAGE', /integer/],
    ['t as a string', { t: 'abc' }, 'BAD_MESSAGE', /events\.t/],
    ['x as an array of numbers', { x: [3] }, 'BAD_MESSAGE', /events\.x/],
    ['mismatched lengths', { t: new Uint8Array(8) }, 'BAD_MESSAGE', /column lengths disagree/],
    ['polarity 2', { p: new Uint8Array([2]) }, 'BAD_MESSAGE', /polarity must be 0 or 1/],
    ['negative seq', { seq: -1 }, 'BAD_MESSAGE', /events\.seq/],
  ];
  for (const [name, patch, code, re] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      const e = protocolError(() => toBatch(packr.pack({ ...good(), ...patch })));
      expect(e.code).toBe(code);
      expect(e.message).toMatch(re);
    });
  }

  it('rejects coordinates outside the declared sensor (OUT_OF_RANGE) and too many events (TOO_LARGE)', () => {
    expect(protocolError(() => toBatch(packr.pack(good()), { width: 3, height: 10 })).code).toBe('OUT_OF_RANGE');
    expect(toRows(toBatch(packr.pack(good()), { width: 4, height: 5 }))).toEqual([[1000, 3, 4, 1]]);
    expect(protocolError(() => toBatch(packr.pack(good()), { limits: { maxEventsPerMessage: 0 } })).code).toBe('TOO_LARGE');
  });

  it('rejects frames that do not decode or are not typed maps', () => {
    expect(protocolError(() => decodeFrame(new Uint8Array([0xde, 0x00, 0x02]), true)).message).toMatch(/msgpack frame does not decode/);
    expect(protocolError(() => decodeFrame(new Uint8Array([0xc1]), true)).code).toBe('BAD_MESSAGE');
    expect(protocolError(() => decodeFrame('{"type": ', false)).message).toMatch(/JSON frame does not decode/);
    expect(protocolError(() => decodeFrame(packr.pack([1, 2]), true)).message).toMatch(/map with a string "type"/);
    expect(decodeFrame('{"type":"flush"}', false)).toEqual({ type: 'flush' });
    // A JSON events message cannot carry bin columns.
    expect(protocolError(() => parseEventsMessage(decodeFrame(JSON.stringify({ ...good(), t: [0, 0, 0, 0] }), false))).message).toMatch(/events\.t/);
  });

  it('decodes a message written by Python msgpack with plain struct packing (when python3-msgpack is available)', () => {
    const py = findPython(['msgpack']);
    if (!py) {
      if (process.env.CI) throw new Error('CI needs a python3 with msgpack');
      return;
    }
    const hex = runPython(py, [
      'import msgpack, struct, sys',
      't = struct.pack("<3i", 0, 5, -2); x = struct.pack("<3H", 1, 2, 300); y = struct.pack("<3H", 4, 5, 6); p = bytes([1, 0, 1])',
      'sys.stdout.write(msgpack.packb({"type": "events", "seq": 0, "t0": 2**40, "t": t, "x": x, "y": y, "p": p}, use_bin_type=True).hex())',
    ].join('\n'));
    expect(toRows(toBatch(Buffer.from(hex, 'hex')))).toEqual([[2 ** 40, 1, 4, 1], [2 ** 40 + 5, 2, 5, 0], [2 ** 40 - 2, 300, 6, 1]]);
  });
});

describeWithFixtures('raw messages', [NMNIST_REL], () => {
  const bytes = new Uint8Array(readFileSync(sharedFixture(NMNIST_REL)));
  const want = toRows(decodeChunked(new NmnistDecoder(), bytes));

  it('chunks split at arbitrary bytes decode to the file\'s events', () => {
    fc.assert(fc.property(fc.array(fc.nat(bytes.length), { maxLength: 10 }), (cuts) => {
      let s = initRawDecode();
      const out = [];
      const pts = [...new Set(cuts)].sort((a, b) => a - b);
      let prev = 0;
      for (const c of [...pts, bytes.length]) {
        const m = parseRawMessage(decodeFrame(encodeRawMessage('nmnist', bytes.subarray(prev, c)), true));
        const r = rawMessageToBatch(s, m);
        s = r.state;
        out.push(r.events);
        prev = c;
      }
      const rest = endRawDecode(s);
      if (rest) out.push(rest);
      expect(joined(out)).toEqual(want);
    }), { numRuns: 30 });
  });

  it('rejects a format change on the same connection and reports a truncated end', () => {
    let s = rawMessageToBatch(initRawDecode(), parseRawMessage({ type: 'raw', format: 'nmnist', data: bytes.subarray(0, 7) })).state;
    expect(protocolError(() => rawMessageToBatch(s, parseRawMessage({ type: 'raw', format: 'evt3', data: bytes.subarray(7, 9) }))).code).toBe('BAD_MESSAGE');
    s = rawMessageToBatch(s, parseRawMessage({ type: 'raw', format: 'nmnist', data: bytes.subarray(7, 9) })).state;
    expect(() => endRawDecode(s)).toThrowError(DecodeError);
    expect(protocolError(() => parseRawMessage({ type: 'raw', format: 'mp4', data: new Uint8Array(1) })).message).toMatch(/raw\.format/);
  });

  it('splitAt helper sanity: batches re-join to the original', () => {
    const b = batchFrom({ t: [1, 2, 3], x: [0, 0, 0], y: [0, 0, 0], p: [0, 1, 0] });
    expect(joined(splitAt(b, [1, 1, 3]))).toEqual(toRows(b));
  });
});
