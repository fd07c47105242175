/**
 * Idle event-pool chunks (event-pool.ts) shared by the sessions of one server, so that storage a
 * session frees is reused by whichever session needs it next.
 *
 * Why shared: a session holds several chunks while messages wait in its queue or in an open window
 * and frees them in bursts; with a private free list of a few chunks, every burst beyond it was a
 * fresh ArrayBuffer (a quarter of all chunks at 8 streams of 1 M events/s), that is external memory
 * that V8 answers with extra GCs. One list bounded for the whole server (maxChunks) reuses them
 * all and bounds idle memory independently of the number of sessions.
 */
export class ChunkCache {
  private readonly free: ArrayBuffer[] = [];

  /**
   * @param chunkBytes the size of every chunk it holds (others are refused)
   * @param maxChunks idle chunks kept; beyond, a returned chunk is left to the garbage collector
   */
  constructor(readonly chunkBytes: number, readonly maxChunks: number) {
    if (!(Number.isInteger(chunkBytes) && chunkBytes > 0)) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
    if (!(Number.isInteger(maxChunks) && maxChunks >= 0)) throw new RangeError(`maxChunks must be a non-negative integer, got ${maxChunks}`);
  }

  /** Idle chunks held. */
  get size(): number {
    return this.free.length;
  }

  /** An idle chunk, or undefined when none is left. */
  take(): ArrayBuffer | undefined {
    return this.free.pop();
  }

  /** Returns a chunk no one references any more; false when it was not kept (full, or another size). */
  give(buf: ArrayBuffer): boolean {
    if (buf.byteLength !== this.chunkBytes || this.free.length >= this.maxChunks) return false;
    this.free.push(buf);
    return true;
  }

  /** Drops every idle chunk. */
  clear(): void {
    this.free.length = 0;
  }
}
