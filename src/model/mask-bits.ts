/**
 * ESL masks on disk: one bit per weight, row-major over the weight's shape, least significant bit
 * first (weight i is bit i & 7 of byte i >> 3), trailing bits of the last byte zero. numpy writes
 * the same with np.packbits(mask.ravel(), bitorder='little').
 */

export function packMask(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array((mask.length + 7) >> 3);
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[i >> 3] |= 1 << (i & 7);
  return out;
}

/** Unpacks n bits; the caller has checked bits.length === ceil(n / 8). Returns the mask and its popcount. */
export function unpackMask(bits: Uint8Array, n: number): { mask: Uint8Array; ones: number } {
  const mask = new Uint8Array(n);
  let ones = 0;
  for (let i = 0; i < n; i++) {
    const b = (bits[i >> 3] >> (i & 7)) & 1;
    mask[i] = b;
    ones += b;
  }
  return { mask, ones };
}

/** True when the bits past n in the last byte are all zero. */
export function paddingBitsClear(bits: Uint8Array, n: number): boolean {
  if (n % 8 === 0 || bits.length === 0) return true;
  return (bits[bits.length - 1] >> (n % 8)) === 0;
}

export function countOnes(mask: Uint8Array): number {
  let ones = 0;
  for (let i = 0; i < mask.length; i++) ones += mask[i] ? 1 : 0;
  return ones;
}
