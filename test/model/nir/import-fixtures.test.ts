/**
 * The NIR files of ../shared/fixtures/nir (written by Sinabs, Norse and snnTorch tooling):
 * import under each preset and the recurrent graph's rejection (engine agreement on real events is
 * checked through the CLI in cli-nir.test.ts, accuracy in nmnist-accuracy.test.ts).
 */
import { expect, it } from 'vitest';
import type { IFNode, LIFNode } from '../../../src/snn/graph.js';
import { createEngine } from '../../../src/snn/create-engine.js';
import { isTensor, type Tensor } from '../../../src/snn/tensor.js';
import { isNirError } from '../../../src/model/nir/nir-error.js';
import { readNirFile } from '../../../src/model/nir/read-nir.js';
import { describeWithFixtures, sharedFixture } from '../../helpers/fixtures.js';

const CNN = 'nir/cnn_sinabs.nir';
const NORSE = 'nir/lif_norse.nir';
const BRAILLE = 'nir/braille_noDelay_bias_zero.nir';

describeWithFixtures('NIR fixtures: import', [CNN, NORSE, BRAILLE], () => {
  it('cnn_sinabs.nir imports under every preset with the NIR node names as ids', async () => {
    for (const as of ['nir', 'sinabs', 'snntorch', 'norse'] as const) {
      const r = await readNirFile(sharedFixture(CNN), { as });
      expect(r.graph.nodes.map((n) => n.id)).toEqual(['input', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', 'output']);
      expect(r.nirVersion).toBe('0.2.0');
      expect(r.provenance.preset).toBe(as);
    }
  });

  it('--as sinabs builds Sinabs IAF layers: multi spike, subtract reset, v >= -threshold, r ignored, per-neuron arrays kept', async () => {
    const r = await readNirFile(sharedFixture(CNN), { as: 'sinabs' });
    const if1 = r.graph.nodes.find((n) => n.id === '1') as IFNode;
    expect(if1.op).toBe('IF');
    expect(if1.params.spike).toBe('multi');
    expect(if1.params.reset).toBe('subtract');
    expect(if1.params.r).toBe(1);
    const thr = if1.params.v_threshold as Tensor;
    expect(isTensor(thr) && thr.shape).toEqual([16, 16, 16]);
    const vMin = if1.params.vMin as Tensor;
    expect(vMin.shape).toEqual([16, 16, 16]);
    expect(Array.from(vMin.data).every((v, i) => v === -thr.data[i])).toBe(true);
    expect(r.dt).toBe(1);
    expect((r.provenance.mapping as Record<string, string>).IF).toMatch(/multi spike/);
  });

  it('--as nir reads the spec: single spike, reset to v_reset (0, noted as pre-PR #129), r kept per neuron', async () => {
    const r = await readNirFile(sharedFixture(CNN), { as: 'nir' });
    const if1 = r.graph.nodes.find((n) => n.id === '1') as IFNode;
    expect([if1.params.spike, if1.params.reset, if1.params.vMin]).toEqual(['single', 'zero', undefined]);
    expect((if1.params.r as Tensor).shape).toEqual([16, 16, 16]);
    expect(r.notes.some((n) => n.includes('PR #129'))).toBe(true);
    const o = await readNirFile(sharedFixture(CNN), { as: 'nir', reset: 'subtract', spike: 'multi', vMin: -2 });
    const p = (o.graph.nodes.find((n) => n.id === '12') as IFNode).params;
    expect([p.spike, p.reset, p.vMin]).toEqual(['multi', 'subtract', -2]);
    expect(o.provenance.overrides).toEqual({ spike: 'multi', reset: 'subtract', vMin: -2 });
  });

  it('lif_norse.nir: Norse integrates LIF by Euler at dt 1e-3, the nir preset at 1e-4, Sinabs decays by exp(-1/tau)', async () => {
    const norse = await readNirFile(sharedFixture(NORSE), { as: 'norse' });
    const lif = norse.graph.nodes.find((n) => n.id === '1') as LIFNode;
    expect(lif.params.dt).toBe(1e-3);
    expect(lif.params.beta).toBeUndefined();
    expect((lif.params.tau as Tensor).data[0]).toBe(Math.fround(0.0025));
    expect(lif.params.v_reset).toBe(0);
    expect((await readNirFile(sharedFixture(NORSE))).dt).toBe(1e-4);
    const sin = (await readNirFile(sharedFixture(NORSE), { as: 'sinabs' })).graph.nodes.find((n) => n.id === '1') as LIFNode;
    expect((sin.params.beta as Tensor).data[0]).toBe(Math.fround(Math.exp(-1 / Math.fround(0.0025))));
    // One input of 1 per step through weight 1: Euler at dt/tau = 0.4 crosses 0.1 in the first step.
    const engine = createEngine('dense', norse.graph);
    expect(engine.stepValues(Float32Array.of(1)).output[0]).toBe(1);
  });

  it('braille (CubaLIF with a recurrent weight) fails with one line naming the recurrent nodes', async () => {
    for (const as of [undefined, 'snntorch'] as const) {
      const e = await readNirFile(sharedFixture(BRAILLE), { as }).then(() => undefined, (x: unknown) => x);
      expect(isNirError(e) && e.code).toBe('UNSUPPORTED');
      expect((e as Error).message).toMatch(/lif1\.w_rec.*lif1\.lif.*recurrent/);
    }
  });
});
