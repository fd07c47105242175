/**
 * DemoPlayer on a fake clock: every event of every recording goes out once, in order, shifted so
 * event time keeps increasing across recordings and loops; none before its time at the chosen
 * speed; a flush ends each recording and nothing is sent during the pause; stream-mode batches
 * carry a clock that never runs behind the events already sent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventBatch } from '../../../src/events/batch.js';
import { DemoPlayer, type DemoAction } from '../../../src/serve/demo/demo-player.js';
import type { DemoRecording } from '../../../src/serve/demo/demo-recordings.js';

function recording(file: string, ts: readonly number[], label?: string): DemoRecording {
  const events: EventBatch = { t: Float64Array.from(ts), x: Uint16Array.from(ts, (_, i) => i % 34), y: Uint16Array.from(ts, (_, i) => (i * 3) % 34), p: Uint8Array.from(ts, (_, i) => i & 1) };
  return { file, ...(label !== undefined ? { label } : {}), events, tMin: Math.min(...ts), tMax: Math.max(...ts) };
}

/** Sorted timestamps starting anywhere, 1..40 events over up to 50 ms. */
const recordingArb = fc.tuple(fc.integer({ min: 0, max: 1e9 }), fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 1, maxLength: 40 }))
  .map(([t0, offs]) => [...offs].sort((a, b) => a - b).map((o) => t0 + o));

describe('DemoPlayer', () => {
  it('plays every recording in order at its pace, flushes each, pauses, loops with time moving forward', () => {
    fc.assert(fc.property(
      fc.array(recordingArb, { minLength: 1, maxLength: 4 }),
      fc.constantFrom(0.5, 1, 4),
      fc.integer({ min: 0, max: 300 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      (tss, speed, pauseMs, ticks, clock) => {
        const recs = tss.map((ts, i) => recording(`r${i}`, ts, String(i)));
        const p = new DemoPlayer(recs, { speed, pauseMs, clock });
        let now = 1000;
        const sent: { t: number; x: number; wall: number; rec: number }[] = [];
        const flushes: number[] = [];
        const flushWalls: number[] = [];
        let lastClock = -Infinity;
        let pausedSince: number | undefined;
        const passes = 2 * recs.length;
        for (let k = 0; flushes.length < passes; k++) {
          const before = p.playing();
          const acts: DemoAction[] = p.advance(now);
          const rec = p.playing()?.index ?? -1;
          if (pausedSince !== undefined && before === p.playing()) expect(acts).toEqual([]);
          if (before !== p.playing()) pausedSince = undefined;
          for (const a of acts) {
            if (a.kind === 'flush') {
              flushes.push(rec);
              flushWalls.push(now);
              pausedSince = now;
              continue;
            }
            const b = a.batch;
            if (clock) {
              expect(b.clockUs).toBeDefined();
              expect(b.clockUs as number).toBeGreaterThanOrEqual(lastClock);
              lastClock = b.clockUs as number;
            } else {
              expect(b.clockUs).toBeUndefined();
            }
            for (let i = 0; i < b.t.length; i++) {
              sent.push({ t: b.t[i], x: b.x[i], wall: now, rec });
              if (clock) expect(b.t[i]).toBeLessThanOrEqual(b.clockUs as number);
            }
          }
          now += ticks[k % ticks.length];
          if (k > 1e6) throw new Error('the player never finished');
        }
        // Recordings in order, each flushed once per pass.
        expect(flushes).toEqual(Array.from({ length: passes }, (_, i) => i % recs.length));
        // Every event once per pass, in recording order, time strictly moving on between recordings.
        let at = 0;
        let prevEnd = -Infinity;
        for (let pass = 0; pass < passes; pass++) {
          const r = recs[pass % recs.length];
          const n = r.events.t.length;
          const mine = sent.slice(at, at + n);
          at += n;
          expect(mine.every((e) => e.rec === pass % recs.length)).toBe(true);
          expect(mine.map((e) => e.x)).toEqual(Array.from(r.events.x));
          const shift = mine[0].t - r.events.t[0];
          expect(Number.isInteger(shift)).toBe(true);
          expect(mine.map((e) => e.t - shift)).toEqual(Array.from(r.events.t));
          expect(mine[0].t).toBeGreaterThanOrEqual(prevEnd);
          if (pass > 0) {
            expect(mine[0].t - prevEnd).toBeGreaterThanOrEqual(Math.floor(pauseMs * 1000 * speed));
            expect(mine[0].wall).toBeGreaterThanOrEqual(flushWalls[pass - 1] + pauseMs);
          }
          prevEnd = mine[n - 1].t;
          // Paced: no event before (its offset in the recording) / speed of wall time since the first.
          const w0 = mine[0].wall;
          for (let i = 0; i < n; i++) expect(mine[i].wall - w0).toBeGreaterThanOrEqual((r.events.t[i] - r.tMin) / 1000 / speed - 1e-9);
        }
        expect(at).toBe(sent.length);
      },
    ), { numRuns: 60 });
  });

  it('says what is playing, with its label and span in shifted time', () => {
    const p = new DemoPlayer([recording('a.bin', [100, 200], '7'), recording('b.bin', [5, 10])], { speed: 1, pauseMs: 10, clock: false });
    p.advance(0);
    expect(p.playing()).toMatchObject({ index: 0, file: 'a.bin', label: '7', tStart: 100, tEnd: 200 });
    p.advance(1); // past the end: flush, pause
    p.advance(11);
    expect(p.playing()).toMatchObject({ index: 1, file: 'b.bin', tStart: 200 + 10_000, tEnd: 200 + 10_000 + 5 });
    expect(p.playing()?.label).toBeUndefined();
  });

  it('refuses what cannot play', () => {
    expect(() => new DemoPlayer([], { speed: 1, pauseMs: 0, clock: false })).toThrow(/at least one recording/);
    expect(() => new DemoPlayer([recording('a', [1])], { speed: 0, pauseMs: 0, clock: false })).toThrow(/speed/);
    expect(() => new DemoPlayer([recording('a', [1])], { speed: 1, pauseMs: -1, clock: false })).toThrow(/pause/);
  });
});
