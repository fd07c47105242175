/**
 * Evaluation of a model file in the inference engines (no tfjs): every recording is binned with
 * the model's own binning, run through the sparse (or dense) engine as `classify` would, and
 * scored. Reports what a deployment cares about besides accuracy: connection density, synaptic
 * operations and spikes per sample (event-driven work) and latency per sample.
 */
import type { Dataset } from '../data/dataset.js';
import { iterateSamples } from '../data/iterate-samples.js';
import { connectionDensity, type Model } from '../model/model.js';
import { createEngine } from '../snn/create-engine.js';
import type { EngineKind } from '../snn/engine.js';
import { binRecording } from './frame-set.js';
import { classificationMetrics, type ClassificationMetrics } from './metrics.js';

export interface EngineEvalOptions {
  readonly engine?: EngineKind;
  /** Samples decoded ahead (default 8). */
  readonly concurrency?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface Distribution {
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

export interface EngineEvalResult extends ClassificationMetrics {
  readonly engine: EngineKind;
  readonly labels: readonly string[];
  readonly predictions: Int32Array;
  readonly density: { readonly overall: number; readonly perLayer: Record<string, number> };
  readonly synopsPerSample: Distribution;
  readonly spikesPerSample: Distribution;
  readonly eventsPerSample: Distribution;
  /** Multiply-accumulates a dense implementation would do per sample (every weight, every step). */
  readonly denseMacsPerSample: number;
  /** Engine time per sample (binning and decoding excluded), milliseconds. */
  readonly latencyMs: Distribution;
  readonly timestepsPerSample: number;
}

export function distribution(values: Float64Array): Distribution {
  const n = values.length;
  if (n === 0) return { mean: 0, p50: 0, p95: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const q = (p: number) => sorted[Math.min(n - 1, Math.floor(p * n))];
  let sum = 0;
  for (const v of values) sum += v;
  return { mean: sum / n, p50: q(0.5), p95: q(0.95), max: sorted[n - 1] };
}

export async function evaluateWithEngine(model: Model, ds: Dataset, o: EngineEvalOptions = {}): Promise<EngineEvalResult> {
  const kind = o.engine ?? 'sparse';
  const engine = createEngine(kind, model.graph, { labels: model.labels, outOfRange: 'ignore' });
  const n = ds.length;
  const labels = new Int32Array(n);
  const predictions = new Int32Array(n);
  const synops = new Float64Array(n);
  const spikes = new Float64Array(n);
  const events = new Float64Array(n);
  const latency = new Float64Array(n);
  let macs = 0;
  let steps = 0;
  let k = 0;
  const { width, height, binning } = model.input;
  for await (const s of iterateSamples(ds, { concurrency: o.concurrency ?? 8 })) {
    const timesteps = binRecording(s.events, binning, Math.max(width, s.meta.width), Math.max(height, s.meta.height));
    const t0 = performance.now();
    engine.reset();
    for (const ts of timesteps) engine.step(ts);
    const r = engine.result();
    latency[k] = performance.now() - t0;
    labels[k] = s.label;
    predictions[k] = r.index;
    synops[k] = Object.values(r.synopsPerNode).reduce((a, b) => a + b, 0);
    spikes[k] = Object.entries(r.spikesPerNode).reduce((a, [id, v]) => (id === model.graph.nodes.find((nd) => nd.op === 'Input')?.id ? a : a + v), 0);
    events[k] = r.events;
    macs += r.denseMacs;
    steps += r.timesteps;
    k++;
    o.onProgress?.(k, n);
  }
  const d = connectionDensity(model.graph);
  return {
    ...classificationMetrics(labels, predictions, model.labels.length),
    engine: kind,
    labels: model.labels,
    predictions,
    density: { overall: d.overall, perLayer: d.perNode },
    synopsPerSample: distribution(synops),
    spikesPerSample: distribution(spikes),
    eventsPerSample: distribution(events),
    denseMacsPerSample: n === 0 ? 0 : macs / n,
    latencyMs: distribution(latency),
    timestepsPerSample: n === 0 ? 0 : steps / n,
  };
}
