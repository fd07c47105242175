/**
 * NIR leaves discretisation to each backend and the frameworks disagree, so importing a NIR file
 * means choosing whose semantics to run. A preset reproduces one framework's NIR importer (what
 * that framework would run, and for Sinabs also how a model exported from it was trained). The
 * `mapping` texts are the exact rules map-neuron.ts implements; they are recorded in every imported
 * model and repeated in docs/nir.md.
 *
 * Spikestream's neuron step (src/snn/neuron.ts) is: integrate, spike, reset, clamp, with
 *   IF       v <- v + r*I
 *   Euler    v <- v + (dt/tau) * ((v_leak - v) + r*I)
 *   decay    v <- v_leak + beta * (v - v_leak) + r*I       (beta stored per neuron)
 *   single   s = [v > v_threshold]    multi  s = floor(v / v_threshold) when v >= v_threshold
 *   reset    zero: v <- v_reset       subtract: v <- v - s*v_threshold
 *   clamp    v <- max(v, vMin)
 * State starts at v = 0.
 */
import type { ResetMode, SpikeMode } from '../../snn/graph.js';

export type NirPreset = 'nir' | 'sinabs' | 'snntorch' | 'norse';
export const NIR_PRESETS: readonly NirPreset[] = ['nir', 'sinabs', 'snntorch', 'norse'];

export interface PresetSpec {
  readonly preset: NirPreset;
  /** What the preset reproduces. */
  readonly source: string;
  /** Default dt (overridden by --dt), in the unit tau is counted in. */
  readonly dt: number;
  readonly dtUnit: 's' | 'steps';
  /** Exact mapping per NIR neuron type. */
  readonly mapping: {
    readonly IF: string;
    readonly LIF: string;
    readonly LI: string;
    readonly CubaLIF: string;
    readonly CubaLI: string;
  };
}

const CUBA_SPLIT = 'CubaLIF/CubaLI become two nodes: "<name>.syn" (LI, the synaptic current) feeding "<name>" (LIF/LI, the membrane)';

export const PRESET_SPECS: Readonly<Record<NirPreset, PresetSpec>> = {
  nir: {
    preset: 'nir',
    source: 'the NIR specification (nir >= 1.0, after PR #129: fire when v > v_threshold, reset to v_reset, missing v_reset = 0), forward Euler',
    dt: 1e-4,
    dtUnit: 's',
    mapping: {
      IF: 'IF: v <- v + r*I (no dt factor, as every framework integrates IF); single spike v > v_threshold; reset to v_reset (0 when absent); no clamp',
      LIF: 'LIF: Euler v <- v + (dt/tau)((v_leak - v) + r*I); single spike v > v_threshold; reset to v_reset (0 when absent); no clamp',
      LI: 'LI: Euler v <- v + (dt/tau)((v_leak - v) + r*I); output v',
      CubaLIF: `${CUBA_SPLIT}; syn: LI Euler tau = tau_syn, r = w_in (1 when absent), v_leak = 0; membrane: LIF Euler tau = tau_mem, r, v_leak, v_threshold, v_reset`,
      CubaLI: `${CUBA_SPLIT}; syn: LI Euler tau = tau_syn, r = w_in, v_leak = 0; membrane: LI Euler tau = tau_mem, r, v_leak`,
    },
  },
  sinabs: {
    preset: 'sinabs',
    source: 'sinabs.from_nir (IAFSqueeze / LIFSqueeze / ExpLeakSqueeze with their defaults: MultiSpike, MembraneSubtract)',
    dt: 1,
    dtUnit: 'steps',
    mapping: {
      IF: 'IF (IAF): v <- v + I (r ignored); multi spike floor(v / v_threshold); subtract reset; v clamped below at -v_threshold (min_v_mem); v_reset ignored',
      LIF: 'LIF: decay beta = exp(-dt/tau), tau counted in steps (dt = 1): v <- v_leak + beta*(v - v_leak) + I (r ignored; Sinabs itself rejects v_leak != 0); multi spike; subtract reset; no clamp; v_reset ignored',
      LI: 'LI (ExpLeak): decay beta = exp(-dt/tau), tau in steps: v <- v_leak + beta*(v - v_leak) + r*I (Sinabs itself rejects r != 1 or v_leak != 0)',
      CubaLIF: 'CubaLIF: not supported (sinabs.from_nir has no CubaLIF): use --as nir, snntorch or norse',
      CubaLI: 'CubaLI: not supported (sinabs.from_nir has no CubaLI)',
    },
  },
  snntorch: {
    preset: 'snntorch',
    source: 'snntorch.import_from_nir (Leaky / Synaptic with reset_delay=False; dt = 1e-4 as in snnTorch\'s exporter)',
    dt: 1e-4,
    dtUnit: 's',
    mapping: {
      IF: 'IF: what snnTorch builds, Leaky(beta=0.9, threshold=v_threshold*r): LIF decay beta = 0.9 (tau = 10*dt), v <- 0.9*v + I; single spike v > v_threshold; subtract reset (Leaky default); snnTorch rejects r != 1',
      LIF: 'LIF: decay beta = clamp(1 - dt/tau, 0, 1); input gain r*dt/tau (snnTorch divides the threshold by it instead, the same spikes); v <- v_leak + beta*(v - v_leak) + (r*dt/tau)*I; single spike; reset to zero (v_reset ignored)',
      LI: 'LI: (no LI in snnTorch\'s importer) snnTorch\'s LIF rules without spikes: beta = clamp(1 - dt/tau, 0, 1), input gain r*dt/tau',
      CubaLIF: `${CUBA_SPLIT} (snn.Synaptic): syn: decay alpha = clamp(1 - dt/tau_syn, 0, 1), gain w_in*dt/tau_syn; membrane: decay beta = clamp(1 - dt/tau_mem, 0, 1), gain r*dt/tau_mem; single spike; reset to zero`,
      CubaLI: `${CUBA_SPLIT}: syn decay 1 - dt/tau_syn gain w_in*dt/tau_syn; membrane decay 1 - dt/tau_mem gain r*dt/tau_mem`,
    },
  },
  norse: {
    preset: 'norse',
    source: 'norse.torch.from_nir (IAFCell, LIFBoxCell, LIBoxCell; dt = 1e-3, reset_value)',
    dt: 1e-3,
    dtUnit: 's',
    mapping: {
      IF: 'IF (IAFCell): v <- v + I (r ignored); single spike v > v_threshold; reset to 0 (Norse does not pass v_reset)',
      LIF: 'LIF (LIFBoxCell): Euler v <- v + (dt/tau)((v_leak - v) + I) (r ignored); single spike; reset to 0 (v_reset not passed)',
      LI: 'LI: (no LI in Norse\'s importer) LIBox rules: Euler v <- v + (dt/tau)((v_leak - v) + I) (r ignored)',
      CubaLIF: `${CUBA_SPLIT}: syn: LIBox Euler tau = tau_syn, input w_in*I, v_leak = the node's v_leak (as Norse does); membrane: LIFBox Euler tau = tau_mem, input r*syn, v_leak, reset to 0`,
      CubaLI: `${CUBA_SPLIT}: syn LIBox Euler tau_syn, input w_in*I, v_leak; membrane LIBox Euler tau_mem, input r*syn`,
    },
  },
};

/** Options that override a preset for every spiking node. */
export interface NeuronOverrides {
  /** Duration of one timestep in the unit tau is counted in (seconds, or steps for sinabs). */
  readonly dt?: number;
  readonly spike?: SpikeMode;
  readonly reset?: ResetMode;
  /** Lower bound on v: a number, 'threshold' for -v_threshold per neuron (Sinabs), 'none' for no clamp. */
  readonly vMin?: number | 'threshold' | 'none';
}

export function isNirPreset(v: unknown): v is NirPreset {
  return typeof v === 'string' && (NIR_PRESETS as readonly string[]).includes(v);
}
