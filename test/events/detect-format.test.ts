import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../src/events/detect-format.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('detectFormat', () => {
  it('recognises signatures regardless of the extension', () => {
    expect(detectFormat(enc('#!AER-DAT4.0\r\n'), 'x.bin')).toEqual({ format: 'aedat4', by: 'content' });
    expect(detectFormat(enc('#!AER-DAT3.1\r\n'), 'x.aedat')).toEqual({ format: 'aedat3', by: 'content' });
    expect(detectFormat(enc('#!AER-DAT2.0\r\n# x\r\n'), 'x.dat')).toEqual({ format: 'aedat2', by: 'content' });
  });

  it('reads the Prophesee evt/format header lines', () => {
    expect(detectFormat(enc('% Date x\n% evt 2.0\n'), 'a.raw')?.format).toBe('evt2');
    expect(detectFormat(enc('% evt 2.1\n'), 'a.raw')?.format).toBe('evt21');
    expect(detectFormat(enc('% evt 3.0\n'), 'a.bin')?.format).toBe('evt3');
    expect(detectFormat(enc('% format EVT3;height=720;width=1280\n% end\n'), 'a')?.format).toBe('evt3');
    expect(detectFormat(enc('% format EVT21;endianness=legacy\n'), 'a')?.format).toBe('evt21');
    expect(detectFormat(enc('% Data file containing Event2D events.\n% Version 2\n'), 'a.raw')?.format).toBe('dat');
  });

  it('falls back to the extension for formats without a signature', () => {
    expect(detectFormat(Uint8Array.from([1, 2, 3, 4, 5]), 'digit.bin')).toEqual({ format: 'nmnist', by: 'extension' });
    expect(detectFormat(enc('% Date only\n'), 'cam.raw')).toEqual({ format: 'evt3', by: 'extension' });
  });

  it('detects CSV text by content, and refuses binary with a .csv name', () => {
    expect(detectFormat(enc('t,x,y,p\n1,2,3,1\n'), 'events')?.format).toBe('csv');
    expect(detectFormat(enc('0.1 1 2 1\n'), 'events.txt')?.format).toBe('csv');
    expect(detectFormat(Uint8Array.from([0, 1, 2, 255]), 'events.csv')).toBeUndefined();
  });

  it('returns undefined for unknown binary content', () => {
    expect(detectFormat(Uint8Array.from([0xde, 0xad, 0xbe, 0xef]), 'mystery')).toBeUndefined();
    expect(detectFormat(new Uint8Array(0), 'empty')).toBeUndefined();
  });
});
