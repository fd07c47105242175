/**
 * A frame's output-layer activity in at most `capacity` columns, whatever the step rate.
 *
 * Each column sums the Output values of `perColumn` consecutive timesteps. While columns are
 * free, every timestep gets its own; when all are used, neighbouring columns are summed pairwise
 * and perColumn doubles (the same doubling as EventSampler), so a session stepping much faster
 * than the page draws still fits in a fixed buffer, and at ordinary rates the page sees every
 * timestep. Only the first `outputs` values of a step are kept (the raster's rows).
 */
export class StepRaster {
  /** values[c * outputs + k]: sum of output k over column c's timesteps. */
  readonly values: Float64Array;
  readonly tStart: Float64Array;
  readonly tEnd: Float64Array;
  /** Timesteps summed into each column. */
  readonly merged: Uint32Array;
  columns = 0;
  /** Timesteps a column holds before the next one starts. */
  perColumn = 1;
  /** Timesteps added since the last clear. */
  steps = 0;

  /** `capacity` must be even. */
  constructor(readonly capacity: number, readonly outputs: number) {
    if (!Number.isInteger(capacity) || capacity < 2 || capacity % 2 !== 0) throw new RangeError(`StepRaster capacity must be an even integer >= 2, got ${capacity}`);
    if (!Number.isInteger(outputs) || outputs < 0) throw new RangeError(`StepRaster outputs must be a non-negative integer, got ${outputs}`);
    this.values = new Float64Array(capacity * outputs);
    this.tStart = new Float64Array(capacity);
    this.tEnd = new Float64Array(capacity);
    this.merged = new Uint32Array(capacity);
  }

  add(tStart: number, tEnd: number, output: ArrayLike<number>): void {
    this.steps++;
    let c = this.columns - 1;
    if (c < 0 || this.merged[c] >= this.perColumn) {
      if (this.columns === this.capacity) this.halve();
      c = this.columns++;
      this.merged[c] = 0;
      this.tStart[c] = tStart;
      this.values.fill(0, c * this.outputs, (c + 1) * this.outputs);
    }
    this.merged[c]++;
    this.tEnd[c] = tEnd;
    const m = Math.min(this.outputs, output.length);
    const base = c * this.outputs;
    for (let k = 0; k < m; k++) this.values[base + k] += output[k];
  }

  clear(): void {
    this.columns = 0;
    this.perColumn = 1;
    this.steps = 0;
  }

  private halve(): void {
    const m = this.outputs;
    const v = this.values;
    const half = this.columns >> 1;
    for (let j = 0; j < half; j++) {
      const a = 2 * j;
      const b = a + 1;
      this.tStart[j] = this.tStart[a];
      this.tEnd[j] = this.tEnd[b];
      this.merged[j] = this.merged[a] + this.merged[b];
      for (let k = 0; k < m; k++) v[j * m + k] = v[a * m + k] + v[b * m + k];
    }
    this.columns = half;
    this.perColumn *= 2;
  }
}
