/**
 * Zstandard decompression of one AEDAT 4.0 packet (one zstd frame) through fzstd, with the frame
 * header and block headers walked first so that the output size is bounded before fzstd
 * allocates anything: fzstd sizes its buffers from the declared content or window size (up to
 * 2 GB) and trusts the declared content size. Faults become CodecErrors; fzstd's own errors are
 * wrapped, never rethrown raw.
 *
 * Known limit: fzstd does not check match lengths against the block size while it decodes a
 * compressed block, so a deliberately crafted block (not random bytes) can keep it busy for
 * seconds; output stays bounded.
 */
import { decompress } from 'fzstd';
import { CodecError } from './codec-error.js';

const MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 << 10;

const u32 = (s: Uint8Array, i: number): number => (s[i] | (s[i + 1] << 8) | (s[i + 2] << 16) | (s[i + 3] << 24)) >>> 0;

/**
 * Decompresses `src`, which must be exactly one zstd frame, refusing (TOO_LARGE) any frame whose
 * declared content, window or block-header bound exceeds `maxOut` bytes.
 */
export function decompressZstdFrame(src: Uint8Array, maxOut: number): Uint8Array {
  const n = src.length;
  if (n < 6 || u32(src, 0) !== MAGIC) throw new CodecError('CORRUPT', 'not a zstd frame (bad magic number)');
  const fhd = src[4];
  if (fhd & 0x08) throw new CodecError('CORRUPT', 'zstd frame header has its reserved bit set');
  const single = (fhd >>> 5) & 1;
  const fcsFlag = fhd >>> 6;
  const didBytes = [0, 1, 2, 4][fhd & 3];
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  let s = 5;
  let window = 0;
  if (!single) {
    const wd = src[s++];
    const base = 2 ** (10 + (wd >>> 3));
    window = base + (base / 8) * (wd & 7);
  }
  if (s + didBytes + fcsBytes > n) throw new CodecError('CORRUPT', 'zstd frame header truncated');
  let dict = 0;
  for (let k = didBytes - 1; k >= 0; k--) dict = dict * 256 + src[s + k];
  s += didBytes;
  if (dict !== 0) throw new CodecError('UNSUPPORTED', 'zstd frame needs a dictionary');
  let fcs = -1;
  if (fcsBytes > 0) {
    fcs = 0;
    for (let k = fcsBytes - 1; k >= 0; k--) fcs = fcs * 256 + src[s + k];
    if (fcsBytes === 2) fcs += 256;
    s += fcsBytes;
  }
  if (single) window = fcs;
  if (window > maxOut) throw new CodecError('TOO_LARGE', `zstd window of ${window} bytes exceeds the ${maxOut}-byte limit`);
  const blockMax = Math.min(window, BLOCK_MAX);
  // Walk the block headers: the sum of their largest outputs bounds the content.
  let bound = 0;
  for (;;) {
    if (s + 3 > n) throw new CodecError('CORRUPT', 'zstd frame truncated (no last block)');
    const h = src[s] | (src[s + 1] << 8) | (src[s + 2] << 16);
    s += 3;
    const type = (h >>> 1) & 3;
    const size = h >>> 3;
    if (type === 3) throw new CodecError('CORRUPT', 'zstd block of reserved type');
    if (size > blockMax) throw new CodecError('CORRUPT', `zstd block of ${size} bytes exceeds the ${blockMax}-byte maximum`);
    s += type === 1 ? 1 : size;
    bound += type === 2 ? blockMax : size;
    if (h & 1) break;
  }
  if (fhd & 0x04) s += 4; // content checksum (not verified)
  if (s !== n) throw new CodecError('CORRUPT', s > n ? 'zstd frame truncated' : `${n - s} bytes after the zstd frame`);
  if (fcs > bound) throw new CodecError('CORRUPT', `zstd frame declares ${fcs} bytes but its blocks hold at most ${bound}`);
  if ((fcs >= 0 ? fcs : bound) > maxOut) throw new CodecError('TOO_LARGE', `zstd content of up to ${bound} bytes exceeds the ${maxOut}-byte limit`);
  try {
    return decompress(src);
  } catch (e) {
    throw new CodecError('CORRUPT', `corrupt zstd data (${e instanceof Error ? e.message : String(e)})`);
  }
}
