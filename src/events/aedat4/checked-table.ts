/**
 * Root-table access to an untrusted flatbuffer through the `flatbuffers` runtime, with every
 * offset checked against the buffer first: the runtime's readers do not check bounds (they read
 * `undefined` as 0 past the end), so unchecked garbage would decode as plausible zeros.
 */
import { ByteBuffer } from 'flatbuffers';
import { CodecError } from './codec-error.js';

export class CheckedTable {
  readonly bb: ByteBuffer;
  /** Position of the root table. */
  readonly pos: number;
  private readonly vtable: number;
  private readonly vtableSize: number;

  /** `bytes` is a flatbuffer without size prefix; `what` names it in errors. */
  constructor(private readonly bytes: Uint8Array, identifier: string, private readonly what: string) {
    const n = bytes.length;
    if (n < 8) throw new CodecError('CORRUPT', `${what}: ${n} bytes is too short for a flatbuffer`);
    this.bb = new ByteBuffer(bytes);
    if (!this.bb.__has_identifier(identifier)) {
      throw new CodecError('CORRUPT', `${what}: file identifier "${this.bb.getBufferIdentifier()}" is not "${identifier}"`);
    }
    this.pos = this.bb.readUint32(0);
    if (this.pos + 4 > n) throw new CodecError('CORRUPT', `${what}: root table offset ${this.pos} is outside the buffer`);
    this.vtable = this.pos - this.bb.readInt32(this.pos);
    if (this.vtable < 0 || this.vtable + 4 > n) throw new CodecError('CORRUPT', `${what}: vtable outside the buffer`);
    this.vtableSize = this.bb.readUint16(this.vtable);
    if (this.vtableSize < 4 || this.vtableSize & 1 || this.vtable + this.vtableSize > n) {
      throw new CodecError('CORRUPT', `${what}: bad vtable size ${this.vtableSize}`);
    }
  }

  /** Absolute position of field `index`'s value (holding `size` bytes), or 0 when absent. */
  field(index: number, size: number): number {
    const o = this.bb.__offset(this.pos, 4 + 2 * index);
    if (o === 0) return 0;
    const at = this.pos + o;
    if (at + size > this.bytes.length) throw new CodecError('CORRUPT', `${this.what}: field ${index} lies outside the buffer`);
    return at;
  }

  /** Start and length of the vector (of `elemSize`-byte elements) referenced by field `index`; length 0 when absent. */
  vector(index: number, elemSize: number): { start: number; length: number } {
    const at = this.field(index, 4);
    if (at === 0) return { start: 0, length: 0 };
    const v = at + this.bb.readUint32(at);
    if (v + 4 > this.bytes.length) throw new CodecError('CORRUPT', `${this.what}: vector ${index} lies outside the buffer`);
    const length = this.bb.readUint32(v);
    if (v + 4 + length * elemSize > this.bytes.length) {
      throw new CodecError('CORRUPT', `${this.what}: vector ${index} of ${length} elements runs past the buffer end`);
    }
    return { start: v + 4, length };
  }

  /** The UTF-8 string referenced by field `index`, or undefined when absent. */
  string(index: number): string | undefined {
    const at = this.field(index, 4);
    if (at === 0) return undefined;
    const { start, length } = this.vector(index, 1);
    return new TextDecoder().decode(this.bytes.subarray(start, start + length));
  }
}
