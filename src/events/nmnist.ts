/**
 * N-MNIST / N-Caltech101 ATIS `.bin`: 40-bit big-endian-packed records, no header.
 *
 *   byte 0: x   byte 1: y   byte 2: bit 7 polarity (1 = ON), bits 6..0 = ts[22:16]
 *   byte 3: ts[15:8]        byte 4: ts[7:0]                       (ts in microseconds)
 *
 * A record with y == 240 is not an event but marks a wrap of the 23-bit timestamp: every later
 * event gets another 2^23 us. (tonic's reader adds 2^13 instead; the published format, and the
 * arithmetic of a 23-bit counter, say 2^23.)
 */
import { allocBatch, trimBatch, type EventBatch } from './batch.js';
import { DecodeError } from './decode-error.js';
import { newInfo, type DecoderInfo, type DecoderOptions, type EventDecoder } from './decoder.js';

const RECORD = 5;
const WRAP_MARKER_Y = 240;
const TS_WRAP = 1 << 23;

export class NmnistDecoder implements EventDecoder {
  readonly format = 'nmnist' as const;
  readonly info: DecoderInfo = newInfo();
  private readonly carry = new Uint8Array(RECORD);
  private carryLen = 0;
  private tOffset = 0;
  private failed: DecodeError | null = null;

  constructor(_options: DecoderOptions = {}) {}

  write(chunk: Uint8Array): EventBatch {
    if (this.failed) throw this.failed;
    const total = this.carryLen + chunk.length;
    const out = allocBatch(Math.floor(total / RECORD));
    const { t, x, y, p } = out;
    let n = 0;
    let i = 0;
    let tOffset = this.tOffset;
    if (this.carryLen > 0) {
      const need = RECORD - this.carryLen;
      if (chunk.length < need) {
        this.carry.set(chunk, this.carryLen);
        this.carryLen += chunk.length;
        this.info.bytes += chunk.length;
        return trimBatch(out, 0);
      }
      this.carry.set(chunk.subarray(0, need), this.carryLen);
      i = need;
      this.carryLen = 0;
      const c = this.carry;
      if (c[1] === WRAP_MARKER_Y) {
        tOffset += TS_WRAP;
        this.info.skippedWords++;
      } else {
        x[n] = c[0];
        y[n] = c[1];
        p[n] = c[2] >>> 7;
        t[n] = tOffset + (((c[2] & 0x7f) << 16) | (c[3] << 8) | c[4]);
        n++;
      }
    }
    // Hot loop: hand-written because it is the whole decoder; a DataView per field costs 3x.
    const end = i + Math.floor((chunk.length - i) / RECORD) * RECORD;
    let skipped = 0;
    for (; i < end; i += RECORD) {
      const yy = chunk[i + 1];
      const b2 = chunk[i + 2];
      if (yy === WRAP_MARKER_Y) {
        tOffset += TS_WRAP;
        skipped++;
        continue;
      }
      x[n] = chunk[i];
      y[n] = yy;
      p[n] = b2 >>> 7;
      t[n] = tOffset + (((b2 & 0x7f) << 16) | (chunk[i + 3] << 8) | chunk[i + 4]);
      n++;
    }
    const rest = chunk.length - i;
    if (rest > 0) {
      this.carry.set(chunk.subarray(i), 0);
      this.carryLen = rest;
    }
    this.tOffset = tOffset;
    this.info.skippedWords += skipped;
    this.info.bytes += chunk.length;
    this.info.events += n;
    return trimBatch(out, n);
  }

  end(): EventBatch {
    if (this.failed) throw this.failed;
    if (this.carryLen > 0) {
      this.failed = new DecodeError('TRUNCATED', 'nmnist', this.info.bytes - this.carryLen,
        `input ends inside a 5-byte record (${this.carryLen} trailing bytes)`);
      throw this.failed;
    }
    return trimBatch(allocBatch(0), 0);
  }
}

/**
 * Encodes events as ATIS `.bin` records, inserting y == 240 wrap markers as t crosses multiples
 * of 2^23 us. Requires 0 <= x, y < 240 (y == 240 is the marker) and t that never steps back across
 * a wrap boundary (the format cannot express it).
 */
export function encodeNmnist(b: EventBatch): Uint8Array {
  const n = b.t.length;
  let wraps = 0;
  let epoch = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.floor(b.t[i] / TS_WRAP);
    if (e < epoch || b.t[i] < 0 || !Number.isInteger(b.t[i])) {
      throw new RangeError(`encodeNmnist: event ${i} has t=${b.t[i]}, not encodable after epoch ${epoch}`);
    }
    wraps += e - epoch;
    epoch = e;
    if (b.x[i] > 255 || b.y[i] >= WRAP_MARKER_Y) {
      throw new RangeError(`encodeNmnist: event ${i} at (${b.x[i]}, ${b.y[i]}) is outside the ATIS range (x < 256, y < 240)`);
    }
  }
  const out = new Uint8Array((n + wraps) * RECORD);
  let o = 0;
  epoch = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.floor(b.t[i] / TS_WRAP);
    for (; epoch < e; epoch++) {
      out[o + 1] = WRAP_MARKER_Y;
      o += RECORD;
    }
    const ts = b.t[i] - e * TS_WRAP;
    out[o] = b.x[i];
    out[o + 1] = b.y[i];
    out[o + 2] = ((b.p[i] ? 1 : 0) << 7) | ((ts >>> 16) & 0x7f);
    out[o + 3] = (ts >>> 8) & 0xff;
    out[o + 4] = ts & 0xff;
    o += RECORD;
  }
  return out;
}

/** Streaming form of encodeNmnist: keeps the wrap epoch across batches. */
export class NmnistEncoder {
  private epoch = 0;

  write(b: EventBatch): Uint8Array {
    const n = b.t.length;
    if (n === 0) return new Uint8Array(0);
    const first = Math.floor(b.t[0] / TS_WRAP);
    if (first < this.epoch) {
      throw new RangeError(`encodeNmnist: t=${b.t[0]} steps back across a 2^23 us wrap`);
    }
    // Re-base so encodeNmnist's epoch counting starts at ours, then strip the leading markers it
    // cannot know were already written.
    const bytes = encodeNmnist(b);
    const skip = this.epoch * RECORD;
    this.epoch = Math.floor(b.t[n - 1] / TS_WRAP);
    return bytes.subarray(skip);
  }
}
