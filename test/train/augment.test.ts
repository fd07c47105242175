/**
 * Shift augmentation: offsets are a pure, bounded function of (seed, epoch, sample); batchInput
 * moves every event by its sample's offset and drops those that leave the sensor.
 */
import { describe, expect, it } from 'vitest';
import { sampleShifts } from '../../src/train/augment.js';
import { batchInput, type FrameSet } from '../../src/train/frame-set.js';

/** Two samples on a 2-channel 4x5 (H x W) sensor, T = 2. */
function frames(): FrameSet {
  const C = 2, H = 4, W = 5, plane = C * H * W;
  const flat = (t: number, c: number, y: number, x: number) => t * plane + c * H * W + y * W + x;
  // Sample 0: (t0, ON, y1, x1) = 3 and (t1, OFF, y3, x4) = 1. Sample 1: (t0, OFF, y0, x0) = 2.
  return {
    length: 2, T: 2, channels: C, height: H, width: W,
    labels: Int32Array.of(0, 1),
    offsets: Int32Array.of(0, 2, 3),
    index: Int32Array.of(flat(0, 1, 1, 1), flat(1, 0, 3, 4), flat(0, 0, 0, 0)),
    count: Float32Array.of(3, 1, 2),
    events: Int32Array.of(4, 2),
  };
}

/** Value at (t, b, y, x, c) of batchInput's [T * B, H, W, C] layout. */
const at = (x: Float32Array, B: number, t: number, b: number, y: number, xx: number, c: number) => x[(((t * B + b) * 4 + y) * 5 + xx) * 2 + c];

describe('batchInput with shifts', () => {
  it('without shifts places each entry at its own position', () => {
    const x = batchInput(frames(), [0, 1]);
    expect(at(x, 2, 0, 0, 1, 1, 1)).toBe(3);
    expect(at(x, 2, 1, 0, 3, 4, 0)).toBe(1);
    expect(at(x, 2, 0, 1, 0, 0, 0)).toBe(2);
    expect(x.reduce((a, v) => a + v, 0)).toBe(6);
  });

  it('moves events by (dx, dy) and drops those that leave the sensor', () => {
    // Sample 0 by (+1, -1): (1,1) -> (y0, x2); (3,4) -> x5, off the right edge. Sample 1 by (-1, 0): off the left edge.
    const x = batchInput(frames(), [0, 1], undefined, Int8Array.of(1, -1, -1, 0));
    expect(at(x, 2, 0, 0, 0, 2, 1)).toBe(3);
    expect(x.reduce((a, v) => a + v, 0)).toBe(3);
  });

  it('keeps an event that moves to the far edge', () => {
    const x = batchInput(frames(), [1], undefined, Int8Array.of(4, 3));
    expect(at(x, 1, 0, 0, 3, 4, 0)).toBe(2);
    expect(x.reduce((a, v) => a + v, 0)).toBe(2);
  });

  it('clears a reused output buffer', () => {
    const out = new Float32Array(2 * 2 * 40).fill(9);
    const x = batchInput(frames(), [0, 1], out, Int8Array.of(0, 0, 0, 0));
    expect(x).toBe(out);
    expect(x).toEqual(batchInput(frames(), [0, 1]));
  });
});

describe('sampleShifts', () => {
  it('is zero without augmentation', () => {
    expect(Array.from(sampleShifts(1, 0, [0, 1, 2], 0))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('stays within [-max, max], reaches every offset, and depends only on (seed, epoch, sample)', () => {
    const samples = Array.from({ length: 2000 }, (_, i) => i);
    const s = sampleShifts(7, 3, samples, 2);
    const seen = new Set(s);
    expect([...seen].sort()).toEqual([-1, -2, 0, 1, 2].sort());
    // Order of the batch does not matter: sample 1234 gets the same offset alone.
    expect(Array.from(sampleShifts(7, 3, [1234], 2))).toEqual([s[2 * 1234], s[2 * 1234 + 1]]);
    // A new epoch or seed draws new offsets.
    expect(sampleShifts(7, 4, samples, 2)).not.toEqual(s);
    expect(sampleShifts(8, 3, samples, 2)).not.toEqual(s);
    // dx and dy are not the same draw.
    expect(samples.filter((i) => s[2 * i] !== s[2 * i + 1]).length).toBeGreaterThan(1000);
  });

  it('rejects a negative or fractional maximum', () => {
    expect(() => sampleShifts(1, 0, [0], -1)).toThrow(RangeError);
    expect(() => sampleShifts(1, 0, [0], 1.5)).toThrow(RangeError);
  });
});
