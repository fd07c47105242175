/**
 * Fair processing across sessions: sessions with work wait in a FIFO; a round gives each waiting
 * session one slice of at most `sliceMs` and puts those with work left back at the end. Rounds
 * are separated by setImmediate, so socket reads, writes and timers run between rounds, and one
 * heavy session delays another by at most one slice per round.
 */

export interface SliceWorker {
  /** Runs until `deadline` (performance.now() ms); returns true when work remains. */
  runSlice(deadline: number): boolean;
  /** Scheduler bookkeeping: true while queued. */
  scheduled: boolean;
}

export class SliceScheduler {
  private ready: SliceWorker[] = [];
  private head = 0;
  private pending: NodeJS.Immediate | null = null;
  private stopped = false;

  constructor(
    private readonly sliceMs: number,
    private readonly onError: (w: SliceWorker, e: unknown) => void,
    /** Most slices in one round (bounds a round at maxRoundSlices * sliceMs). */
    private readonly maxRoundSlices = 16,
  ) {}

  /** Queues a worker that has work (no-op when it is already queued). */
  schedule(w: SliceWorker): void {
    if (w.scheduled || this.stopped) return;
    w.scheduled = true;
    this.ready.push(w);
    this.kick();
  }

  get queued(): number {
    return this.ready.length - this.head;
  }

  stop(): void {
    this.stopped = true;
    if (this.pending) clearImmediate(this.pending);
    this.pending = null;
    for (let i = this.head; i < this.ready.length; i++) this.ready[i].scheduled = false;
    this.ready = [];
    this.head = 0;
  }

  private kick(): void {
    if (this.pending === null && !this.stopped) this.pending = setImmediate(() => this.turn());
  }

  /**
   * One round: a slice for each worker that was waiting when the round began (at most
   * `maxRoundSlices`), then back to the event loop. Socket reads run between rounds, not between
   * every slice: when many sessions are busy, processing then keeps pace with reading instead of
   * getting one slice per loop iteration while every socket delivers a burst.
   */
  private turn(): void {
    this.pending = null;
    const n = Math.min(this.ready.length - this.head, this.maxRoundSlices);
    for (let k = 0; k < n; k++) {
      const w = this.ready[this.head++];
      w.scheduled = false;
      let more = false;
      try {
        more = w.runSlice(performance.now() + this.sliceMs);
      } catch (e) {
        this.onError(w, e);
      }
      if (more && !this.stopped) {
        w.scheduled = true;
        this.ready.push(w);
      }
    }
    if (this.head > 256 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.ready.length) this.kick();
  }
}
