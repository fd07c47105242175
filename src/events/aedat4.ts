/**
 * AEDAT 4.0 (iniVation DV), all integers little-endian:
 *
 *   "#!AER-DAT4.0\r\n", int32 N, N bytes of IOHeader flatbuffer ("IOHE": compression for the whole
 *   file, dataTablePosition, infoNode XML listing the streams), then packets until the end of the
 *   file or until dataTablePosition (where a FileDataTable index starts, ignored here):
 *   int32 streamId, int32 size, `size` bytes of one LZ4 or zstd frame (or raw bytes for NONE)
 *   that decompress to a size-prefixed flatbuffer. Streams of type "EVTS" hold EventPackets: a
 *   vector of 16-byte Event structs (int64 t in us, int16 x, int16 y, bool polarity).
 *
 * One EVTS stream is decoded (option `streamId`, else the lowest-id one); packets of every other
 * stream are skipped without decompressing and counted in info.skippedPackets. Geometry comes from
 * the stream's sizeX/sizeY. Compressed packets must be whole before they can be decompressed, so
 * one packet (at most limits.maxPacketBytes, compressed and decompressed) is buffered.
 *
 * LZ4 frames are decompressed by liblz4 compiled to WebAssembly, with a bounded JS decoder as the
 * fallback and judge of refused frames (aedat4/lz4-wasm.ts, aedat4/lz4-frame.ts).
 *
 * Faults inside a packet (a size field that does not match its frame, garbage in the compressed
 * payload, a flatbuffer that does not fit its buffer) are CORRUPT DecodeErrors at the packet's
 * offset; a declared size past the limit is TOO_LARGE; input ending inside a packet, or before a
 * declared data table, is TRUNCATED.
 */
import { allocBatch, emptyBatch, trimBatch, type EventBatch } from './batch.js';
import { DecodeError } from './decode-error.js';
import { newInfo, resolveLimits, type DecoderInfo, type DecoderLimits, type DecoderOptions, type EventDecoder } from './decoder.js';
import { CodecError } from './aedat4/codec-error.js';
import { badEventReason, copyEvents, locateEvents } from './aedat4/event-packet.js';
import { parseInfoNode, type Aedat4Stream } from './aedat4/info-node.js';
import { readIoHeader, type Aedat4Compression } from './aedat4/io-header.js';
import { LZ4_SLACK, decompressLz4Frame, lz4FrameLayout } from './aedat4/lz4-frame.js';
import { decompressLz4FrameWasm } from './aedat4/lz4-wasm.js';
import { decompressZstdFrame } from './aedat4/zstd-frame.js';

export interface Aedat4Options extends DecoderOptions {
  /** Id of the EVTS stream to decode; default: the lowest-id EVTS stream the header declares. */
  streamId?: number;
}

const MAGIC = '#!AER-DAT4.0\r\n';
const PACKET_HEADER = 8;
/** Largest number of events the output columns are sized for before any is decoded. */
const ESTIMATE_CAP = 1 << 20;
/** Returned by writes that complete no packet (zero-length columns cannot be written to). */
const NO_EVENTS: EventBatch = emptyBatch();

type Phase = 'magic' | 'headerSize' | 'header' | 'packetHeader' | 'packet' | 'skip' | 'trailer';

export class Aedat4Decoder implements EventDecoder {
  readonly format = 'aedat4' as const;
  readonly info: DecoderInfo = newInfo();
  private readonly limits: DecoderLimits;
  private phase: Phase = 'magic';
  private readonly small = new Uint8Array(PACKET_HEADER);
  private smallLen = 0;
  /** Stream offset of the unit being read (IOHeader or packet), for errors. */
  private unitAt = 0;
  /** The IOHeader or the current packet, while it arrives across chunks. */
  private unit = new Uint8Array(0);
  private unitLen = 0;
  private unitSize = 0;
  private compression: Aedat4Compression = 'NONE';
  private dataTable = -1;
  private stream = -1;
  private scratch = new Uint8Array(0);
  private trailerBytes = 0;
  private failed: DecodeError | null = null;
  // Output columns of the current write().
  private out: EventBatch = emptyBatch();
  private outN = 0;
  private estimate = 0;

  constructor(private readonly options: Aedat4Options = {}) {
    this.limits = resolveLimits(options);
  }

  write(chunk: Uint8Array): EventBatch {
    if (this.failed) throw this.failed;
    const base = this.info.bytes;
    this.out = NO_EVENTS;
    this.outN = 0;
    // Size the columns once per write from the events per input byte so far (DV's LZ4 packets
    // hold about 8 bytes per event; a low guess costs a second allocation and a copy). Capped:
    // the columns grow from the real counts when a write holds more.
    const perByte = this.info.events > 0 ? this.info.events / this.info.bytes : 1 / 8;
    this.estimate = Math.min(Math.ceil(chunk.length * perByte * 1.25), ESTIMATE_CAP);
    try {
      let i = 0;
      while (i < chunk.length) i = this.step(chunk, i, base);
    } catch (e) {
      this.info.bytes += chunk.length;
      this.info.events += this.outN;
      this.failed = e instanceof DecodeError ? e : new DecodeError('CORRUPT', 'aedat4', this.unitAt, `internal error: ${String(e)}`);
      this.failed.events = trimBatch(this.out, this.outN);
      throw this.failed;
    }
    this.info.bytes += chunk.length;
    this.info.events += this.outN;
    if (this.trailerBytes > 0) this.info.details.dataTableBytes = this.trailerBytes;
    const b = this.outN === 0 ? NO_EVENTS : trimBatch(this.out, this.outN);
    this.out = NO_EVENTS;
    return b;
  }

  end(): EventBatch {
    if (this.failed) throw this.failed;
    const at = this.info.bytes;
    let why = '';
    if (this.phase === 'magic' || this.phase === 'headerSize' || this.phase === 'header') why = 'input ends inside the file header';
    else if (this.phase === 'packetHeader' && this.smallLen > 0) why = 'input ends inside a packet header';
    else if (this.phase === 'packet' || this.phase === 'skip') why = `input ends inside a packet (${this.unitSize} bytes declared)`;
    else if (this.phase === 'packetHeader' && this.dataTable >= 0) why = `input ends before the file data table declared at byte ${this.dataTable}`;
    if (why) {
      this.failed = new DecodeError('TRUNCATED', 'aedat4', this.phase === 'packetHeader' && this.smallLen === 0 ? at : this.unitAt, why);
      throw this.failed;
    }
    return emptyBatch();
  }

  /** Consumes bytes of the current phase from chunk[i..]; returns the next index. */
  private step(chunk: Uint8Array, i: number, base: number): number {
    const pos = base + i;
    switch (this.phase) {
      case 'magic': {
        const n = Math.min(chunk.length - i, MAGIC.length - pos);
        for (let k = 0; k < n; k++) {
          if (chunk[i + k] !== MAGIC.charCodeAt(pos + k)) {
            throw new DecodeError('BAD_MAGIC', 'aedat4', pos + k, 'not an AEDAT 4.0 file: expected "#!AER-DAT4.0\\r\\n" at the start');
          }
        }
        if (pos + n === MAGIC.length) this.phase = 'headerSize';
        return i + n;
      }
      case 'headerSize': {
        const j = this.fillSmall(chunk, i, 4, pos);
        if (this.smallLen < 4) return j;
        this.smallLen = 0;
        const size = new DataView(this.small.buffer).getInt32(0, true);
        if (size <= 0) throw new DecodeError('BAD_HEADER', 'aedat4', this.unitAt, `IOHeader size ${size}`);
        if (size > this.limits.maxHeaderBytes) {
          throw new DecodeError('TOO_LARGE', 'aedat4', this.unitAt, `IOHeader of ${size} bytes exceeds the ${this.limits.maxHeaderBytes}-byte limit`);
        }
        this.ensureUnit(size);
        this.unitSize = size;
        this.unitLen = 0;
        this.phase = 'header';
        return j;
      }
      case 'header': {
        const j = this.fillUnit(chunk, i);
        if (this.unitLen < this.unitSize) return j;
        this.readHeader(this.unit.subarray(0, this.unitSize), base + j);
        this.phase = 'packetHeader';
        return j;
      }
      case 'packetHeader': {
        if (this.smallLen === 0 && this.dataTable >= 0 && pos >= this.dataTable) {
          this.phase = 'trailer';
          return i;
        }
        const j = this.fillSmall(chunk, i, PACKET_HEADER, pos);
        if (this.smallLen < PACKET_HEADER) return j;
        this.smallLen = 0;
        this.startPacket();
        return j;
      }
      case 'packet': {
        if (this.unitLen === 0 && chunk.length - i >= this.unitSize) {
          // The whole packet is in this chunk: decode it in place, no copy.
          this.decodePacket(chunk.subarray(i, i + this.unitSize));
          this.phase = 'packetHeader';
          return i + this.unitSize;
        }
        if (this.unitLen === 0) this.ensureUnit(this.unitSize);
        const j = this.fillUnit(chunk, i);
        if (this.unitLen === this.unitSize) {
          this.decodePacket(this.unit.subarray(0, this.unitSize));
          this.phase = 'packetHeader';
        }
        return j;
      }
      case 'skip': {
        const take = Math.min(this.unitSize - this.unitLen, chunk.length - i);
        this.unitLen += take;
        if (this.unitLen === this.unitSize) this.phase = 'packetHeader';
        return i + take;
      }
      case 'trailer':
        this.trailerBytes += chunk.length - i;
        return chunk.length;
    }
  }

  private fillSmall(chunk: Uint8Array, i: number, size: number, pos: number): number {
    if (this.smallLen === 0) this.unitAt = pos;
    const take = Math.min(size - this.smallLen, chunk.length - i);
    this.small.set(chunk.subarray(i, i + take), this.smallLen);
    this.smallLen += take;
    return i + take;
  }

  /** Grows the unit buffer to hold `size` bytes (sizes are already checked against the limits). */
  private ensureUnit(size: number): void {
    if (this.unit.length < size) this.unit = new Uint8Array(Math.max(size, Math.min(2 * this.unit.length, this.limits.maxPacketBytes)));
  }

  private fillUnit(chunk: Uint8Array, i: number): number {
    const take = Math.min(this.unitSize - this.unitLen, chunk.length - i);
    this.unit.set(chunk.subarray(i, i + take), this.unitLen);
    this.unitLen += take;
    return i + take;
  }

  private readHeader(bytes: Uint8Array, bodyAt: number): void {
    let streams: Aedat4Stream[];
    try {
      const h = readIoHeader(bytes);
      this.compression = h.compression;
      this.dataTable = h.dataTablePosition;
      streams = parseInfoNode(h.infoNode);
      this.info.headerLines = h.infoNode.split(/\r?\n/);
    } catch (e) {
      throw this.codecFault(e, 'BAD_HEADER');
    }
    if (this.dataTable >= 0 && this.dataTable < bodyAt) {
      throw new DecodeError('BAD_HEADER', 'aedat4', this.unitAt, `dataTablePosition ${this.dataTable} lies inside the file header`);
    }
    const evts = streams.filter((s) => s.type === 'EVTS');
    const chosen = this.options.streamId === undefined ? evts[0] : evts.find((s) => s.id === this.options.streamId);
    if (this.options.streamId !== undefined && !chosen) {
      throw new DecodeError('BAD_HEADER', 'aedat4', this.unitAt,
        `no EVTS stream with id ${this.options.streamId} (EVTS streams: ${evts.map((s) => s.id).join(', ') || 'none'})`);
    }
    const d = this.info.details;
    d.version = '4.0';
    d.compression = this.compression;
    d.dataTablePosition = this.dataTable;
    d.streams = streams.map((s) => `${s.id}:${s.type}`).join(',');
    if (chosen) {
      this.stream = chosen.id;
      d.streamId = chosen.id;
      if (chosen.source !== undefined) d.source = chosen.source;
      if (chosen.sizeX !== undefined && chosen.sizeY !== undefined) {
        this.info.width = chosen.sizeX;
        this.info.height = chosen.sizeY;
      }
    }
  }

  private startPacket(): void {
    const dv = new DataView(this.small.buffer);
    const id = dv.getInt32(0, true);
    const size = dv.getInt32(4, true);
    const at = this.unitAt;
    if (size <= 0) throw new DecodeError('CORRUPT', 'aedat4', at, `packet of stream ${id} declares ${size} bytes`);
    if (size > this.limits.maxPacketBytes) {
      throw new DecodeError('TOO_LARGE', 'aedat4', at, `packet of ${size} bytes exceeds the ${this.limits.maxPacketBytes}-byte limit`);
    }
    if (this.dataTable >= 0 && at + PACKET_HEADER + size > this.dataTable) {
      throw new DecodeError('CORRUPT', 'aedat4', at, `packet of ${size} bytes runs past the file data table at byte ${this.dataTable}`);
    }
    this.unitSize = size;
    this.unitLen = 0;
    if (id === this.stream) this.phase = 'packet';
    else {
      this.info.skippedPackets++;
      this.phase = 'skip';
    }
  }

  private decodePacket(bytes: Uint8Array): void {
    let data: Uint8Array;
    let start: number;
    let count: number;
    try {
      data = this.decompress(bytes);
      ({ start, count } = locateEvents(data));
    } catch (e) {
      throw this.codecFault(e, 'CORRUPT');
    }
    this.readEvents(data, start, count);
  }

  private decompress(bytes: Uint8Array): Uint8Array {
    const max = this.limits.maxPacketBytes;
    switch (this.compression) {
      case 'NONE':
        return bytes;
      case 'LZ4':
      case 'LZ4_HIGH': {
        const layout = lz4FrameLayout(bytes);
        if (layout.bound > max) throw new CodecError('TOO_LARGE', `LZ4 frame of up to ${layout.bound} bytes exceeds the ${max}-byte limit`);
        // liblz4 in wasm first (a view into its memory, read before the next packet); the bounded
        // JS decoder when wasm is unavailable or refuses the frame, and it alone reports faults.
        // Why both, and not lz4js: see lz4-frame.ts and lz4-wasm.ts.
        const fast = decompressLz4FrameWasm(bytes, layout.bound);
        if (fast) return fast;
        const need = layout.bound + LZ4_SLACK;
        if (this.scratch.length < need) this.scratch = new Uint8Array(Math.max(need, Math.min(2 * this.scratch.length, max + LZ4_SLACK)));
        return this.scratch.subarray(0, decompressLz4Frame(bytes, layout, this.scratch));
      }
      case 'ZSTD':
      case 'ZSTD_HIGH':
        return decompressZstdFrame(bytes, max);
    }
  }

  private codecFault(e: unknown, fallback: 'BAD_HEADER' | 'CORRUPT'): DecodeError {
    if (e instanceof DecodeError) return e;
    if (e instanceof CodecError) {
      const code = e.code === 'CORRUPT' ? fallback : e.code;
      return new DecodeError(code, 'aedat4', this.unitAt, e.message);
    }
    return new DecodeError(fallback, 'aedat4', this.unitAt, `${String(e)}`);
  }

  /** Appends the packet's `count` Event structs at data[start..] to the output columns. */
  private readEvents(data: Uint8Array, start: number, count: number): void {
    if (count === 0) return;
    this.reserve(count);
    const valid = copyEvents(data, start, count, this.out, this.outN);
    this.outN += valid;
    if (valid < count) {
      throw new DecodeError('CORRUPT', 'aedat4', this.unitAt, `event ${valid} of the packet has a ${badEventReason(data, start, valid)}`);
    }
  }

  /** Makes room for `count` more output events. */
  private reserve(count: number): void {
    const need = this.outN + count;
    const cap = this.out.t.length;
    if (need > cap) {
      const next = allocBatch(Math.max(need, 2 * cap, this.estimate));
      next.t.set(this.out.t.subarray(0, this.outN));
      next.x.set(this.out.x.subarray(0, this.outN));
      next.y.set(this.out.y.subarray(0, this.outN));
      next.p.set(this.out.p.subarray(0, this.outN));
      this.out = next;
    }
  }
}
