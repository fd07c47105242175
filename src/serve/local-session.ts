/**
 * In-process sessions: a source inside the server process (e.g. a demo that replays a recording
 * in a loop) feeds events straight into a session, without a socket, and reads what the session
 * sends from `session.messages$`. Same queue, pipeline and limits as a WebSocket session.
 */
import type { ClockedBatch } from '../stream/clocked-batch.js';
import type { ReadyMessage } from './protocol.js';
import type { Session, SessionSink } from './session.js';

export interface LocalSession {
  readonly session: Session;
  readonly ready: ReadyMessage;
  /** Queues a batch (with an optional clock) as an `events` message would. */
  pushEvents(batch: ClockedBatch): void;
  flush(): void;
  reset(): void;
  /** Finishes what is queued, then closes (as `bye`). */
  bye(): void;
  /** Closes now. */
  close(): void;
}

/** Everything goes to session.messages$; nothing to buffer, nothing to drop. */
export class LocalSink implements SessionSink {
  send(): boolean {
    return true;
  }

  close(): void {}
}

export function localSessionHandle(session: Session): LocalSession {
  return {
    session,
    ready: session.readyMessage(),
    pushEvents: (b) => session.pushEvents(b, performance.now()),
    flush: () => session.pushControl('flush', performance.now()),
    reset: () => session.pushControl('reset', performance.now()),
    bye: () => session.pushControl('bye', performance.now()),
    close: () => session.close(1000, 'closed by its source'),
  };
}
