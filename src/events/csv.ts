/**
 * CSV / text events: one event per line, fields separated by commas, semicolons, tabs or spaces.
 *
 * - An optional header line names the columns (t|ts|time|timestamp, x, y, p|pol|polarity; any
 *   order, extra columns ignored); without one the order is t,x,y,p.
 * - Lines starting with `#` or `%` and blank lines are skipped.
 * - Time unit: `timeUnit: 'us'` (integers), `'s'` (decimal seconds, as the RPG event-camera
 *   datasets write them), or `'auto'` (default): seconds when the first data line's t has a
 *   decimal point, else microseconds. Seconds become integer microseconds, rounded.
 * - Polarity: 1 = ON; 0 or -1 = OFF.
 */
import { allocBatch, trimBatch, type EventBatch } from './batch.js';
import { DecodeError } from './decode-error.js';
import { newInfo, resolveLimits, type DecoderInfo, type DecoderLimits, type DecoderOptions, type EventDecoder } from './decoder.js';

export interface CsvOptions extends DecoderOptions {
  readonly timeUnit?: 'us' | 's' | 'auto';
}

const NL = 0x0a;
const CR = 0x0d;
const MAX_FIELDS = 16;
const COL_T = 0;
const COL_X = 1;
const COL_Y = 2;
const COL_P = 3;
const NAMES: Record<string, number> = {
  t: COL_T, ts: COL_T, time: COL_T, timestamp: COL_T, timestamps: COL_T, t_us: COL_T,
  x: COL_X, y: COL_Y, p: COL_P, pol: COL_P, polarity: COL_P,
};

function isSep(c: number): boolean {
  return c === 0x2c || c === 0x20 || c === 0x09 || c === 0x3b;
}

export class CsvDecoder implements EventDecoder {
  readonly format = 'csv' as const;
  readonly info: DecoderInfo = newInfo();
  private readonly limits: DecoderLimits;
  private unit: 'us' | 's' | 'auto';
  /** field index -> column (COL_*), or -1 for ignored fields. */
  private fieldCol = Int8Array.from([COL_T, COL_X, COL_Y, COL_P, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]);
  private sawFirstLine = false;
  private carry: Uint8Array = new Uint8Array(0);
  private line = 0;
  private failed: DecodeError | null = null;
  // Scratch for one parsed line: value, and whether the field held a decimal point.
  private readonly vals = new Float64Array(MAX_FIELDS);
  /** Events written to the current output batch; kept on the instance so a fault mid-chunk still knows it. */
  private nOut = 0;

  constructor(options: CsvOptions = {}) {
    this.limits = resolveLimits(options);
    this.unit = options.timeUnit ?? 'auto';
  }

  write(chunk: Uint8Array): EventBatch {
    if (this.failed) throw this.failed;
    const base = this.info.bytes;
    // Upper bound: a data line has at least 8 bytes ("0,0,0,0\n").
    const out = allocBatch(((this.carry.length + chunk.length) >>> 3) + 1);
    this.nOut = 0;
    try {
      let start = 0;
      if (this.carry.length > 0) {
        const nl = chunk.indexOf(NL);
        if (nl < 0) {
          this.appendCarry(chunk, base + chunk.length);
          this.info.bytes += chunk.length;
          return trimBatch(out, 0);
        }
        const joined = new Uint8Array(this.carry.length + nl);
        joined.set(this.carry);
        joined.set(chunk.subarray(0, nl), this.carry.length);
        const lineBase = base - this.carry.length;
        this.carry = new Uint8Array(0);
        this.parseLines(joined, 0, joined.length, lineBase, out, true);
        start = nl + 1;
      }
      const last = chunk.lastIndexOf(NL);
      if (last >= start) {
        this.parseLines(chunk, start, last + 1, base, out, false);
        start = last + 1;
      }
      if (start < chunk.length) this.appendCarry(chunk.subarray(start), base + chunk.length);
    } catch (e) {
      if (e instanceof DecodeError) {
        e.events = trimBatch(out, this.nOut);
        this.info.events += this.nOut;
        this.failed = e;
      }
      throw e;
    }
    this.info.bytes += chunk.length;
    this.info.events += this.nOut;
    return trimBatch(out, this.nOut);
  }

  end(): EventBatch {
    if (this.failed) throw this.failed;
    if (this.carry.length === 0) return trimBatch(allocBatch(0), 0);
    // A final line without newline is complete at end of input.
    const last = this.carry;
    this.carry = new Uint8Array(0);
    const out = allocBatch(1);
    this.nOut = 0;
    try {
      this.parseLines(last, 0, last.length, this.info.bytes - last.length, out, true);
      this.info.events += this.nOut;
      return trimBatch(out, this.nOut);
    } catch (e) {
      if (e instanceof DecodeError) this.failed = e;
      throw e;
    }
  }

  private appendCarry(bytes: Uint8Array, offsetAtEnd: number): void {
    const len = this.carry.length + bytes.length;
    if (len > this.limits.maxLineBytes) {
      throw new DecodeError('TOO_LARGE', 'csv', offsetAtEnd, `line ${this.line + 1} exceeds ${this.limits.maxLineBytes} bytes`);
    }
    const next = new Uint8Array(len);
    next.set(this.carry);
    next.set(bytes, this.carry.length);
    this.carry = next;
  }

  /**
   * Parses complete lines in buf[from, to) ('to' is just past a newline, or end of a final line).
   * Hand-written byte scanner: number parsing dominates CSV decoding and per-line string
   * splitting would cost an allocation per field.
   */
  private parseLines(buf: Uint8Array, from: number, to: number, base: number, out: EventBatch, single: boolean): void {
    const { t, x, y, p } = out;
    const vals = this.vals;
    let fieldCol = this.fieldCol;
    let n = this.nOut;
    let i = from;
    while (i < to) {
      const lineStart = i;
      this.line++;
      let c = buf[i];
      if (c === 0x23 || c === 0x25) {
        // Comment line.
        while (i < to && buf[i] !== NL) i++;
        i++;
        continue;
      }
      if (!this.sawFirstLine) {
        let j = i;
        while (j < to && buf[j] !== NL) j++;
        const text = String.fromCharCode(...buf.subarray(i, Math.min(j, i + this.limits.maxLineBytes))).trim();
        if (text.length > 0) {
          this.sawFirstLine = true;
          if (/[a-zA-Z_]/.test(text)) {
            this.parseHeader(text, base + i);
            fieldCol = this.fieldCol;
            i = j + 1;
            continue;
          }
        }
      }
      let field = 0;
      let inField = false;
      let neg = false;
      let v = 0;
      let frac = 0; // digits after the decimal point; -1 when no point
      let fracDigits = -1;
      let decimalT = false;
      let bad = -1;
      // i === to acts as a newline, so a final line without one ends the same way.
      for (; i <= to; i++) {
        c = i < to ? buf[i] : NL;
        const d = c - 0x30;
        if (d >= 0 && d <= 9) {
          if (fracDigits >= 0) {
            if (fracDigits < 9) {
              frac = frac * 10 + d;
              fracDigits++;
            }
          } else {
            v = v * 10 + d;
          }
          inField = true;
        } else if (c === NL || c === CR || isSep(c)) {
          if (inField) {
            if (field < MAX_FIELDS) {
              let val = v;
              if (fracDigits > 0) val += frac / 10 ** fracDigits;
              if (fracDigits >= 0 && fieldCol[field] === COL_T) decimalT = true;
              vals[field] = neg ? -val : val;
            }
            field++;
            inField = false;
            neg = false;
            v = 0;
            frac = 0;
            fracDigits = -1;
          }
          if (c === NL) break;
        } else if (c === 0x2d && !inField) {
          neg = true;
          inField = true;
        } else if (c === 0x2e && fracDigits < 0) {
          fracDigits = 0;
          inField = true;
        } else {
          bad = i;
          while (i < to && buf[i] !== NL) i++;
          break;
        }
      }
      i++;
      if (bad >= 0) throw this.corrupt(base + bad, `unexpected character '${String.fromCharCode(buf[bad])}'`);
      if (field === 0) continue; // blank line
      if (field < 4) throw this.corrupt(base + lineStart, `expected 4 fields (t,x,y,p), found ${field}`);
      let tv = 0;
      let xv = 0;
      let yv = 0;
      let pv = 0;
      for (let k = 0; k < field && k < MAX_FIELDS; k++) {
        const col = fieldCol[k];
        if (col === COL_T) tv = vals[k];
        else if (col === COL_X) xv = vals[k];
        else if (col === COL_Y) yv = vals[k];
        else if (col === COL_P) pv = vals[k];
      }
      if (this.unit === 'auto') {
        this.unit = decimalT ? 's' : 'us';
        this.info.details.timeUnit = this.unit;
      }
      if (this.unit === 's') tv = Math.round(tv * 1e6);
      else if (decimalT) throw this.corrupt(base + lineStart, `timestamp ${tv} is not an integer number of microseconds`);
      if (!(Math.abs(tv) <= Number.MAX_SAFE_INTEGER)) throw this.corrupt(base + lineStart, `timestamp ${tv} out of range`);
      if (!(xv >= 0 && xv <= 0xffff && xv === Math.floor(xv))) throw this.corrupt(base + lineStart, `x=${xv} is not a 16-bit unsigned integer`);
      if (!(yv >= 0 && yv <= 0xffff && yv === Math.floor(yv))) throw this.corrupt(base + lineStart, `y=${yv} is not a 16-bit unsigned integer`);
      if (!(pv === 1 || pv === 0 || pv === -1)) throw this.corrupt(base + lineStart, `polarity ${pv} is not 1, 0 or -1`);
      if (n === out.t.length) throw this.corrupt(base + lineStart, 'internal: output bound exceeded');
      t[n] = tv;
      x[n] = xv;
      y[n] = yv;
      p[n] = pv === 1 ? 1 : 0;
      this.nOut = ++n;
      if (single) break;
    }
  }

  private parseHeader(text: string, offset: number): void {
    const names = text.split(/[,;\t ]+/).map((s) => s.trim().toLowerCase().replace(/^["']|["']$/g, ''));
    const cols = new Int8Array(MAX_FIELDS).fill(-1);
    const seen = new Set<number>();
    names.forEach((name, k) => {
      const col = Object.hasOwn(NAMES, name) ? NAMES[name] : undefined;
      if (col !== undefined && k < MAX_FIELDS && !seen.has(col)) {
        cols[k] = col;
        seen.add(col);
      }
    });
    if (seen.size !== 4) {
      throw new DecodeError('BAD_HEADER', 'csv', offset, `header "${text.slice(0, 80)}" must name columns t, x, y and p`);
    }
    this.fieldCol = cols;
    this.info.headerLines.push(text);
  }

  private corrupt(offset: number, reason: string): DecodeError {
    return new DecodeError('CORRUPT', 'csv', offset, `line ${this.line}: ${reason}`);
  }
}

/** Streaming CSV writer: header `t,x,y,p` once, then one line per event. */
export class CsvEncoder {
  private wroteHeader = false;

  write(b: EventBatch): Uint8Array {
    const parts: string[] = [];
    if (!this.wroteHeader) {
      parts.push('t,x,y,p\n');
      this.wroteHeader = true;
    }
    const n = b.t.length;
    for (let i = 0; i < n; i++) parts.push(`${b.t[i]},${b.x[i]},${b.y[i]},${b.p[i]}\n`);
    return Buffer.from(parts.join(''), 'latin1');
  }
}

export function encodeCsv(b: EventBatch): Uint8Array {
  return new CsvEncoder().write(b);
}
