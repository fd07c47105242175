/**
 * Ordered iteration over a dataset with a bounded number of samples loading at once: the next
 * `concurrency` samples are fetched ahead while the consumer works, never more, so memory stays
 * bounded by concurrency x sample size.
 */
import type { Dataset, Sample } from './dataset.js';

export interface IterateOptions {
  /** Samples loading at once (default 4). */
  readonly concurrency?: number;
  /** Which samples, in which order (default all, in order). */
  readonly indices?: readonly number[];
}

export async function* iterateSamples(ds: Dataset, o: IterateOptions = {}): AsyncGenerator<Sample> {
  const concurrency = o.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency ${concurrency} must be an integer >= 1`);
  const order = o.indices ?? Array.from({ length: ds.length }, (_, i) => i);
  const window: Promise<Sample>[] = [];
  let next = 0;
  // Attach a no-op catch so a prefetched failure is not reported as unhandled before its turn.
  const start = (i: number): Promise<Sample> => {
    const p = ds.get(i);
    p.catch(() => undefined);
    return p;
  };
  while (next < order.length && window.length < concurrency) window.push(start(order[next++]));
  while (window.length > 0) {
    const s = await (window.shift() as Promise<Sample>);
    if (next < order.length) window.push(start(order[next++]));
    yield s;
  }
}

/** Maps items with at most `concurrency` calls of `fn` pending; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency ${concurrency} must be an integer >= 1`);
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
