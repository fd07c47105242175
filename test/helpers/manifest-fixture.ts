/**
 * The checks every decoder makes against a real recording listed in ../shared/fixtures
 * MANIFEST.json: event count, first five and last three events, column digests, and output that
 * does not depend on how the input is cut into chunks.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { EventBatch } from '../../src/events/batch.js';
import type { EventDecoder } from '../../src/events/decoder.js';
import { columnDigests, decodeChunked, eventAt } from './events.js';
import { describeWithFixtures, loadManifest, sharedFixture, type ManifestEntry } from './fixtures.js';

/** How a whole-file decode is checked against its MANIFEST entry. */
export interface ManifestCheck<D extends EventDecoder> {
  /** Test title; default names the checks. */
  readonly title?: string;
  /** Chunk-size cycle for the decode (default: the whole file in one write). */
  readonly sizes?: readonly number[];
  /** Compare column digests (default true; false for entries that list none). */
  readonly digests?: boolean;
  /** Format-specific assertions on the same decode (geometry, header lines, counters). */
  readonly extra?: (decoded: { readonly b: EventBatch; readonly dec: D; readonly m: ManifestEntry; readonly bytes: Uint8Array }) => void;
}

/** How chunk-size independence is checked. */
export interface ChunkingCheck {
  /** Test title; default 'gives identical output for random chunk sizes'. */
  readonly title?: string;
  /** Random chunk-size cycles for a file of `len` bytes. */
  readonly sizes: (len: number) => fc.Arbitrary<number[]>;
  /** fast-check runs: each decodes the whole file, so kept small for large files. */
  readonly numRuns: number;
  /** Fixed cycles decoded after the random ones, e.g. [1] for one byte at a time. */
  readonly fixed?: readonly (readonly number[])[];
  /** The file copied `skew` bytes into a buffer and fed in `sizes`: chunks at odd addresses. */
  readonly misaligned?: { readonly skew: number; readonly sizes: readonly number[] };
}

export interface ManifestFixtureOptions<D extends EventDecoder> {
  /** describe title. */
  readonly name: string;
  readonly manifest?: ManifestCheck<D>;
  readonly chunking: ChunkingCheck;
  /** Further tests inside the same describe (re-encoding and other format-specific checks). */
  readonly more?: (fixture: { readonly bytes: Uint8Array; readonly m: ManifestEntry }) => void;
}

/** MANIFEST.json names files relative to fixtures/events/. */
export function manifestKey(rel: string): string {
  return rel.replace(/^events\//, '');
}

/** Asserts that decoding `bytes` in every cycle `check` lists gives the column digests `want`. */
export function expectChunkingInvariant(makeDecoder: () => EventDecoder, bytes: Uint8Array, want: ReturnType<typeof columnDigests>, check: ChunkingCheck): void {
  fc.assert(fc.property(check.sizes(bytes.length), (sizes) => {
    expect(columnDigests(decodeChunked(makeDecoder(), bytes, sizes))).toEqual(want);
  }), { numRuns: check.numRuns });
  for (const sizes of check.fixed ?? []) expect(columnDigests(decodeChunked(makeDecoder(), bytes, sizes))).toEqual(want);
  if (check.misaligned) {
    const odd = new Uint8Array(bytes.length + check.misaligned.skew).subarray(check.misaligned.skew);
    odd.set(bytes);
    expect(columnDigests(decodeChunked(makeDecoder(), odd, check.misaligned.sizes))).toEqual(want);
  }
}

/** A test that the decode of `bytes` matches MANIFEST entry `m`. */
export function itMatchesManifest<D extends EventDecoder>(makeDecoder: () => D, bytes: Uint8Array, m: ManifestEntry, check: ManifestCheck<D> = {}): void {
  const digests = check.digests ?? true;
  it(check.title ?? `matches MANIFEST count, first/last events${digests ? ' and column digests' : ''}`, () => {
    const dec = makeDecoder();
    const b = decodeChunked(dec, bytes, check.sizes);
    expect(b.t.length).toBe(m.n_events);
    expect([0, 1, 2, 3, 4].map((i) => eventAt(b, i))).toEqual(m.first5);
    const n = b.t.length;
    expect([n - 3, n - 2, n - 1].map((i) => eventAt(b, i))).toEqual(m.last3);
    if (digests) expect(columnDigests(b)).toEqual(m.column_sha256);
    check.extra?.({ b, dec, m, bytes });
  });
}

/** A test that any chunking of `bytes` decodes as the whole file in one write does. */
export function itDecodesAnyChunking(makeDecoder: () => EventDecoder, bytes: Uint8Array, check: ChunkingCheck): void {
  it(check.title ?? 'gives identical output for random chunk sizes', () => {
    expectChunkingInvariant(makeDecoder, bytes, columnDigests(decodeChunked(makeDecoder(), bytes)), check);
  });
}

/**
 * A describe (through describeWithFixtures: fails in CI, skips elsewhere when the file is
 * missing) with the MANIFEST test and the chunking test for shared fixture `rel`, then `more`.
 */
export function describeManifestFixture<D extends EventDecoder>(rel: string, makeDecoder: () => D, options: ManifestFixtureOptions<D>): void {
  describeWithFixtures(options.name, [rel], () => {
    const m = loadManifest()[manifestKey(rel)];
    const bytes = new Uint8Array(readFileSync(sharedFixture(rel)));
    itMatchesManifest(makeDecoder, bytes, m, options.manifest);
    itDecodesAnyChunking(makeDecoder, bytes, options.chunking);
    options.more?.({ bytes, m });
  });
}
