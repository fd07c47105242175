/**
 * Synthetic N-MNIST generation speed (in-process, one thread), next to baselines measured in the
 * same run:
 * - the emulator's per-pixel cost against a plain loop that only takes ln(I + eps) of every pixel of
 *   every frame (the least work any log-intensity emulator must do);
 * - whole samples (render + emulate + encode) against decoding the same samples' .bin bytes.
 *
 *   npx tsx bench/synth.ts [--samples 100]
 *
 * Prints one JSON line per figure: { name, value, unit, ... , baseline, ratio }.
 */
import { NmnistDecoder, encodeNmnist } from '../src/events/nmnist.js';
import { DvsEmulator } from '../src/data/emulator.js';
import { digitPixels, loadMnistDigits } from '../src/data/mnist-digits.js';
import { resolveNmnistSimParams, simulateNmnist } from '../src/data/nmnist-sim.js';

const argN = process.argv.indexOf('--samples');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 100;

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

const digits = await loadMnistDigits();
const params = resolveNmnistSimParams();
const refs = Array.from({ length: N }, (_, i) => ({ label: i % 10, index: 200 + i }));

// Whole samples.
simulateNmnist(digitPixels(digits, refs[0]), params, 0); // warm-up
const encoded: Uint8Array[] = [];
let events = 0;
const synthS = time(() => {
  for (let i = 0; i < N; i++) {
    const s = simulateNmnist(digitPixels(digits, refs[i]), params, i);
    events += s.events.t.length;
    encoded.push(encodeNmnist(s.events));
  }
});
const decodeS = time(() => {
  for (let rep = 0; rep < 5; rep++) {
    for (const bytes of encoded) {
      const d = new NmnistDecoder();
      d.write(bytes);
      d.end();
    }
  }
}) / 5;
emit({ name: 'synth.nmnist', value: +(N / synthS).toFixed(1), unit: 'samples/s', samples: N, eventsPerSample: Math.round(events / N), msPerSample: +((synthS * 1000) / N).toFixed(2), threads: 1 });
emit({ name: 'synth.nmnist.decode_baseline', value: +(N / decodeS).toFixed(1), unit: 'samples/s', ratio: +(decodeS / synthS).toFixed(5), ratioMeaning: 'synthesis samples/s over decoding the same .bin samples/s' });

// Emulator core: a 34x34 sensor stepped through moving frames, against ln() of every pixel.
const W = 34;
const H = 34;
const FRAMES = 3000;
const frames = Array.from({ length: 64 }, (_, k) => Float32Array.from({ length: W * H }, (_, i) => 0.05 + 0.95 * (0.5 + 0.5 * Math.sin((i % W) * 0.5 + k * 0.1))));
const emuS = time(() => {
  const emu = new DvsEmulator({ width: W, height: H, params: { ...params.emulator } });
  emu.reset(frames[0], 0);
  for (let f = 1; f <= FRAMES; f++) emu.step(frames[f % 64], f * 1000);
});
let sink = 0;
const logS = time(() => {
  const out = new Float64Array(W * H);
  for (let f = 1; f <= FRAMES; f++) {
    const fr = frames[f % 64];
    for (let i = 0; i < W * H; i++) out[i] = Math.log(fr[i] + 1e-3);
    sink += out[f % (W * H)];
  }
});
const updates = FRAMES * W * H;
emit({ name: 'synth.emulator', value: +(updates / emuS / 1e6).toFixed(2), unit: 'Mpixel-updates/s', sensor: `${W}x${H}`, frames: FRAMES });
emit({ name: 'synth.emulator.log_baseline', value: +(updates / logS / 1e6).toFixed(2), unit: 'Mpixel-updates/s', ratio: +(logS / emuS).toFixed(3), ratioMeaning: 'emulator pixel-updates/s over a bare ln() loop', sink: Number.isFinite(sink) });
