/**
 * Sensor size of a recording before building a pipeline (filters and binning need it up front):
 * decodes until the header has declared it (usually the first chunk), else takes the options'
 * size, else reads the whole file once for the largest coordinates (`geometry: 'inferred'`, a
 * lower bound). Memory stays bounded by one chunk either way.
 */
import type { StreamMeta } from '../events/batch.js';
import { openEventFile, type OpenEventFileOptions } from '../events/open-event-file.js';

export async function probeGeometry(path: string, options: OpenEventFileOptions = {}): Promise<StreamMeta> {
  const s = await openEventFile(path, options);
  try {
    const declared = () => s.info.width !== undefined && s.info.height !== undefined;
    const given = options.width !== undefined && options.height !== undefined;
    for await (const _ of s) {
      if (declared() || given) break;
    }
    return s.meta();
  } finally {
    await s.close();
  }
}
