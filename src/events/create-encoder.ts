/** Output format id -> streaming encoder, and the output-extension convention of `convert`. */
import type { EventBatch } from './batch.js';
import { CsvEncoder } from './csv.js';
import { Evt2Encoder } from './evt2.js';
import { Evt3Encoder } from './evt3.js';
import { NmnistEncoder } from './nmnist.js';

export type OutputFormat = 'csv' | 'evt3' | 'evt2' | 'nmnist';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['csv', 'evt3', 'evt2', 'nmnist'];

/** Encodes batches in order; the first output carries the format's header. */
export interface EventEncoder {
  write(b: EventBatch): Uint8Array;
}

export function createEncoder(format: OutputFormat, geometry: { width: number; height: number }): EventEncoder {
  switch (format) {
    case 'csv': return new CsvEncoder();
    case 'evt3': return new Evt3Encoder(geometry);
    case 'evt2': return new Evt2Encoder(geometry);
    case 'nmnist': return new NmnistEncoder();
  }
}

/** `.csv`/`.txt` -> CSV, `.raw` -> EVT 3.0 (OpenEB's current default), `.bin` -> N-MNIST ATIS. */
export function outputFormatFor(path: string): OutputFormat | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === 'csv' || ext === 'txt') return 'csv';
  if (ext === 'raw') return 'evt3';
  if (ext === 'bin') return 'nmnist';
  return undefined;
}
