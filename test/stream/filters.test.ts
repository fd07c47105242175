/** Filters on small hand-made event lists with the expected survivors, and through the operators. */
import fc from 'fast-check';
import { map, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchFrom, type EventBatch } from '../../src/events/batch.js';
import { centerCrop, centerCropEvents } from '../../src/stream/center-crop.js';
import { heartbeat, type ClockedBatch } from '../../src/stream/clocked-batch.js';
import { crop, cropEvents } from '../../src/stream/crop.js';
import { denoise, denoiseEvents, initDenoise, type DenoiseOptions } from '../../src/stream/denoise.js';
import { downsample, downsampleEvents } from '../../src/stream/downsample.js';
import { flipLR, flipLREvents } from '../../src/stream/flip-lr.js';
import { flipUD, flipUDEvents } from '../../src/stream/flip-ud.js';
import { mergePolarities, mergePolaritiesEvents } from '../../src/stream/merge-polarities.js';
import { initRefractoryPeriod, refractoryPeriod, refractoryPeriodEvents } from '../../src/stream/refractory-period.js';
import { StreamError } from '../../src/stream/stream-error.js';
import { initSuppressHotPixels, suppressHotPixels, suppressHotPixelsEvents, type SuppressHotPixelsOptions } from '../../src/stream/suppress-hot-pixels.js';
import { transpose, transposeEvents } from '../../src/stream/transpose.js';
import { toRows } from '../helpers/events.js';
import { joined, splitAt } from './helpers.js';

/** Events from [t, x, y, p] rows. */
function ev(rows: number[][]): EventBatch {
  return batchFrom({ t: rows.map((r) => r[0]), x: rows.map((r) => r[1]), y: rows.map((r) => r[2]), p: rows.map((r) => r[3]) });
}

function runDenoise(rows: number[][], o: Partial<DenoiseOptions> = {}): number[][] {
  return toRows(denoiseEvents(initDenoise({ filterTimeUs: 100, width: 4, height: 4, ...o }), ev(rows)).events);
}

describe('denoise (tonic Denoise semantics)', () => {
  it('drops an isolated event and keeps one whose 4-neighbour fired less than filter_time before', () => {
    expect(runDenoise([[1000, 1, 1, 1], [1050, 2, 1, 0]])).toEqual([[1050, 2, 1, 0]]);
  });

  it('uses a strict inequality: a neighbour exactly filter_time earlier does not count', () => {
    expect(runDenoise([[1000, 1, 1, 1], [1100, 2, 1, 0]])).toEqual([]);
    expect(runDenoise([[1000, 1, 1, 1], [1099, 1, 2, 0]])).toEqual([[1099, 1, 2, 0]]);
  });

  it('ignores the pixel itself and, by default, the diagonals', () => {
    expect(runDenoise([[1000, 1, 1, 1], [1010, 1, 1, 1], [1020, 2, 2, 1]])).toEqual([]);
    expect(runDenoise([[1000, 1, 1, 1], [1020, 2, 2, 1]], { neighbourhood: 8 })).toEqual([[1020, 2, 2, 1]]);
  });

  it('lets dropped events refresh the memory (an isolated pair: the second survives)', () => {
    expect(runDenoise([[1000, 0, 0, 1], [1001, 0, 1, 1], [1002, 3, 3, 0]])).toEqual([[1001, 0, 1, 1]]);
  });

  it('keeps tonic\'s initial memory: before filter_time every in-sensor neighbour counts as recent', () => {
    expect(runDenoise([[50, 1, 1, 1]])).toEqual([[50, 1, 1, 1]]);
    expect(runDenoise([[150, 1, 1, 1]])).toEqual([]);
  });

  it('rejects events outside the sensor with an OUT_OF_RANGE StreamError', () => {
    expect(() => runDenoise([[1000, 4, 0, 1]])).toThrowError(StreamError);
    try {
      runDenoise([[1000, 4, 0, 1]]);
    } catch (e) {
      expect((e as StreamError).code).toBe('OUT_OF_RANGE');
    }
  });

  it('rejects bad options where the pipeline is built', () => {
    expect(() => denoise({ filterTimeUs: 0, width: 4, height: 4 })).toThrowError(/filterTimeUs/);
    expect(() => denoise({ filterTimeUs: 10, width: 4, height: 4, neighbourhood: 6 as 4 })).toThrowError(/neighbourhood/);
  });
});

function runRefractory(rows: number[][], r = 100): number[][] {
  return toRows(refractoryPeriodEvents(initRefractoryPeriod({ refractoryUs: r, width: 4, height: 4 }), ev(rows)).events);
}

describe('refractoryPeriod (tonic RefractoryPeriod semantics)', () => {
  it('keeps an event only when more than the period passed since the pixel\'s last event, kept or not', () => {
    const rows = [[1000, 1, 1, 1], [1100, 1, 1, 0], [1150, 1, 1, 1], [1300, 1, 1, 1], [1120, 2, 1, 1]];
    expect(runRefractory(rows)).toEqual([[1000, 1, 1, 1], [1300, 1, 1, 1], [1120, 2, 1, 1]]);
  });

  it('drops an event at t = 0 and keeps one at t = 1 (initial memory -period, strict >)', () => {
    expect(runRefractory([[0, 1, 1, 1], [1, 2, 2, 1]])).toEqual([[1, 2, 2, 1]]);
  });

  it('drops a late event and moves the pixel memory back to it', () => {
    expect(runRefractory([[2000, 1, 1, 1], [1500, 1, 1, 1], [1601, 1, 1, 0]])).toEqual([[2000, 1, 1, 1], [1601, 1, 1, 0]]);
  });
});

function runHot(rows: number[][], o: Partial<SuppressHotPixelsOptions> = {}): number[][] {
  return toRows(suppressHotPixelsEvents(initSuppressHotPixels({ maxRateHz: 2000, windowUs: 1000, width: 4, height: 4, ...o }), ev(rows)).events);
}

describe('suppressHotPixels', () => {
  it('drops a pixel\'s events above the rate for the rest of its window and the whole next one', () => {
    // threshold = 2000 Hz * 1000 us = 2 events per window; pixel (1,1) fires 4 times in window 0.
    const rows = [[0, 1, 1, 1], [100, 1, 1, 1], [150, 2, 2, 0], [200, 1, 1, 1], [300, 1, 1, 1], [1100, 1, 1, 1], [1200, 2, 2, 0], [2100, 1, 1, 0]];
    expect(runHot(rows)).toEqual([[0, 1, 1, 1], [100, 1, 1, 1], [150, 2, 2, 0], [1200, 2, 2, 0], [2100, 1, 1, 0]]);
  });

  it('aligns windows to originUs when given, and counts late events in the current window', () => {
    // origin 500: window 0 = [500, 1500); the late event at 400 counts there.
    expect(runHot([[600, 1, 1, 1], [400, 1, 1, 1], [700, 1, 1, 1], [1600, 1, 1, 1]], { originUs: 500 }))
      .toEqual([[600, 1, 1, 1], [400, 1, 1, 1]]);
  });
});

describe('geometry filters', () => {
  const rows = [[1, 0, 0, 1], [2, 1, 1, 0], [3, 2, 2, 1], [4, 3, 3, 0], [5, 1, 2, 1]];

  it('crop keeps the box and moves it to the origin', () => {
    expect(toRows(cropEvents(ev(rows), { x: 1, y: 1, width: 2, height: 2 }))).toEqual([[2, 0, 0, 0], [3, 1, 1, 1], [5, 0, 1, 1]]);
  });

  it('centerCrop follows tonic: offset floor((sensor - size) / 2), negative offsets pad', () => {
    expect(toRows(centerCropEvents(ev(rows), { sensorWidth: 4, sensorHeight: 4, width: 2, height: 2 }))).toEqual([[2, 0, 0, 0], [3, 1, 1, 1], [5, 0, 1, 1]]);
    expect(toRows(centerCropEvents(ev(rows), { sensorWidth: 4, sensorHeight: 4, width: 5, height: 5 }))).toEqual([[1, 1, 1, 1], [2, 2, 2, 0], [3, 3, 3, 1], [4, 4, 4, 0], [5, 2, 3, 1]]);
  });

  it('downsample floors x * target / sensor per axis and drops nothing', () => {
    const b = ev([[1, 33, 33, 1], [2, 1, 0, 0], [3, 2, 32, 1]]);
    expect(toRows(downsampleEvents(b, { sensorWidth: 34, sensorHeight: 34, width: 17, height: 17 }))).toEqual([[1, 16, 16, 1], [2, 0, 0, 0], [3, 1, 16, 1]]);
    expect(toRows(downsampleEvents(ev([[1, 1, 2, 0], [2, 2, 1, 1]]), { sensorWidth: 3, sensorHeight: 3, width: 2, height: 2 }))).toEqual([[1, 0, 1, 0], [2, 1, 0, 1]]);
  });

  it('flips, transposes and merges polarities', () => {
    expect(toRows(flipLREvents(ev(rows), { width: 4 }))).toEqual([[1, 3, 0, 1], [2, 2, 1, 0], [3, 1, 2, 1], [4, 0, 3, 0], [5, 2, 2, 1]]);
    expect(toRows(flipUDEvents(ev(rows), { height: 4 }))).toEqual([[1, 0, 3, 1], [2, 1, 2, 0], [3, 2, 1, 1], [4, 3, 0, 0], [5, 1, 1, 1]]);
    expect(toRows(transposeEvents(ev([[1, 3, 1, 1]])))).toEqual([[1, 1, 3, 1]]);
    expect(toRows(mergePolaritiesEvents(ev(rows))).map((r) => r[3])).toEqual([0, 0, 0, 0, 0]);
    expect(() => flipLREvents(ev([[1, 4, 0, 0]]), { width: 4 })).toThrowError(/outside width 4/);
  });
});

describe('stateful filters carry their state across batches', () => {
  const arb = fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1 })), { maxLength: 80 });
  const steps = {
    denoise: () => { let s = initDenoise({ filterTimeUs: 50, width: 4, height: 4 }); return (b: EventBatch) => { const r = denoiseEvents(s, b); s = r.state; return r.events; }; },
    refractory: () => { let s = initRefractoryPeriod({ refractoryUs: 40, width: 4, height: 4 }); return (b: EventBatch) => { const r = refractoryPeriodEvents(s, b); s = r.state; return r.events; }; },
    hotPixels: () => { let s = initSuppressHotPixels({ maxRateHz: 20000, windowUs: 100, width: 4, height: 4 }); return (b: EventBatch) => { const r = suppressHotPixelsEvents(s, b); s = r.state; return r.events; }; },
  };
  for (const [name, make] of Object.entries(steps)) {
    it(`${name}: any split of the input gives the survivors of the whole (timestamps may step back)`, () => {
      fc.assert(fc.property(arb, fc.array(fc.nat(80), { maxLength: 6 }), (deltas, cuts) => {
        let t = 0;
        const rows = deltas.map(([dt, x, y, p]) => [(t += dt - 60), x, y, p]);
        const b = ev(rows);
        const whole = joined([make()(b)]);
        const step = make();
        expect(joined(splitAt(b, cuts).map(step))).toEqual(whole);
      }), { numRuns: 100 });
    });
  }
});

describe('filter operators', () => {
  const scheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
  const view = map((b: ClockedBatch) => ({ rows: toRows(b), clockUs: b.clockUs }));

  it('emit one batch per input batch on the same frame, passing heartbeats and clocks through', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<EventBatch>('a-b-c|', {
        a: ev([[1000, 1, 1, 1]]),
        b: heartbeat(1500),
        c: ev([[1050, 1, 1, 1], [1200, 1, 1, 1]]),
      });
      expectObservable(src.pipe(refractoryPeriod({ refractoryUs: 100, width: 4, height: 4 }), view)).toBe('a-b-c|', {
        a: { rows: [[1000, 1, 1, 1]], clockUs: undefined },
        b: { rows: [], clockUs: 1500 },
        c: { rows: [[1200, 1, 1, 1]], clockUs: undefined },
      });
    });
  });

  it('every filter operator, stateless or not, passes each batch through its pure core', () => {
    const b = ev([[1000, 1, 1, 1], [1010, 2, 1, 0], [1020, 3, 2, 1]]);
    const cases: [OperatorFunction<EventBatch, ClockedBatch>, EventBatch][] = [
      [crop({ x: 1, y: 1, width: 2, height: 2 }), cropEvents(b, { x: 1, y: 1, width: 2, height: 2 })],
      [centerCrop({ sensorWidth: 4, sensorHeight: 4, width: 2, height: 2 }), centerCropEvents(b, { sensorWidth: 4, sensorHeight: 4, width: 2, height: 2 })],
      [downsample({ sensorWidth: 4, sensorHeight: 4, width: 2, height: 2 }), downsampleEvents(b, { sensorWidth: 4, sensorHeight: 4, width: 2, height: 2 })],
      [flipLR({ width: 4 }), flipLREvents(b, { width: 4 })],
      [flipUD({ height: 4 }), flipUDEvents(b, { height: 4 })],
      [transpose(), transposeEvents(b)],
      [mergePolarities(), mergePolaritiesEvents(b)],
      [denoise({ filterTimeUs: 100, width: 4, height: 4 }), denoiseEvents(initDenoise({ filterTimeUs: 100, width: 4, height: 4 }), b).events],
      [suppressHotPixels({ maxRateHz: 1000, windowUs: 1000, width: 4, height: 4 }), suppressHotPixelsEvents(initSuppressHotPixels({ maxRateHz: 1000, windowUs: 1000, width: 4, height: 4 }), b).events],
    ];
    for (const [op, want] of cases) {
      scheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold<EventBatch>('a-h|', { a: b, h: heartbeat(5000) }).pipe(op, view)).toBe('a-h|', {
          a: { rows: toRows(want), clockUs: undefined },
          h: { rows: [], clockUs: 5000 },
        });
      });
    }
  });

  it('give each subscription its own state and forward source errors', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<EventBatch>('a-a-#', { a: ev([[1000, 1, 1, 1]]) }, new Error('boom'));
      const filtered = src.pipe(refractoryPeriod({ refractoryUs: 100, width: 4, height: 4 }), map((b) => b.t.length));
      // Within one subscription the second identical event is refractory; a second subscription starts afresh.
      expectObservable(filtered).toBe('a-b-#', { a: 1, b: 0 }, new Error('boom'));
      expectObservable(filtered).toBe('a-b-#', { a: 1, b: 0 }, new Error('boom'));
    });
  });

  it('error the stream (not throw) when a batch holds an event outside the sensor', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<EventBatch>('a-b-c|', { a: ev([[1000, 1, 1, 1]]), b: ev([[1100, 9, 1, 1]]), c: ev([[1200, 1, 1, 1]]) });
      const err = new StreamError('OUT_OF_RANGE', 'denoise', 'event at (9, 1) t=1100 is outside the 4x4 sensor');
      expectObservable(src.pipe(denoise({ filterTimeUs: 100, width: 4, height: 4 }), view)).toBe('a-#', { a: { rows: [], clockUs: undefined } }, err);
    });
  });
});
