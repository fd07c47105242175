import fc from 'fast-check';

/**
 * Chunk-size cycles for a whole file: sizes log-uniform between 1 byte and the whole file, plus
 * one chunk of at least 4 KiB per cycle so a 2 MB file never needs millions of writes.
 */
export function chunkCycles(len: number, maxLength: number): fc.Arbitrary<number[]> {
  const size = fc.double({ min: 0, max: Math.log2(len), noNaN: true }).map((e) => Math.max(1, Math.floor(2 ** e)));
  return fc.tuple(fc.array(size, { minLength: 1, maxLength }), fc.integer({ min: Math.min(4096, len), max: len }))
    .map(([sizes, big]) => [...sizes, big]);
}

/** Cycles of 1 to `maxLength` chunk sizes drawn uniformly from [min, len]. */
export function uniformChunkSizes(min: number, len: number, maxLength: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min, max: len }), { minLength: 1, maxLength });
}
