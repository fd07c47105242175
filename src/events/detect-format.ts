/**
 * Format detection by content, with the file extension as a hint where content cannot decide
 * (ATIS .bin and CSV have no signature).
 */
import type { EventFormat } from './batch.js';

/** How many leading bytes detection looks at; headers longer than this fall back to hints. */
export const DETECT_BYTES = 64 * 1024;

export interface Detection {
  readonly format: EventFormat;
  /** 'content' when a signature or header decided, 'extension' when only the name did. */
  readonly by: 'content' | 'extension';
}

const EXT_HINTS: Record<string, EventFormat> = {
  bin: 'nmnist', aedat4: 'aedat4', dat: 'dat', csv: 'csv', txt: 'csv', raw: 'evt3',
};

function startsWith(head: Uint8Array, s: string): boolean {
  if (head.length < s.length) return false;
  for (let i = 0; i < s.length; i++) if (head[i] !== s.charCodeAt(i)) return false;
  return true;
}

/** Leading text lines that start with `prefix`, decoded as latin1 (at most DETECT_BYTES). */
function headerLines(head: Uint8Array, prefix: string): string[] {
  const lines: string[] = [];
  let i = 0;
  const n = Math.min(head.length, DETECT_BYTES);
  while (i < n && head[i] === prefix.charCodeAt(0)) {
    let j = i;
    while (j < n && head[j] !== 0x0a) j++;
    lines.push(Buffer.from(head.subarray(i + 1, j)).toString('latin1').trim());
    i = j + 1;
  }
  return lines;
}

function extensionOf(name: string | undefined): string {
  if (!name) return '';
  const m = /\.([A-Za-z0-9]+)$/.exec(name);
  return m ? m[1].toLowerCase() : '';
}

/** Detects the format of a stream from its first bytes and (optionally) its file name. Returns undefined when nothing fits. */
export function detectFormat(head: Uint8Array, name?: string): Detection | undefined {
  const ext = extensionOf(name);
  if (startsWith(head, '#!AER-DAT4')) return { format: 'aedat4', by: 'content' };
  if (startsWith(head, '#!AER-DAT3')) return { format: 'aedat3', by: 'content' };
  if (startsWith(head, '#!AER-DAT2') || startsWith(head, '#!AER-DAT1')) return { format: 'aedat2', by: 'content' };
  if (head[0] === 0x25 /* % */) {
    const lines = headerLines(head, '%');
    for (const l of lines) {
      const evt = /^evt\s+(\d(?:\.\d)?)/i.exec(l);
      if (evt) {
        const v = evt[1];
        if (v.startsWith('3')) return { format: 'evt3', by: 'content' };
        if (v === '2.1' || v === '21') return { format: 'evt21', by: 'content' };
        if (v.startsWith('2')) return { format: 'evt2', by: 'content' };
      }
      const fmt = /^format\s+(EVT\d+)/i.exec(l);
      if (fmt) {
        const f = fmt[1].toUpperCase();
        if (f === 'EVT3') return { format: 'evt3', by: 'content' };
        if (f === 'EVT21') return { format: 'evt21', by: 'content' };
        if (f === 'EVT2') return { format: 'evt2', by: 'content' };
      }
    }
    if (lines.some((l) => /Data file containing/i.test(l) || /^Version\s+\d/i.test(l)) || ext === 'dat') {
      return { format: 'dat', by: 'content' };
    }
    if (ext === 'raw') return { format: 'evt3', by: 'extension' };
  }
  if (head[0] === 0x23 /* # */ && ext !== 'csv' && ext !== 'txt') {
    // jAER wrote headerless-version '#' headers before AEDAT 2.0 got its signature line.
    if (ext === 'aedat' || ext === 'dat' || ext === '') return { format: 'aedat2', by: 'content' };
  }
  if (ext && Object.hasOwn(EXT_HINTS, ext)) {
    const f = EXT_HINTS[ext];
    if (f === 'csv' && !looksLikeText(head)) return undefined;
    return { format: f, by: 'extension' };
  }
  if (ext === 'aedat') return { format: 'aedat2', by: 'extension' };
  if (looksLikeText(head)) return { format: 'csv', by: 'content' };
  return undefined;
}

/** Printable ASCII with at least one line of digits and separators. */
function looksLikeText(head: Uint8Array): boolean {
  const n = Math.min(head.length, 4096);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = head[i];
    if (!(c === 0x0a || c === 0x0d || c === 0x09 || (c >= 0x20 && c < 0x7f))) return false;
  }
  return /(^|\n)\s*-?[\d.]+[,;\t ]+\d+[,;\t ]+\d+[,;\t ]+-?\d/.test(Buffer.from(head.subarray(0, n)).toString('latin1'));
}
