/**
 * The hand-written check of `events` messages (src/serve/well-formed-events.ts) accepts only what
 * the protocol's zod schemas accept, so every malformed message still reaches the schemas and gets
 * their error; and it does accept the messages clients send.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clockSchema } from '../../src/serve/protocol.js';
import { wellFormedEvents } from '../../src/serve/well-formed-events.js';
import { encodeEventsMessage, decodeFrame, eventsMessageSchema, type AnyMessage } from '../../src/stream/protocol-events.js';

const schemasAccept = (m: AnyMessage): boolean => eventsMessageSchema.safeParse(m).success && (m.clock === undefined || clockSchema.safeParse(m.clock).success);

describe('wellFormedEvents', () => {
  it('accepts a subset of what the schemas accept', () => {
    // Numbers near every boundary the schemas draw, other values now and then, mostly binary columns.
    const edges = [-1, 0, 1, 1.5, -0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, 2 ** 53 - 2 ** 31, 2 ** 53 - 2 ** 31 + 1, -(2 ** 53 - 2 ** 31), -(2 ** 53 - 2 ** 31) - 1, 1e300];
    const num = fc.oneof(fc.constantFrom(...edges), fc.integer(), fc.double());
    const other = fc.oneof(fc.string(), fc.constant(null), fc.uint8Array({ maxLength: 8 }), fc.array(fc.integer(), { maxLength: 3 }), fc.constant(new Uint16Array(2)));
    const field = fc.oneof({ arbitrary: num, weight: 8 }, { arbitrary: other, weight: 1 });
    const column = fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 8 }), weight: 10 }, { arbitrary: fc.oneof(num, other), weight: 1 });
    const message = fc.record({
      type: fc.oneof({ arbitrary: fc.constant('events'), weight: 8 }, { arbitrary: fc.constantFrom('event', 'raw'), weight: 1 }),
      t0: field, t: column, x: column, y: column, p: column,
      seq: fc.option(field, { nil: undefined }), clock: fc.option(field, { nil: undefined }),
    }, { requiredKeys: ['type'] });
    fc.assert(fc.property(message, (m) => {
      if (wellFormedEvents(m as AnyMessage) !== undefined) expect(schemasAccept(m as AnyMessage)).toBe(true);
    }), { numRuns: 3000, seed: 11 });
  });

  it('accepts what encodeEventsMessage writes, with or without seq and clock', () => {
    const b = { t: Float64Array.of(10, 20, 35), x: Uint16Array.of(1, 2, 3), y: Uint16Array.of(4, 5, 6), p: Uint8Array.of(0, 1, 1) };
    for (const o of [{}, { seq: 3 }, { clock: 40 }, { seq: 0, clock: 2 ** 53 - 2 ** 31 }]) {
      const m = decodeFrame(encodeEventsMessage(b, o), true);
      expect(wellFormedEvents(m)).toBe(m);
    }
  });
});
