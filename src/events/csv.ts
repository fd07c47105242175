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
 * - A malformed line is a CORRUPT DecodeError naming its line and column (1-based, in bytes)
 *   with the byte offset of the offending character or field.
 *
 * Lines are parsed straight from the chunk's bytes. The common line (unsigned integers, one
 * separator between fields, the header's field count, LF or CRLF) takes a fast path; any other
 * line (comments, blanks, the header, signs, decimals, runs of separators, out-of-range values,
 * errors) is parsed again by the general per-line parser, which defines the semantics above.
 */
import { emptyBatch, type EventBatch } from './batch.js';
import { OutputColumns } from './column-buffer.js';
import { DecodeError } from './decode-error.js';
import { newInfo, resolveLimits, type DecoderInfo, type DecoderLimits, type DecoderOptions, type EventDecoder } from './decoder.js';

/** Byte-per-character text of a header line (WHATWG latin1; ASCII, which a header is, maps 1:1). */
const LATIN1 = new TextDecoder('latin1');

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
/** Digits a field may have on the fast path: 15 keeps every value below 2^53. */
const FAST_DIGITS = 15;
/** The shortest data line, "0,0,0,0\n": at most one event per this many bytes. */
const MIN_LINE_BYTES = 8;

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
  /** Fields of a fast-path line: 4, or as many as the header names (at most MAX_FIELDS). */
  private nFields = 4;
  private sawFirstLine = false;
  /** Bytes of a line split across chunks (bounded by maxLineBytes). */
  private carry: Uint8Array = new Uint8Array(0);
  /** Lines seen so far, comments and blanks included (1-based number of the current line). */
  private line = 0;
  private failed: DecodeError | null = null;
  // Scratch for one line on the general path: each field's value and its start index.
  private readonly vals = new Float64Array(MAX_FIELDS);
  private readonly starts = new Int32Array(MAX_FIELDS);
  /** Output of the current call and the events in it (kept here so a fault knows them). */
  private out: EventBatch = emptyBatch();
  private readonly output: OutputColumns;
  private nOut = 0;
  /** Events per input byte so far, for sizing each write's output. */
  private ratio = 1 / MIN_LINE_BYTES;

  constructor(options: CsvOptions = {}) {
    this.limits = resolveLimits(options);
    this.unit = options.timeUnit ?? 'auto';
    this.output = new OutputColumns(options.reuseOutput ?? false);
  }

  write(chunk: Uint8Array): EventBatch {
    if (this.failed) throw this.failed;
    const base = this.info.bytes;
    this.startOutput(this.carry.length + chunk.length);
    try {
      let start = 0;
      if (this.carry.length > 0) {
        const nl = chunk.indexOf(NL);
        if (nl < 0) {
          this.appendCarry(chunk, base + chunk.length);
          this.info.bytes += chunk.length;
          return this.takeOutput();
        }
        // The split line, newline included, so both parsers see it end as any other line.
        const joined = new Uint8Array(this.carry.length + nl + 1);
        joined.set(this.carry);
        joined.set(chunk.subarray(0, nl + 1), this.carry.length);
        const lineBase = base - this.carry.length;
        this.carry = new Uint8Array(0);
        this.parseLines(joined, 0, joined.length, lineBase);
        start = nl + 1;
      }
      const last = chunk.lastIndexOf(NL);
      if (last >= start) {
        this.parseLines(chunk, start, last + 1, base);
        start = last + 1;
      }
      if (start < chunk.length) this.appendCarry(chunk.subarray(start), base + chunk.length);
    } catch (e) {
      throw this.fail(e);
    }
    this.info.bytes += chunk.length;
    return this.takeOutput();
  }

  end(): EventBatch {
    if (this.failed) throw this.failed;
    if (this.carry.length === 0) return emptyBatch();
    // A final line without newline is complete at end of input.
    const last = this.carry;
    this.carry = new Uint8Array(0);
    this.startOutput(last.length);
    try {
      this.generalLine(last, 0, last.length, this.info.bytes - last.length);
    } catch (e) {
      throw this.fail(e);
    }
    return this.takeOutput();
  }

  private startOutput(bytes: number): void {
    const bound = Math.floor(bytes / MIN_LINE_BYTES) + 2;
    this.out = this.output.start(Math.min(bound, Math.ceil(bytes * this.ratio * 1.1) + 16));
    this.nOut = 0;
  }

  private takeOutput(): EventBatch {
    const n = this.nOut;
    const b = this.output.take(this.out, n);
    this.info.events += n;
    if (this.info.bytes >= 4096) this.ratio = Math.min(1 / MIN_LINE_BYTES, this.info.events / this.info.bytes);
    this.out = emptyBatch();
    this.nOut = 0;
    return b;
  }

  private fail(e: unknown): unknown {
    if (e instanceof DecodeError) {
      e.events = this.output.take(this.out, this.nOut);
      this.info.events += this.nOut;
      this.failed = e;
    }
    this.out = emptyBatch();
    this.nOut = 0;
    return e;
  }

  /** Makes room for at least one more event (doubling: rare once the ratio is learned). */
  private grow(): void {
    this.out = this.output.grow(this.out, this.nOut, Math.max(64, this.out.t.length * 2));
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

  /** Parses the complete lines in buf[from, to); `to` is just past a newline. */
  private parseLines(buf: Uint8Array, from: number, to: number, base: number): void {
    let i = from;
    while (i < to) {
      if (this.sawFirstLine && this.unit === 'us') {
        i = this.fastLines(buf, i, to);
        if (i >= to) break;
        if (this.nOut === this.out.t.length) {
          this.grow();
          continue;
        }
      }
      i = this.generalLine(buf, i, to, base);
    }
  }

  // Hot loop, hand-written: parsing text dominates CSV decoding, and per-line strings or splitting
  // would allocate for every field. Takes lines of exactly nFields unsigned integers, one
  // separator between them, LF or CRLF, values in range; returns the start of the first line it
  // does not take (or `to`), which the general parser then reads, or where the output filled up.
  // Every line ends with a newline before `to`, so the digit scans need no bound check of their
  // own. The usual layout (t,x,y,p) has straight-line code; other header orders go field by field.
  private fastLines(chunk: Uint8Array, from: number, to: number): number {
    // A plain Uint8Array view: callers pass Buffers or Uint8Arrays, and one map keeps the byte
    // loads monomorphic.
    const buf = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const { t, x, y, p } = this.out;
    const cap = t.length;
    const nf = this.nFields;
    const col = this.fieldCol;
    const txyp = nf === 4 && col[0] === COL_T && col[1] === COL_X && col[2] === COL_Y && col[3] === COL_P;
    let n = this.nOut;
    let line = this.line;
    let i = from;
    while (i < to && n < cap) {
      const start = i;
      let tv = 0;
      let xv = 0;
      let yv = 0;
      let pv = 0;
      let c: number;
      if (txyp) {
        // t: up to 9 digits in int32, more (up to FAST_DIGITS) in float64.
        let d = buf[i] - 0x30;
        if (d >>> 0 > 9) return this.stopFast(start, n, line);
        let v = d;
        let digits = 1;
        d = buf[++i] - 0x30;
        while (d >>> 0 <= 9 && digits < 9) {
          v = (Math.imul(v, 10) + d) | 0;
          digits++;
          d = buf[++i] - 0x30;
        }
        tv = v;
        if (d >>> 0 <= 9) {
          let big = v;
          while (d >>> 0 <= 9) {
            big = big * 10 + d;
            digits++;
            d = buf[++i] - 0x30;
          }
          if (digits > FAST_DIGITS) return this.stopFast(start, n, line);
          tv = big;
        }
        c = d + 0x30;
        if (c !== 0x2c && c !== 0x20 && c !== 0x09 && c !== 0x3b) return this.stopFast(start, n, line);
        // x and y: at most 5 digits.
        d = buf[++i] - 0x30;
        if (d >>> 0 > 9) return this.stopFast(start, n, line);
        xv = d;
        for (let k = 0; k < 4; k++) {
          d = buf[++i] - 0x30;
          if (d >>> 0 > 9) break;
          xv = (Math.imul(xv, 10) + d) | 0;
        }
        c = buf[i];
        if ((c !== 0x2c && c !== 0x20 && c !== 0x09 && c !== 0x3b) || xv > 0xffff) return this.stopFast(start, n, line);
        d = buf[++i] - 0x30;
        if (d >>> 0 > 9) return this.stopFast(start, n, line);
        yv = d;
        for (let k = 0; k < 4; k++) {
          d = buf[++i] - 0x30;
          if (d >>> 0 > 9) break;
          yv = (Math.imul(yv, 10) + d) | 0;
        }
        c = buf[i];
        if ((c !== 0x2c && c !== 0x20 && c !== 0x09 && c !== 0x3b) || yv > 0xffff) return this.stopFast(start, n, line);
        // p: one digit, 0 or 1, then LF or CRLF.
        pv = buf[++i] - 0x30;
        if (pv >>> 0 > 1) return this.stopFast(start, n, line);
        c = buf[++i];
        if (c === CR) c = buf[++i];
        if (c !== NL) return this.stopFast(start, n, line);
      } else {
        let f = 0;
        for (;;) {
          let d = buf[i] - 0x30;
          if (d >>> 0 > 9) break;
          let v = d;
          let digits = 1;
          d = buf[++i] - 0x30;
          while (d >>> 0 <= 9 && digits < 9) {
            v = v * 10 + d;
            digits++;
            d = buf[++i] - 0x30;
          }
          let value = v;
          if (d >>> 0 <= 9) {
            let big = v;
            while (d >>> 0 <= 9) {
              big = big * 10 + d;
              digits++;
              d = buf[++i] - 0x30;
            }
            if (digits > FAST_DIGITS) break;
            value = big;
          }
          const k = col[f];
          if (k === COL_T) tv = value;
          else if (k === COL_X) xv = value;
          else if (k === COL_Y) yv = value;
          else if (k === COL_P) pv = value;
          f++;
          c = d + 0x30;
          if (f < nf) {
            if (c !== 0x2c && c !== 0x20 && c !== 0x09 && c !== 0x3b) break;
            i++;
            continue;
          }
          if (c === CR) c = buf[++i];
          if (c === NL) f = -1;
          break;
        }
        if (f !== -1 || xv > 0xffff || yv > 0xffff || pv > 1) return this.stopFast(start, n, line);
      }
      t[n] = tv;
      x[n] = xv;
      y[n] = yv;
      p[n] = pv;
      n++;
      line++;
      i++;
    }
    return this.stopFast(i, n, line);
  }

  private stopFast(i: number, n: number, line: number): number {
    this.nOut = n;
    this.line = line;
    return i;
  }

  /**
   * Parses the line starting at `i` (ending at the newline before `to`, or at `to` for a final
   * line without one) under every rule in the file comment. Returns the index after it.
   */
  private generalLine(buf: Uint8Array, i: number, to: number, base: number): number {
    const lineStart = i;
    this.line++;
    let c = buf[i];
    if (c === 0x23 || c === 0x25) {
      // Comment line.
      while (i < to && buf[i] !== NL) i++;
      return i + 1;
    }
    if (!this.sawFirstLine) {
      let j = i;
      while (j < to && buf[j] !== NL) j++;
      // A decoder, not String.fromCharCode(...bytes): spreading a line as call arguments throws a
      // RangeError once a user-raised maxLineBytes exceeds the engine's argument limit.
      const text = LATIN1.decode(buf.subarray(i, Math.min(j, i + this.limits.maxLineBytes))).trim();
      if (text.length > 0) {
        this.sawFirstLine = true;
        if (/[a-zA-Z_]/.test(text)) {
          this.parseHeader(text, base + i);
          return j + 1;
        }
      }
    }
    const fieldCol = this.fieldCol;
    const vals = this.vals;
    const starts = this.starts;
    let field = 0;
    let inField = false;
    let neg = false;
    let v = 0;
    let frac = 0;
    let fracDigits = -1; // digits after the decimal point; -1 when no point
    let decimalT = false;
    // i === to acts as a newline, so a final line without one ends the same way.
    for (; i <= to; i++) {
      c = i < to ? buf[i] : NL;
      const d = c - 0x30;
      if (d >= 0 && d <= 9) {
        if (!inField) {
          inField = true;
          if (field < MAX_FIELDS) starts[field] = i;
        }
        if (fracDigits >= 0) {
          if (fracDigits < 9) {
            frac = frac * 10 + d;
            fracDigits++;
          }
        } else {
          v = v * 10 + d;
        }
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
      } else if ((c === 0x2d && !inField) || (c === 0x2e && fracDigits < 0)) {
        if (!inField) {
          inField = true;
          if (field < MAX_FIELDS) starts[field] = i;
        }
        if (c === 0x2d) neg = true;
        else fracDigits = 0;
      } else {
        throw this.corrupt(base, lineStart, i, `unexpected character ${JSON.stringify(String.fromCharCode(c))}`);
      }
    }
    const next = i + 1;
    if (field === 0) return next; // blank line
    if (field < 4) throw this.corrupt(base, lineStart, Math.min(i, to), `expected 4 fields (t,x,y,p), found ${field}`);
    let tk = -1;
    let xk = -1;
    let yk = -1;
    let pk = -1;
    for (let k = 0; k < field && k < MAX_FIELDS; k++) {
      const col = fieldCol[k];
      if (col === COL_T) tk = k;
      else if (col === COL_X) xk = k;
      else if (col === COL_Y) yk = k;
      else if (col === COL_P) pk = k;
    }
    if (tk < 0 || xk < 0 || yk < 0 || pk < 0) {
      const missing = [tk < 0 ? 't' : '', xk < 0 ? 'x' : '', yk < 0 ? 'y' : '', pk < 0 ? 'p' : ''].filter(Boolean).join(', ');
      throw this.corrupt(base, lineStart, Math.min(i, to), `found ${field} fields, missing the header's column ${missing}`);
    }
    let tv = vals[tk];
    const xv = vals[xk];
    const yv = vals[yk];
    const pv = vals[pk];
    if (this.unit === 'auto') {
      this.unit = decimalT ? 's' : 'us';
      this.info.details.timeUnit = this.unit;
    }
    if (this.unit === 's') tv = Math.round(tv * 1e6);
    else if (decimalT) throw this.corrupt(base, lineStart, starts[tk], `timestamp ${tv} is not an integer number of microseconds`);
    if (!(Math.abs(tv) <= Number.MAX_SAFE_INTEGER)) throw this.corrupt(base, lineStart, starts[tk], `timestamp ${tv} out of range`);
    if (!(xv >= 0 && xv <= 0xffff && xv === Math.floor(xv))) throw this.corrupt(base, lineStart, starts[xk], `x=${xv} is not a 16-bit unsigned integer`);
    if (!(yv >= 0 && yv <= 0xffff && yv === Math.floor(yv))) throw this.corrupt(base, lineStart, starts[yk], `y=${yv} is not a 16-bit unsigned integer`);
    if (!(pv === 1 || pv === 0 || pv === -1)) throw this.corrupt(base, lineStart, starts[pk], `polarity ${pv} is not 1, 0 or -1`);
    if (this.nOut === this.out.t.length) this.grow();
    const n = this.nOut;
    const out = this.out;
    out.t[n] = tv;
    out.x[n] = xv;
    out.y[n] = yv;
    out.p[n] = pv === 1 ? 1 : 0;
    this.nOut = n + 1;
    return next;
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
    this.nFields = Math.min(names.length, MAX_FIELDS);
    this.info.headerLines.push(text);
  }

  /** A CORRUPT error at buf index `at` of the line starting at index `lineStart`. */
  private corrupt(base: number, lineStart: number, at: number, reason: string): DecodeError {
    return new DecodeError('CORRUPT', 'csv', base + at, `line ${this.line}, column ${at - lineStart + 1}: ${reason}`);
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
