/**
 * The session queue against a plain model (arrays of event ids): any interleaving of pushes,
 * control messages and partial takes yields the same items in the same order, drops exactly the
 * oldest queued events, keeps clocks, and its counters always add up.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionQueue, type ControlKind } from '../../src/serve/session-queue.js';
import type { ClockedBatch } from '../../src/stream/clocked-batch.js';

type Op =
  | { op: 'events'; n: number; clock: boolean }
  | { op: 'control'; kind: ControlKind }
  | { op: 'take'; max: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('events' as const), n: fc.integer({ min: 0, max: 40 }), clock: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('control' as const), kind: fc.constantFrom<ControlKind>('flush', 'reset', 'bye') }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('take' as const), max: fc.integer({ min: 1, max: 30 }) }), weight: 3 },
);

/** Model item: remaining event ids (t = id) and the clock. */
type ModelItem = { kind: 'events'; ids: number[]; clock?: number } | { kind: ControlKind };

describe('SessionQueue', () => {
  it('matches a plain model: order, drop-oldest (down to half the bound), clocks and counters', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 12 }), fc.array(opArb, { maxLength: 120 }), (maxEvents, maxMessages, ops) => {
      const q = new SessionQueue(maxEvents, maxMessages);
      const model: ModelItem[] = [];
      let nextId = 0;
      let dropped = 0;
      let pushed = 0;
      const liveEvents = () => model.reduce((a, it) => a + (it.kind === 'events' ? it.ids.length : 0), 0);
      // Items the real queue still counts towards maxMessages (spent batches until they reach the head).
      let counted = 0;
      for (const o of ops) {
        if (o.op === 'events') {
          if (o.n === 0 && !o.clock) continue;
          const ids = Array.from({ length: o.n }, () => nextId++);
          const clock = o.clock ? nextId + 1000 : undefined;
          const b: ClockedBatch = { t: Float64Array.from(ids), x: new Uint16Array(o.n), y: new Uint16Array(o.n), p: new Uint8Array(o.n), ...(clock !== undefined ? { clockUs: clock } : {}) };
          const r = q.pushEvents(b, 0);
          if (counted >= maxMessages) {
            expect(r).toBe(false);
            continue;
          }
          counted++;
          pushed += o.n;
          model.push({ kind: 'events', ids, ...(clock !== undefined ? { clock } : {}) });
          let excess = liveEvents() > maxEvents ? liveEvents() - Math.floor(maxEvents / 2) : 0;
          let d = 0;
          for (const it of model) {
            if (excess <= 0) break;
            if (it.kind !== 'events') continue;
            const k = Math.min(excess, it.ids.length);
            it.ids.splice(0, k);
            excess -= k;
            d += k;
          }
          dropped += d;
          expect(r).toBe(d);
        } else if (o.op === 'control') {
          const ok = q.pushControl(o.kind, 0);
          expect(ok).toBe(counted < maxMessages);
          if (ok) {
            counted++;
            model.push({ kind: o.kind });
          }
        } else {
          // The model's head: skip events items with nothing left and no clock.
          while (model.length > 0 && model[0].kind === 'events' && (model[0] as { ids: number[] }).ids.length === 0 && (model[0] as { clock?: number }).clock === undefined) {
            model.shift();
          }
          const head = q.peek();
          if (model.length === 0) {
            expect(head).toBeUndefined();
          } else if (model[0].kind !== 'events') {
            expect(head?.kind).toBe(model[0].kind);
            q.shift();
            model.shift();
          } else {
            const m = model[0] as { ids: number[]; clock?: number };
            expect(head?.kind).toBe('events');
            const got = q.takeEvents(o.max);
            const want = m.ids.splice(0, o.max);
            expect(Array.from(got.t)).toEqual(want);
            if (m.ids.length === 0) {
              expect(got.clockUs).toBe(m.clock);
              model.shift();
            } else {
              expect(got.clockUs).toBeUndefined();
            }
          }
        }
        counted = Math.min(counted, q.messages);
        expect(q.events).toBe(liveEvents());
        expect(q.dropped).toBe(dropped);
        expect(q.events).toBeLessThanOrEqual(maxEvents);
      }
      expect(pushed - dropped).toBeGreaterThanOrEqual(q.events);
    }), { numRuns: 400, seed: 1 });
  });

  it('refuses messages beyond maxMessages without dropping anything', () => {
    const q = new SessionQueue(100, 2);
    const one = { t: Float64Array.of(1), x: Uint16Array.of(0), y: Uint16Array.of(0), p: Uint8Array.of(0) };
    expect(q.pushEvents(one, 0)).toBe(0);
    expect(q.pushControl('flush', 0)).toBe(true);
    expect(q.pushEvents(one, 0)).toBe(false);
    expect(q.pushControl('reset', 0)).toBe(false);
    expect({ events: q.events, dropped: q.dropped, messages: q.messages }).toEqual({ events: 1, dropped: 0, messages: 2 });
  });
});
