#!/usr/bin/env python3
"""Stream a DVS recording to a spikestream server and print its predictions.

Needs only the `websockets` and `msgpack` packages (Debian: python3-websockets, python3-msgpack;
pip: websockets msgpack). Protocol v1 (see DESIGN.md section 7): binary frames are msgpack maps.

    python3 examples/python_client.py ws://127.0.0.1:8080/v1/stream recording.bin
    python3 examples/python_client.py ws://127.0.0.1:8080/v1/stream recording.raw --raw evt3 --sensor 1280x720
    python3 examples/python_client.py ws://127.0.0.1:8080/v1/stream events.csv --mode stream --decision-us 50000

Two ways to send a recording:
- events (default): the file is read here (N-MNIST .bin, or CSV/text with t,x,y,p per line) and
  sent as `events` messages: t as int32 offsets from t0, x/y as uint16, p as uint8, all little
  endian `bin` fields, which plain `array` and `bytes` objects produce.
- --raw FORMAT: the file's bytes are sent as they are in `raw` chunks (evt2, evt21, evt3,
  aedat2, aedat4, dat, nmnist); the server decodes them, keeping its decoder state across chunks.

After the recording it sends `flush` and waits for the final prediction, then `bye`. Each
prediction is printed as one JSON line (or a readable line without --json).
"""
import argparse
import array
import asyncio
import json
import sys

import msgpack
import websockets


def read_nmnist(path):
    """N-MNIST .bin: 5 bytes per event: x, y, p<<7 | t[22:16], t[15:8], t[7:0]."""
    data = open(path, 'rb').read()
    t, x, y, p = array.array('q'), array.array('H'), array.array('H'), bytearray()
    for i in range(0, len(data) - len(data) % 5, 5):
        b = data[i:i + 5]
        x.append(b[0])
        y.append(b[1])
        p.append(b[2] >> 7)
        t.append(((b[2] & 0x7F) << 16) | (b[3] << 8) | b[4])
    return t, x, y, p


def read_csv(path):
    """Text with one event per line: t,x,y,p (comma, space or tab); lines starting with # or a letter are skipped."""
    t, x, y, p = array.array('q'), array.array('H'), array.array('H'), bytearray()
    with open(path) as f:
        for line in f:
            parts = line.replace(',', ' ').split()
            if len(parts) < 4 or not parts[0].lstrip('-').isdigit():
                continue
            t.append(int(parts[0]))
            x.append(int(parts[1]))
            y.append(int(parts[2]))
            p.append(1 if int(parts[3]) > 0 else 0)
    return t, x, y, p


def le_bytes(a):
    """Little-endian bytes of an array (the wire is little endian whatever this machine is)."""
    if sys.byteorder != 'little':
        a = array.array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


INT32 = 2 ** 31 - 1


def events_messages(cols, per_message):
    """Messages of at most per_message events whose offsets from t0 fit int32."""
    t, x, y, p = cols
    start, seq = 0, 0
    while start < len(t):
        t0 = t[start]
        end = start + 1
        while end < len(t) and end - start < per_message and abs(t[end] - t0) <= INT32:
            end += 1
        offsets = array.array('i', (v - t0 for v in t[start:end]))
        yield {
            'type': 'events', 'seq': seq, 't0': t0,
            't': le_bytes(offsets), 'x': le_bytes(x[start:end]), 'y': le_bytes(y[start:end]),
            'p': bytes(p[start:end]),
        }
        start, seq = end, seq + 1


def describe(pred):
    scores = pred['scores']
    best = scores[pred['index']] if pred['index'] >= 0 else 0
    return (f"{'final ' if pred['final'] else ''}prediction #{pred['seq']} [{pred['window'][0]}, {pred['window'][1]}) us: "
            f"{pred['label'] or '-'} (score {best}, {pred['events']} events, latency {pred['latencyMs']:.2f} ms)")


async def run(args):
    async with websockets.connect(args.url, max_size=64 << 20) as ws:
        hello = {'type': 'hello', 'protocol': 1, 'sensor': {'width': args.width, 'height': args.height}}
        if args.model:
            hello['model'] = args.model
        if args.token:
            hello['token'] = args.token
        if args.mode:
            hello['mode'] = args.mode
        if args.decision_us:
            hello['decisionUs'] = args.decision_us
        if args.window_us:
            hello['windowUs'] = args.window_us
        await ws.send(msgpack.packb(hello, use_bin_type=True))
        ready = msgpack.unpackb(await ws.recv(), raw=False)
        if ready['type'] != 'ready':
            print(f"server refused: {ready.get('code')}: {ready.get('message')}", file=sys.stderr)
            return 1
        limits = ready['limits']
        print(f"session {ready['session']}: model {ready['model']['name']} ({len(ready['model']['labels'])} classes), mode {ready['mode']}", file=sys.stderr)

        final = asyncio.get_running_loop().create_future()

        async def receive():
            try:
                await receive_all()
            except websockets.ConnectionClosed:
                pass
            if not final.done():
                final.set_exception(RuntimeError('connection closed'))

        async def receive_all():
            async for frame in ws:
                m = msgpack.unpackb(frame, raw=False) if isinstance(frame, bytes) else json.loads(frame)
                if m['type'] == 'prediction':
                    print(json.dumps(m) if args.json else describe(m), flush=True)
                    if m['final'] and not final.done():
                        final.set_result(m)
                elif m['type'] == 'error':
                    print(f"error {m['code']}: {m['message']}", file=sys.stderr)
                    if m['fatal'] and not final.done():
                        final.set_exception(RuntimeError(m['message']))
                elif m['type'] == 'stats' and args.verbose:
                    print(f"stats {m}", file=sys.stderr)

        receiver = asyncio.create_task(receive())
        if args.raw:
            chunk = args.chunk_bytes or (limits['maxMessageBytes'] - 64)
            with open(args.file, 'rb') as f:
                while True:
                    data = f.read(chunk)
                    if not data:
                        break
                    await ws.send(msgpack.packb({'type': 'raw', 'format': args.raw, 'data': data}, use_bin_type=True))
        else:
            cols = read_nmnist(args.file) if args.file.endswith('.bin') else read_csv(args.file)
            per_message = min(limits['maxEventsPerMessage'], (limits['maxMessageBytes'] - 128) // 9, args.chunk_events)
            for m in events_messages(cols, per_message):
                await ws.send(msgpack.packb(m, use_bin_type=True))
        await ws.send(msgpack.packb({'type': 'flush'}, use_bin_type=True))
        try:
            await asyncio.wait_for(final, timeout=args.timeout)
        finally:
            await ws.send(msgpack.packb({'type': 'bye'}, use_bin_type=True))
            await asyncio.wait_for(receiver, timeout=args.timeout)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('url', help='server stream URL, e.g. ws://127.0.0.1:8080/v1/stream')
    ap.add_argument('file', help='recording: N-MNIST .bin or CSV t,x,y,p (or any format with --raw)')
    ap.add_argument('--raw', metavar='FORMAT', help='send the file bytes as raw chunks of this format')
    ap.add_argument('--sensor', default='34x34', help='sensor WIDTHxHEIGHT (default 34x34, N-MNIST)')
    ap.add_argument('--mode', choices=['sample', 'stream'], help='default: the model\'s')
    ap.add_argument('--model', help='model name (default: the server\'s default)')
    ap.add_argument('--token', help='server token')
    ap.add_argument('--decision-us', type=int, help='stream mode: prediction period (us of event time)')
    ap.add_argument('--window-us', type=int, help='stream mode: trailing window (us)')
    ap.add_argument('--chunk-events', type=int, default=10000, help='events per message (default 10000)')
    ap.add_argument('--chunk-bytes', type=int, help='bytes per raw message (default: the server limit)')
    ap.add_argument('--timeout', type=float, default=30.0, help='seconds to wait for the final prediction')
    ap.add_argument('--json', action='store_true', help='print predictions as JSON lines')
    ap.add_argument('--verbose', action='store_true', help='also print stats messages')
    args = ap.parse_args()
    args.width, args.height = (int(v) for v in args.sensor.lower().split('x'))
    return asyncio.run(run(args))


if __name__ == '__main__':
    sys.exit(main())
