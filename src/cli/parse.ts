/** Commander argument parsers that fail with one clear line. */
import { InvalidArgumentError } from 'commander';
import { EVENT_FORMATS, type EventFormat } from '../events/batch.js';

export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

export function parseNonNegativeNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative number, got "${v}"`);
  return n;
}

export function parseFormat(v: string): EventFormat {
  if (!(EVENT_FORMATS as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`unknown format "${v}" (one of ${EVENT_FORMATS.join(', ')})`);
  }
  return v as EventFormat;
}
