import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/model/model-codec.js';
import { ModelError } from '../../src/model/model-error.js';
import { readModelFile, writeModelFile } from '../../src/model/model-file.js';
import { randomModel } from '../../src/model/random-model.js';

const dir = mkdtempSync(join(tmpdir(), 'spikestream-modelfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('model files on disk', () => {
  const model = randomModel({ seed: 5, density: 0.5, input: [2, 6, 6], layers: [{ op: 'Flatten' }, { op: 'Linear', out: 4 }, { op: 'IF' }] });

  it('writes atomically and reads back the same model', async () => {
    const file = join(dir, 'a.msgpack');
    await writeModelFile(file, model);
    expect(readdirSync(dir)).toEqual(['a.msgpack']);
    const bytes = encodeModel(model);
    expect(readFileSync(file).equals(bytes)).toBe(true);
    expect(Buffer.from(encodeModel(await readModelFile(file))).equals(bytes)).toBe(true);
  });

  it('replaces an existing file, and leaves it untouched when the new model is invalid', async () => {
    const file = join(dir, 'b.msgpack');
    writeFileSync(file, 'old');
    await writeModelFile(file, model);
    const before = readFileSync(file);
    await expect(writeModelFile(file, { ...model, labels: [] })).rejects.toThrowError(ModelError);
    expect(readFileSync(file)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects a file over the size limit before reading it', async () => {
    const file = join(dir, 'c.msgpack');
    await writeModelFile(file, model);
    await expect(readModelFile(file, { maxFileBytes: 64 })).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await expect(readModelFile(join(dir, 'missing.msgpack'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
