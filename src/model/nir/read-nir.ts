/** A NIR file on disk -> graph IR (read-h5 -> nir-document -> import-nir). */
import { parseNirTree, type NirDocument } from './nir-document.js';
import { importNir, type NirImportOptions, type NirImportResult } from './import-nir.js';
import type { NirLimits } from './nir-limits.js';
import { readH5File } from './read-h5.js';

export async function readNirDocument(path: string, limits?: Partial<NirLimits>): Promise<NirDocument> {
  return parseNirTree(await readH5File(path, limits), limits);
}

export async function readNirFile(path: string, options: NirImportOptions = {}): Promise<NirImportResult> {
  return importNir(await readNirDocument(path, options.limits), options);
}
