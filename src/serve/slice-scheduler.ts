/**
 * Fair processing across sessions: sessions with work wait in a FIFO; each turn runs one session
 * for at most `sliceMs` and, if it still has work, puts it back at the end. Turns are separated by
 * setImmediate, so socket reads, writes and timers run between any two slices and one heavy
 * session delays another by at most one slice per session ahead of it.
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

  constructor(private readonly sliceMs: number, private readonly onError: (w: SliceWorker, e: unknown) => void) {}

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

  private turn(): void {
    this.pending = null;
    if (this.head >= this.ready.length) return;
    const w = this.ready[this.head++];
    if (this.head > 256 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    w.scheduled = false;
    let more = false;
    try {
      more = w.runSlice(performance.now() + this.sliceMs);
    } catch (e) {
      this.onError(w, e);
    }
    if (more) this.schedule(w);
    if (this.head < this.ready.length) this.kick();
  }
}
