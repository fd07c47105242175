/**
 * The page's end of GET /dashboard/feed: an EventSource (the browser reconnects by itself after
 * a network error), one JSON FeedMessage per event. Connecting again with another session
 * replaces the stream.
 */
import type { FeedMessage } from './feed-message.js';

export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export class FeedClient {
  private es: EventSource | undefined;

  constructor(
    private readonly token: string | null,
    private readonly onMessage: (m: FeedMessage) => void,
    private readonly onState: (s: FeedState) => void,
  ) {}

  /** Watches `session` (undefined: let the server choose, and follow). */
  connect(session: string | undefined): void {
    this.es?.close();
    const q = new URLSearchParams();
    if (session) q.set('session', session);
    if (this.token) q.set('token', this.token);
    const qs = q.toString();
    const es = new EventSource(`/dashboard/feed${qs ? `?${qs}` : ''}`);
    this.es = es;
    this.onState('connecting');
    es.onopen = () => this.onState('live');
    es.onerror = () => this.onState(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    es.onmessage = (ev: MessageEvent<string>) => {
      let m: FeedMessage;
      try {
        m = JSON.parse(ev.data) as FeedMessage;
      } catch {
        return;
      }
      this.onMessage(m);
    };
  }

  close(): void {
    this.es?.close();
    this.es = undefined;
    this.onState('closed');
  }
}
