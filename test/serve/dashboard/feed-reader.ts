/** A test client for GET /dashboard/feed: parses the server-sent events and records every message. */
import { get, type IncomingMessage } from 'node:http';
import type { FeedFrame, FeedMessage, FeedWatch } from '../../../src/serve/dashboard/client/feed-message.js';

export class FeedReader {
  readonly messages: FeedMessage[] = [];
  ended = false;
  private buf = '';
  private waiters: { pred: (m: FeedMessage) => boolean; done: (m: FeedMessage) => void }[] = [];

  private constructor(readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.onData(chunk));
    res.on('end', () => (this.ended = true));
    res.on('close', () => (this.ended = true));
    res.on('error', () => undefined);
  }

  /** Opens the feed; rejects with the status and body when it is not 200. */
  static open(url: string): Promise<FeedReader> {
    return new Promise((resolve, reject) => {
      const req = get(url, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => reject(Object.assign(new Error(`feed answered ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
          return;
        }
        resolve(new FeedReader(res));
      });
      req.on('error', reject);
    });
  }

  frames(): FeedFrame[] {
    return this.messages.filter((m): m is FeedFrame => m.type === 'frame');
  }

  watches(): FeedWatch[] {
    return this.messages.filter((m): m is FeedWatch => m.type === 'watch');
  }

  /** The first message (seen or future) after index `from` matching `pred`. */
  next<T extends FeedMessage>(pred: (m: FeedMessage) => boolean, timeoutMs = 10_000, from = 0): Promise<T> {
    const seen = this.messages.slice(from).find(pred);
    if (seen) return Promise.resolve(seen as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`feed: timed out; got ${this.messages.map((m) => m.type).join(',')}`)), timeoutMs);
      this.waiters.push({ pred, done: (m) => {
        clearTimeout(timer);
        resolve(m as T);
      } });
    });
  }

  close(): void {
    this.res.destroy();
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (data === '') continue;
      const m = JSON.parse(data) as FeedMessage;
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.done(m);
        return false;
      });
    }
  }
}
