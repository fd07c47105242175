/**
 * The WebAssembly kernels against the JavaScript they replace: every step kernel variant against
 * stepList (neuron.ts), every leak variant against the zero-input step, bit for bit (Object.is, so
 * even the sign of a zero counts), on random values plus the edge values of the float32 arguments
 * in StepKernel's comment (thr, 2 * thr and their neighbours, ±0, subnormals). The equivalence
 * tests cover the scatter kernels through whole graphs; the emitter's own tests are in
 * test/wasm/assembler.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IFNode, LIFNode } from '../../src/snn/graph.js';
import { FORM_DECAY, FORM_EULER, FORM_IF, integrate, neuronArrays, quiescent, quiescentInterval, stepList, type NeuronArrays, type NeuronForm } from '../../src/snn/neuron.js';
import { compressTable, leakKey, loadSparseKernels, stepKey, type SparseKernels, type StepVariant } from '../../src/snn/sparse-kernels.js';
import { WasmArena } from '../../src/snn/wasm-arena.js';

const f = Math.fround;
const N = 24;

/** The float32 next to x towards +inf (dir 1) or -inf (dir -1). */
function nextF32(x: number, dir: 1 | -1): number {
  const b = new Float32Array([x]);
  const u = new Int32Array(b.buffer);
  if (x === 0) return dir * 2 ** -149;
  u[0] += (x > 0) === (dir > 0) ? 1 : -1;
  return b[0];
}

interface Setup {
  readonly k: SparseKernels;
  readonly arena: WasmArena;
}

function setup(): Setup {
  const arena = new WasmArena(1 << 20);
  const k = loadSparseKernels(arena.memory);
  if (!k) throw new Error('WebAssembly SIMD kernels unavailable on this host');
  return { k, arena };
}

/** A uniform neuron node of the given variant whose parameters satisfy the kernels' conditions. */
function node(v: StepVariant, thr: number, r: number, vReset: number, vMin: number, leak: number, vLeak: number): IFNode | LIFNode {
  const common = { v_threshold: thr, v_reset: vReset, spike: v.multi ? 'multi' : 'single', reset: v.subtract ? 'subtract' : 'zero', ...(v.clamp ? { vMin } : {}) } as const;
  if (v.form === FORM_IF) return { id: 'n', op: 'IF', params: { r: v.unitR ? 1 : r, ...common } };
  return {
    id: 'n', op: 'LIF',
    params: { tau: 1 / leak, dt: 1, r: v.unitR ? 1 : r, v_leak: vLeak, ...common, ...(v.form === FORM_DECAY ? { beta: leak } : {}) },
  };
}

const VARIANTS: StepVariant[] = [];
for (const form of [FORM_IF, FORM_EULER, FORM_DECAY] as NeuronForm[]) {
  for (const multi of [false, true]) {
    for (const subtract of [false, true]) for (const clamp of [false, true]) for (const unitR of [false, true]) VARIANTS.push({ form, multi, subtract, clamp, unitR });
  }
}

/** Float32 draws, each either a value or (pick < 11) one of the edge values around thr and 2 * thr. */
const draws = fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.oneof(fc.float({ min: -4, max: 4, noNaN: true }), fc.float({ noNaN: true, min: f(-1e30), max: f(1e30) }))), { minLength: N, maxLength: N });

function values(thr: number, d: [number, number][]): number[] {
  const edges = [0, -0, 2 ** -149, -(2 ** -149), thr, nextF32(thr, -1), nextF32(thr, 1), f(2 * thr), nextF32(f(2 * thr), -1), f(3.5 * thr), -thr];
  return d.map(([pick, val]) => (pick < edges.length ? edges[pick] : val));
}

describe('step kernels == stepList', () => {
  const { k, arena } = setup();
  const v = arena.float32(N);
  const vOut = arena.float32(N);
  const x = arena.float32(N);
  const list = arena.int32(N + 1);
  const outVal = arena.float32(N);
  const outBits = arena.int32(1);
  const summary = arena.int32(1);
  const outList = arena.int32(N + 1);
  const pending = arena.int32(N + 1);
  const stats = arena.float64(2);
  const statsI32 = new Int32Array(stats.buffer, stats.byteOffset, 2);
  const compress = arena.int32(64);
  new Uint8Array(compress.buffer, compress.byteOffset, 256).set(compressTable());

  for (const variant of VARIANTS) {
    it(stepKey(variant), () => {
      fc.assert(fc.property(
        fc.float({ min: f(0.25), max: 2, noNaN: true }), fc.float({ min: f(0.5), max: 2, noNaN: true }), fc.float({ min: -1, max: f(0.25), noNaN: true }),
        fc.float({ min: -2, max: 0, noNaN: true }), fc.float({ min: f(0.01), max: 1, noNaN: true }), fc.float({ min: -1, max: f(0.1), noNaN: true }),
        draws, draws, fc.shuffledSubarray(Array.from({ length: N }, (_, j) => j)), fc.boolean(),
        (thr, r, vReset, vMin, leak, vLeak, vDraws, xDraws, order, inPlace) => {
          const a: NeuronArrays = neuronArrays(node(variant, thr, r, vReset, vMin, leak, vLeak), [N]);
          const q = quiescentInterval(a.form, a.u.vThreshold, a.u.vLeak, a.u.vMin, a.multi);
          fc.pre(q !== null);
          if (q === null) return;
          const vs = values(thr, vDraws);
          const xs = values(thr, xDraws);
          const n = order.length;
          v.set(vs);
          x.set(xs);
          list.set(order);
          outVal.fill(0);
          outBits.fill(0);
          summary.fill(0);
          vOut.set(vs);
          statsI32.fill(0);
          // JavaScript reference on copies.
          const vRef = Float32Array.from(vs);
          const outRef = new Float32Array(N);
          const idxRef = new Int32Array(N);
          const pendRef = new Int32Array(N);
          const st = { outputs: 0, pending: 0, spikes: 0, violations: 0 };
          stepList(a, vRef, Float32Array.from(xs), Int32Array.from(order), n, outRef, idxRef, null, 0, pendRef, st);
          const u = a.u;
          const dst = inPlace ? v : vOut;
          (k.step.get(stepKey(variant)) as NonNullable<ReturnType<SparseKernels['step']['get']>>)(
            v.byteOffset, dst.byteOffset, x.byteOffset, list.byteOffset, n, outVal.byteOffset, outBits.byteOffset, summary.byteOffset,
            outList.byteOffset, pending.byteOffset, stats.byteOffset, compress.byteOffset, u.a, u.r, u.vLeak, u.vThreshold, f(2 * u.vThreshold), u.vReset, u.vMin, q[0], q[1],
          );
          for (let j = 0; j < N; j++) {
            expect(Object.is(dst[j], vRef[j])).toBe(true);
            expect(Object.is(outVal[j], outRef[j])).toBe(true);
          }
          expect(Array.from(outList.subarray(0, statsI32[0]))).toEqual(Array.from(idxRef.subarray(0, st.outputs)));
          expect(stats[1]).toBe(st.spikes);
          let bits = 0;
          for (const j of idxRef.subarray(0, st.outputs)) bits |= 1 << j;
          expect(outBits[0]).toBe(bits);
          expect(summary[0]).toBe(st.outputs > 0 ? 1 : 0);
          // The kernel's quiescent interval is quiescent()'s set for IF, a subset for LIF.
          const kPending = Array.from(pending.subarray(0, statsI32[1]));
          const jsPending = Array.from(pendRef.subarray(0, st.pending));
          if (a.form === FORM_IF) expect(kPending).toEqual(jsPending);
          else for (const j of jsPending) expect(kPending).toContain(j);
        },
      ), { numRuns: 40 });
    });
  }
});

describe('leak kernels == the zero-input step', () => {
  const { k, arena } = setup();
  const vIn = arena.float32(N);
  const vOut = arena.float32(N);
  for (const form of [FORM_EULER, FORM_DECAY] as NeuronForm[]) {
    for (const multi of [false, true]) {
      for (const clamp of [false, true]) {
        for (const zeroLeak of [false, true]) {
          const key = leakKey({ form, multi, clamp, zeroLeak });
          it(key, () => {
            fc.assert(fc.property(
              fc.float({ min: f(0.01), max: 1, noNaN: true }), fc.float({ min: f(0.25), max: 2, noNaN: true }), fc.float({ min: -2, max: 0, noNaN: true }),
              fc.float({ min: -1, max: 1, noNaN: true }), fc.boolean(), draws,
              (a, thr, vMinDraw, vLeakDraw, negR, vDraws) => {
                const vLeak = zeroLeak ? 0 : vLeakDraw;
                const ri0 = zeroLeak ? 0 : negR ? -0 : 0;
                const vMin = clamp ? vMinDraw : -Infinity;
                const vs = values(thr, vDraws);
                vIn.set(vs);
                const n4 = N & ~3;
                const fired = (k.leak.get(key) as NonNullable<ReturnType<SparseKernels['leak']['get']>>)(vIn.byteOffset, vOut.byteOffset, n4 * 4, a, vLeak, ri0, vMin, thr);
                let want = 0;
                for (let j = 0; j < n4; j++) {
                  // integrate(form, v, 0, a, r, vLeak) with r * 0 = ri0, then the clamp.
                  const u0 = integrate(form, vIn[j], 0, a, Object.is(ri0, -0) ? -1 : 1, vLeak);
                  if (multi ? u0 >= thr : u0 > thr) want++;
                  const w = u0 < vMin ? vMin : u0;
                  expect(Object.is(vOut[j], w)).toBe(true);
                }
                expect(fired).toBe(want);
              },
            ), { numRuns: 60 });
          });
        }
      }
    }
  }
});

describe('quiescentInterval', () => {
  it('is exactly quiescent() for IF, and inside quiescent() around the resting potential for LIF', () => {
    fc.assert(fc.property(
      fc.constantFrom(FORM_IF, FORM_EULER, FORM_DECAY) as fc.Arbitrary<NeuronForm>, fc.boolean(),
      fc.float({ min: f(0.01), max: 50, noNaN: true }), fc.float({ min: -5, max: 5, noNaN: true }), fc.oneof(fc.constant(-Infinity), fc.float({ min: -5, max: 5, noNaN: true })),
      fc.array(fc.float({ noNaN: true }), { minLength: 20, maxLength: 20 }),
      (form, multi, thr, vLeak, vMin, probes) => {
        const q = quiescentInterval(form, thr, vLeak, vMin, multi);
        const rest = vLeak > vMin ? vLeak : vMin;
        if (form !== FORM_IF && q === null) {
          // Only when the resting potential is (nearly) not quiescent.
          expect(quiescent(form, rest, thr, vLeak, vMin, multi) && quiescent(form, f(rest + Math.abs(rest) * 2 ** -10), thr, vLeak, vMin, multi)).toBe(false);
          return;
        }
        if (q === null) throw new Error('IF always has an interval');
        const [lo, hi] = q;
        const inside = (v: number) => lo <= v && v <= hi;
        const ends = [lo, hi, nextF32(hi, 1), lo === -Infinity ? lo : nextF32(lo, -1), thr, rest];
        for (const v of [...probes, ...ends]) {
          if (form === FORM_IF) expect(inside(v)).toBe(quiescent(form, v, thr, vLeak, vMin, multi));
          else if (inside(v)) expect(quiescent(form, v, thr, vLeak, vMin, multi)).toBe(true);
        }
        if (form !== FORM_IF) {
          expect(inside(rest)).toBe(true);
          // Not needlessly narrow: it reaches within 2^-12 of quiescent()'s ends.
          expect(quiescent(form, f(hi + Math.abs(hi) * 2 ** -12), thr, vLeak, vMin, multi)).toBe(false);
        }
      },
    ), { numRuns: 300 });
  });
});
