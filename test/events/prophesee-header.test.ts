import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Evt2Decoder } from '../../src/events/evt2.js';
import { Evt3Decoder } from '../../src/events/evt3.js';
import {
  PropheseeHeaderError, geometryFromPlugin, parsePropheseeHeader, propheseeHeaderBytes,
} from '../../src/events/prophesee-header.js';
import { concatBytes } from '../helpers/concat-bytes.js';
import { decodeErrorOf } from '../helpers/decode-error-of.js';
import { decodeChunked, toRows } from '../helpers/events.js';

function headerError(lines: string[]): PropheseeHeaderError {
  try {
    parsePropheseeHeader(lines);
  } catch (e) {
    if (e instanceof PropheseeHeaderError) return e;
    throw e;
  }
  throw new Error('expected a PropheseeHeaderError');
}

describe('parsePropheseeHeader', () => {
  it('reads the encoding from `evt` and from the `format` line', () => {
    expect(parsePropheseeHeader(['evt 2.0']).declared).toBe('evt2');
    expect(parsePropheseeHeader(['evt 2.1']).declared).toBe('evt21');
    expect(parsePropheseeHeader(['evt 3.0', 'format EVT3;height=720;width=1280']).declared).toBe('evt3');
    expect(parsePropheseeHeader(['format EVT21;height=720;width=1280;endianness=Legacy']).endianness).toBe('legacy');
    expect(parsePropheseeHeader(['format EVT4;height=720;width=1280']).declared).toBe('other:EVT4');
    expect(parsePropheseeHeader(['Data file containing CD events', 'Version 2']).declared).toBe('dat');
    expect(parsePropheseeHeader(['Date 2020-01-01']).declared).toBeUndefined();
  });

  it('takes geometry from `geometry`, else Width/Height, else `format`, else the plugin, else the sensor generation', () => {
    const g = (lines: string[]) => {
      const h = parsePropheseeHeader(lines);
      return [h.width, h.height, h.geometrySource];
    };
    const all = ['plugin_name hal_plugin_gen3_fx3', 'format EVT3;height=720;width=1280', 'geometry 320x240'];
    expect(g(all)).toEqual([320, 240, 'geometry']);
    expect(g(all.slice(0, 2))).toEqual([1280, 720, 'format']);
    expect(g(all.slice(0, 1))).toEqual([640, 480, 'plugin']);
    expect(g(['Width 304', 'Height 240', 'format EVT3;width=1;height=1'])).toEqual([304, 240, 'width-height']);
    expect(g(['sensor_generation 4.2'])).toEqual([1280, 720, 'sensor-generation']);
    expect(g(['plugin_name hal_plugin_unknown', 'sensor_generation 9.9'])).toEqual([undefined, undefined, undefined]);
    // A format line with only one side gives no geometry.
    expect(g(['format EVT3;width=1280'])).toEqual([undefined, undefined, undefined]);
  });

  it('maps OpenEB plugin names to sensor sizes', () => {
    expect(geometryFromPlugin('hal_plugin_gen3_fx3')).toEqual({ width: 640, height: 480 });
    expect(geometryFromPlugin('hal_plugin_gen31_evk3')).toEqual({ width: 640, height: 480 });
    expect(geometryFromPlugin('hal_plugin_gen41_evk3')).toEqual({ width: 1280, height: 720 });
    expect(geometryFromPlugin('hal_plugin_gen4_fx3')).toEqual({ width: 1280, height: 720 });
    expect(geometryFromPlugin('hal_plugin_imx636_evk4')).toEqual({ width: 1280, height: 720 });
    expect(geometryFromPlugin('hal_plugin_genx320_cx3')).toEqual({ width: 320, height: 320 });
    expect(geometryFromPlugin('hal_plugin_prophesee')).toBeUndefined();
  });

  it('rejects malformed known keys, naming the line', () => {
    expect(headerError(['evt 3.0', 'geometry 640 by 480']).line).toBe(1);
    expect(headerError(['geometry 0x480']).message).toMatch(/outside/);
    expect(headerError(['format EVT3;width']).message).toMatch(/key=value/);
    expect(headerError(['format EVT3;width=abc;height=1']).message).toMatch(/integer/);
    expect(headerError(['Width -3']).line).toBe(0);
    expect(headerError(['evt 2.0', 'format EVT3']).line).toBe(1);
  });

  it('notes an explicit `% end`', () => {
    expect(parsePropheseeHeader(['evt 3.0', 'end']).ended).toBe(true);
    expect(parsePropheseeHeader(['evt 3.0']).ended).toBe(false);
  });
});

describe('Prophesee header reading in the decoders', () => {
  const head = propheseeHeaderBytes(['evt 3.0', 'geometry 64x32']);

  it('needs "% " to start a header line, so a body starting with byte 0x25 is data', () => {
    // TIME_HIGH 0x025 is stored as bytes 25 80.
    const body = Uint8Array.of(0x25, 0x80, 0x03, 0x00, 0x07, 0x28);
    for (const input of [body, concatBytes(head, body)]) {
      for (const size of [1, 2, 3, 100]) {
        expect(toRows(decodeChunked(new Evt3Decoder(), input, [size]))).toEqual([[0x25 * 4096, 7, 3, 1]]);
      }
    }
  });

  it('stops at `% end` even when the body starts with "% "', () => {
    // Word 0x2025 (bytes 25 20) is EVT_ADDR_X x=0x25.
    const bytes = concatBytes(propheseeHeaderBytes(['evt 3.0', 'end']), Uint8Array.of(0x00, 0x80, 0x01, 0x00, 0x25, 0x20));
    const dec = new Evt3Decoder();
    expect(toRows(decodeChunked(dec, bytes, [1]))).toEqual([[0, 0x25, 1, 0]]);
    expect(dec.info.headerLines).toEqual(['evt 3.0', 'end']);
  });

  it('gives the same info and events for any split of the header', () => {
    const bytes = concatBytes(propheseeHeaderBytes(['Date 2024-01-01', 'plugin_name hal_plugin_gen41_evk3', 'evt 3.0']), Uint8Array.of(0x00, 0x80, 0x05, 0x00, 0x09, 0x20));
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 4 }), (sizes) => {
      const dec = new Evt3Decoder();
      expect(toRows(decodeChunked(dec, bytes, sizes))).toEqual([[0, 9, 5, 0]]);
      expect([dec.info.width, dec.info.height, dec.info.details.geometrySource]).toEqual([1280, 720, 'plugin']);
      expect(dec.info.headerLines).toHaveLength(3);
    }));
  });

  it('reports a malformed header line as BAD_HEADER at that line', () => {
    const bytes = propheseeHeaderBytes(['evt 3.0', 'geometry big']);
    const e = decodeErrorOf(() => decodeChunked(new Evt3Decoder(), bytes, [4]));
    expect(e.code).toBe('BAD_HEADER');
    expect(e.offset).toBe('% evt 3.0\n'.length);
  });

  it('fills info for a header-only stream', () => {
    const dec = new Evt3Decoder();
    expect(decodeChunked(dec, head).t.length).toBe(0);
    expect([dec.info.width, dec.info.height]).toEqual([64, 32]);
  });

  it('bounds the header size and reports input ending inside a header line', () => {
    const big = propheseeHeaderBytes(['x'.repeat(200)]);
    expect(decodeErrorOf(() => new Evt3Decoder({ limits: { maxHeaderBytes: 100 } }).write(big)).code).toBe('TOO_LARGE');
    const cut = decodeErrorOf(() => decodeChunked(new Evt3Decoder(), head.subarray(0, head.length - 3)));
    expect(cut.code).toBe('TRUNCATED');
    expect(cut.offset).toBe('% evt 3.0\n'.length);
    expect(decodeErrorOf(() => decodeChunked(new Evt3Decoder(), Uint8Array.of(0x25))).code).toBe('TRUNCATED');
  });

  it('rejects a headerless stream when a header is required', () => {
    const e = decodeErrorOf(() => new Evt2Decoder({ requireHeader: true }).write(Uint8Array.of(0, 0, 0, 0x80)));
    expect(e.code).toBe('BAD_MAGIC');
    expect(new Evt2Decoder().write(Uint8Array.of(0, 0, 0, 0x80)).t.length).toBe(0);
  });

  it('rejects garbage header text for the format it claims', () => {
    const e = decodeErrorOf(() => decodeChunked(new Evt2Decoder(), concatBytes(propheseeHeaderBytes(['Date x', 'evt 3.0']), new Uint8Array(8))));
    expect(e.code).toBe('BAD_MAGIC');
    expect(e.offset).toBe('% Date x\n'.length);
  });
});
