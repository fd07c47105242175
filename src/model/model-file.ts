/**
 * Model files on disk. Reads check the size before reading; writes are atomic: the bytes go to a
 * temporary file in the same directory, which is fsynced and renamed over the target (then the
 * directory is fsynced), so a reader or a crash sees the old file or the new one, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { resolveModelLimits, type ModelLimits } from './limits.js';
import { decodeModel, encodeModel } from './model-codec.js';
import { ModelError } from './model-error.js';
import type { Model } from './model.js';

export async function readModelFile(path: string, limits?: Partial<ModelLimits>): Promise<Model> {
  const l = resolveModelLimits(limits);
  const { size } = await stat(path);
  if (size > l.maxFileBytes) throw new ModelError('TOO_LARGE', '', `${path} is ${size} bytes, more than the limit of ${l.maxFileBytes}`);
  return decodeModel(await readFile(path), l);
}

/** Writes any bytes atomically (temp file + fsync + rename + directory fsync). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // Make the rename itself durable; not every platform lets a directory be opened and synced.
  const dh = await open(dir, 'r').catch(() => undefined);
  if (dh) {
    await dh.sync().catch(() => undefined);
    await dh.close().catch(() => undefined);
  }
}

/** Validates, encodes and atomically writes a model. */
export async function writeModelFile(path: string, model: Model): Promise<void> {
  await writeFileAtomic(path, encodeModel(model));
}
