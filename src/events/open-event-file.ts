/**
 * Streaming file reader: detects the format, then feeds the file to its decoder chunk by chunk.
 * Memory stays bounded by the chunk size whatever the file size; a multi-GB recording is never
 * read whole.
 *
 * Reads are synchronous by default: a chunk from the page cache takes tens of microseconds, less
 * than an async read's thread-pool hop and promise round trip. So that a server sharing the
 * event loop stays responsive, the stream gives the loop a turn (setImmediate) whenever
 * READ_YIELD_MS have passed since its last turn, counting the consumer's work on the batches in
 * between. Reads slower than SLOW_READ_MS mean real I/O (cold disk, network file system): the
 * second one switches the stream to async reads for good, so slow storage blocks the loop for
 * two reads at most. (Not the first: on a loaded machine a page-cache read is now and then
 * descheduled for a few ms, which says nothing about the storage.) For the same reason 'auto'
 * opens, reads the detection bytes and closes synchronously: three thread-pool hops cost about
 * 130 us here against 5 us, 3% of replaying a 0.5 M-event recording at 100 M events/s.
 */
import { close as closeCb, closeSync, open as openCb, openSync, read as readCb, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { basename } from 'node:path';
import { concatBatches, emptyBatch, type EventBatch, type EventFormat, type StreamMeta } from './batch.js';
import { createDecoder, type AnyDecoderOptions } from './create-decoder.js';
import { DecodeError } from './decode-error.js';
import type { DecoderInfo, EventDecoder } from './decoder.js';
import { DETECT_BYTES, detectFormat } from './detect-format.js';

export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Longest stretch (ms) of reading, decoding and consuming between two turns of the event loop. */
export const READ_YIELD_MS = 4;
/** A synchronous read slower than this (ms) counts as real I/O; after two, reads go async. */
export const SLOW_READ_MS = 4;

export interface OpenEventFileOptions {
  /** Skip detection and decode as this format. */
  readonly format?: EventFormat;
  /** Sensor size for files whose header does not declare one. */
  readonly width?: number;
  readonly height?: number;
  /** Bytes per read (default 1 MiB). */
  readonly chunkBytes?: number;
  /**
   * Format-specific decoder options (limits, dvs128Convention, endianness, timeUnit, ...).
   * `reuseOutput: true` makes every batch valid only until the iteration continues (see
   * DecoderOptions): for consumers that finish with each batch inside the loop body.
   */
  readonly decoder?: AnyDecoderOptions;
  /**
   * 'auto' (default): synchronous reads with event-loop turns every READ_YIELD_MS, async after
   * two reads slower than SLOW_READ_MS (see the module comment). 'async': every read through the
   * thread pool, never blocking the loop.
   */
  readonly reads?: 'auto' | 'async';
}

export interface EventFileStream extends AsyncIterable<EventBatch> {
  readonly path: string;
  readonly format: EventFormat;
  /** How the format was chosen. */
  readonly detectedBy: 'content' | 'extension' | 'option';
  readonly info: DecoderInfo;
  /**
   * Geometry and origin. Width/height come from the header, else the options, else the largest
   * coordinate seen so far + 1 (`geometry: 'inferred'`, final only once iteration has finished).
   */
  meta(): StreamMeta;
  close(): Promise<void>;
}

const openAsync = promisify(openCb);
const readAsync = promisify(readCb);
const closeAsync = promisify(closeCb);

/** Closes descriptors of streams dropped without close() or a finished iteration (as FileHandle does). */
const leaked = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to do.
  }
});

/**
 * A descriptor opened and closed synchronously ('auto' reads) or through the thread pool
 * ('async'). After close() every read fails with EBADF, and never reads a descriptor number the
 * process has reused since.
 */
class FileDescriptor {
  private open = true;

  private constructor(readonly path: string, private readonly fd: number, readonly sync: boolean) {
    leaked.register(this, fd, this);
  }

  static async open(path: string, sync: boolean): Promise<FileDescriptor> {
    return new FileDescriptor(path, sync ? openSync(path, 'r') : await openAsync(path, 'r'), sync);
  }

  readSync(buf: Uint8Array, position: number | null): number {
    return readSync(this.checked(), buf, 0, buf.length, position);
  }

  async read(buf: Uint8Array, position: number | null): Promise<number> {
    return (await readAsync(this.checked(), buf, 0, buf.length, position)).bytesRead;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    leaked.unregister(this);
    try {
      if (this.sync) closeSync(this.fd);
      else await closeAsync(this.fd);
    } catch {
      // Closing a descriptor opened for reading has nothing to lose.
    }
  }

  private checked(): number {
    if (!this.open) throw Object.assign(new Error(`${this.path}: read after the stream was closed`), { code: 'EBADF' });
    return this.fd;
  }
}

class FileStream implements EventFileStream {
  readonly info: DecoderInfo;
  private maxX = -1;
  private maxY = -1;
  private iterated = false;

  constructor(
    readonly path: string,
    readonly format: EventFormat,
    readonly detectedBy: 'content' | 'extension' | 'option',
    private readonly file: FileDescriptor,
    private readonly decoder: EventDecoder,
    private readonly options: OpenEventFileOptions,
  ) {
    this.info = decoder.info;
  }

  meta(): StreamMeta {
    const origin = this.path;
    if (this.info.width !== undefined && this.info.height !== undefined) {
      return { width: this.info.width, height: this.info.height, format: this.format, origin, geometry: 'header' };
    }
    if (this.options.width !== undefined && this.options.height !== undefined) {
      return { width: this.options.width, height: this.options.height, format: this.format, origin, geometry: 'option' };
    }
    return { width: this.maxX + 1, height: this.maxY + 1, format: this.format, origin, geometry: 'inferred' };
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<EventBatch> {
    if (this.iterated) throw new Error(`${this.path}: an EventFileStream can be iterated once`);
    this.iterated = true;
    const size = this.options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    let sync = this.options.reads !== 'async';
    let slowReads = 0;
    let turn = performance.now();
    // One buffer for every read: decoders copy the bytes they carry to the next write
    // (decoder.ts), and batches are never views on the input. A fresh buffer per read was a
    // quarter of the fresh memory the pipeline touched, and its page faults cost as much as
    // the read itself.
    const buf = new Uint8Array(size);
    try {
      while (true) {
        let bytesRead: number;
        if (sync && performance.now() - turn >= READ_YIELD_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          turn = performance.now();
        }
        if (sync) {
          const t0 = performance.now();
          bytesRead = this.file.readSync(buf, null);
          if (performance.now() - t0 > SLOW_READ_MS && ++slowReads === 2) sync = false;
        } else {
          bytesRead = await this.file.read(buf, null);
        }
        if (bytesRead === 0) break;
        const b = this.decode(() => this.decoder.write(buf.subarray(0, bytesRead)));
        if (b.t.length > 0) yield b;
      }
      const last = this.decode(() => this.decoder.end());
      if (last.t.length > 0) yield last;
    } catch (e) {
      if (e instanceof DecodeError && e.events.t.length > 0) {
        const partial = e.events;
        this.track(partial);
        e.events = partial;
        // Deliver what was decoded before the fault, then fail.
        yield partial;
      }
      throw e;
    } finally {
      await this.close();
    }
  }

  private decode(fn: () => EventBatch): EventBatch {
    try {
      const b = fn();
      this.track(b);
      return b;
    } catch (e) {
      if (e instanceof DecodeError && !e.message.startsWith(this.path)) e.message = `${this.path}: ${e.message}`;
      throw e;
    }
  }

  private track(b: EventBatch): void {
    if (this.info.width !== undefined) return;
    let mx = this.maxX;
    let my = this.maxY;
    const { x, y } = b;
    for (let i = 0; i < x.length; i++) {
      if (x[i] > mx) mx = x[i];
      if (y[i] > my) my = y[i];
    }
    this.maxX = mx;
    this.maxY = my;
  }
}

/** Opens a recording for streaming decode. Detection reads the first 64 KiB. */
export async function openEventFile(path: string, options: OpenEventFileOptions = {}): Promise<EventFileStream> {
  const file = await FileDescriptor.open(path, options.reads !== 'async');
  try {
    let format = options.format;
    let detectedBy: 'content' | 'extension' | 'option' = 'option';
    if (!format) {
      const head = new Uint8Array(DETECT_BYTES);
      const bytesRead = file.sync ? file.readSync(head, 0) : await file.read(head, 0);
      const d = detectFormat(head.subarray(0, bytesRead), basename(path));
      if (!d) {
        throw new DecodeError('BAD_MAGIC', 'unknown', 0,
          `${path}: not a recognised event format (no known signature; extension hints: .bin .aedat .aedat4 .raw .dat .csv .txt)`);
      }
      format = d.format;
      detectedBy = d.by;
    }
    const decoder = createDecoder(format, { ...options.decoder });
    return new FileStream(path, format, detectedBy, file, decoder, options);
  } catch (e) {
    await file.close();
    throw e;
  }
}

/** Decodes a whole file into one batch (for recordings that fit in memory: datasets, tests). */
export async function readEventFile(path: string, options: OpenEventFileOptions = {}): Promise<{ events: EventBatch; meta: StreamMeta; info: DecoderInfo; format: EventFormat }> {
  // Every batch is kept until the concat, so borrowed output (reuseOutput) would corrupt them.
  const stream = await openEventFile(path, { ...options, decoder: { ...options.decoder, reuseOutput: false } });
  const parts: EventBatch[] = [];
  for await (const b of stream) parts.push(b);
  return { events: parts.length ? concatBatches(parts) : emptyBatch(), meta: stream.meta(), info: stream.info, format: stream.format };
}
