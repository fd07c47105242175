/**
 * Camera-motion paths as seen on the sensor: the position of the scene (e.g. a digit's top-left
 * corner, in sensor pixels) as a function of time.
 *
 * A path is a start point plus movements, each along one axis with a trapezoidal velocity
 * profile (constant acceleration, cruise, constant deceleration), the way a pan-tilt unit's two
 * stepper motors move. Movements may overlap in time; their displacements add.
 */

export interface AxisMove {
  readonly axis: 'x' | 'y';
  /** Start and end of the movement, microseconds from the start of the recording. */
  readonly t0Us: number;
  readonly t1Us: number;
  /** Displacement in sensor pixels (signed). */
  readonly deltaPx: number;
  /**
   * Fraction of the duration spent accelerating, in (0, 1): small values approach constant
   * velocity. Default 0.25.
   */
  readonly ramp?: number;
  /** Fraction spent decelerating; default = ramp. ramp + rampDown must not exceed 1. */
  readonly rampDown?: number;
}

export interface SaccadePath {
  readonly startX: number;
  readonly startY: number;
  readonly moves: readonly AxisMove[];
}

/**
 * Normalised position (0 -> 1) at normalised time s in [0, 1] of a trapezoidal velocity profile
 * that accelerates uniformly for a fraction `up` of the time, cruises, and decelerates uniformly
 * for the last fraction `down`.
 */
export function trapezoidProfile(s: number, up = 0.25, down = up): number {
  if (s <= 0) return 0;
  if (s >= 1) return 1;
  const a = Math.max(1e-6, up);
  const d = Math.max(1e-6, down);
  const vmax = 1 / (1 - (a + d) / 2); // area under the trapezoid = 1
  if (s < a) return (0.5 * vmax * s * s) / a;
  if (s <= 1 - d) return vmax * (s - 0.5 * a);
  const r = 1 - s;
  return 1 - (0.5 * vmax * r * r) / d;
}

/** Position at time `tUs`, written into `out` as [x, y]. */
export function pathAt(path: SaccadePath, tUs: number, out: [number, number] = [0, 0]): [number, number] {
  let x = path.startX;
  let y = path.startY;
  for (const m of path.moves) {
    const d = m.deltaPx * trapezoidProfile((tUs - m.t0Us) / (m.t1Us - m.t0Us), m.ramp, m.rampDown);
    if (m.axis === 'x') x += d;
    else y += d;
  }
  out[0] = x;
  out[1] = y;
  return out;
}

/** Random variation of a path, one draw per sample. */
export interface PathJitter {
  /** Std dev of the start point, per axis, in pixels (digit placement on the sensor). */
  readonly placementPx: number;
  /** Std dev of each movement's amplitude, as a fraction of it. */
  readonly amplitudeFraction: number;
  /** Std dev of a time shift common to the whole path, microseconds. */
  readonly timeShiftUs: number;
  /** Std dev of each movement's own start/end times, microseconds. */
  readonly moveTimeUs: number;
}

export function validatePath(path: SaccadePath): void {
  if (!Number.isFinite(path.startX) || !Number.isFinite(path.startY)) throw new RangeError('saccade path: start must be finite');
  path.moves.forEach((m, i) => {
    if (m.axis !== 'x' && m.axis !== 'y') throw new RangeError(`saccade path: move ${i} has axis ${String(m.axis)}`);
    if (!(m.t1Us > m.t0Us) || !Number.isFinite(m.t0Us) || !Number.isFinite(m.t1Us)) throw new RangeError(`saccade path: move ${i} needs finite t0Us < t1Us`);
    if (!Number.isFinite(m.deltaPx)) throw new RangeError(`saccade path: move ${i} has a non-finite deltaPx`);
    const up = m.ramp ?? 0.25;
    const down = m.rampDown ?? up;
    if (!(up > 0 && down > 0 && up + down <= 1)) throw new RangeError(`saccade path: move ${i} needs ramp, rampDown > 0 with ramp + rampDown <= 1`);
  });
}

/** Applies one draw of jitter; `normal` returns standard normal deviates. */
export function jitterPath(path: SaccadePath, j: PathJitter, normal: () => number): SaccadePath {
  const shift = j.timeShiftUs * normal();
  return {
    startX: path.startX + j.placementPx * normal(),
    startY: path.startY + j.placementPx * normal(),
    moves: path.moves.map((m) => {
      const a = m.t0Us + shift + j.moveTimeUs * normal();
      let b = m.t1Us + shift + j.moveTimeUs * normal();
      // Keep at least half the nominal duration so jitter never reverses a movement.
      if (b - a < 0.5 * (m.t1Us - m.t0Us)) b = a + 0.5 * (m.t1Us - m.t0Us);
      return { ...m, t0Us: a, t1Us: b, deltaPx: m.deltaPx * (1 + j.amplitudeFraction * normal()) };
    }),
  };
}
