/**
 * A folder of recordings in any format spikestream reads, labelled by <root>/labels.csv with (at
 * least) the columns `file,label` (file relative to the root; label a class name or number). An
 * optional `split` column (train/test) selects a part; without it, split with splitDataset().
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { EventFormat } from '../events/batch.js';
import { readEventFile, type OpenEventFileOptions } from '../events/open-event-file.js';
import { FileListDataset, type FileEntry } from './file-list-dataset.js';
import { byNumericName } from './nmnist-dataset.js';

export interface FolderDatasetOptions {
  readonly root: string;
  /** Rows whose `split` column equals this (case-insensitive); default all rows. */
  readonly split?: string;
  /** Decode every file as this format (default: detect per file). */
  readonly format?: EventFormat;
  /** Sensor size; default: the first recording's header (or its largest coordinate + 1). */
  readonly width?: number;
  readonly height?: number;
  readonly maxOpenFiles?: number;
  /** Name of the labels file (default labels.csv). */
  readonly labelsFile?: string;
}

/** Splits one CSV line; supports double-quoted fields with "" escapes. */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

export class FolderDataset extends FileListDataset {
  readonly name: string;

  constructor(root: string, labels: readonly string[], entries: readonly FileEntry[], readonly width: number, readonly height: number, private readonly o: FolderDatasetOptions) {
    super(root, labels, entries, o.maxOpenFiles);
    this.name = `folder(${root}${o.split ? `, ${o.split}` : ''})`;
  }

  protected readOptions(): OpenEventFileOptions {
    return { format: this.o.format, width: this.width, height: this.height };
  }
}

export async function openFolderDataset(o: FolderDatasetOptions): Promise<FolderDataset> {
  const csvPath = join(o.root, o.labelsFile ?? 'labels.csv');
  const lines = (await readFile(csvPath, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error(`${csvPath}: empty (expected a header with file,label)`);
  const head = csvFields(lines[0]).map((h) => h.toLowerCase());
  const fi = head.indexOf('file');
  const li = head.indexOf('label');
  const si = head.indexOf('split');
  if (fi < 0 || li < 0) throw new Error(`${csvPath}: the header must name the columns file and label (got ${lines[0]})`);
  if (o.split !== undefined && si < 0) throw new Error(`${csvPath}: no split column to select "${o.split}" with`);
  const rows: { file: string; label: string }[] = [];
  lines.slice(1).forEach((line, n) => {
    const f = csvFields(line);
    if (f.length <= Math.max(fi, li) || f[fi] === '' || f[li] === '') throw new Error(`${csvPath}:${n + 2}: missing file or label`);
    if (o.split !== undefined && f[si]?.toLowerCase() !== o.split.toLowerCase()) return;
    rows.push({ file: isAbsolute(f[fi]) ? f[fi] : join(o.root, f[fi]), label: f[li] });
  });
  const labels = [...new Set(rows.map((r) => r.label))].sort(byNumericName);
  const index = new Map(labels.map((l, k) => [l, k]));
  const entries = rows.map((r) => ({ file: r.file, label: index.get(r.label) as number }));
  let { width, height } = o;
  if ((width === undefined || height === undefined) && entries.length > 0) {
    const { meta } = await readEventFile(entries[0].file, { format: o.format });
    width ??= meta.width;
    height ??= meta.height;
  }
  return new FolderDataset(o.root, labels, entries, width ?? 0, height ?? 0, o);
}
