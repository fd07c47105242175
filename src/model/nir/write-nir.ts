/** Graph IR -> a NIR file on disk (export-nir -> nir-document -> write-h5), written atomically. */
import type { Graph } from '../../snn/graph.js';
import { exportNirDocument, type NirExportOptions } from './export-nir.js';
import { nirTreeOf, type NirDocument } from './nir-document.js';
import { writeH5File } from './write-h5.js';

export async function writeNirDocument(path: string, doc: NirDocument): Promise<void> {
  await writeH5File(path, nirTreeOf(doc));
}

export async function writeNirFile(path: string, graph: Graph, options: NirExportOptions = {}): Promise<void> {
  await writeNirDocument(path, exportNirDocument(graph, options));
}
