/**
 * On-disk cache of binned frames, so training epochs after the first never decode a recording
 * again. An entry is keyed by the SHA-256 of the recording's bytes (plus the sample's time range,
 * for datasets that cut recordings into segments), the sensor size and the binning's own key:
 * renaming or moving files keeps the cache valid; changing a file or the binning misses it.
 *
 * The binning is a parameter (a key plus a function from events to frames), so any binning works:
 * `binningFromTimesteps` adapts src/stream's pure binning functions (binEventsByTime,
 * binEventsToNTimeBins, ...). Frames are stored as .npy (int16 when every value is an integer that
 * fits, else float32), one file per entry under <dir>/<2 hex>/<key>.npy, written atomically; an
 * entry that fails to parse is treated as a miss and rewritten. Nothing is evicted: the cache
 * grows by one entry per (sample, binning); delete the directory to reclaim the space.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventBatch } from '../events/batch.js';
import { encodeNpy } from '../stream/npy.js';
import type { Timestep } from '../stream/timestep.js';
import type { Dataset, SampleSource } from './dataset.js';

/** Frames of one sample: shape [T, 2, H, W] (channel 0 = OFF, 1 = ON), row-major. */
export interface FrameTensor {
  readonly shape: readonly [number, number, number, number];
  readonly data: Float32Array;
}

export interface FrameBinning {
  /** Names the binning and all its settings; must change whenever `bin` would give other frames. */
  readonly key: string;
  bin(events: EventBatch, width: number, height: number): FrameTensor;
}

/**
 * A FrameBinning from any function that turns a recording into timesteps (the pure cores in
 * src/stream). `settings` becomes the key (canonical JSON, keys sorted). With `frames` set, the
 * output always has that many frames (missing ones are zero, extra ones dropped), so every sample
 * of a dataset has the same shape.
 */
export function binningFromTimesteps(name: string, settings: Record<string, unknown>, toTimesteps: (events: EventBatch, width: number, height: number) => readonly Timestep[], frames?: number): FrameBinning {
  const key = `${name}:${canonicalJson({ ...settings, frames: frames ?? null })}`;
  return {
    key,
    bin(events, width, height) {
      const steps = toTimesteps(events, width, height);
      const T = frames ?? steps.length;
      const size = 2 * width * height;
      const data = new Float32Array(T * size);
      for (let k = 0; k < Math.min(T, steps.length); k++) steps[k].toDense(data.subarray(k * size, (k + 1) * size));
      return { shape: [T, 2, height, width], data };
    },
  };
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export interface FrameCacheStats {
  hits: number;
  misses: number;
  /** Entries found unreadable (and rebuilt). */
  corrupt: number;
  /** Files whose contents were hashed (once per file and process). */
  hashed: number;
}

export class FrameCache {
  readonly stats: FrameCacheStats = { hits: 0, misses: 0, corrupt: 0, hashed: 0 };
  private readonly contentHashes = new Map<string, { size: number; mtimeMs: number; hash: Promise<string> }>();
  private readonly inFlight = new Map<string, Promise<FrameTensor>>();

  constructor(readonly dir: string) {}

  /** Frames of sample i of `ds` under `binning`, from the cache or built (and stored). */
  async frames(ds: Dataset, i: number, binning: FrameBinning): Promise<{ frames: FrameTensor; label: number }> {
    const label = ds.label(i);
    const key = await this.entryKey(ds.source(i), ds.width, ds.height, binning);
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.load(key, async () => {
        const s = await ds.get(i);
        return binning.bin(s.events, s.meta.width, s.meta.height);
      });
      this.inFlight.set(key, p);
      void p.finally(() => this.inFlight.delete(key)).catch(() => undefined);
    }
    return { frames: await p, label };
  }

  /** SHA-256 of the entry: content hash of the file, time range, sensor size, binning key. */
  async entryKey(src: SampleSource, width: number, height: number, binning: FrameBinning): Promise<string> {
    const content = await this.contentHash(src.file);
    const range = src.tStartUs !== undefined || src.tEndUs !== undefined ? `${src.tStartUs ?? ''}-${src.tEndUs ?? ''}` : 'all';
    return createHash('sha256').update(`${content}\n${range}\n${width}x${height}\n${binning.key}`).digest('hex');
  }

  /** SHA-256 of a file's bytes, remembered per (path, size, mtime) for the life of this cache object. */
  contentHash(file: string): Promise<string> {
    return stat(file).then((st) => {
      const known = this.contentHashes.get(file);
      if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.hash;
      this.stats.hashed++;
      const hash = new Promise<string>((resolve, reject) => {
        const h = createHash('sha256');
        createReadStream(file).on('data', (c) => h.update(c)).on('error', reject).on('end', () => resolve(h.digest('hex')));
      });
      this.contentHashes.set(file, { size: st.size, mtimeMs: st.mtimeMs, hash });
      hash.catch(() => this.contentHashes.delete(file));
      return hash;
    });
  }

  private async load(key: string, build: () => Promise<FrameTensor>): Promise<FrameTensor> {
    const path = join(this.dir, key.slice(0, 2), `${key}.npy`);
    const bytes = await readFile(path).then((b) => new Uint8Array(b), () => null);
    if (bytes) {
      const t = parseFrameNpy(bytes);
      if (t) {
        this.stats.hits++;
        return t;
      }
      this.stats.corrupt++;
    }
    this.stats.misses++;
    const t = await build();
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await writeFile(tmp, encodeFrames(t));
    await rename(tmp, path);
    return t;
  }
}

/** .npy bytes of a frame tensor: int16 when lossless, else float32. */
export function encodeFrames(t: FrameTensor): Uint8Array {
  const d = t.data;
  let small = true;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (!Number.isInteger(v) || v < -32768 || v > 32767) {
      small = false;
      break;
    }
  }
  return small ? encodeNpy('<i2', t.shape, Int16Array.from(d)) : encodeNpy('<f4', t.shape, d);
}

/** Parses what encodeFrames wrote; null for anything else (the caller rebuilds the entry). */
export function parseFrameNpy(bytes: Uint8Array): FrameTensor | null {
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY' || bytes[6] !== 1) return null;
  const hlen = bytes[8] | (bytes[9] << 8);
  if (10 + hlen > bytes.length) return null;
  const header = String.fromCharCode(...bytes.subarray(10, 10 + hlen));
  const m = /'descr': '(<i2|<f4)', 'fortran_order': False, 'shape': \((\d+), (\d+), (\d+), (\d+)\)/.exec(header);
  if (!m) return null;
  const shape = [Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])] as const;
  const n = shape[0] * shape[1] * shape[2] * shape[3];
  const body = bytes.subarray(10 + hlen);
  const width = m[1] === '<i2' ? 2 : 4;
  if (body.length !== n * width) return null;
  const copy = body.slice(); // aligned copy
  const data = m[1] === '<i2' ? Float32Array.from(new Int16Array(copy.buffer, 0, n)) : new Float32Array(copy.buffer, 0, n);
  return { shape, data };
}
