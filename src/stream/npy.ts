/**
 * NumPy .npy (format version 1.0) writing, so Python users can `numpy.load` what spikestream
 * produces. Little-endian, C order. `NpyFrameWriter` streams frames of a known shape to disk when
 * their count is unknown up front: the header reserves room for any count and is rewritten at the
 * end, padded with spaces to the same length (numpy parses the header as a Python literal, so
 * trailing spaces are fine). Files appear atomically (temp file + rename).
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export type NpyDtype = '<i2' | '<i4' | '<i8' | '<u1' | '<u2' | '<f4' | '<f8';

export type NpyArray = Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Float32Array | Float64Array;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]; // \x93NUMPY v1.0

function dictText(dtype: NpyDtype, shapeText: string): string {
  return `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
}

function shapeText(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** The header bytes (magic, length, dict, padding, newline); `minDictLength` pads the dict further. */
export function encodeNpyHeader(dtype: NpyDtype, shape: readonly number[], minDictLength = 0): Uint8Array {
  let dict = dictText(dtype, shapeText(shape));
  if (dict.length < minDictLength) dict = dict.padEnd(minDictLength, ' ');
  // Total length (10 fixed bytes + dict + padding + '\n') is a multiple of 64, as numpy writes it.
  const unpadded = 10 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  const text = dict.padEnd(total - 10 - 1, ' ') + '\n';
  if (text.length > 0xffff) throw new RangeError('npy header longer than 65535 bytes');
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[8] = text.length & 0xff;
  out[9] = text.length >>> 8;
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

function bytesOf(a: NpyArray): Uint8Array {
  // Every JS engine spikestream runs on is little-endian, so typed-array memory is already '<'.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A whole array as .npy bytes. */
export function encodeNpy(dtype: NpyDtype, shape: readonly number[], data: NpyArray): Uint8Array {
  const header = encodeNpyHeader(dtype, shape);
  const body = bytesOf(data);
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

/**
 * Streams (T, ...frameShape) arrays to `path`, T counted as frames are written. Writes are
 * synchronous on purpose: a producer that emits frames faster than the disk takes them simply
 * waits, so frames never queue up in memory.
 */
export class NpyFrameWriter {
  private frames = 0;
  private done = false;
  private readonly frameSize: number;

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly fd: number,
    private readonly dtype: NpyDtype,
    private readonly frameShape: readonly number[],
    private readonly headerLength: number,
    private readonly reservedDict: number,
  ) {
    this.frameSize = frameShape.reduce((a, b) => a * b, 1);
  }

  static create(path: string, dtype: NpyDtype, frameShape: readonly number[]): NpyFrameWriter {
    const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
    const fd = openSync(tmp, 'w');
    // Room for a 20-digit frame count (beyond any count that fits in memory or on disk).
    const reservedDict = dictText(dtype, shapeText([10 ** 19, ...frameShape])).length + 1;
    const header = encodeNpyHeader(dtype, [0, ...frameShape], reservedDict);
    writeSync(fd, header, 0, header.length, 0);
    return new NpyFrameWriter(path, tmp, fd, dtype, frameShape, header.length, reservedDict);
  }

  get count(): number {
    return this.frames;
  }

  write(frame: NpyArray): void {
    if (this.done) throw new Error(`${this.path}: writer is closed`);
    if (frame.length !== this.frameSize) throw new RangeError(`${this.path}: frame has ${frame.length} elements, expected ${this.frameSize}`);
    const b = bytesOf(frame);
    writeSync(this.fd, b, 0, b.length, this.headerLength + this.frames * b.length);
    this.frames++;
  }

  /** Fixes the header's frame count and moves the file into place; returns the frame count. */
  close(): number {
    if (this.done) return this.frames;
    this.done = true;
    try {
      const header = encodeNpyHeader(this.dtype, [this.frames, ...this.frameShape], this.reservedDict);
      if (header.length !== this.headerLength) throw new Error('npy header length changed');
      writeSync(this.fd, header, 0, header.length, 0);
      closeSync(this.fd);
      renameSync(this.tmp, this.path);
    } catch (e) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      rmSync(this.tmp, { force: true });
      throw e;
    }
    return this.frames;
  }

  /** Drops the partial file. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.tmp, { force: true });
    }
  }
}
