/**
 * What every Prophesee decoder (EVT 2.0, EVT 2.1, EVT 3.0, DAT) shares: the `%` text header and
 * the framing of the binary body into aligned words.
 *
 * Header (Prophesee "RAW File Format" / "DAT File Format" docs): lines of `% <keyword> <value>`,
 * optionally ended by `% end`; without `% end`, data starts at the first line that does not begin
 * with "% " (percent, space). Checking both bytes matters: a body whose first byte happens to be
 * 0x25 must not be eaten as a header line. Keys used here:
 *   `% evt 2.0|2.1|3.0`                       encoding (older RAW files)
 *   `% format EVT3;height=720;width=1280`     encoding + geometry (+ `endianness=legacy` for EVT21)
 *   `% geometry 1280x720`                     geometry
 *   `% Width 640` / `% Height 480`            geometry (DAT)
 *   `% Version 2`, `% Data file containing…`  DAT
 *   `% plugin_name …`, `% sensor_generation …` camera, used to look the geometry up (see below)
 *
 * Geometry precedence: `% geometry`, else DAT `% Width`/`% Height`, else the `% format` line, else
 * the plugin-name table, else the sensor-generation table; `details.geometrySource` says which.
 */
import type { EventBatch } from './batch.js';
import { OutputColumns } from './column-buffer.js';
import { DecodeError } from './decode-error.js';
import { markOrdered } from './ordered-batches.js';
import {
  newInfo, resolveLimits, type DecoderInfo, type DecoderLimits, type DecoderOptions, type EventDecoder,
} from './decoder.js';
import { HeaderLineReader } from './header-lines.js';

export type PropheseeFormat = 'evt2' | 'evt21' | 'evt3' | 'dat';

export type HeaderGeometrySource = 'geometry' | 'width-height' | 'format' | 'plugin' | 'sensor-generation';

export interface PropheseeHeader {
  /** Header lines without `%` and leading blanks (as HeaderLineReader gives them). */
  readonly lines: readonly string[];
  /** Lower-cased first word of each line -> the rest, trimmed (first occurrence wins). */
  readonly fields: Readonly<Record<string, string>>;
  /** The `% evt` value, e.g. "3.0". */
  readonly evt?: string;
  /** The `% format` name, upper-cased, e.g. "EVT21". */
  readonly formatName?: string;
  /** The `% format` `key=value` parameters, keys lower-cased. */
  readonly formatParams: Readonly<Record<string, string>>;
  /**
   * What the header says the body is: one of ours, `other:<name>` for a Prophesee encoding we do
   * not decode (EVT4, HISTO3D, ...), or undefined when it does not say.
   */
  readonly declared?: PropheseeFormat | `other:${string}`;
  /** Index in `lines` of the line that declared the encoding. */
  readonly declaredLine?: number;
  readonly width?: number;
  readonly height?: number;
  readonly geometrySource?: HeaderGeometrySource;
  readonly plugin?: string;
  readonly sensorGeneration?: string;
  /** The `% format` `endianness` parameter (EVT21: "legacy" or "little"). */
  readonly endianness?: string;
  /** DAT `% Version`. */
  readonly datVersion?: number;
  /** True when the header was closed by `% end`. */
  readonly ended: boolean;
}

/** A header line that cannot be what it claims to be; `line` indexes `PropheseeHeader.lines`. */
export class PropheseeHeaderError extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
  }
}

/**
 * Sensor geometry by HAL plugin name, for old RAW headers that carry neither `% geometry` nor a
 * `% format` line. Matched as lower-cased substrings, first match wins. From OpenEB:
 * `hal_psee_plugins/.../raw_constants.h` (plugins_map: gen3/gen31 640x480, gen4/gen41 1280x720)
 * and the device classes' `get_supported_formats()` (IMX636, IMX646: EVT3;height=720;width=1280;
 * GenX320: 320x320). OpenEB's `imx8` device is an NXP i.MX8 CSI host bridge, not a sensor, so it
 * is deliberately not in the table.
 */
export const PLUGIN_GEOMETRY: ReadonlyArray<{ readonly match: string; readonly width: number; readonly height: number }> = [
  { match: 'genx320', width: 320, height: 320 },
  { match: 'imx636', width: 1280, height: 720 },
  { match: 'imx646', width: 1280, height: 720 },
  { match: 'gen41', width: 1280, height: 720 },
  { match: 'gen4', width: 1280, height: 720 },
  { match: 'gen31', width: 640, height: 480 },
  { match: 'gen3', width: 640, height: 480 },
];

/** `% sensor_generation` -> geometry (3.x VGA Gen3 sensors, 4.x HD Gen4/IMX636 sensors). */
export const SENSOR_GENERATION_GEOMETRY: Readonly<Record<string, { readonly width: number; readonly height: number }>> = {
  '3.0': { width: 640, height: 480 },
  '3.1': { width: 640, height: 480 },
  '4.0': { width: 1280, height: 720 },
  '4.1': { width: 1280, height: 720 },
  '4.2': { width: 1280, height: 720 },
};

export function geometryFromPlugin(plugin: string): { width: number; height: number } | undefined {
  const p = plugin.toLowerCase();
  for (const g of PLUGIN_GEOMETRY) if (p.includes(g.match)) return { width: g.width, height: g.height };
  return undefined;
}

const MAX_SIDE = 65536;

function parseSide(s: string | undefined, line: number, what: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d{1,6}$/.test(s)) throw new PropheseeHeaderError(line, `${what} "${s}" is not a positive integer`);
  const v = Number(s);
  if (v < 1 || v > MAX_SIDE) throw new PropheseeHeaderError(line, `${what} ${v} is outside 1..${MAX_SIDE}`);
  return v;
}

const EVT_VERSIONS: Record<string, PropheseeFormat> = { '2.0': 'evt2', '2.1': 'evt21', '3.0': 'evt3' };
const FORMAT_NAMES: Record<string, PropheseeFormat> = { EVT2: 'evt2', EVT21: 'evt21', EVT3: 'evt3' };

/** Human name of a format for messages. */
export function propheseeFormatName(f: PropheseeFormat | `other:${string}`): string {
  switch (f) {
    case 'evt2': return 'EVT 2.0';
    case 'evt21': return 'EVT 2.1';
    case 'evt3': return 'EVT 3.0';
    case 'dat': return 'DAT';
    default: return f.slice('other:'.length);
  }
}

/** Parses complete header lines (pure). Throws PropheseeHeaderError on a malformed known key. */
export function parsePropheseeHeader(lines: readonly string[]): PropheseeHeader {
  const fields: Record<string, string> = {};
  const fieldLine: Record<string, number> = {};
  let formatParams: Record<string, string> = {};
  let formatName: string | undefined;
  let ended = false;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === 'end') {
      ended = true;
      return;
    }
    const m = /^(\S+)\s*(.*)$/.exec(line);
    if (!m) return;
    const key = m[1].toLowerCase();
    if (Object.hasOwn(fields, key)) return;
    fields[key] = m[2].trim();
    fieldLine[key] = i;
  });

  let width: number | undefined;
  let height: number | undefined;
  let geometrySource: HeaderGeometrySource | undefined;
  const setGeometry = (w: number | undefined, h: number | undefined, src: HeaderGeometrySource) => {
    if (geometrySource === undefined && w !== undefined && h !== undefined) {
      width = w;
      height = h;
      geometrySource = src;
    }
  };

  if (fields.geometry !== undefined) {
    const g = /^(\d+)\s*x\s*(\d+)$/i.exec(fields.geometry);
    if (!g) throw new PropheseeHeaderError(fieldLine.geometry, `geometry "${fields.geometry}" is not WIDTHxHEIGHT`);
    setGeometry(parseSide(g[1], fieldLine.geometry, 'geometry width'), parseSide(g[2], fieldLine.geometry, 'geometry height'), 'geometry');
  }
  const datW = parseSide(fields.width, fieldLine.width, 'Width');
  const datH = parseSide(fields.height, fieldLine.height, 'Height');
  setGeometry(datW, datH, 'width-height');

  if (fields.format !== undefined) {
    const parts = fields.format.split(';').map((s) => s.trim());
    formatName = parts[0].toUpperCase();
    if (!/^[A-Z0-9_-]+$/.test(formatName)) {
      throw new PropheseeHeaderError(fieldLine.format, `format "${fields.format}" has no valid encoding name`);
    }
    formatParams = {};
    for (const kv of parts.slice(1)) {
      if (kv === '') continue;
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new PropheseeHeaderError(fieldLine.format, `format parameter "${kv}" is not key=value`);
      formatParams[kv.slice(0, eq).trim().toLowerCase()] = kv.slice(eq + 1).trim();
    }
    setGeometry(parseSide(formatParams.width, fieldLine.format, 'format width'), parseSide(formatParams.height, fieldLine.format, 'format height'), 'format');
  }

  const plugin = fields.plugin_name;
  if (plugin !== undefined) {
    const g = geometryFromPlugin(plugin);
    if (g) setGeometry(g.width, g.height, 'plugin');
  }
  const sensorGeneration = fields.sensor_generation;
  if (sensorGeneration !== undefined && Object.hasOwn(SENSOR_GENERATION_GEOMETRY, sensorGeneration)) {
    const g = SENSOR_GENERATION_GEOMETRY[sensorGeneration];
    setGeometry(g.width, g.height, 'sensor-generation');
  }

  // What the body is: the `% format` line (newer) and `% evt` (older) must agree when both exist.
  let declared: PropheseeHeader['declared'];
  let declaredLine: number | undefined;
  const evt = fields.evt;
  const fromEvt: PropheseeHeader['declared'] = evt === undefined ? undefined
    : Object.hasOwn(EVT_VERSIONS, evt) ? EVT_VERSIONS[evt] : `other:evt ${evt}`;
  const fromFormat: PropheseeHeader['declared'] = formatName === undefined ? undefined
    : Object.hasOwn(FORMAT_NAMES, formatName) ? FORMAT_NAMES[formatName] : `other:${formatName}`;
  if (fromFormat !== undefined && fromEvt !== undefined && fromFormat !== fromEvt) {
    throw new PropheseeHeaderError(fieldLine.format,
      `format ${formatName} contradicts "evt ${evt}" (line ${fieldLine.evt + 1} of the header)`);
  }
  if (fromFormat !== undefined) {
    declared = fromFormat;
    declaredLine = fieldLine.format;
  } else if (fromEvt !== undefined) {
    declared = fromEvt;
    declaredLine = fieldLine.evt;
  } else if (fields.version !== undefined || /^file containing/i.test(fields.data ?? '')) {
    declared = 'dat';
    declaredLine = fieldLine.version ?? fieldLine.data;
  }

  let datVersion: number | undefined;
  if (fields.version !== undefined) {
    if (!/^\d+$/.test(fields.version)) throw new PropheseeHeaderError(fieldLine.version, `Version "${fields.version}" is not an integer`);
    datVersion = Number(fields.version);
  }

  return {
    lines, fields, evt, formatName, formatParams, declared, declaredLine, width, height, geometrySource,
    plugin, sensorGeneration, endianness: formatParams.endianness?.toLowerCase(), datVersion, ended,
  };
}

/** Header text for encoders: each line as `% <line>\n`, latin1. */
export function propheseeHeaderBytes(lines: readonly string[]): Uint8Array {
  const s = lines.map((l) => `% ${l}\n`).join('');
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Options every Prophesee decoder takes. */
export interface PropheseeDecoderOptions extends DecoderOptions {
  /**
   * Fail with BAD_MAGIC when the stream does not start with a `% ` header. Default false for the
   * EVT decoders (a live camera stream has no header), true for DAT (files always have one).
   */
  requireHeader?: boolean;
  /**
   * Treat reserved word types (ones the Prophesee docs list as reserved) as CORRUPT. Default false:
   * like OpenEB, skip and count them in `info.skippedWords`.
   */
  strict?: boolean;
}

const PERCENT = Uint8Array.of(0x25);
/** Misaligned input is copied through a scratch buffer of this size (bounded memory). */
const SCRATCH_BYTES = 64 * 1024;
const NO_COLUMNS: EventBatch = {
  t: new Float64Array(0), x: new Uint16Array(0), y: new Uint16Array(0), p: new Uint8Array(0),
};

/**
 * The shared state machine: header lines, an optional fixed preamble (DAT's type/size bytes), then
 * a body cut into units of `wordBytes` (a unit may span several words: EVT3 vectors). Subclasses
 * supply `decodeBody`, a hand-written loop over an aligned typed-array view; this class feeds it
 * aligned memory (the chunk itself when aligned, else a bounded scratch copy), carries the bytes
 * of a unit split across chunks (at most `maxUnitBytes - 1`), sizes the output and turns faults
 * into DecodeErrors that keep the events decoded before them.
 */
export abstract class PropheseeDecoderBase implements EventDecoder {
  abstract readonly format: PropheseeFormat;
  readonly info: DecoderInfo = newInfo();
  protected readonly limits: DecoderLimits;
  protected readonly strict: boolean;
  private readonly requireHeader: boolean;

  /** Bytes per word (2 for EVT3, 4 for EVT2, 8 for EVT2.1/DAT) and longest unit (at most 16). */
  protected abstract readonly wordBytes: number;
  protected abstract readonly maxUnitBytes: number;

  // Header state.
  private readonly lineReader: HeaderLineReader;
  private headerDone = false;
  private pendingPercent = false;
  private lineStart = 0;
  private readonly lineOffsets: number[] = [];

  // Preamble (DAT type and size bytes).
  protected preambleNeeded = 0;
  private readonly preamble = new Uint8Array(8);
  private preambleLen = 0;
  private preambleOffset = 0;

  // Body framing.
  private readonly carry = new Uint8Array(16);
  private carryLen = 0;
  private readonly small = new Uint8Array(32);
  private scratch: Uint8Array | undefined;

  // Output of the current write.
  private readonly output: OutputColumns;
  protected cols: EventBatch = NO_COLUMNS;
  protected n = 0;
  /** Set by decodeBody when it stopped because the output is full. */
  protected needMore = false;
  /** Set by decodeBody when it stopped at a fault. */
  protected fault: { offset: number; reason: string } | null = null;
  private failed: DecodeError | null = null;
  /**
   * Order tracking, for subclasses whose decodeBody maintains it (set `tracksOrder`): the last
   * timestamp written in this write, and whether any timestamp of this write was below its
   * predecessor. A write's batch is marked ordered (ordered-batches.ts) when none was.
   */
  protected readonly tracksOrder: boolean = false;
  protected lastT = -Infinity;
  protected descended = false;

  /** `format` is passed in because subclass fields are not initialised yet when this runs. */
  constructor(format: PropheseeFormat, options: PropheseeDecoderOptions, requireHeaderDefault: boolean) {
    this.limits = resolveLimits(options);
    this.strict = options.strict ?? false;
    this.requireHeader = options.requireHeader ?? requireHeaderDefault;
    this.output = new OutputColumns(options.reuseOutput ?? false);
    this.lineReader = new HeaderLineReader(format, 0x25, this.limits.maxHeaderBytes, (l) => l.trim() === 'end');
    this.info.headerLines = this.lineReader.lines;
  }

  /** Validates the parsed header and takes what the subclass needs from it. `lines` may be empty. */
  protected abstract onHeader(h: PropheseeHeader, bodyOffset: number): void;
  /** Called with the preamble bytes once `preambleNeeded` of them arrived. */
  protected onPreamble(_bytes: Uint8Array, _offset: number): void {}
  /**
   * Decodes whole units from `byteLength` bytes (a multiple of wordBytes) at `byteOffset` of
   * `buf`, aligned for the word size. Appends to `this.cols` from `this.n`. Returns the bytes
   * consumed: everything but an incomplete unit at the end, unless it set `needMore` (output
   * full) or `fault`. `streamOffset` is the absolute offset of the first byte, for errors.
   */
  protected abstract decodeBody(buf: ArrayBufferLike, byteOffset: number, byteLength: number, streamOffset: number): number;
  /** Output capacity to allocate for `bytes` body bytes (exact bound, or an estimate + growth). */
  protected abstract estimateEvents(bytes: number): number;
  /** Called at the end of each write so `info.details` counters stay current. */
  protected syncDetails(): void {}

  write(chunk: Uint8Array): EventBatch {
    if (this.failed) throw this.failed;
    const base = this.info.bytes;
    this.info.bytes += chunk.length;
    this.cols = this.output.start(this.estimateEvents(chunk.length + 16));
    this.n = 0;
    this.lastT = -Infinity;
    this.descended = false;
    try {
      let pos = 0;
      if (!this.headerDone) {
        pos = this.readHeader(chunk, base);
        if (pos < 0) return this.takeOutput();
      }
      this.consumeBody(chunk, pos, base);
      return this.takeOutput();
    } catch (e) {
      throw this.fail(e);
    }
  }

  end(): EventBatch {
    if (this.failed) throw this.failed;
    this.cols = NO_COLUMNS;
    this.n = 0;
    try {
      const end = this.info.bytes;
      if (!this.headerDone) {
        if (this.pendingPercent || this.lineReader.midLine) {
          throw new DecodeError('TRUNCATED', this.format, this.lineStart, 'input ends inside a header line');
        }
        if (end === 0 && this.requireHeader) {
          throw new DecodeError('TRUNCATED', this.format, 0, 'empty input: no header');
        }
        this.finishHeader(end);
      }
      if (this.preambleNeeded > 0) {
        throw new DecodeError('TRUNCATED', this.format, this.preambleOffset,
          `input ends inside the ${this.preambleNeeded}-byte event type/size preamble (${this.preambleLen} bytes present)`);
      }
      if (this.carryLen > 0) {
        throw new DecodeError('TRUNCATED', this.format, end - this.carryLen,
          `input ends inside a ${this.unitName(this.carry.subarray(0, this.carryLen))} (${this.carryLen} trailing bytes)`);
      }
      this.syncDetails();
      return this.takeOutput();
    } catch (e) {
      throw this.fail(e);
    }
  }

  /** Names the unit an incomplete carry belongs to, for TRUNCATED messages. */
  protected unitName(_carry: Uint8Array): string {
    return `${this.wordBytes}-byte word`;
  }

  /** Grows the output so that at least `extra` more events fit. */
  protected growOutput(extra: number): void {
    const cap = Math.max(this.cols.t.length * 2, this.n + extra, 64);
    this.cols = this.output.grow(this.cols, this.n, cap);
  }

  private takeOutput(): EventBatch {
    const n = this.n;
    const out = this.output.take(this.cols, n);
    if (this.tracksOrder && !this.descended && n > 1) markOrdered(out);
    this.info.events += n;
    this.cols = NO_COLUMNS;
    this.n = 0;
    this.syncDetails();
    return out;
  }

  private fail(e: unknown): unknown {
    if (e instanceof DecodeError) {
      e.events = this.output.take(this.cols, this.n);
      this.info.events += this.n;
      this.failed = e;
    }
    this.cols = NO_COLUMNS;
    this.n = 0;
    this.syncDetails();
    return e;
  }

  /** Header lines, fed one at a time so each line's start offset is known and "% " can be checked. */
  private readHeader(chunk: Uint8Array, base: number): number {
    let i = 0;
    if (this.pendingPercent) {
      if (chunk.length === 0) return -1;
      this.pendingPercent = false;
      if (chunk[0] === 0x20) {
        this.lineReader.feed(PERCENT, 0, this.lineStart);
      } else {
        this.finishHeader(this.lineStart);
        this.consumeBody(PERCENT, 0, this.lineStart);
        return 0;
      }
    }
    while (i < chunk.length) {
      if (!this.lineReader.midLine) {
        if (chunk[i] !== 0x25) {
          this.finishHeader(base + i);
          return i;
        }
        this.lineStart = base + i;
        if (i + 1 === chunk.length) {
          this.pendingPercent = true;
          return -1;
        }
        if (chunk[i + 1] !== 0x20) {
          this.finishHeader(base + i);
          return i;
        }
      }
      const nl = chunk.indexOf(0x0a, i);
      const end = nl < 0 ? chunk.length : nl + 1;
      const before = this.lineReader.lines.length;
      this.lineReader.feed(chunk.subarray(0, end), i, base);
      if (this.lineReader.lines.length > before) this.lineOffsets.push(this.lineStart);
      i = end;
      if (this.lineReader.done) {
        this.finishHeader(base + i);
        return i;
      }
    }
    return -1;
  }

  private finishHeader(bodyOffset: number): void {
    this.headerDone = true;
    const lines = this.lineReader.lines;
    if (lines.length === 0 && this.requireHeader) {
      throw new DecodeError('BAD_MAGIC', this.format, bodyOffset, 'no "% " header line at the start of the stream');
    }
    let h: PropheseeHeader;
    try {
      h = parsePropheseeHeader(lines);
    } catch (e) {
      if (e instanceof PropheseeHeaderError) {
        throw new DecodeError('BAD_HEADER', this.format, this.lineOffsets[e.line] ?? 0, `header line ${e.line + 1}: ${e.message}`);
      }
      throw e;
    }
    const d = this.info.details;
    if (h.width !== undefined && h.height !== undefined) {
      this.info.width = h.width;
      this.info.height = h.height;
      d.geometrySource = h.geometrySource ?? 'none';
    } else {
      d.geometrySource = 'none';
    }
    d.headerEnd = h.ended;
    if (h.evt !== undefined) d.evt = h.evt;
    if (h.formatName !== undefined) d.formatLine = h.fields.format;
    if (h.plugin !== undefined) d.plugin = h.plugin;
    this.onHeader(h, bodyOffset);
    this.preambleOffset = bodyOffset;
  }

  /**
   * Rejects a header that declares another encoding: BAD_MAGIC for another format we read (the
   * caller picked the wrong decoder), UNSUPPORTED for a Prophesee encoding nobody here decodes.
   */
  protected checkDeclared(h: PropheseeHeader): void {
    if (h.declared === undefined || h.declared === this.format) return;
    const what = propheseeFormatName(h.declared);
    if (h.declared.startsWith('other:')) {
      throw new DecodeError('UNSUPPORTED', this.format, this.declaredOffset(h), `header declares encoding "${what}", which is not decoded here`);
    }
    throw new DecodeError('BAD_MAGIC', this.format, this.declaredOffset(h),
      `header declares ${what}, not ${propheseeFormatName(this.format)}`);
  }

  /** The offset of the header line that declared the encoding (for BAD_MAGIC), else 0. */
  protected declaredOffset(h: PropheseeHeader): number {
    return h.declaredLine !== undefined ? this.lineOffsets[h.declaredLine] ?? 0 : 0;
  }

  private consumeBody(bytes: Uint8Array, pos: number, base: number): void {
    if (this.preambleNeeded > 0) {
      while (pos < bytes.length && this.preambleLen < this.preambleNeeded) this.preamble[this.preambleLen++] = bytes[pos++];
      if (this.preambleLen < this.preambleNeeded) return;
      this.preambleNeeded = 0;
      this.onPreamble(this.preamble.subarray(0, this.preambleLen), this.preambleOffset);
    }
    this.frameBody(bytes, pos, base);
  }

  private frameBody(chunk: Uint8Array, pos: number, base: number): void {
    const wb = this.wordBytes;
    const alignMask = (wb > 4 ? 4 : wb) - 1;
    while (pos < chunk.length) {
      const len = chunk.length - pos;
      if (this.carryLen > 0) {
        // Finish the unit split across chunks in a small aligned buffer, then go back to the chunk.
        const cl = this.carryLen;
        const take = Math.min(len, this.maxUnitBytes * 2 - cl);
        this.small.set(this.carry.subarray(0, cl), 0);
        this.small.set(chunk.subarray(pos, pos + take), cl);
        const total = cl + take;
        const consumed = this.run(this.small.buffer, this.small.byteOffset, total - (total % wb), base + pos - cl);
        if (consumed < cl) {
          // Still incomplete: the chunk ran out (take === len).
          this.carry.set(this.small.subarray(0, total), 0);
          this.carryLen = total;
          return;
        }
        this.carryLen = 0;
        pos += consumed - cl;
        continue;
      }
      if (((chunk.byteOffset + pos) & alignMask) === 0) {
        const consumed = this.run(chunk.buffer, chunk.byteOffset + pos, len - (len % wb), base + pos);
        this.carry.set(chunk.subarray(pos + consumed), 0);
        this.carryLen = len - consumed;
        return;
      }
      const take = Math.min(len, SCRATCH_BYTES);
      const scratch = (this.scratch ??= new Uint8Array(SCRATCH_BYTES));
      scratch.set(chunk.subarray(pos, pos + take), 0);
      const consumed = this.run(scratch.buffer, scratch.byteOffset, take - (take % wb), base + pos);
      if (take === len) {
        this.carry.set(scratch.subarray(consumed, take), 0);
        this.carryLen = take - consumed;
        return;
      }
      pos += consumed;
    }
  }

  /** decodeBody until it has consumed what it can, growing the output as it asks. */
  private run(buf: ArrayBufferLike, off: number, len: number, streamOffset: number): number {
    let done = 0;
    for (;;) {
      this.needMore = false;
      done += this.decodeBody(buf, off + done, len - done, streamOffset + done);
      if (this.fault) {
        const f = this.fault;
        throw new DecodeError('CORRUPT', this.format, f.offset, f.reason);
      }
      if (!this.needMore) return done;
      this.growOutput(this.estimateEvents(len - done) + 64);
    }
  }
}

/**
 * Largest timestamp the Prophesee encoders accept (2^40 us, about 12.7 days): crossing a time
 * loop costs a few TIME_HIGH words, so this bounds the output a single event can cause.
 */
export const MAX_ENCODE_TIME_US = 2 ** 40;

/** Validates encoder geometry: integers in 1..maxSide. */
export function checkEncodeGeometry(fmt: string, width: number, height: number, maxSide: number): void {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > maxSide) {
      throw new RangeError(`${fmt} encoder: ${name} ${v} is not an integer in 1..${maxSide}`);
    }
  }
}

/** Validates event i of a batch for encoding: 0 <= x < width, 0 <= y < height, p in {0,1}, t an integer in [0, 2^40). */
export function checkEncodeEvent(fmt: string, b: EventBatch, i: number, width: number, height: number): void {
  const t = b.t[i];
  if (!Number.isInteger(t) || t < 0 || t >= MAX_ENCODE_TIME_US) {
    throw new RangeError(`${fmt} encoder: event ${i} has t=${t}; need an integer in [0, 2^40) us`);
  }
  if (b.x[i] >= width || b.y[i] >= height) {
    throw new RangeError(`${fmt} encoder: event ${i} at (${b.x[i]}, ${b.y[i]}) is outside ${width}x${height}`);
  }
  if (b.p[i] > 1) throw new RangeError(`${fmt} encoder: event ${i} has polarity ${b.p[i]}; need 0 or 1`);
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
