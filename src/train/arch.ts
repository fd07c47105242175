/**
 * Named architectures for `spikestream train --arch`. Each builds a graph IR with seeded initial
 * weights; the trainer then applies ESL masks (and rescales sparse layers' weights).
 *
 * nmnist-small, the reference network of DESIGN.md / issue 7:
 *   input 2x34x34 -> conv 2->16 k5 -> LIF -> avgpool 2 -> conv 16->32 k5 -> LIF -> avgpool 2
 *   -> flatten (800) -> linear 800->10 -> LI (membrane readout, default) or LIF (spike counts)
 * nmnist-hidden, nmnist-small with a hidden spiking layer before the readout:
 *   ... -> flatten (800) -> linear 800->256 -> LIF -> linear 256->10 -> LI (or LIF). The hidden
 *   layer holds 93% of the 221k weights, which is where a 10% connection budget can be spent
 *   without starving the small convolutions (ER/ERK allocation keep those nearly dense), the
 *   regime in which sparse training matches dense (SET, RigL, ESL all report it on wide layers).
 * nmnist-tiny, for tests and quick checks: conv 2->4 k5 stride 2 -> LIF -> avgpool 2 -> flatten
 *   -> linear 196->10 -> LI (or LIF).
 * No biases: a bias is an always-on input, which forces the sparse engine onto its dense path.
 * LIF: exact decay beta (snnTorch Leaky / Sinabs style), threshold 1, subtract reset.
 */
import { Prng, mixSeed } from '../data/prng.js';
import type { Graph } from '../snn/graph.js';
import { sequentialGraph, type LayerSpec } from '../snn/random-graph.js';
import { isWeighted } from '../snn/graph.js';
import { TrainError } from './train-error.js';

export type ArchName = 'nmnist-small' | 'nmnist-hidden' | 'nmnist-tiny';
export const ARCH_NAMES: readonly ArchName[] = ['nmnist-small', 'nmnist-hidden', 'nmnist-tiny'];
export type OutputKind = 'membrane' | 'spikes';

export interface ArchOptions {
  readonly output: OutputKind;
  /** LIF decay per step (default 0.9). */
  readonly beta: number;
  /** Initial weight std = gain * sqrt(2 / fan-in) (He), default 1. */
  readonly gain: number;
  readonly seed: number;
}

export const DEFAULT_ARCH_OPTIONS: Omit<ArchOptions, 'seed'> = Object.freeze({ output: 'membrane', beta: 0.9, gain: 1 });

export function archLayers(name: ArchName, o: Pick<ArchOptions, 'output' | 'beta'>): LayerSpec[] {
  if (!ARCH_NAMES.includes(name)) throw new TrainError('BAD_OPTION', `unknown architecture "${String(name)}" (one of ${ARCH_NAMES.join(', ')})`);
  const lif = { op: 'LIF', beta: o.beta, threshold: 1, reset: 'subtract' } as const;
  const out = o.output === 'membrane' ? { op: 'LI', beta: o.beta } as const : lif;
  if (name === 'nmnist-tiny') {
    return [{ op: 'Conv2d', out: 4, kernel: 5, stride: 2 }, lif, { op: 'AvgPool2d', kernel: 2 }, { op: 'Flatten' }, { op: 'Linear', out: 10 }, out];
  }
  const hidden: LayerSpec[] = name === 'nmnist-hidden' ? [{ op: 'Linear', out: 256 }, lif] : [];
  return [
    { op: 'Conv2d', out: 16, kernel: 5 }, lif, { op: 'AvgPool2d', kernel: 2 },
    { op: 'Conv2d', out: 32, kernel: 5 }, lif, { op: 'AvgPool2d', kernel: 2 },
    { op: 'Flatten' }, ...hidden, { op: 'Linear', out: 10 }, out,
  ];
}

/** The architecture's graph with He-initialised weights from a seeded generator. */
export function buildArch(name: ArchName, input: readonly [number, number, number], o: ArchOptions): Graph {
  const g = sequentialGraph({ input, layers: archLayers(name, o), seed: o.seed });
  const rng = new Prng(mixSeed(o.seed, 0x696e6974));
  for (const n of g.nodes) {
    if (!isWeighted(n)) continue;
    const w = n.params.weight;
    const fanIn = w.shape.slice(1).reduce((a, b) => a * b, 1);
    const std = o.gain * Math.sqrt(2 / fanIn);
    for (let i = 0; i < w.data.length; i++) w.data[i] = rng.normal() * std;
  }
  return g;
}
