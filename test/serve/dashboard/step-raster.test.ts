/**
 * StepRaster: at most `capacity` columns whatever the step count; nothing is lost (column sums
 * equal the step sums, per output), columns stay in time order and cover consecutive steps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StepRaster } from '../../../src/serve/dashboard/step-raster.js';

describe('StepRaster', () => {
  it('keeps every step in its own column while there is room, then sums neighbours; totals are conserved', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }).map((h) => 2 * h),
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 5, maxLength: 5 }), { maxLength: 200 }),
      (capacity, outputs, steps) => {
        const r = new StepRaster(capacity, outputs);
        steps.forEach((v, i) => r.add(i * 1000, (i + 1) * 1000, v));
        expect(r.steps).toBe(steps.length);
        expect(r.columns).toBeLessThanOrEqual(capacity);
        if (steps.length <= capacity) expect(r.columns).toBe(steps.length);
        // Columns partition the steps in order: consecutive spans, `merged` steps each.
        let step = 0;
        for (let c = 0; c < r.columns; c++) {
          expect(r.tStart[c]).toBe(step * 1000);
          step += r.merged[c];
          expect(r.tEnd[c]).toBe(step * 1000);
          expect(r.merged[c]).toBeLessThanOrEqual(r.perColumn);
          for (let k = 0; k < outputs; k++) {
            let sum = 0;
            for (let s = step - r.merged[c]; s < step; s++) sum += steps[s][k];
            expect(r.values[c * outputs + k]).toBe(sum);
          }
        }
        expect(step).toBe(steps.length);
      },
    ));
  });

  it('keeps only the first `outputs` values of a step and starts over after clear', () => {
    const r = new StepRaster(4, 2);
    r.add(0, 1, [1, 2, 3]);
    expect(Array.from(r.values.subarray(0, 2))).toEqual([1, 2]);
    r.clear();
    r.add(5, 6, [4]);
    expect(r.columns).toBe(1);
    expect(r.tStart[0]).toBe(5);
    expect(Array.from(r.values.subarray(0, 2))).toEqual([4, 0]);
  });
});
