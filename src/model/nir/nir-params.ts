/**
 * Typed access to a NIR node's parameter datasets. Every failure names the node and field.
 *
 * Numbers: float datasets (float32 or float64) become float32 tensors, the precision every
 * spikestream engine computes in (float64 values are rounded once here; values beyond the float32
 * range are rejected instead of becoming Infinity). Integer datasets (int64 arrives as BigInt64Array)
 * become plain numbers, rejected beyond +-(2^53 - 1) where a JS number would silently round.
 */
import type { Tensor } from '../../snn/tensor.js';
import type { H5Dataset } from './h5-tree.js';
import type { NirNode } from './nir-document.js';
import { NirError } from './nir-error.js';

const F32_MAX = 3.4028234663852886e38;

function dataset(node: NirNode, field: string): H5Dataset | undefined {
  const e = node.fields.get(field);
  if (e === undefined) return undefined;
  if (e.kind === 'group') throw new NirError('BAD_TYPE', node.path, field, 'must be a dataset, is a group');
  return e;
}

function required(node: NirNode, field: string): H5Dataset {
  const d = dataset(node, field);
  if (d === undefined) throw new NirError('MISSING', node.path, field, `is missing (${/^[AEIOU]/.test(node.type) ? 'an' : 'a'} ${node.type} node needs it)`);
  return d;
}

export function hasField(node: NirNode, field: string): boolean {
  return node.fields.has(field);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** A float32 tensor from a float or integer dataset, finite values only. */
export function floatTensor(node: NirNode, field: string): Tensor {
  return toTensor(node, field, required(node, field));
}

export function optionalFloatTensor(node: NirNode, field: string): Tensor | undefined {
  const d = dataset(node, field);
  return d === undefined ? undefined : toTensor(node, field, d);
}

function toTensor(node: NirNode, field: string, d: H5Dataset): Tensor {
  let data: Float32Array;
  if (d.kind === 'float') {
    if (d.data instanceof Float32Array) data = Float32Array.from(d.data);
    else {
      data = new Float32Array(d.data.length);
      for (let i = 0; i < d.data.length; i++) {
        const v = d.data[i];
        if (Math.abs(v) > F32_MAX && Number.isFinite(v)) throw new NirError('BAD_VALUE', node.path, field, `value ${v} at index ${i} is beyond the float32 range`);
        data[i] = v;
      }
    }
  } else if (d.kind === 'int') {
    data = Float32Array.from(intValues(node, field, d));
  } else {
    throw new NirError('BAD_TYPE', node.path, field, `must be numbers, holds ${d.kind === 'string' ? 'strings' : d.description}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new NirError('BAD_VALUE', node.path, field, `value ${data[i]} at index ${i} is not finite`);
  }
  return { shape: [...d.shape], data };
}

/** Integer values (from an integer dataset, or a float dataset holding whole numbers). */
export function intArray(node: NirNode, field: string): { shape: readonly number[]; values: number[] } {
  const d = required(node, field);
  return { shape: d.shape, values: intValues(node, field, d) };
}

export function optionalIntArray(node: NirNode, field: string): { shape: readonly number[]; values: number[] } | undefined {
  return dataset(node, field) === undefined ? undefined : intArray(node, field);
}

function intValues(node: NirNode, field: string, d: H5Dataset): number[] {
  if (d.kind === 'int') {
    const out = new Array<number>(d.data.length);
    for (let i = 0; i < d.data.length; i++) {
      const v = d.data[i];
      if (typeof v === 'bigint') {
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new NirError('BAD_VALUE', node.path, field, `value ${v} at index ${i} is beyond +-(2^53 - 1), the exact integer range of a JS number`);
        }
        out[i] = Number(v);
      } else out[i] = v;
    }
    return out;
  }
  if (d.kind === 'float') {
    const out = Array.from(d.data);
    out.forEach((v, i) => {
      if (!Number.isSafeInteger(v)) throw new NirError('BAD_TYPE', node.path, field, `must hold integers, has ${v} at index ${i}`);
    });
    return out;
  }
  throw new NirError('BAD_TYPE', node.path, field, `must be integers, holds ${d.kind === 'string' ? 'strings' : d.description}`);
}

/** One integer: a scalar dataset or a one-element array. */
export function intScalar(node: NirNode, field: string, min: number, max: number): number {
  const { shape, values } = intArray(node, field);
  if (values.length !== 1) throw new NirError('SHAPE', node.path, field, `must be one integer, has shape ${fmt(shape)}`);
  return checkRange(node, field, values[0], min, max);
}

/** A (height, width) pair: one integer for both, or two integers. */
export function intPair(node: NirNode, field: string, min: number, max: number): [number, number] {
  const { shape, values } = intArray(node, field);
  if (values.length === 1) return [checkRange(node, field, values[0], min, max), checkRange(node, field, values[0], min, max)];
  if (values.length === 2 && shape.length === 1) return [checkRange(node, field, values[0], min, max), checkRange(node, field, values[1], min, max)];
  throw new NirError('SHAPE', node.path, field, `must be one integer or a pair, has shape ${fmt(shape)}`);
}

function checkRange(node: NirNode, field: string, v: number, min: number, max: number): number {
  if (v < min || v > max) throw new NirError('BAD_VALUE', node.path, field, `${v} is outside ${min}..${max}`);
  return v;
}

/** A string dataset's single value, or undefined when the field holds numbers. */
export function stringValue(node: NirNode, field: string): string | undefined {
  const d = dataset(node, field);
  if (d === undefined || d.kind !== 'string') return undefined;
  if (d.data.length !== 1) throw new NirError('SHAPE', node.path, field, `must be one string, has shape ${fmt(d.shape)}`);
  return d.data[0];
}

/** A positive-integer shape list (Input/Output shape, Flatten input_type, Conv2d input_shape). */
export function shapeList(node: NirNode, field: string, maxDim: number): number[] {
  const { shape, values } = intArray(node, field);
  if (shape.length > 1) throw new NirError('SHAPE', node.path, field, `must be a list of dimensions, has shape ${fmt(shape)}`);
  values.forEach((v) => checkRange(node, field, v, 1, maxDim));
  return values;
}
