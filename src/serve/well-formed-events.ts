/**
 * The hot path's check of an `events` message (connection.ts): the message itself when it is
 * well formed, checked by hand. It accepts a subset of what the zod schemas accept
 * (eventsMessageSchema, and clockSchema for `clock`; test/serve/well-formed-events.test.ts), so the
 * schemas, which name what is wrong, only see the rest. Zod took a few microseconds of each
 * message, about a tenth of the server's per-message cost at 1 kHz per stream.
 */
import type { AnyMessage, EventsMessage } from '../stream/protocol-events.js';

/** events.clock bounds (clockSchema's). */
const MAX_CLOCK = 2 ** 53 - 2 ** 31;

export function wellFormedEvents(m: AnyMessage): EventsMessage | undefined {
  const { t0, t, x, y, p, seq, clock } = m;
  if (m.type !== 'events' || typeof t0 !== 'number' || !Number.isFinite(t0)) return undefined;
  if (!(t instanceof Uint8Array && x instanceof Uint8Array && y instanceof Uint8Array && p instanceof Uint8Array)) return undefined;
  if (seq !== undefined && !(typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0)) return undefined;
  if (clock !== undefined && !(typeof clock === 'number' && Number.isSafeInteger(clock) && Math.abs(clock) <= MAX_CLOCK)) return undefined;
  return m as unknown as EventsMessage;
}
