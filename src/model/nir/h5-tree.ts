/**
 * The part of HDF5 that NIR uses, as plain data: groups of named groups and datasets, no
 * attributes. read-h5.ts fills it from a file, write-h5.ts writes it, and the NIR layer
 * (nir-document.ts) never touches h5wasm. Children keep their order (HDF5 lists names sorted
 * when reading; writers create them in the order given).
 */

export type H5FloatDtype = 'f32' | 'f64';
export type H5IntDtype = 'i8' | 'i16' | 'i32' | 'i64' | 'u8' | 'u16' | 'u32' | 'u64';

/**
 * One dataset. Integers keep their HDF5 width (int64 as BigInt64Array) so the NIR layer converts
 * them with the node and field in hand; `other` is a type NIR never uses (compound, enum, float16,
 * references...): its data is not read.
 */
export type H5Dataset =
  | { readonly kind: 'float'; readonly dtype: H5FloatDtype; readonly shape: readonly number[]; readonly data: Float32Array | Float64Array }
  | { readonly kind: 'int'; readonly dtype: H5IntDtype; readonly shape: readonly number[]; readonly data: IntArray }
  | { readonly kind: 'string'; readonly shape: readonly number[]; readonly data: readonly string[] }
  | { readonly kind: 'other'; readonly shape: readonly number[]; readonly description: string };

export type IntArray = Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

export interface H5Group {
  readonly kind: 'group';
  readonly children: ReadonlyMap<string, H5Entry>;
}

export type H5Entry = H5Dataset | H5Group;

export function h5Group(entries: Iterable<readonly [string, H5Entry]>): H5Group {
  return { kind: 'group', children: new Map(entries) };
}

export function f32Dataset(shape: readonly number[], data: Float32Array): H5Dataset {
  return { kind: 'float', dtype: 'f32', shape: [...shape], data };
}

export function i64Dataset(shape: readonly number[], values: readonly number[]): H5Dataset {
  return { kind: 'int', dtype: 'i64', shape: [...shape], data: BigInt64Array.from(values, (v) => BigInt(v)) };
}

export function u8Dataset(shape: readonly number[], data: Uint8Array): H5Dataset {
  return { kind: 'int', dtype: 'u8', shape: [...shape], data };
}

export function stringDataset(shape: readonly number[], values: readonly string[]): H5Dataset {
  return { kind: 'string', shape: [...shape], data: [...values] };
}

export function scalarString(value: string): H5Dataset {
  return stringDataset([], [value]);
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
