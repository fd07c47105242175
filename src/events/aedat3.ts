/**
 * AEDAT 3.1 (cAER / libcaer): `#` header lines, `#!AER-DAT3.1` first and `#!END-HEADER` last, then
 * typed event packets, all integers little-endian:
 *
 *   packet header (28 bytes): int16 eventType, int16 eventSource, int32 eventSize,
 *     int32 eventTSOffset, int32 eventTSOverflow, int32 eventCapacity, int32 eventNumber,
 *     int32 eventValid; then eventCapacity * eventSize bytes of events.
 *   polarity event (type 1, 8 bytes): uint32 data (bit 0 valid, bit 1 polarity (1 = ON),
 *     bits 16..2 y, bits 31..17 x; origin upper left), int32 timestamp (us).
 *   Full timestamp: t = eventTSOverflow * 2^31 + timestamp.
 *
 * Only the first eventNumber events of a packet are meaningful; events whose valid bit is clear
 * (invalidated by a filter) are skipped and counted in details.invalidEvents. Packets of other
 * types (special, frame, IMU, ...) are skipped and counted in info.skippedPackets, as are polarity
 * packets of a source other than the one decoded (option `source`, else the first polarity
 * packet's source). Polarity events stream out as their bytes arrive: a packet is never buffered.
 *
 * Geometry comes from the header when it says: the device named by the first `#Source <id>:` line
 * (DVS128, DAVIS128, DAVIS240*, DAVIS346*, DAVIS640*), or explicit sizeX/sizeY (dvsSizeX/dvsSizeY)
 * values in any header line; otherwise info.width/height stay unset.
 */
import { allocBatch, trimBatch, type EventBatch } from './batch.js';
import { DecodeError } from './decode-error.js';
import { newInfo, resolveLimits, type DecoderInfo, type DecoderLimits, type DecoderOptions, type EventDecoder } from './decoder.js';
import { HeaderLineReader } from './header-lines.js';

export interface Aedat3Options extends DecoderOptions {
  /** eventSource id whose polarity packets are decoded; default: the first polarity packet's. */
  source?: number;
}

const MAGIC = '#!AER-DAT3.1';
const PACKET_HEADER = 28;
const POLARITY_EVENT = 1;
const POLARITY_SIZE = 8;
const TS_OVERFLOW = 2 ** 31;
/** eventTSOverflow at or above this puts t beyond 2^53, where doubles stop being exact. */
const MAX_OVERFLOW = 2 ** 22;

const DEVICE_SIZE: ReadonlyArray<readonly [RegExp, number, number]> = [
  [/^DVS128\b/i, 128, 128],
  [/^DAVIS128\b/i, 128, 128],
  [/^DAVIS240/i, 240, 180],
  [/^DAVIS346/i, 346, 260],
  [/^DAVIS640/i, 640, 480],
];

/** Device names (from the AEDAT 3.1 device list) the encoder writes for known sizes. */
const DEVICE_NAME: Record<string, string> = {
  '128x128': 'DVS128', '240x180': 'DAVIS240C', '346x260': 'DAVIS346B', '640x480': 'DAVIS640',
};

/** Sensor size declared by AEDAT 3.1 header lines (see the file comment), if any. */
export function aedat3Geometry(lines: readonly string[]): { width: number; height: number; source: string } | undefined {
  let sx: number | undefined;
  let sy: number | undefined;
  let device: string | undefined;
  for (const l of lines) {
    const src = /^Source\s+-?\d+:\s*(.*)$/.exec(l);
    if (src && device === undefined) device = src[1].trim();
    const x = /\b(?:dvs)?sizeX\b\D{0,24}?(\d+)/i.exec(l);
    const y = /\b(?:dvs)?sizeY\b\D{0,24}?(\d+)/i.exec(l);
    if (x && sx === undefined) sx = Number(x[1]);
    if (y && sy === undefined) sy = Number(y[1]);
  }
  if (sx !== undefined && sy !== undefined && sx > 0 && sy > 0) return { width: sx, height: sy, source: device ?? 'header sizeX/sizeY' };
  if (device !== undefined) {
    for (const [re, w, h] of DEVICE_SIZE) if (re.test(device)) return { width: w, height: h, source: device };
  }
  return undefined;
}

type Phase = 'header' | 'packetHeader' | 'events' | 'skip';

export class Aedat3Decoder implements EventDecoder {
  readonly format = 'aedat3' as const;
  readonly info: DecoderInfo = newInfo();
  private readonly limits: DecoderLimits;
  private readonly header: HeaderLineReader;
  private phase: Phase = 'header';
  private readonly hdr = new Uint8Array(PACKET_HEADER);
  private hdrLen = 0;
  /** Stream offset of the current packet header, for error messages. */
  private packetAt = 0;
  private source: number | undefined;
  /** Events of the current polarity packet still to read, and bytes to skip after them. */
  private eventsLeft = 0;
  private skipLeft = 0;
  private tBase = 0;
  private readonly carry = new Uint8Array(POLARITY_SIZE);
  private carryLen = 0;
  private invalid = 0;
  /** A fault found inside the hot loop, raised after the events before it are kept. */
  private fault: DecodeError | null = null;
  private failed: DecodeError | null = null;

  constructor(options: Aedat3Options = {}) {
    this.limits = resolveLimits(options);
    this.source = options.source;
    this.header = new HeaderLineReader('aedat3', 0x23, this.limits.maxHeaderBytes, (l) => l === '!END-HEADER');
    this.info.headerLines = this.header.lines;
  }

  write(chunk: Uint8Array): EventBatch {
    if (this.failed) throw this.failed;
    const base = this.info.bytes;
    // At most one event per 8 bytes, plus the one completed from the carry.
    const out = allocBatch(Math.floor((chunk.length + this.carryLen) / POLARITY_SIZE));
    let n = 0;
    try {
      let i = 0;
      if (this.phase === 'header') {
        if (base < MAGIC.length) checkMagic(chunk, base);
        const j = this.header.feed(chunk, 0, base);
        if (j < 0) i = chunk.length;
        else {
          i = j;
          this.finishHeader(base + i);
        }
      }
      while (i < chunk.length) {
        if (this.phase === 'packetHeader') {
          const take = Math.min(PACKET_HEADER - this.hdrLen, chunk.length - i);
          if (this.hdrLen === 0) this.packetAt = base + i;
          this.hdr.set(chunk.subarray(i, i + take), this.hdrLen);
          this.hdrLen += take;
          i += take;
          if (this.hdrLen === PACKET_HEADER) {
            this.hdrLen = 0;
            this.startPacket();
          }
        } else if (this.phase === 'skip') {
          const take = Math.min(this.skipLeft, chunk.length - i);
          this.skipLeft -= take;
          i += take;
          if (this.skipLeft === 0) this.phase = 'packetHeader';
        } else {
          const r = this.readEvents(chunk, i, out, n, base);
          i = r.i;
          n = r.n;
          if (this.fault) throw this.fault;
        }
      }
    } catch (e) {
      this.info.bytes += chunk.length;
      this.info.events += n;
      this.fail(e, base);
      this.failed!.events = trimBatch(out, n);
      throw this.failed;
    }
    this.info.bytes += chunk.length;
    this.info.events += n;
    this.info.details.invalidEvents = this.invalid;
    return trimBatch(out, n);
  }

  end(): EventBatch {
    if (this.failed) throw this.failed;
    const at = this.info.bytes;
    const truncated = (reason: string, offset = at): never => {
      throw this.fail(new DecodeError('TRUNCATED', 'aedat3', offset, reason), at);
    };
    if (this.phase === 'header') truncated('input ends inside the header (no "#!END-HEADER" line)');
    if (this.phase === 'packetHeader' && this.hdrLen > 0) truncated(`input ends inside a 28-byte packet header (${this.hdrLen} bytes)`, this.packetAt);
    if (this.phase === 'events' || this.phase === 'skip') truncated('input ends inside an event packet', this.packetAt);
    return trimBatch(allocBatch(0), 0);
  }

  private fail(e: unknown, at: number): DecodeError {
    this.failed = e instanceof DecodeError ? e : new DecodeError('CORRUPT', 'aedat3', at, `internal error: ${String(e)}`);
    return this.failed;
  }

  private finishHeader(at: number): void {
    const lines = this.header.lines;
    if (lines[0] !== '!AER-DAT3.1') {
      throw new DecodeError('BAD_MAGIC', 'aedat3', 0, `unsupported version line "#${lines[0]}" (expected "#!AER-DAT3.1")`);
    }
    if (lines[lines.length - 1] !== '!END-HEADER') {
      throw new DecodeError('BAD_HEADER', 'aedat3', at, 'the header ends without a "#!END-HEADER" line');
    }
    const fmt = lines.map((l) => /^Format:\s*(\S+)/.exec(l)).find((m) => m);
    if (fmt && fmt[1] !== 'RAW') {
      throw new DecodeError('UNSUPPORTED', 'aedat3', at, `packet format "${fmt[1]}" (only RAW is supported)`);
    }
    this.info.details.version = '3.1';
    const g = aedat3Geometry(lines);
    if (g) {
      this.info.width = g.width;
      this.info.height = g.height;
      this.info.details.device = g.source;
    }
    this.phase = 'packetHeader';
  }

  private startPacket(): void {
    const dv = new DataView(this.hdr.buffer);
    const type = dv.getInt16(0, true);
    const source = dv.getInt16(2, true);
    const size = dv.getInt32(4, true);
    const tsOffset = dv.getInt32(8, true);
    const overflow = dv.getInt32(12, true);
    const capacity = dv.getInt32(16, true);
    const number = dv.getInt32(20, true);
    const at = this.packetAt;
    const corrupt = (why: string): never => {
      throw new DecodeError('CORRUPT', 'aedat3', at, `packet header: ${why}`);
    };
    if (size < 0 || capacity < 0 || number < 0 || number > capacity) {
      corrupt(`inconsistent sizes (eventSize ${size}, eventCapacity ${capacity}, eventNumber ${number})`);
    }
    const bytes = size * capacity;
    if (bytes > this.limits.maxPacketBytes) {
      throw new DecodeError('TOO_LARGE', 'aedat3', at, `packet of ${bytes} bytes exceeds the ${this.limits.maxPacketBytes}-byte limit`);
    }
    if (type < 0) throw new DecodeError('UNSUPPORTED', 'aedat3', at, `compressed packet (eventType 0x${(type & 0xffff).toString(16)})`);
    if (type === POLARITY_EVENT) {
      if (size !== POLARITY_SIZE || tsOffset !== 4) corrupt(`polarity packet with eventSize ${size} and eventTSOffset ${tsOffset} (expected 8 and 4)`);
      if (overflow < 0 || overflow >= MAX_OVERFLOW) corrupt(`eventTSOverflow ${overflow} out of range`);
      if (this.source === undefined) this.source = source;
      if (source === this.source) {
        this.info.details.source = source;
        this.tBase = overflow * TS_OVERFLOW;
        this.eventsLeft = number;
        this.skipLeft = (capacity - number) * POLARITY_SIZE;
        this.phase = number > 0 ? 'events' : this.skipLeft > 0 ? 'skip' : 'packetHeader';
        return;
      }
    }
    this.info.skippedPackets++;
    this.skipLeft = bytes;
    this.phase = bytes > 0 ? 'skip' : 'packetHeader';
  }

  /** Reads polarity events of the current packet from chunk[i..]; returns the new positions. */
  private readEvents(chunk: Uint8Array, i: number, out: EventBatch, n: number, base: number): { i: number; n: number } {
    if (this.carryLen > 0) {
      const take = Math.min(POLARITY_SIZE - this.carryLen, chunk.length - i);
      this.carry.set(chunk.subarray(i, i + take), this.carryLen);
      this.carryLen += take;
      i += take;
      if (this.carryLen < POLARITY_SIZE) return { i, n };
      this.carryLen = 0;
      n = this.decode(this.carry, 0, 1, out, n, base + i - POLARITY_SIZE);
      if (--this.eventsLeft === 0) this.afterEvents();
      return { i, n };
    }
    const whole = Math.min(this.eventsLeft, Math.floor((chunk.length - i) / POLARITY_SIZE));
    n = this.decode(chunk, i, whole, out, n, base + i);
    i += whole * POLARITY_SIZE;
    this.eventsLeft -= whole;
    if (this.eventsLeft === 0) this.afterEvents();
    else if (i < chunk.length) {
      this.carry.set(chunk.subarray(i), 0);
      this.carryLen = chunk.length - i;
      i = chunk.length;
    }
    return { i, n };
  }

  private afterEvents(): void {
    this.phase = this.skipLeft > 0 ? 'skip' : 'packetHeader';
  }

  /**
   * `count` polarity events from src[i..]. Hand-written hot loop (it is the decoder's whole cost):
   * little-endian words assembled by hand since chunk offsets need not be 4-byte aligned.
   */
  private decode(src: Uint8Array, i: number, count: number, out: EventBatch, n: number, at: number): number {
    const { t, x, y, p } = out;
    const tBase = this.tBase;
    let invalid = 0;
    const start = i;
    const end = i + count * POLARITY_SIZE;
    for (; i < end; i += POLARITY_SIZE) {
      const data = src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24);
      if ((data & 1) === 0) {
        invalid++;
        continue;
      }
      const ts = src[i + 4] | (src[i + 5] << 8) | (src[i + 6] << 16) | (src[i + 7] << 24);
      if (ts < 0) {
        // Reported by the caller once the events before it are counted.
        this.fault = new DecodeError('CORRUPT', 'aedat3', at + i - start, `negative polarity event timestamp ${ts}`);
        break;
      }
      x[n] = data >>> 17;
      y[n] = (data >>> 2) & 0x7fff;
      p[n] = (data >>> 1) & 1;
      t[n] = tBase + ts;
      n++;
    }
    this.invalid += invalid;
    return n;
  }
}

/** Checks "#!AER-DAT3.1" byte by byte as it arrives, so garbage fails at its first byte. */
function checkMagic(chunk: Uint8Array, base: number): void {
  const n = Math.min(chunk.length, MAGIC.length - base);
  for (let k = 0; k < n; k++) {
    if (chunk[k] !== MAGIC.charCodeAt(base + k)) {
      throw new DecodeError('BAD_MAGIC', 'aedat3', base + k, 'not an AEDAT 3.1 file: expected "#!AER-DAT3.1" at the start');
    }
  }
}

export interface Aedat3EncodeOptions {
  /** Sensor size written to the header (as the device name when it is a known one, and as sizeX/sizeY). */
  width?: number;
  height?: number;
  /** Most events per packet; default 4096 (cAER writes packets of a few thousand). */
  eventsPerPacket?: number;
}

/**
 * Encodes events as an AEDAT 3.1 file of polarity packets (source 1), starting a packet whenever
 * the 2^31 us overflow epoch changes. Requires integer 0 <= t < 2^53 and 0 <= x, y < 32768; throws
 * RangeError otherwise. Event order is kept (timestamps may step back within an epoch).
 */
export function encodeAedat3(b: EventBatch, options: Aedat3EncodeOptions = {}): Uint8Array {
  const perPacket = Math.max(1, Math.floor(options.eventsPerPacket ?? 4096));
  const n = b.t.length;
  const lines = ['!AER-DAT3.1', 'Format: RAW'];
  const { width, height } = options;
  const geometry = width !== undefined && height !== undefined;
  const device = (geometry && DEVICE_NAME[`${width}x${height}`]) || 'spikestream';
  lines.push(`Source 1: ${device}`);
  if (geometry) lines.push(`Geometry 1: sizeX=${width} sizeY=${height}`);
  lines.push(`Start-Time: ${new Date(0).toISOString()}`, '!END-HEADER');
  const head = new TextEncoder().encode(lines.map((l) => `#${l}\r\n`).join(''));

  // Packets: runs of at most perPacket events sharing one overflow epoch.
  const starts: number[] = [];
  for (let i = 0; i < n; i++) {
    const ts = b.t[i];
    if (!Number.isInteger(ts) || ts < 0 || ts >= 2 ** 53) throw new RangeError(`encodeAedat3: event ${i} has t=${ts}, not an integer in [0, 2^53)`);
    if (b.x[i] > 0x7fff || b.y[i] > 0x7fff) throw new RangeError(`encodeAedat3: event ${i} at (${b.x[i]}, ${b.y[i]}) exceeds 15-bit addresses`);
    if (i === 0 || i - starts[starts.length - 1] >= perPacket || Math.floor(ts / TS_OVERFLOW) !== Math.floor(b.t[i - 1] / TS_OVERFLOW)) starts.push(i);
  }
  const out = new Uint8Array(head.length + starts.length * PACKET_HEADER + n * POLARITY_SIZE);
  out.set(head);
  const dv = new DataView(out.buffer);
  let o = head.length;
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k];
    const e = k + 1 < starts.length ? starts[k + 1] : n;
    const overflow = Math.floor(b.t[s] / TS_OVERFLOW);
    dv.setInt16(o, POLARITY_EVENT, true);
    dv.setInt16(o + 2, 1, true);
    dv.setInt32(o + 4, POLARITY_SIZE, true);
    dv.setInt32(o + 8, 4, true);
    dv.setInt32(o + 12, overflow, true);
    dv.setInt32(o + 16, e - s, true);
    dv.setInt32(o + 20, e - s, true);
    dv.setInt32(o + 24, e - s, true);
    o += PACKET_HEADER;
    for (let i = s; i < e; i++) {
      dv.setUint32(o, ((b.x[i] << 17) | (b.y[i] << 2) | ((b.p[i] ? 1 : 0) << 1) | 1) >>> 0, true);
      dv.setInt32(o + 4, b.t[i] - overflow * TS_OVERFLOW, true);
      o += POLARITY_SIZE;
    }
  }
  return out;
}
