import { DecodeError } from './decode-error.js';
import type { EventFormat } from './batch.js';

/**
 * Incremental reader for the text headers of Prophesee (`%`) and jAER/AEDAT (`#`) files: a run of
 * lines that start with a prefix byte, ended by the first line that does not (or by an explicit
 * end line such as `% end` / `#!END-HEADER`). Resumable at any byte, bounded by `maxBytes`.
 */
export class HeaderLineReader {
  readonly lines: string[] = [];
  private partial: number[] = [];
  private atLineStart = true;
  private inLine = false;
  private size = 0;
  done = false;

  constructor(
    private readonly format: EventFormat,
    private readonly prefix: number,
    private readonly maxBytes: number,
    /** Returns true when this (complete) line ends the header. */
    private readonly isEndLine: (line: string) => boolean = () => false,
  ) {}

  /**
   * Consumes header bytes of `chunk` from `start`. Returns the index of the first body byte in
   * `chunk`, or -1 when the whole rest of the chunk was header. `base` is the chunk's absolute
   * stream offset, for error messages.
   */
  feed(chunk: Uint8Array, start: number, base: number): number {
    let i = start;
    const n = chunk.length;
    while (i < n) {
      if (this.atLineStart) {
        if (chunk[i] !== this.prefix) {
          this.done = true;
          return i;
        }
        this.atLineStart = false;
        this.inLine = true;
      }
      // Scan to end of line.
      let j = i;
      while (j < n && chunk[j] !== 0x0a) j++;
      const take = j - i;
      this.size += take + (j < n ? 1 : 0);
      if (this.size > this.maxBytes) {
        throw new DecodeError('TOO_LARGE', this.format, base + j, `header exceeds ${this.maxBytes} bytes`);
      }
      for (let k = i; k < j; k++) this.partial.push(chunk[k]);
      if (j === n) return -1;
      // Complete line.
      let end = this.partial.length;
      if (end > 0 && this.partial[end - 1] === 0x0d) end--;
      let s = '';
      for (let k = 1; k < end; k++) s += String.fromCharCode(this.partial[k]);
      this.partial = [];
      this.inLine = false;
      this.atLineStart = true;
      i = j + 1;
      const text = s.replace(/^\s+/, '');
      this.lines.push(text);
      if (this.isEndLine(text)) {
        this.done = true;
        return i;
      }
    }
    return -1;
  }

  /** True when input ended inside a header line (a truncated file). */
  get midLine(): boolean {
    return this.inLine;
  }

  get bytes(): number {
    return this.size;
  }
}
