/**
 * Parameters of the DVS pixel model in emulator.ts, with their physical meaning, units and
 * defaults. The defaults follow v2e's "clean" DAVIS346-like settings where v2e has an equivalent;
 * synthetic N-MNIST overrides several of them with values measured on real ATIS recordings
 * (see nmnist-sim.ts).
 */
export interface DvsEmulatorParams {
  /**
   * ON contrast threshold C+: the rise of ln(I + logEpsilon) since the pixel's last reset that
   * fires an ON event. Dimensionless (natural-log units); 0.2 is a 22% brightness increase.
   */
  readonly thresholdOn: number;
  /** OFF contrast threshold C-: the fall of ln(I + logEpsilon) that fires an OFF event (positive number). */
  readonly thresholdOff: number;
  /**
   * Pixel-to-pixel threshold mismatch: each pixel's C+ and C- are drawn once, independently,
   * from N(C, thresholdSigma^2) (natural-log units), fixed for the emulator's lifetime.
   */
  readonly thresholdSigma: number;
  /** Floor for a mismatched threshold, so no pixel fires on vanishing changes (log units). */
  readonly thresholdMin: number;
  /**
   * Intensity floor epsilon in ln(I + epsilon). Intensities are linear, relative units (1 = the
   * brightest value the scene uses). Epsilon models the dark current: changes among intensities
   * far below it produce no events.
   */
  readonly logEpsilon: number;
  /**
   * Refractory period in microseconds: after an event the pixel is held in reset and cannot fire;
   * its reference follows the input until release, so a change during that time is lost, as in a
   * real DVS pixel. 0 disables.
   */
  readonly refractoryUs: number;
  /**
   * Background-activity (shot / leakage) noise rate per pixel, Hz. Noise events form a Poisson
   * process independent of the signal: they neither reset the pixel nor obey the refractory period,
   * so a static scene yields exactly this rate.
   */
  readonly noiseRateHz: number;
  /** Fraction of noise events that are ON (real ATIS/DVS noise is mostly ON). In [0, 1]. */
  readonly noiseOnFraction: number;
  /**
   * Leak events per pixel, Hz (v2e's leak_rate_hz): the reference level drifts down by
   * thresholdOn * leakRateHz per second, so a static pixel fires ON events at about this rate.
   * Initial phases are random. 0 disables.
   */
  readonly leakRateHz: number;
  /**
   * Photoreceptor bandwidth: first-order low-pass cutoff in Hz applied to the log intensity
   * before change detection (v2e's cutoff_hz). 0 disables.
   */
  readonly cutoffHz: number;
  /**
   * When true the cutoff scales with the pixel's intensity (as photocurrent sets a real
   * photoreceptor's bandwidth; v2e's default): cutoffHz applies at intensity 1, dimmer pixels are
   * proportionally slower, down to 1% of cutoffHz.
   */
  readonly cutoffScalesWithIntensity: boolean;
}

export const DEFAULT_EMULATOR_PARAMS: DvsEmulatorParams = Object.freeze({
  thresholdOn: 0.2,
  thresholdOff: 0.2,
  thresholdSigma: 0.03,
  thresholdMin: 0.01,
  logEpsilon: 1e-3,
  refractoryUs: 0,
  noiseRateHz: 0,
  noiseOnFraction: 0.5,
  leakRateHz: 0,
  cutoffHz: 0,
  cutoffScalesWithIntensity: false,
});

/** Defaults merged with `overrides`, validated: a RangeError names the first bad field. */
export function resolveEmulatorParams(overrides: Partial<DvsEmulatorParams> = {}): DvsEmulatorParams {
  const p: DvsEmulatorParams = { ...DEFAULT_EMULATOR_PARAMS, ...overrides };
  const check = (name: keyof DvsEmulatorParams, ok: (v: number) => boolean, what: string): void => {
    const v = p[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new RangeError(`emulator parameter ${name}=${String(v)}: must be ${what}`);
    }
  };
  check('thresholdOn', (v) => v > 0, 'a finite number > 0');
  check('thresholdOff', (v) => v > 0, 'a finite number > 0');
  check('thresholdSigma', (v) => v >= 0, 'a finite number >= 0');
  check('thresholdMin', (v) => v > 0, 'a finite number > 0');
  check('logEpsilon', (v) => v > 0, 'a finite number > 0');
  check('refractoryUs', (v) => v >= 0, 'a finite number >= 0');
  check('noiseRateHz', (v) => v >= 0, 'a finite number >= 0');
  check('noiseOnFraction', (v) => v >= 0 && v <= 1, 'in [0, 1]');
  check('leakRateHz', (v) => v >= 0, 'a finite number >= 0');
  check('cutoffHz', (v) => v >= 0, 'a finite number >= 0');
  if (typeof p.cutoffScalesWithIntensity !== 'boolean') throw new RangeError(`emulator parameter cutoffScalesWithIntensity=${String(p.cutoffScalesWithIntensity)}: must be a boolean`);
  return Object.freeze(p);
}
