/**
 * Prophesee DAT (Prophesee "DAT File Format" docs): `% ` header lines, then two bytes (event type,
 * event size), then 8-byte little-endian records: uint32 timestamp (us), uint32 packed address.
 *
 *   Version 2 (`% Version 2`):         x = bits 13..0, y = bits 27..14, p = bit 28
 *   Version 1 (`% Version 1` or none): x = bits 8..0,  y = bits 16..9,  p = bit 17
 * (v2 as in the docs and Prophesee's dat_events_tools; v1 as in Prophesee's original ATIS
 * loader load_atis_data, which uses it for any version below 2.) The `version` option overrides.
 *
 * Event type 0x00 (Event2d) and 0x0C (EventCd) are CD streams; other types (0x0E external
 * triggers, ...) are UNSUPPORTED; a size other than 8 is BAD_HEADER. A stream without a header has
 * no type/size bytes (dat_events_tools' rule); it is only accepted with `requireHeader: false`.
 *
 * Timestamps are 32-bit and wrap after 2^32 us (~71.6 min). With `unwrapTimestamps` (default) a
 * timestamp more than 2^31 us below the previous one is taken as a wrap and later events get
 * another 2^32 us (counted in details.timestampWraps); any smaller backward step is kept as is.
 */
import type { EventBatch } from './batch.js';
import { DecodeError } from './decode-error.js';
import {
  PropheseeDecoderBase, checkEncodeEvent, checkEncodeGeometry, propheseeHeaderBytes,
  type PropheseeDecoderOptions, type PropheseeHeader,
} from './prophesee-header.js';

export interface DatOptions extends PropheseeDecoderOptions {
  /** Address layout, overriding the header's `% Version`. */
  version?: 1 | 2;
  /** Undo 32-bit timestamp wraps (default true). */
  unwrapTimestamps?: boolean;
}

const WRAP = 2 ** 32;
const HALF = 2 ** 31;
const TYPE_EVENT2D = 0x00;
const TYPE_EVENTCD = 0x0c;
const TYPE_NAMES: Record<number, string> = { 0x0e: 'EventExtTrigger' };

export class DatDecoder extends PropheseeDecoderBase {
  readonly format = 'dat' as const;
  protected readonly wordBytes = 8;
  protected readonly maxUnitBytes = 8;
  private readonly forcedVersion: 1 | 2 | undefined;
  private readonly unwrap: boolean;
  private version: 1 | 2 = 1;
  private prevRaw = -1;
  private wrapBase = 0;
  private wraps = 0;

  constructor(options: DatOptions = {}) {
    super('dat', options, true);
    if (options.version !== undefined && options.version !== 1 && options.version !== 2) {
      throw new RangeError(`DatDecoder: version must be 1 or 2, not ${String(options.version)}`);
    }
    this.forcedVersion = options.version;
    this.unwrap = options.unwrapTimestamps ?? true;
  }

  protected onHeader(h: PropheseeHeader, bodyOffset: number): void {
    this.checkDeclared(h);
    if (h.datVersion !== undefined && h.datVersion > 2 && this.forcedVersion === undefined) {
      throw new DecodeError('UNSUPPORTED', 'dat', this.declaredOffset(h), `DAT version ${h.datVersion} is not supported (1 and 2 are)`);
    }
    this.version = this.forcedVersion ?? (h.datVersion === 2 ? 2 : 1);
    const d = this.info.details;
    d.datVersion = this.version;
    d.versionSource = this.forcedVersion !== undefined ? 'option' : h.datVersion !== undefined ? 'header' : 'default';
    if (h.lines.length > 0) this.preambleNeeded = 2;
    void bodyOffset;
  }

  protected override onPreamble(bytes: Uint8Array, offset: number): void {
    const type = bytes[0];
    const size = bytes[1];
    this.info.details.eventType = type;
    if (type !== TYPE_EVENT2D && type !== TYPE_EVENTCD) {
      const name = TYPE_NAMES[type] ?? 'not a CD event type';
      throw new DecodeError('UNSUPPORTED', 'dat', offset, `DAT event type 0x${type.toString(16).padStart(2, '0')} (${name}); only CD events (0x00, 0x0c) are decoded`);
    }
    if (size !== 8) {
      throw new DecodeError('BAD_HEADER', 'dat', offset + 1, `DAT event size ${size}; CD events are 8 bytes`);
    }
  }

  protected estimateEvents(bytes: number): number {
    return (bytes >>> 3) + 1;
  }

  protected override syncDetails(): void {
    this.info.details.timestampWraps = this.wraps;
  }

  protected override unitName(): string {
    return '8-byte record';
  }

  // Hot loop, hand-written: one record -> one event, read through a Uint32Array view; one loop
  // per address layout so neither tests the version per event.
  protected decodeBody(buf: ArrayBufferLike, byteOffset: number, byteLength: number): number {
    const nr = byteLength >>> 3;
    if (this.n + nr > this.cols.t.length) {
      this.needMore = true;
      return 0;
    }
    const u = new Uint32Array(buf, byteOffset, nr * 2);
    const { t, x, y, p } = this.cols;
    const unwrap = this.unwrap;
    let n = this.n;
    let prev = this.prevRaw;
    let wrapBase = this.wrapBase;
    let wraps = this.wraps;
    // v2: x 14 bits, y 14 bits, polarity bit 28; v1: x 9 bits, y 8 bits, polarity bit 17. The
    // layout is loop-invariant locals, so one hot loop serves both versions.
    const v2 = this.version === 2;
    const xMask = v2 ? 0x3fff : 0x1ff;
    const yShift = v2 ? 14 : 9;
    const yMask = v2 ? 0x3fff : 0xff;
    const pShift = v2 ? 28 : 17;
    for (let i = 0; i < nr; i++) {
      const ts = u[2 * i];
      const w = u[2 * i + 1];
      if (ts < prev && prev - ts > HALF && unwrap) {
        wrapBase += WRAP;
        wraps++;
      }
      prev = ts;
      t[n] = wrapBase + ts;
      x[n] = w & xMask;
      y[n] = (w >>> yShift) & yMask;
      p[n] = (w >>> pShift) & 1;
      n++;
    }
    this.n = n;
    this.prevRaw = prev;
    this.wrapBase = wrapBase;
    this.wraps = wraps;
    return nr << 3;
  }
}

export interface DatEncodeOptions {
  /** Written as `% Width` / `% Height` when given; events must lie inside. */
  readonly width?: number;
  readonly height?: number;
  /** Address layout (default 2). */
  readonly version?: 1 | 2;
}

/**
 * Encodes a batch as a DAT file (`% Data file containing CD events`, `% Version`, optional
 * `% Width`/`% Height`, type 0x0C, size 8). Timestamps are written modulo 2^32; the encoder
 * replays DatDecoder's unwrapping and rejects (RangeError) a batch it would not read back: a step
 * back of more than 2^31 us, a step forward of 2^31 us or more across a wrap, a step back across
 * a wrap, t that is not an integer in [0, 2^40). Coordinates must fit the layout (v2: 14 bits, v1: x < 512, y < 256) and the geometry.
 */
export function encodeDat(b: EventBatch, options: DatEncodeOptions = {}): Uint8Array {
  const version = options.version ?? 2;
  const maxX = version === 2 ? 16384 : 512;
  const maxY = version === 2 ? 16384 : 256;
  if (options.width !== undefined || options.height !== undefined) {
    checkEncodeGeometry('DAT', options.width ?? 1, options.height ?? 1, 16384);
  }
  const width = Math.min(options.width ?? maxX, maxX);
  const height = Math.min(options.height ?? maxY, maxY);
  const n = b.t.length;
  const lines = ['Data file containing CD events', `Version ${version}`];
  if (options.width !== undefined) lines.push(`Width ${options.width}`);
  if (options.height !== undefined) lines.push(`Height ${options.height}`);
  const head = propheseeHeaderBytes(lines);
  const out = new Uint8Array(head.length + 2 + n * 8);
  out.set(head, 0);
  out[head.length] = TYPE_EVENTCD;
  out[head.length + 1] = 8;
  const u = new DataView(out.buffer, head.length + 2);
  // Replays the decoder's unwrapping so that what is written is exactly what reads back.
  let prevRaw = -1;
  let wrapBase = 0;
  for (let i = 0; i < n; i++) {
    checkEncodeEvent('DAT', b, i, width, height);
    const t = b.t[i];
    const raw = t % WRAP;
    if (raw < prevRaw && prevRaw - raw > HALF) wrapBase += WRAP;
    if (wrapBase + raw !== t) {
      throw new RangeError(`DAT encoder: event ${i} (t=${t}) cannot be read back from a 32-bit timestamp after t=${b.t[i - 1]}; steps must stay under 2^31 us and never go back across a 2^32 us wrap`);
    }
    prevRaw = raw;
    const word = version === 2
      ? (b.x[i] | (b.y[i] << 14) | (b.p[i] << 28)) >>> 0
      : (b.x[i] | (b.y[i] << 9) | (b.p[i] << 17)) >>> 0;
    u.setUint32(i * 8, raw, true);
    u.setUint32(i * 8 + 4, word, true);
  }
  return out;
}
