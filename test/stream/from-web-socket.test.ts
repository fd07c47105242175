/** fromWebSocket against a real ws server on 127.0.0.1: events, raw chunks, bad messages, drops, closes. */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Packr } from 'msgpackr';
import { queueScheduler, VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { batchFrom, type EventBatch } from '../../src/events/batch.js';
import { DecodeError } from '../../src/events/decode-error.js';
import { NmnistDecoder } from '../../src/events/nmnist.js';
import type { ClockedBatch } from '../../src/stream/clocked-batch.js';
import { createLiveSourceStats, fromWebSocket } from '../../src/stream/from-web-socket.js';
import { ProtocolError } from '../../src/stream/protocol-error.js';
import { encodeEventsMessage, encodeRawMessage } from '../../src/stream/protocol-events.js';
import { StreamError } from '../../src/stream/stream-error.js';
import { decodeChunked, toRows } from '../helpers/events.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { collect, joined, NMNIST_REL } from './helpers.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => {
    for (const c of s.clients) c.terminate();
    s.close(r);
  })));
});

/** A server that runs `onConnection` for each client; resolves with its ws:// URL. */
async function server(onConnection: (ws: WebSocket) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  wss.on('connection', onConnection);
  await new Promise((r) => wss.once('listening', r));
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
}

const at = (ts: number[], x = 1): EventBatch => batchFrom({ t: ts, x: ts.map(() => x), y: ts.map(() => 2), p: ts.map((_, i) => i % 2) });
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
};

describe('fromWebSocket', () => {
  it('turns events messages into batches and an empty one into a heartbeat, then completes on a normal close', async () => {
    const url = await server((ws) => {
      ws.send(encodeEventsMessage(at([100, 105]), { seq: 0 }));
      ws.send(encodeEventsMessage(at([]), { t0: 200, seq: 1 }));
      ws.send(encodeEventsMessage(at([210]), { seq: 2 }));
      ws.close(1000);
    });
    const stats = createLiveSourceStats();
    const got = (await collect(fromWebSocket(url, { stats }))) as ClockedBatch[];
    expect(got.map((b) => ({ t: Array.from(b.t), clockUs: b.clockUs }))).toEqual([
      { t: [100, 105], clockUs: undefined },
      { t: [], clockUs: 200 },
      { t: [210], clockUs: undefined },
    ]);
    expect(stats).toMatchObject({ messages: 3, eventsIn: 3, eventsDropped: 0, badMessages: 0, seqGaps: 0 });
  });

  it('gives a batch the clock its events message carries, and reports a bad clock', async () => {
    const url = await server((ws) => {
      ws.send(encodeEventsMessage(at([100, 105]), { clock: 150 }));
      ws.send(encodeEventsMessage(at([]), { clock: 200 }));
      ws.send(encodeEventsMessage(at([]), { t0: 210, clock: 300 }));
      ws.send(new Packr({ useRecords: false }).pack({ type: 'events', t0: 0, t: new Uint8Array(0), x: new Uint8Array(0), y: new Uint8Array(0), p: new Uint8Array(0), clock: 'soon' }));
      ws.send(encodeEventsMessage(at([310])));
      ws.close(1000);
    });
    const bad: unknown[] = [];
    // queueScheduler: each batch is delivered as it arrives, so the two ticks are not merged.
    const got = (await collect(fromWebSocket(url, { scheduler: queueScheduler, onBadMessage: (e) => bad.push(e) }))) as ClockedBatch[];
    expect(got.map((b) => ({ t: Array.from(b.t), clockUs: b.clockUs }))).toEqual([
      { t: [100, 105], clockUs: 150 },
      { t: [], clockUs: 200 },
      { t: [], clockUs: 300 },
      { t: [310], clockUs: undefined },
    ]);
    expect(bad).toHaveLength(1);
    expect((bad[0] as ProtocolError).message).toMatch(/events\.clock/);
  });

  it('errors with the ProtocolError of a bad message, or reports and skips it with onBadMessage', async () => {
    const send = (ws: WebSocket) => {
      ws.send(encodeEventsMessage(at([1])));
      ws.send(Buffer.from([0xde, 0x00, 0x02]));
      ws.send(JSON.stringify({ type: 'hello', protocol: 1 }));
      ws.send(encodeEventsMessage(at([2], 50)));
      ws.send(encodeEventsMessage(at([3])));
      ws.close(1000);
    };
    await expect(collect(fromWebSocket(await server(send)))).rejects.toBeInstanceOf(ProtocolError);
    const bad: ProtocolError[] = [];
    const other: unknown[] = [];
    const stats = createLiveSourceStats();
    const got = await collect(fromWebSocket(await server(send), { width: 10, height: 10, stats, onBadMessage: (e) => bad.push(e as ProtocolError), onMessage: (m) => other.push(m) }));
    expect(got.map((b) => Array.from(b.t))).toEqual([[1], [3]]);
    expect(bad.map((e) => e.code)).toEqual(['BAD_MESSAGE', 'OUT_OF_RANGE']);
    expect(other).toEqual([{ type: 'hello', protocol: 1 }]);
    expect(stats.badMessages).toBe(2);
  });

  it('errors when the URL cannot be reached', async () => {
    const url = await server(() => undefined);
    const port = Number(new URL(url).port);
    await new Promise((r) => servers.splice(0).forEach((s) => s.close(r)));
    await expect(collect(fromWebSocket(`ws://127.0.0.1:${port}`))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('reports an abnormal close as a CONNECTION_CLOSED StreamError', async () => {
    const url = await server((ws) => ws.close(4001, 'go away'));
    const err = await collect(fromWebSocket(url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamError);
    expect((err as StreamError).code).toBe('CONNECTION_CLOSED');
    expect((err as StreamError).message).toMatch(/4001 \(go away\)/);
  });

  it('drops the oldest queued events beyond maxQueuedEvents, counts and reports them, keeps clocks', async () => {
    const url = await server((ws) => {
      for (let k = 0; k < 5; k++) ws.send(encodeEventsMessage(at(Array.from({ length: 10 }, (_, i) => k * 10 + i))));
      ws.send(encodeEventsMessage(at([]), { t0: 100 }));
    });
    const drain = new VirtualTimeScheduler(VirtualAction, Infinity); // the consumer is "busy" until we flush
    const stats = createLiveSourceStats();
    const drops: number[] = [];
    const got: ClockedBatch[] = [];
    const sub = fromWebSocket(url, { maxQueuedEvents: 25, scheduler: drain, stats, onDrop: (n) => drops.push(n) }).subscribe((b) => got.push(b));
    await until(() => stats.messages === 6);
    expect(stats.queuedEvents).toBe(25);
    drain.flush();
    sub.unsubscribe();
    expect(got.flatMap((b) => Array.from(b.t))).toEqual(Array.from({ length: 25 }, (_, i) => 25 + i));
    expect(got.at(-1)?.clockUs).toBe(100);
    expect(stats.eventsDropped).toBe(25);
    expect(drops.reduce((a, b) => a + b, 0)).toBe(25);
  });

  it('keeps the clocks of heartbeats queued ahead of dropped events, merging those the drop leaves adjacent', async () => {
    const url = await server((ws) => {
      ws.send(encodeEventsMessage(at([]), { t0: 5 }));
      ws.send(encodeEventsMessage(at([10, 11, 12])));
      ws.send(encodeEventsMessage(at([]), { t0: 20 }));
      ws.send(encodeEventsMessage(at([21, 22, 23, 24])));
    });
    const drain = new VirtualTimeScheduler(VirtualAction, Infinity);
    const stats = createLiveSourceStats();
    const got: ClockedBatch[] = [];
    const sub = fromWebSocket(url, { maxQueuedEvents: 2, scheduler: drain, stats }).subscribe((b) => got.push(b));
    await until(() => stats.messages === 4);
    drain.flush();
    sub.unsubscribe();
    expect(got.map((b) => ({ t: Array.from(b.t), clockUs: b.clockUs }))).toEqual([
      { t: [], clockUs: 20 }, // 5 and 20 met once [10, 11, 12] was dropped: 20 promises all 5 did
      { t: [23, 24], clockUs: undefined },
    ]);
    expect(stats.eventsDropped).toBe(5);
  });

  it('keeps draining with a synchronous scheduler (queueScheduler): every message reaches the consumer as it arrives', async () => {
    let serverSide: WebSocket | undefined;
    const url = await server((ws) => {
      serverSide = ws;
      ws.send(encodeEventsMessage(at([1])));
      ws.send(encodeEventsMessage(at([2])));
      ws.send(encodeEventsMessage(at([]), { t0: 10 }));
    });
    const stats = createLiveSourceStats();
    const got: ClockedBatch[] = [];
    const sub = fromWebSocket(url, { scheduler: queueScheduler, stats }).subscribe({ next: (b) => got.push(b), error: () => undefined });
    await until(() => stats.messages === 3);
    // The socket is still open: nothing forces a drain but the scheduler.
    expect(got.map((b) => ({ t: Array.from(b.t), clockUs: b.clockUs }))).toEqual([
      { t: [1], clockUs: undefined },
      { t: [2], clockUs: undefined },
      { t: [], clockUs: 10 },
    ]);
    serverSide?.send(encodeEventsMessage(at([20])));
    await until(() => stats.messages === 4);
    expect(got.at(-1)?.t[0]).toBe(20);
    expect(stats.queuedEvents).toBe(0);
    sub.unsubscribe();
  });

  it('hands control messages to onMessage in arrival order, after the batches sent before them', async () => {
    const url = await server((ws) => {
      ws.send(encodeEventsMessage(at([1, 2])));
      ws.send(JSON.stringify({ type: 'flush' }));
      ws.send(encodeEventsMessage(at([]), { t0: 5 }));
      ws.send(JSON.stringify({ type: 'reset' }));
      ws.send(encodeEventsMessage(at([7])));
      ws.send(JSON.stringify({ type: 'bye' }));
    });
    const drain = new VirtualTimeScheduler(VirtualAction, Infinity); // the consumer is "busy" until we flush
    const stats = createLiveSourceStats();
    const log: string[] = [];
    const sub = fromWebSocket(url, { maxQueuedEvents: 1, scheduler: drain, stats, onMessage: (m) => log.push(m.type) })
      .subscribe({ next: (b) => log.push(`t=${Array.from(b.t).join(',')} clock=${b.clockUs}`), error: () => undefined });
    await until(() => stats.messages === 6);
    expect(log).toEqual([]); // nothing overtakes the queued batches
    drain.flush();
    sub.unsubscribe();
    // maxQueuedEvents 1 dropped event t=1 and the 7 pushed out t=2, but the control messages and the clock stay in place.
    expect(log).toEqual(['flush', 't= clock=5', 'reset', 't=7 clock=undefined', 'bye']);
    expect(stats.eventsDropped).toBe(2);
  });

  it('delivers the queued batches before erroring with a bad message', async () => {
    const url = await server((ws) => {
      ws.send(encodeEventsMessage(at([1])));
      ws.send(JSON.stringify({ type: 'flush' }));
    });
    const drain = new VirtualTimeScheduler(VirtualAction, Infinity);
    const got: ClockedBatch[] = [];
    const err = await new Promise((resolve) => fromWebSocket(url, { scheduler: drain }).subscribe({ next: (b) => got.push(b), error: resolve }));
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).message).toMatch(/unexpected message type "flush"/);
    expect(got.map((b) => Array.from(b.t))).toEqual([[1]]);
  });

  it('bounds the queue under a flood of clocks: adjacent heartbeats, and dropped batches with clocks, merge into one', async () => {
    const url = await server((ws) => {
      for (let k = 0; k < 300; k++) ws.send(encodeEventsMessage(at([]), { clock: k }));
      ws.send(encodeEventsMessage(at([1000])));
      for (let k = 0; k < 300; k++) ws.send(encodeEventsMessage(at([2000 + k]), { clock: 2001 + k }));
    });
    const drain = new VirtualTimeScheduler(VirtualAction, Infinity);
    const stats = createLiveSourceStats();
    const got: ClockedBatch[] = [];
    const sub = fromWebSocket(url, { maxQueuedEvents: 2, scheduler: drain, stats }).subscribe({ next: (b) => got.push(b), error: () => undefined });
    await until(() => stats.messages === 601);
    drain.flush();
    sub.unsubscribe();
    expect(got.map((b) => ({ t: Array.from(b.t), clockUs: b.clockUs }))).toEqual([
      // The ticks and the dropped batches' clocks (the clockless t=1000 batch dropped between them) are one heartbeat.
      { t: [], clockUs: 2298 },
      { t: [2298], clockUs: 2299 },
      { t: [2299], clockUs: 2300 },
    ]);
    expect(stats.eventsDropped).toBe(299);
  });

  it('stays bounded when ticks alternate with clockless events under drops', async () => {
    const url = await server((ws) => {
      for (let k = 0; k < 200; k++) {
        ws.send(encodeEventsMessage(at([]), { clock: 10 * k }));
        ws.send(encodeEventsMessage(at([10 * k + 1])));
      }
    });
    const drain = new VirtualTimeScheduler(VirtualAction, Infinity);
    const stats = createLiveSourceStats();
    const got: ClockedBatch[] = [];
    const sub = fromWebSocket(url, { maxQueuedEvents: 1, scheduler: drain, stats }).subscribe({ next: (b) => got.push(b), error: () => undefined });
    await until(() => stats.messages === 400);
    drain.flush();
    sub.unsubscribe();
    expect(got.map((b) => ({ t: Array.from(b.t), clockUs: b.clockUs }))).toEqual([
      { t: [], clockUs: 1990 },
      { t: [1991], clockUs: undefined },
    ]);
  });

  it('reports control messages beyond maxQueuedMessages as TOO_LARGE, keeping those queued', async () => {
    const url = await server((ws) => {
      for (let k = 0; k < 5; k++) ws.send(JSON.stringify({ type: 'flush' }));
    });
    const drain = new VirtualTimeScheduler(VirtualAction, Infinity);
    const stats = createLiveSourceStats();
    const seen: string[] = [];
    const bad: ProtocolError[] = [];
    const sub = fromWebSocket(url, { maxQueuedMessages: 3, scheduler: drain, stats, onMessage: (m) => seen.push(m.type), onBadMessage: (e) => bad.push(e as ProtocolError) })
      .subscribe({ error: () => undefined });
    await until(() => stats.messages === 5);
    drain.flush();
    sub.unsubscribe();
    expect(seen).toEqual(['flush', 'flush', 'flush']);
    expect(bad.map((e) => e.code)).toEqual(['TOO_LARGE', 'TOO_LARGE']);
    expect(bad[0].message).toMatch(/maxQueuedMessages 3/);
  });

  it('works on a socket accepted by a server (the server-side use), leaving it open on unsubscribe', async () => {
    let serverSide: Promise<EventBatch[]> | undefined;
    let accepted: WebSocket | undefined;
    const url = await server((ws) => {
      accepted = ws;
      serverSide = collect(fromWebSocket(ws, { width: 34, height: 34 }));
    });
    const client = new WebSocket(url);
    await new Promise((r) => client.once('open', r));
    client.send(encodeEventsMessage(at([7, 8])));
    client.send(encodeEventsMessage(at([9])));
    client.close(1000);
    await until(() => serverSide !== undefined);
    expect(joined(await (serverSide as Promise<EventBatch[]>))).toEqual(toRows(at([7, 8])).concat(toRows(at([9]))));
    expect(accepted).toBeDefined();
  });
});

describeWithFixtures('fromWebSocket raw chunks', [NMNIST_REL], () => {
  const bytes = new Uint8Array(readFileSync(sharedFixture(NMNIST_REL)));

  it('decodes a recording sent as raw chunks split at odd byte boundaries', async () => {
    const url = await server((ws) => {
      for (let i = 0; i < bytes.length; i += 1237) ws.send(encodeRawMessage('nmnist', bytes.subarray(i, i + 1237)));
      ws.close(1000);
    });
    expect(joined(await collect(fromWebSocket(url)))).toEqual(toRows(decodeChunked(new NmnistDecoder(), bytes)));
  });

  it('fails with TRUNCATED when the connection ends inside a record, after the complete ones', async () => {
    const url = await server((ws) => {
      ws.send(encodeRawMessage('nmnist', bytes.subarray(0, 12)));
      ws.close(1000);
    });
    const got: EventBatch[] = [];
    const err = await new Promise((resolve) => fromWebSocket(url).subscribe({ next: (b) => got.push(b), error: resolve, complete: () => resolve(undefined) }));
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe('TRUNCATED');
    expect(joined(got).length).toBe(2);
  });
});
