/**
 * Prophesee EVT 2.1: 64-bit words; the 32-bit "head" half carries the type in bits 31..28.
 *
 *   EVT_NEG 0x0 / EVT_POS 0x1   head: ts[5:0] (27..22), x base (21..11), y (10..0);
 *                               other half: 32-bit validity mask, event k at x base + k
 *   EVT_TIME_HIGH 0x8           head: ts[33:6] (27..0)
 *   EXT_TRIGGER 0xA, OTHERS 0xE, CONTINUED 0xF: skipped (info.skippedWords); others reserved
 *
 * Two byte orders exist (OpenEB evt21_event_types.h): `little` (Evt21Raw: the whole 64-bit word
 * little-endian, so the mask comes first in the file; GenX320) and `legacy` (Evt21LegacyRaw: the two
 * 32-bit halves swapped, head first; IMX636 devices write `% format EVT21;...;endianness=legacy`).
 * Like OpenEB's make_decoder, `endianness=legacy` in the `% format` line selects legacy and anything
 * else little; the `endianness` option overrides the header. details.endianness and
 * details.endiannessSource ('header' | 'default' | 'option') say what was used.
 *
 * Time (OpenEB EVT21GenericDecoder): words before the first TIME_HIGH are dropped; a TIME_HIGH
 * equal to the current one changes nothing, a different one replaces the high bits and clears the
 * low 6; only a drop from the very last 64 us slot of the 34-bit range to slot 0 counts as a loop
 * (+2^34 us). Any other backward TIME_HIGH is kept (OpenEB logs "TimeHigh discrepancy"; counted here
 * in details.timeHighDiscrepancies).
 */
import type { EventBatch } from './batch.js';
import { DecodeError } from './decode-error.js';
import {
  PropheseeDecoderBase, checkEncodeEvent, checkEncodeGeometry, concatBytes, propheseeHeaderBytes,
  type PropheseeDecoderOptions, type PropheseeHeader,
} from './prophesee-header.js';

export type Evt21Endianness = 'little' | 'legacy';

export interface Evt21Options extends PropheseeDecoderOptions {
  /** Force the byte order instead of reading it from the header. */
  endianness?: Evt21Endianness;
}

const TIME_LOOP = 2 ** 34;
const MAX_TIME_HIGH = TIME_LOOP - 64;
/** Types the Prophesee EVT 2.1 docs define (bit i set = type i known); the rest are reserved. */
const KNOWN = (1 << 0x0) | (1 << 0x1) | (1 << 0x8) | (1 << 0xa) | (1 << 0xe) | (1 << 0xf);

export class Evt21Decoder extends PropheseeDecoderBase {
  readonly format = 'evt21' as const;
  protected readonly wordBytes = 8;
  protected readonly maxUnitBytes = 8;
  private readonly forced: Evt21Endianness | undefined;
  /** Index (0 or 1) of the head half within each pair of 32-bit words. */
  private head = 1;
  private timeSet = false;
  private loopBase = 0;
  /** TIME_HIGH * 64 of the current base, without loops. */
  private highRaw = 0;
  private beforeTimeHigh = 0;
  private discrepancies = 0;
  private ratio = 1;

  constructor(options: Evt21Options = {}) {
    super('evt21', options, false);
    if (options.endianness !== undefined && options.endianness !== 'little' && options.endianness !== 'legacy') {
      throw new RangeError(`Evt21Decoder: endianness must be "little" or "legacy", not "${String(options.endianness)}"`);
    }
    this.forced = options.endianness;
    this.setEndianness(this.forced ?? 'little', this.forced ? 'option' : 'default');
  }

  private setEndianness(e: Evt21Endianness, source: string): void {
    this.head = e === 'legacy' ? 0 : 1;
    this.info.details.endianness = e;
    this.info.details.endiannessSource = source;
  }

  protected onHeader(h: PropheseeHeader): void {
    this.checkDeclared(h);
    const e = h.endianness;
    if (e !== undefined && e !== 'legacy' && e !== 'little') {
      throw new DecodeError('UNSUPPORTED', 'evt21', this.declaredOffset(h), `EVT 2.1 endianness "${e}" is neither "little" nor "legacy"`);
    }
    if (this.forced === undefined) this.setEndianness(e === 'legacy' ? 'legacy' : 'little', e !== undefined ? 'header' : 'default');
  }

  protected estimateEvents(bytes: number): number {
    return Math.ceil(bytes * this.ratio * 1.25) + 64;
  }

  protected override syncDetails(): void {
    const d = this.info.details;
    d.wordsBeforeTimeHigh = this.beforeTimeHigh;
    d.timeLoops = this.loopBase / TIME_LOOP;
    d.timeHighDiscrepancies = this.discrepancies;
    if (this.info.bytes > 4096) this.ratio = Math.max(0.05, this.info.events / this.info.bytes);
  }

  protected override unitName(): string {
    return '64-bit word';
  }

  // Hot loop, hand-written: reads both halves through one Uint32Array view and expands the mask
  // with count-trailing-zeros, so the cost is per event, not per bit.
  protected decodeBody(buf: ArrayBufferLike, byteOffset: number, byteLength: number, streamOffset: number): number {
    const nw = byteLength >>> 3;
    const u = new Uint32Array(buf, byteOffset, nw * 2);
    const hOff = this.head;
    const vOff = 1 - hOff;
    let i = 0;
    if (!this.timeSet) {
      while (i < nw && u[2 * i + hOff] >>> 28 !== 0x8) i++;
      this.beforeTimeHigh += i;
      this.info.skippedWords += i;
      if (i === nw) return nw << 3;
      this.timeSet = true;
      this.highRaw = (u[2 * i + hOff] & 0x0fffffff) * 64;
      i++;
    }
    const { t, x, y, p } = this.cols;
    const cap = t.length;
    const strict = this.strict;
    let n = this.n;
    let loopBase = this.loopBase;
    let highRaw = this.highRaw;
    let tHigh = loopBase + highRaw;
    let skipped = 0;
    for (; i < nw; i++) {
      const h = u[2 * i + hOff];
      const type = h >>> 28;
      if (type < 2) {
        let mask = u[2 * i + vOff] | 0;
        if (n + 32 > cap) {
          this.needMore = true;
          break;
        }
        const ts = tHigh + ((h >>> 22) & 63);
        const xb = (h >>> 11) & 0x7ff;
        const yy = h & 0x7ff;
        while (mask !== 0) {
          t[n] = ts;
          x[n] = xb + 31 - Math.clz32(mask & -mask);
          y[n] = yy;
          p[n] = type;
          n++;
          mask &= mask - 1;
        }
      } else if (type === 0x8) {
        const th = (h & 0x0fffffff) * 64;
        if (th < highRaw) {
          if (highRaw - th >= MAX_TIME_HIGH) loopBase += TIME_LOOP;
          else this.discrepancies++;
        }
        highRaw = th;
        tHigh = loopBase + highRaw;
      } else {
        if (strict && ((KNOWN >>> type) & 1) === 0) {
          this.fault = { offset: streamOffset + i * 8, reason: `reserved EVT 2.1 word type 0x${type.toString(16)}` };
          break;
        }
        skipped++;
      }
    }
    this.n = n;
    this.loopBase = loopBase;
    this.highRaw = highRaw;
    this.info.skippedWords += skipped;
    return i << 3;
  }
}

export interface Evt21EncodeOptions {
  /** Sensor size written to the header; every event must lie inside it (at most 2048 each). */
  readonly width: number;
  readonly height: number;
  /** Byte order to write (default little); written to the header as `endianness=`. */
  readonly endianness?: Evt21Endianness;
}

/**
 * Encodes a batch as an EVT 2.1 RAW file. Runs of consecutive events with the same t, y and p and
 * increasing x within 32 pixels share one 64-bit word. Rejects (RangeError): events outside the
 * geometry, polarity other than 0/1, t that is not an integer in [0, 2^40), t moving back into an
 * earlier 2^34 us loop, and a step from the last 64 us slot of a loop back to its first slot (the
 * decoder reads exactly that as a loop).
 */
export function encodeEvt21(b: EventBatch, options: Evt21EncodeOptions): Uint8Array {
  const { width, height } = options;
  const endianness = options.endianness ?? 'little';
  checkEncodeGeometry('EVT 2.1', width, height, 2048);
  const hOff = endianness === 'legacy' ? 0 : 1;
  let words = new Uint32Array(2048);
  let nw = 0;
  const push = (head: number, other: number): void => {
    if (2 * nw + 2 > words.length) {
      const next = new Uint32Array(words.length * 2);
      next.set(words);
      words = next;
    }
    words[2 * nw + hOff] = head >>> 0;
    words[2 * nw + 1 - hOff] = other >>> 0;
    nw++;
  };
  let started = false;
  let loop = 0;
  let highRaw = 0;
  const timeHigh = (raw: number): void => {
    push(0x80000000 | raw, 0);
    const th = raw * 64;
    if (started && th < highRaw && highRaw - th >= MAX_TIME_HIGH) loop++;
    started = true;
    highRaw = th;
  };
  const n = b.t.length;
  let i = 0;
  while (i < n) {
    checkEncodeEvent('EVT 2.1', b, i, width, height);
    const t = b.t[i];
    const target = t - (t % 64);
    const tl = Math.floor(target / TIME_LOOP);
    const raw = (target - tl * TIME_LOOP) / 64;
    if (!started) timeHigh(tl === 0 ? raw : MAX_TIME_HIGH / 64);
    if (tl < loop) throw new RangeError(`EVT 2.1 encoder: event ${i} (t=${t}) steps back into an earlier 2^34 us time loop`);
    while (loop < tl) {
      if (highRaw !== MAX_TIME_HIGH) timeHigh(MAX_TIME_HIGH / 64);
      timeHigh(0);
    }
    if (raw * 64 !== highRaw) {
      if (highRaw === MAX_TIME_HIGH && raw === 0) {
        throw new RangeError(`EVT 2.1 encoder: event ${i} (t=${t}) steps back from the last 64 us slot of a time loop to its first, which the format reads as a loop`);
      }
      timeHigh(raw);
    }
    const yy = b.y[i];
    const pp = b.p[i];
    const xb = b.x[i];
    let mask = 1;
    let last = xb;
    let j = i + 1;
    while (j < n && b.t[j] === t && b.y[j] === yy && b.p[j] === pp && b.x[j] > last && b.x[j] < xb + 32) {
      last = b.x[j];
      mask |= 1 << (last - xb);
      j++;
    }
    push((pp << 28) | ((t % 64) << 22) | (xb << 11) | yy, mask);
    i = j;
  }
  const fmt = endianness === 'legacy' ? `format EVT21;height=${height};width=${width};endianness=legacy`
    : `format EVT21;height=${height};width=${width}`;
  return concatBytes([
    propheseeHeaderBytes(['evt 2.1', fmt, `geometry ${width}x${height}`, 'end']),
    new Uint8Array(words.buffer, 0, nw * 8),
  ]);
}
