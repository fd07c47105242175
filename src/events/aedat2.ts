/**
 * jAER AEDAT 2.0 (and its 1.0 predecessor): `#` header lines, then big-endian records of
 * (address, timestamp in us). 2.0 records are 8 bytes (uint32 address, uint32 timestamp); 1.0
 * records are 6 bytes (uint16 address, uint32 timestamp) and only ever carried DVS128 addresses.
 *
 * The address layout depends on the jAER chip class named by the `# AEChip:` header line (DVS128
 * when there is none, as in files written before 2014):
 *
 * DVS128 (Tmpdiff128, DVS128, 128x128), bits of the low 16:
 *   15 external event (TS-master IN pin) | 14..8 row | 7..1 column | 0 polarity bit
 *   Conventions disagree on how to read it (option `dvs128Convention`):
 *   - 'jaer' (default; jAER wrote these files and displays them this way):
 *       x = 127 - column, y = row, ON when the polarity bit is 0.
 *   - 'inivation' (the iniVation AEDAT 1.0/2.0 docs table, origin lower left):
 *       x = column, y = row, ON when the polarity bit is 1.
 *   - 'tonic' (tonic.io.read_dvs_128, reproduced exactly): x = row, y = column (x and y swapped
 *       relative to the docs), p = polarity bit (ON when 1), neither axis mirrored. tonic also keeps
 *       words with bit 15 set (it masks the bit away); here those are skipped under every convention
 *       unless `stereo` is set.
 *   Words with bit 15 set are skipped and counted in `info.skippedWords`. Tmpdiff128 stereo-pair
 *   recordings use that bit for the second retina (the right camera, as the fhaust/aer reader has
 *   it): with `stereo: true` those words decode placed beside the left one (x + 128, width 256).
 *
 * DAVIS240 (240x180) and DAVIS346 (346x260), following jAER's DavisBaseCamera.DavisEventExtractor:
 *   bit 31 set: APS (frame ADC sample) or IMU word -> skipped, counted.
 *   bit 31 clear and bits 11..10 == 01: external input (special) event -> skipped, counted.
 *   otherwise a DVS event: y = bits 30..22, x = width - 1 - bits 21..12 (jAER mirrors x only; y
 *   is kept as recorded, origin lower left as in jAER's display), ON when bit 11 is set.
 *   A DVS word whose address falls outside the sensor is skipped and counted (in skippedWords
 *   and details.outOfRangeWords): no reader can place it.
 *
 * Timestamps are unsigned 32-bit microseconds kept exactly as recorded: real DVS128 files step
 * backwards (and may wrap), events keep file order and none is dropped.
 *
 * A jAER header may end with `#End Of ASCII Header`; that line ends the header even when the
 * first address byte happens to be `#` (0x23), which otherwise reads as another header line.
 */
import { allocBatch, trimBatch, type EventBatch } from './batch.js';
import { DecodeError } from './decode-error.js';
import { newInfo, resolveLimits, type DecoderInfo, type DecoderLimits, type DecoderOptions, type EventDecoder } from './decoder.js';
import { HeaderLineReader } from './header-lines.js';

export type Aedat2Chip = 'DVS128' | 'DAVIS240' | 'DAVIS346';
export type Dvs128Convention = 'jaer' | 'inivation' | 'tonic';

export interface Aedat2Options extends DecoderOptions {
  /** How DVS128 addresses are read; default 'jaer' (see the file comment). */
  dvs128Convention?: Dvs128Convention;
  /** Chip layout to use instead of the one named by the `# AEChip:` header line. */
  chip?: Aedat2Chip;
  /** DVS128 only: decode bit-15 words as a stereo pair's second retina at x + 128. Default false. */
  stereo?: boolean;
}

const CHIP_SIZE: Record<Aedat2Chip, readonly [number, number]> = {
  DVS128: [128, 128],
  DAVIS240: [240, 180],
  DAVIS346: [346, 260],
};

/** The class names jAER writes into `# AEChip:` for each chip, used by the encoder. */
const CHIP_CLASS: Record<Aedat2Chip, string> = {
  DVS128: 'ch.unizh.ini.jaer.chip.retina.DVS128',
  DAVIS240: 'eu.seebetter.ini.chips.davis.DAVIS240C',
  DAVIS346: 'eu.seebetter.ini.chips.davis.Davis346B',
};

const MAGIC_PREFIX = '#!AER-DAT';
const END_OF_HEADER = /^End Of ASCII Header/i;

/**
 * Chip layout for a jAER AEChip class name (full or simple), or undefined when this decoder does
 * not know it. Matching is on the simple class name so exporters that write only "DAVIS240C" work.
 */
export function aedat2ChipFromClass(className: string): Aedat2Chip | undefined {
  const simple = className.trim().split('.').pop() ?? '';
  if (/^(dvs128|tmpdiff128)/i.test(simple)) return 'DVS128';
  if (/^(davis240|dvs240)/i.test(simple)) return 'DAVIS240';
  // Davis346mini is a different (subsampled) layout in other readers; refuse rather than guess.
  if (/^davis346(?!mini)/i.test(simple)) return 'DAVIS346';
  return undefined;
}

/**
 * Checks the bytes of "#!AER-DATx" (x = 1 or 2) as they arrive, so garbage fails at its first
 * byte instead of after a whole header's worth of input. `base` is the chunk's stream offset.
 */
function checkMagic(chunk: Uint8Array, base: number): void {
  const n = Math.min(chunk.length, MAGIC_PREFIX.length + 1 - base);
  for (let k = 0; k < n; k++) {
    const pos = base + k;
    const b = chunk[k];
    const ok = pos < MAGIC_PREFIX.length ? b === MAGIC_PREFIX.charCodeAt(pos) : b === 0x31 || b === 0x32;
    if (!ok) {
      const what = pos < MAGIC_PREFIX.length ? 'not an AEDAT file (no "#!AER-DAT" version line)' : 'not AEDAT 1.x/2.x';
      throw new DecodeError('BAD_MAGIC', 'aedat2', pos, `${what}: expected "#!AER-DAT2.0" at the start`);
    }
  }
}

type Phase = 'header' | 'body';

export class Aedat2Decoder implements EventDecoder {
  readonly format = 'aedat2' as const;
  readonly info: DecoderInfo = newInfo();
  private readonly limits: DecoderLimits;
  private readonly header: HeaderLineReader;
  private phase: Phase = 'header';
  /** 1 or 2 once the version line is read. */
  private version = 0;
  private record = 8;
  private chip: Aedat2Chip = 'DVS128';
  private width = 128;
  private height = 128;
  private readonly carry = new Uint8Array(8);
  private carryLen = 0;
  private failed: DecodeError | null = null;
  private readonly convention: Dvs128Convention;
  private readonly stereo: boolean;
  private outOfRange = 0;

  constructor(private readonly options: Aedat2Options = {}) {
    this.limits = resolveLimits(options);
    this.convention = options.dvs128Convention ?? 'jaer';
    this.stereo = options.stereo ?? false;
    this.header = new HeaderLineReader('aedat2', 0x23, this.limits.maxHeaderBytes, (l) => END_OF_HEADER.test(l));
    this.info.headerLines = this.header.lines;
  }

  write(chunk: Uint8Array): EventBatch {
    if (this.failed) throw this.failed;
    const base = this.info.bytes;
    let i = 0;
    if (this.phase === 'header') {
      try {
        if (base <= MAGIC_PREFIX.length) checkMagic(chunk, base);
        const j = this.header.feed(chunk, 0, base);
        if (j < 0) i = chunk.length;
        else {
          i = j;
          this.finishHeader(base + i);
        }
      } catch (e) {
        this.info.bytes += chunk.length;
        throw this.fail(e);
      }
    }
    const out = this.phase === 'body' ? this.decodeBody(chunk, i) : trimBatch(allocBatch(0), 0);
    this.info.bytes += chunk.length;
    this.info.events += out.t.length;
    return out;
  }

  end(): EventBatch {
    if (this.failed) throw this.failed;
    const at = this.info.bytes;
    if (this.phase === 'header' && this.header.lines.length === 0) {
      throw this.fail(new DecodeError('TRUNCATED', 'aedat2', at, 'input ends inside the "#!AER-DAT" version line'));
    }
    if (this.phase === 'header') {
      if (this.header.midLine) throw this.fail(new DecodeError('TRUNCATED', 'aedat2', at, 'input ends inside a header line'));
      // A header-only file: no body, but the header still tells the chip and geometry.
      try {
        this.finishHeader(at);
      } catch (e) {
        throw this.fail(e);
      }
    }
    if (this.carryLen > 0) {
      throw this.fail(new DecodeError('TRUNCATED', 'aedat2', at - this.carryLen,
        `input ends inside a ${this.record}-byte record (${this.carryLen} trailing bytes)`));
    }
    return trimBatch(allocBatch(0), 0);
  }

  private fail(e: unknown): DecodeError {
    this.failed = e instanceof DecodeError ? e
      : new DecodeError('CORRUPT', 'aedat2', this.info.bytes, `internal error: ${String(e)}`);
    return this.failed;
  }

  private finishHeader(at: number): void {
    const lines = this.header.lines;
    const m = /^!AER-DAT([12])\.(\d+)$/.exec(lines[0] ?? '');
    if (!m) throw new DecodeError('BAD_MAGIC', 'aedat2', 0, `unsupported version line "#${lines[0]}" (expected "#!AER-DAT2.0" or "#!AER-DAT1.0")`);
    this.version = Number(m[1]);
    this.record = this.version === 1 ? 6 : 8;
    let chipClass: string | undefined;
    for (const l of lines) {
      const c = /^AEChip:\s*(\S+)/.exec(l);
      if (c) chipClass = c[1];
    }
    let chip: Aedat2Chip | undefined = this.options.chip;
    if (!chip) {
      chip = chipClass === undefined ? 'DVS128' : aedat2ChipFromClass(chipClass);
      if (!chip) {
        throw new DecodeError('UNSUPPORTED', 'aedat2', at,
          `unknown AEChip class "${chipClass}" (known: DVS128/Tmpdiff128, DAVIS240*, Davis346*); pass the chip option to choose a layout`);
      }
    }
    if (this.version === 1 && chip !== 'DVS128') {
      throw new DecodeError('UNSUPPORTED', 'aedat2', at, `AEDAT 1.0 has 16-bit addresses; chip ${chip} needs AEDAT 2.0`);
    }
    this.chip = chip;
    [this.width, this.height] = CHIP_SIZE[chip];
    const stereo = chip === 'DVS128' && this.stereo;
    this.info.width = stereo ? 2 * this.width : this.width;
    this.info.height = this.height;
    this.info.details.version = `${m[1]}.${m[2]}`;
    this.info.details.chip = chip;
    if (chipClass !== undefined) this.info.details.chipClass = chipClass;
    if (chip === 'DVS128') this.info.details.dvs128Convention = this.convention;
    if (stereo) this.info.details.stereo = true;
    this.phase = 'body';
  }

  private decodeBody(chunk: Uint8Array, start: number): EventBatch {
    const rec = this.record;
    const total = this.carryLen + chunk.length - start;
    const out = allocBatch(Math.floor(total / rec));
    let n = 0;
    let i = start;
    if (this.carryLen > 0) {
      const need = rec - this.carryLen;
      if (chunk.length - i < need) {
        this.carry.set(chunk.subarray(i), this.carryLen);
        this.carryLen += chunk.length - i;
        return trimBatch(out, 0);
      }
      this.carry.set(chunk.subarray(i, i + need), this.carryLen);
      i += need;
      this.carryLen = 0;
      n = this.decodeRecords(this.carry, 0, rec, out, 0);
    }
    const end = i + Math.floor((chunk.length - i) / rec) * rec;
    n = this.decodeRecords(chunk, i, end, out, n);
    if (end < chunk.length) {
      this.carry.set(chunk.subarray(end), 0);
      this.carryLen = chunk.length - end;
    }
    return trimBatch(out, n);
  }

  /** Decodes whole records in [i, end) into `out` from index n; returns the new n. */
  private decodeRecords(src: Uint8Array, i: number, end: number, out: EventBatch, n: number): number {
    if (this.chip === 'DVS128') {
      const r = decodeDvs128(src, i, end, this.record, this.version === 1 ? 0 : 2, this.convention, this.stereo, out, n);
      this.info.skippedWords += r.skipped;
      return r.n;
    }
    const r = decodeDavis(src, i, end, this.width, this.height, out, n);
    this.info.skippedWords += r.skipped + r.outOfRange;
    this.outOfRange += r.outOfRange;
    this.info.details.outOfRangeWords = this.outOfRange;
    return r.n;
  }
}

interface LoopResult { n: number; skipped: number; outOfRange: number }

/**
 * DVS128 records. Hand-written hot loop (this is the whole decoder): bytes assembled by hand
 * because only the low 16 address bits matter and big-endian DataView reads cost more.
 * `aOff` is where the low 16 address bits start in a record (2 for 2.0, 0 for 1.0).
 */
function decodeDvs128(
  src: Uint8Array, i: number, end: number, rec: number, aOff: number,
  conv: Dvs128Convention, stereo: boolean, out: EventBatch, n: number,
): LoopResult {
  const { t, x, y, p } = out;
  // jAER: x = 127 - column == column ^ 127 (7 bits), ON when bit 0 is 0.
  const xXor = conv === 'jaer' ? 127 : 0;
  const pXor = conv === 'jaer' ? 1 : 0;
  const swap = conv === 'tonic';
  const tOff = aOff + 2;
  let skipped = 0;
  for (; i < end; i += rec) {
    const hi = src[i + aOff];
    const lo = src[i + aOff + 1];
    let right = 0;
    if (hi & 0x80) {
      if (!stereo) {
        skipped++;
        continue;
      }
      right = 128;
    }
    const col = (lo >>> 1) ^ xXor;
    const row = hi & 0x7f;
    if (swap) {
      x[n] = row + right;
      y[n] = col;
    } else {
      x[n] = col + right;
      y[n] = row;
    }
    p[n] = (lo & 1) ^ pXor;
    t[n] = ((src[i + tOff] << 24) | (src[i + tOff + 1] << 16) | (src[i + tOff + 2] << 8) | src[i + tOff + 3]) >>> 0;
    n++;
  }
  return { n, skipped, outOfRange: 0 };
}

/** DAVIS240/346 records (see the file comment for the layout). Hand-written hot loop. */
function decodeDavis(src: Uint8Array, i: number, end: number, width: number, height: number, out: EventBatch, n: number): LoopResult {
  const { t, x, y, p } = out;
  const xMax = width - 1;
  let skipped = 0;
  let outOfRange = 0;
  for (; i < end; i += 8) {
    const a = (src[i] << 24) | (src[i + 1] << 16) | (src[i + 2] << 8) | src[i + 3];
    // Bit 31 set: APS or IMU sample. Bits 11..10 == 01: external input event.
    if (a < 0 || (a & 0xc00) === 0x400) {
      skipped++;
      continue;
    }
    const rawX = (a >>> 12) & 0x3ff;
    const row = (a >>> 22) & 0x1ff;
    if (rawX > xMax || row >= height) {
      outOfRange++;
      continue;
    }
    x[n] = xMax - rawX;
    y[n] = row;
    p[n] = (a >>> 11) & 1;
    t[n] = ((src[i + 4] << 24) | (src[i + 5] << 16) | (src[i + 6] << 8) | src[i + 7]) >>> 0;
    n++;
  }
  return { n, skipped, outOfRange };
}

export interface Aedat2EncodeOptions {
  /** Address layout; default DVS128. */
  chip?: Aedat2Chip;
  /** DVS128 only; default 'jaer'. Decode with the same convention to get the events back. */
  dvs128Convention?: Dvs128Convention;
  /** Extra header lines (without the leading '#'), written after the standard ones. */
  headerLines?: readonly string[];
}

/**
 * Encodes events as an AEDAT 2.0 file that jAER and Aedat2Decoder read back. Requires integer
 * 0 <= t < 2^32 and coordinates inside the chip (DVS128 128x128, DAVIS240 240x180, DAVIS346
 * 346x260); throws RangeError otherwise. The header ends with jAER's "#End Of ASCII Header" line.
 */
export function encodeAedat2(b: EventBatch, options: Aedat2EncodeOptions = {}): Uint8Array {
  const chip = options.chip ?? 'DVS128';
  const conv = options.dvs128Convention ?? 'jaer';
  const [w, h] = CHIP_SIZE[chip];
  const lines = [
    '!AER-DAT2.0',
    ' This is a raw AE data file created by spikestream',
    ' Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event',
    ' Timestamps tick is 1 us',
    ` AEChip: ${CHIP_CLASS[chip]}`,
    ...(options.headerLines ?? []).map((l) => ` ${l}`),
    'End Of ASCII Header',
  ];
  for (const l of lines) {
    if (/[\r\n]/.test(l)) throw new RangeError('encodeAedat2: header lines must not contain line breaks');
  }
  const head = new TextEncoder().encode(lines.map((l) => `#${l}\r\n`).join(''));
  const n = b.t.length;
  const out = new Uint8Array(head.length + 8 * n);
  out.set(head, 0);
  const dv = new DataView(out.buffer);
  let o = head.length;
  for (let i = 0; i < n; i++) {
    const ts = b.t[i];
    const xi = b.x[i];
    const yi = b.y[i];
    if (!Number.isInteger(ts) || ts < 0 || ts > 0xffffffff) throw new RangeError(`encodeAedat2: event ${i} has t=${ts}, not a uint32`);
    if (xi >= w || yi >= h) throw new RangeError(`encodeAedat2: event ${i} at (${xi}, ${yi}) is outside ${chip} (${w}x${h})`);
    const on = b.p[i] ? 1 : 0;
    let a: number;
    if (chip === 'DVS128') {
      if (conv === 'jaer') a = (yi << 8) | ((127 - xi) << 1) | (1 - on);
      else if (conv === 'inivation') a = (yi << 8) | (xi << 1) | on;
      else a = (xi << 8) | (yi << 1) | on;
    } else {
      a = ((yi << 22) | ((w - 1 - xi) << 12) | (on << 11)) >>> 0;
    }
    dv.setUint32(o, a, false);
    dv.setUint32(o + 4, ts, false);
    o += 8;
  }
  return out;
}
