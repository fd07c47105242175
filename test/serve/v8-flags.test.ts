/** The serve process's V8 flags: when `spikestream serve` relaunches itself to get them. */
import { describe, expect, it } from 'vitest';
import { needsRelaunch } from '../../src/cli/relaunch.js';
import { hasV8Flags, SERVE_V8_FLAGS } from '../../src/serve/v8-flags.js';

describe('hasV8Flags', () => {
  it('finds a flag in execArgv or NODE_OPTIONS, with any value and either spelling', () => {
    const f = ['--initial-heap-size=64'];
    expect(hasV8Flags(f, [], undefined)).toBe(false);
    expect(hasV8Flags(f, ['--initial-heap-size=128'], undefined)).toBe(true);
    expect(hasV8Flags(f, [], '--max-old-space-size=100 --initial_heap_size=32')).toBe(true);
    expect(hasV8Flags(f, ['--initial-heap'], '--max-old-space-size=100')).toBe(false);
    expect(hasV8Flags(['--a=1', '--b=2'], ['--a=1'], undefined)).toBe(false);
  });
});

describe('needsRelaunch', () => {
  it('relaunches unless the flags are there, the process is the relaunched child, or it is switched off', () => {
    expect(needsRelaunch(SERVE_V8_FLAGS, {}, [])).toBe(true);
    expect(needsRelaunch(SERVE_V8_FLAGS, {}, ['--import', 'tsx', ...SERVE_V8_FLAGS])).toBe(false);
    expect(needsRelaunch(SERVE_V8_FLAGS, { NODE_OPTIONS: SERVE_V8_FLAGS.join(' ') }, [])).toBe(false);
    expect(needsRelaunch(SERVE_V8_FLAGS, { SPIKESTREAM_RELAUNCHED: '1' }, [])).toBe(false);
    expect(needsRelaunch(SERVE_V8_FLAGS, { SPIKESTREAM_NO_RELAUNCH: '1' }, [])).toBe(false);
  });
});
