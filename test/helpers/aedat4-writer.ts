/**
 * Test-only AEDAT 4.0 writer: builds files the way DV lays them out (magic, size-prefixed IOHeader
 * flatbuffer with an infoNode XML, packets of size-prefixed EVTS flatbuffers), built with the
 * `flatbuffers` Builder from the published schemas, compressed with lz4js (LZ4 frames) or wrapped
 * in hand-built zstd frames of raw (stored) blocks, which any zstd decoder must accept.
 */
import { Builder } from 'flatbuffers';
import { compress as lz4Compress } from 'lz4js';
import type { EventBatch } from '../../src/events/batch.js';

export type WriterCompression = 'NONE' | 'LZ4' | 'ZSTD';
const COMPRESSION_CODE: Record<WriterCompression, number> = { NONE: 0, LZ4: 1, ZSTD: 3 };

export interface WriterStream {
  id: number;
  type: string;
  sizeX?: number;
  sizeY?: number;
}

export interface WriterPacket {
  streamId: number;
  /** Events for an EVTS packet. */
  events?: EventBatch;
  /** Or the packet's payload bytes as stored (already compressed, or deliberately broken). */
  payload?: Uint8Array;
}

export interface Aedat4File {
  compression: WriterCompression;
  streams: WriterStream[];
  packets: WriterPacket[];
  /** Append a (dummy) file data table and point dataTablePosition at it. */
  dataTable?: boolean;
}

export interface WrittenAedat4 {
  bytes: Uint8Array;
  /** Stream offset of each packet header. */
  packetOffsets: number[];
  headerEnd: number;
}

export function infoNodeXml(streams: readonly WriterStream[]): string {
  const path = '/mainloop/Recorder/outInfo/';
  const nodes = streams.map((s) => {
    const info = s.sizeX !== undefined && s.sizeY !== undefined
      ? `            <node name="info" path="${path}${s.id}/info/">\n` +
        `                <attr key="sizeX" type="int">${s.sizeX}</attr>\n` +
        `                <attr key="sizeY" type="int">${s.sizeY}</attr>\n` +
        `                <attr key="source" type="string">Test_&amp;_Camera</attr>\n` +
        '            </node>\n'
      : '';
    return `        <node name="${s.id}" path="${path}${s.id}/">\n` +
      '            <attr key="compression" type="string">LZ4</attr>\n' +
      `            <attr key="typeIdentifier" type="string">${s.type}</attr>\n${info}        </node>\n`;
  });
  return `<dv version="2.0">\n    <node name="outInfo" path="${path}">\n${nodes.join('')}    </node>\n</dv>\n`;
}

export function ioHeaderBytes(compressionCode: number, dataTablePosition: number, infoNode: string): Uint8Array {
  const b = new Builder(1024);
  b.forceDefaults(true); // fixed size whatever dataTablePosition is, so it can be patched in
  const info = b.createString(infoNode);
  b.startObject(3);
  b.addFieldInt32(0, compressionCode, 0);
  b.addFieldInt64(1, BigInt(dataTablePosition), -1n);
  b.addFieldOffset(2, info, 0);
  b.finishSizePrefixed(b.endObject(), 'IOHE');
  return b.asUint8Array().slice();
}

/** A size-prefixed EVTS EventPacket flatbuffer. */
export function eventPacketBytes(ev: EventBatch): Uint8Array {
  const n = ev.t.length;
  const b = new Builder(64 + 16 * n);
  b.startVector(16, n, 8);
  for (let i = n - 1; i >= 0; i--) {
    // Struct fields are written back to front: 3 padding bytes, polarity, y, x, timestamp.
    b.prep(8, 16);
    b.pad(3);
    b.writeInt8(ev.p[i] ? 1 : 0);
    b.writeInt16(ev.y[i]);
    b.writeInt16(ev.x[i]);
    b.writeInt64(BigInt(ev.t[i]));
  }
  const vec = b.endVector();
  b.startObject(1);
  b.addFieldOffset(0, vec, 0);
  b.finishSizePrefixed(b.endObject(), 'EVTS');
  return b.asUint8Array().slice();
}

/** A zstd frame of raw blocks (single segment, 4-byte content size). */
export function zstdStored(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 131072));
  const out = new Uint8Array(4 + 1 + 4 + 3 * blocks + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xfd2fb528, true);
  out[4] = 0x80 | 0x20; // FCS field 4 bytes, single segment
  dv.setUint32(5, data.length, true);
  let o = 9;
  for (let k = 0; k < blocks; k++) {
    const part = data.subarray(k * 131072, (k + 1) * 131072);
    const h = (part.length << 3) | (0 << 1) | (k === blocks - 1 ? 1 : 0);
    out[o] = h & 0xff;
    out[o + 1] = (h >>> 8) & 0xff;
    out[o + 2] = (h >>> 16) & 0xff;
    out.set(part, o + 3);
    o += 3 + part.length;
  }
  return out;
}

export function compressPayload(raw: Uint8Array, c: WriterCompression): Uint8Array {
  if (c === 'LZ4') return lz4Compress(raw);
  if (c === 'ZSTD') return zstdStored(raw);
  return raw;
}

export function writeAedat4(f: Aedat4File): WrittenAedat4 {
  const magic = new TextEncoder().encode('#!AER-DAT4.0\r\n');
  const xml = infoNodeXml(f.streams);
  const headerLen = ioHeaderBytes(0, 0, xml).length;
  const body: Uint8Array[] = [];
  const packetOffsets: number[] = [];
  let at = magic.length + headerLen;
  for (const p of f.packets) {
    const payload = p.payload ?? compressPayload(eventPacketBytes(p.events!), f.compression);
    const head = new DataView(new ArrayBuffer(8));
    head.setInt32(0, p.streamId, true);
    head.setInt32(4, payload.length, true);
    packetOffsets.push(at);
    body.push(new Uint8Array(head.buffer), payload);
    at += 8 + payload.length;
  }
  const table = f.dataTable ? Uint8Array.from([0x10, 0, 0, 0, 0x46, 0x54, 0x41, 0x42, 1, 2, 3, 4]) : new Uint8Array(0);
  const header = ioHeaderBytes(COMPRESSION_CODE[f.compression], f.dataTable ? at : -1, xml);
  const parts = [magic, header, ...body, table];
  const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, packetOffsets, headerEnd: magic.length + headerLen };
}
