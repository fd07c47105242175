/**
 * `spikestream frames`: every reference through the command (element for element), numpy.load on
 * the output, filters, and one-line errors. (Lives in test/stream with the rest of the pipeline's
 * tests; it drives src/cli/frames.ts through the CLI entry point.)
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchFrom } from '../../src/events/batch.js';
import { encodeNmnist } from '../../src/events/nmnist.js';
import { binEventsByTime } from '../../src/stream/bin-by-time.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';
import { findPython, runPython } from '../helpers/python.js';
import { denseFrames, NMNIST_REL } from './helpers.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'spikestream-frames-'));
let serial = 0;
const outPath = () => join(dir, `f${serial++}.npy`);

const run = runCli;


const REFS: [string, string[]][] = [
  ['tonic_time_window_10000', ['--time-window-us', '10000']],
  ['tonic_time_window_10000_incl', ['--time-window-us', '10000', '--include-incomplete']],
  ['tonic_time_window_50000_overlap_10000', ['--time-window-us', '50000', '--overlap', '10000']],
  ['tonic_event_count_500', ['--event-count', '500']],
  ['tonic_n_time_bins_10', ['--n-time-bins', '10']],
  ['tonic_n_time_bins_10_overlap_0.5', ['--n-time-bins', '10', '--overlap', '0.5']],
  ['tonic_n_event_bins_10', ['--n-event-bins', '10']],
  ['spikingjelly_time_10', ['--n-time-bins', '10', '--spikingjelly']],
  ['spikingjelly_number_10', ['--n-event-bins', '10', '--spikingjelly']],
];
const npyRef = (name: string) => `reference/npy/${name}.npy`;

describeWithFixtures('spikestream frames on the N-MNIST sample', [NMNIST_REL, ...REFS.map(([n]) => npyRef(n)), npyRef('tonic_denoise_10000_events'), npyRef('tonic_refractory_1000_events')], () => {
  const input = sharedFixture(NMNIST_REL);

  for (const [name, flags] of REFS) {
    it(`${flags.join(' ')} writes exactly ${name}`, async () => {
      const out = outPath();
      const r = await run('frames', input, '--out', out, '--width', '34', '--height', '34', ...flags);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const got = readNpy(out);
      const want = readNpy(sharedFixture(npyRef(name)));
      expect(got.dtype).toBe('<i2');
      expect(got.shape).toEqual(want.shape);
      expect(Array.from(got.data)).toEqual(Array.from(want.data));
    });
  }

  it('numpy.load reads the output and finds it equal to the reference (when python3 with numpy is available)', async () => {
    const py = findPython(['numpy']);
    if (!py) {
      if (process.env.CI) throw new Error('CI needs a python3 with numpy');
      return;
    }
    const out = outPath();
    expect((await run('frames', input, '--out', out, '--time-window-us', '10000', '--include-incomplete')).code).toBe(0);
    const said = runPython(py, 'import numpy, sys\na = numpy.load(sys.argv[1]); r = numpy.load(sys.argv[2])\nprint(a.dtype, a.shape, bool(numpy.array_equal(a, r)))', [out, sharedFixture(npyRef('tonic_time_window_10000_incl'))]);
    expect(said.trim()).toBe('int16 (32, 2, 34, 34) True');
  });

  for (const [flag, value, ref] of [['--denoise-us', '10000', 'tonic_denoise_10000_events'], ['--refractory-us', '1000', 'tonic_refractory_1000_events']]) {
    it(`${flag} ${value} bins exactly the events tonic keeps`, async () => {
      const out = outPath();
      const r = await run('frames', input, '--out', out, '--time-window-us', '20000', flag, value, '--json');
      expect(r.code).toBe(0);
      const survivors = readNpy(sharedFixture(npyRef(ref)));
      const rows = { t: [] as number[], x: [] as number[], y: [] as number[], p: [] as number[] };
      for (let i = 0; i < survivors.shape[0]; i++) {
        rows.t.push(survivors.data[i * 4]); rows.x.push(survivors.data[i * 4 + 1]); rows.y.push(survivors.data[i * 4 + 2]); rows.p.push(survivors.data[i * 4 + 3]);
      }
      const want = denseFrames(binEventsByTime(batchFrom(rows), { windowUs: 20000, width: 34, height: 34 }).timesteps);
      expect(Array.from(readNpy(out).data)).toEqual(Array.from(want));
      expect(JSON.parse(r.out)).toMatchObject({ eventsDecoded: 4325, eventsBinned: survivors.shape[0], sensor: { width: 34, height: 34, geometry: 'inferred' } });
      expect(r.err).toMatch(/inferred from the largest coordinates/);
    });
  }

  it('--downsample 17x17 writes 17x17 frames holding every binned event', async () => {
    const out = outPath();
    const r = await run('frames', input, '--out', out, '--event-count', '1000', '--downsample', '17x17', '--json');
    expect(r.code).toBe(0);
    const got = readNpy(out);
    expect(got.shape).toEqual([4, 2, 17, 17]);
    expect(got.data.reduce((a, b) => a + b, 0)).toBe(4000);
  });

  const errors: [string, string[], RegExp][] = [
    ['no binning', [], /choose a binning/],
    ['two binnings', ['--time-window-us', '10', '--event-count', '5'], /choose one binning, not --time-window-us and --event-count/],
    ['spikingjelly with a time window', ['--time-window-us', '10', '--spikingjelly'], /--spikingjelly .* --n-time-bins or --n-event-bins/],
    ['an overlap as long as the window', ['--time-window-us', '10', '--overlap', '10'], /must be smaller than --time-window-us/],
    ['stride and overlap together', ['--time-window-us', '10', '--overlap', '2', '--stride-us', '5'], /--stride-us or --overlap, not both/],
    ['a fractional event overlap', ['--event-count', '10', '--overlap', '2.5'], /whole number of events/],
    ['a bin overlap of 1', ['--n-event-bins', '4', '--overlap', '1'], /fraction of a bin/],
    ['include-incomplete with n bins', ['--n-time-bins', '4', '--include-incomplete'], /--include-incomplete goes with/],
    ['a width without a height', ['--time-window-us', '10', '--width', '34'], /both --width and --height/],
    ['a sensor too small for the events', ['--time-window-us', '10000', '--width', '20', '--height', '20'], /outside the 20x20 .* pass --width\/--height/],
  ];
  for (const [what, flags, re] of errors) {
    it(`fails with one clear line and no file for ${what}`, async () => {
      const out = outPath();
      const r = await run('frames', input, '--out', out, ...flags);
      expect(r.code).toBe(1);
      const lines = r.err.trim().split('\n').filter((l) => !/inferred from the largest/.test(l));
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(/^spikestream: /);
      expect(lines[0]).toMatch(re);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    });
  }
});

describe('spikestream frames on made-up recordings', () => {
  it('saturates counts above int16 with a warning', async () => {
    const n = 40000;
    const file = join(dir, 'hot.bin');
    writeFileSync(file, encodeNmnist(batchFrom({ t: Array.from({ length: n }, (_, i) => i), x: new Array(n).fill(3), y: new Array(n).fill(4), p: new Array(n).fill(1) })));
    const out = outPath();
    const r = await run('frames', file, '--out', out, '--event-count', String(n), '--width', '8', '--height', '8');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/1 frame cells counted more than 32767 events \(largest 40000\); saturated at 32767/);
    const got = readNpy(out);
    expect(got.shape).toEqual([1, 2, 8, 8]);
    expect(got.data[64 + 4 * 8 + 3]).toBe(32767);
  });

  it('reports a missing input in one line', async () => {
    const r = await run('frames', join(dir, 'nope.bin'), '--out', outPath(), '--event-count', '5');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/ENOENT|no such file/);
  });
});
