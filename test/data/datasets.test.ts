import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchFrom, type EventBatch } from '../../src/events/batch.js';
import { encodeAedat2 } from '../../src/events/aedat2.js';
import { encodeAedat3 } from '../../src/events/aedat3.js';
import { encodeCsv } from '../../src/events/csv.js';
import { encodeNmnist } from '../../src/events/nmnist.js';
import { openCifar10DvsDataset } from '../../src/data/cifar10-dvs-dataset.js';
import { classCounts, splitDataset, type Dataset, type Sample, type SampleSource } from '../../src/data/dataset.js';
import { DVS_GESTURE_CLASSES, openDvsGestureDataset, parseGestureLabels } from '../../src/data/dvs-gesture-dataset.js';
import { openFolderDataset } from '../../src/data/folder-dataset.js';
import { iterateSamples, mapBounded } from '../../src/data/iterate-samples.js';
import { openNmnistDataset } from '../../src/data/nmnist-dataset.js';
import { Prng } from '../../src/data/prng.js';
import { Semaphore } from '../../src/data/semaphore.js';
import { toRows } from '../helpers/events.js';

/** Random time-ordered events on a w x h sensor over [t0, t1). */
function randomEvents(seed: number, n: number, w: number, h: number, t0 = 0, t1 = 300_000): EventBatch {
  const r = new Prng(seed);
  const t = Array.from({ length: n }, () => t0 + Math.floor(r.next() * (t1 - t0))).sort((a, b) => a - b);
  return batchFrom({ t, x: t.map(() => r.int(w)), y: t.map(() => r.int(h)), p: t.map(() => r.int(2)) });
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'datasets-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('N-MNIST layout', () => {
  const written = new Map<string, EventBatch>();
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'nmnist');
    let id = 0;
    for (const top of ['Train', 'Test']) {
      for (const digit of [0, 3, 9]) {
        await mkdir(join(dir, top, String(digit)), { recursive: true });
        for (let k = 0; k < (top === 'Train' ? 3 : 1); k++) {
          const ev = randomEvents(++id, 50, 34, 34);
          const f = join(dir, top, String(digit), `${id * 5}.bin`);
          await writeFile(f, encodeNmnist(ev));
          written.set(f, ev);
        }
      }
    }
  });

  it('lists Train and Test by class, in numeric file order, and decodes each file', async () => {
    const train = await openNmnistDataset({ root: dir });
    const test = await openNmnistDataset({ root: dir, split: 'test' });
    const all = await openNmnistDataset({ root: dir, split: 'all' });
    // Digit folders: a label is the digit itself, whichever digits are present.
    expect(train.labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect([train.length, test.length, all.length]).toEqual([9, 3, 12]);
    expect(classCounts(train)).toEqual([3, 0, 0, 3, 0, 0, 0, 0, 0, 3]);
    expect((await openNmnistDataset({ root: dir, classes: ['9', '3', '0'] })).label(0)).toBe(0);
    const files = Array.from({ length: 3 }, (_, i) => train.source(i).file);
    expect(files.map((f) => f.split('/').pop())).toEqual(['5.bin', '10.bin', '15.bin']);
    for (let i = 0; i < all.length; i++) {
      const s = await all.get(i);
      expect(toRows(s.events)).toEqual(toRows(written.get(s.meta.source.file) as EventBatch));
      expect(s.meta.className).toBe(all.labels[s.label]);
      expect(s.meta.width).toBe(34);
    }
    await expect(train.get(9)).rejects.toThrow(RangeError);
  });

  it('names the missing folder when the layout is wrong', async () => {
    await expect(openNmnistDataset({ root: join(dir, 'Train') })).rejects.toThrow(/no Train\/ folder/);
    await expect(openNmnistDataset({ root: join(dir, 'Train'), split: 'all' })).rejects.toThrow(/neither Train\/ nor Test\//);
    await expect(openNmnistDataset({ root: dir, classes: ['0', '3'] })).rejects.toThrow(/class folder "9"/);
  });
});

describe('DVS128 Gesture layout', () => {
  let dir: string;
  const recordings = new Map<string, EventBatch>();
  const segs: Record<string, [number, number, number][]> = {
    user01_fluorescent: [[1, 1_000_000, 2_000_000], [5, 2_500_000, 3_000_000], [11, 3_000_000, 3_600_000]],
    user02_lab: [[2, 1_200_000, 1_900_000], [8, 2_000_000, 2_800_000]],
    user24_led: [[3, 1_100_000, 1_500_000], [3, 1_400_000, 2_000_000]], // overlapping segments, same class
  };
  beforeAll(async () => {
    dir = join(root, 'gesture', 'DvsGesture');
    await mkdir(dir, { recursive: true });
    let seed = 100;
    for (const [stem, rows] of Object.entries(segs)) {
      const ev = randomEvents(seed++, 3000, 128, 128, 500_000, 4_000_000);
      recordings.set(join(dir, `${stem}.aedat`), ev);
      await writeFile(join(dir, `${stem}.aedat`), encodeAedat3(ev, { width: 128, height: 128, eventsPerPacket: 500 }));
      await writeFile(join(dir, `${stem}_labels.csv`), `class,startTime_usec,endTime_usec\r\n${rows.map((r) => r.join(',')).join('\r\n')}\r\n`);
    }
  });

  const expectSegment = (s: Sample, src: SampleSource) => {
    const all = recordings.get(src.file) as EventBatch;
    const want = toRows(all).filter((r) => r[0] >= (src.tStartUs as number) && r[0] < (src.tEndUs as number));
    expect(want.length).toBeGreaterThan(0);
    expect(toRows(s.events)).toEqual(want);
  };

  it('makes one sample per labelled segment, split by subject (users 1-23 train, 24-29 test)', async () => {
    const train = await openDvsGestureDataset({ root: join(root, 'gesture') }); // parent folder works too
    const test = await openDvsGestureDataset({ root: dir, split: 'test' });
    expect(train.length).toBe(5);
    expect(test.length).toBe(2);
    expect(train.labels).toEqual(DVS_GESTURE_CLASSES);
    expect(Array.from({ length: 5 }, (_, i) => train.label(i))).toEqual([0, 4, 10, 1, 7]);
    for (const ds of [train, test]) {
      for await (const s of iterateSamples(ds, { concurrency: 3 })) expectSegment(s, s.meta.source);
    }
    // Overlapping segments both get the shared events.
    const [a, b] = [await test.get(0), await test.get(1)];
    expect(a.events.t[a.events.t.length - 1]).toBeGreaterThanOrEqual(1_400_000);
    expect(b.events.t[0]).toBeLessThan(1_500_000);
  });

  it('follows trials_to_train.txt / trials_to_test.txt when present', async () => {
    await writeFile(join(dir, 'trials_to_train.txt'), 'user02_lab.aedat\nuser24_led.aedat\n');
    await writeFile(join(dir, 'trials_to_test.txt'), 'user01_fluorescent.aedat\n');
    try {
      const train = await openDvsGestureDataset({ root: dir });
      const test = await openDvsGestureDataset({ root: dir, split: 'test' });
      expect(train.length).toBe(4);
      expect(test.length).toBe(3);
      expectSegment(await test.get(2), test.source(2));
    } finally {
      await rm(join(dir, 'trials_to_train.txt'));
      await rm(join(dir, 'trials_to_test.txt'));
    }
  });

  it('parses tab-separated labels and rejects bad rows with the line number', () => {
    expect(parseGestureLabels('class\tstartTime_usec\tendTime_usec\n3\t10\t20\n', 'x.csv')).toEqual([{ label: 2, start: 10, end: 20 }]);
    expect(() => parseGestureLabels('class,start,end\n12,1,2\n', 'x.csv')).toThrow(/x.csv:2: class 12/);
    expect(() => parseGestureLabels('class,start,end\n1,5,2\n', 'x.csv')).toThrow(/not after/);
  });
});

describe('CIFAR10-DVS layout', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'cifar');
    let seed = 500;
    for (const cls of ['airplane', 'automobile', 'bird']) {
      await mkdir(join(dir, cls), { recursive: true });
      for (let k = 0; k < 10; k++) {
        await writeFile(join(dir, cls, `cifar10_${cls}_${k}.aedat`), encodeAedat2(randomEvents(seed++, 40, 128, 128, 0, 1_000_000)));
      }
    }
  });

  it('splits each class 9:1 with a seed, disjointly and reproducibly', async () => {
    const train = await openCifar10DvsDataset({ root: dir, seed: 3 });
    const test = await openCifar10DvsDataset({ root: dir, seed: 3, split: 'test' });
    expect(train.labels).toEqual(['airplane', 'automobile', 'bird']);
    expect(classCounts(train)).toEqual([9, 9, 9]);
    expect(classCounts(test)).toEqual([1, 1, 1]);
    const files = (ds: Dataset) => Array.from({ length: ds.length }, (_, i) => ds.source(i).file);
    const tr = new Set(files(train));
    for (const f of files(test)) expect(tr.has(f)).toBe(false);
    expect(files(await openCifar10DvsDataset({ root: dir, seed: 3 }))).toEqual(files(train));
    const other = await Promise.all([1, 2, 4, 5].map((seed) => openCifar10DvsDataset({ root: dir, seed, split: 'test' })));
    expect(other.some((ds) => files(ds).join() !== files(test).join())).toBe(true);
  });

  it('decodes the DVS128 addresses back to the events that were written', async () => {
    const test = await openCifar10DvsDataset({ root: dir, split: 'test' });
    const s = await test.get(0);
    const seedOf = (f: string) => {
      const m = /cifar10_(\w+?)_(\d+)\.aedat$/.exec(f) as RegExpExecArray;
      return 500 + ['airplane', 'automobile', 'bird'].indexOf(m[1]) * 10 + Number(m[2]);
    };
    expect(toRows(s.events)).toEqual(toRows(randomEvents(seedOf(s.meta.source.file), 40, 128, 128, 0, 1_000_000)));
    expect([s.meta.width, s.meta.height]).toEqual([128, 128]);
  });
});

describe('folder with labels.csv', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'folder');
    await mkdir(join(dir, 'rec'), { recursive: true });
    await writeFile(join(dir, 'rec', 'a.bin'), encodeNmnist(randomEvents(1, 30, 34, 34)));
    await writeFile(join(dir, 'rec', 'b.aedat'), encodeAedat2(randomEvents(2, 30, 34, 34)));
    await writeFile(join(dir, 'rec', 'c.csv'), encodeCsv(randomEvents(3, 30, 34, 34)));
    await writeFile(join(dir, 'labels.csv'), 'file,label,split\nrec/a.bin,cat,train\nrec/b.aedat,dog,test\n"rec/c.csv",cat,train\n');
  });

  it('reads mixed formats with string labels, and selects a split column', async () => {
    const ds = await openFolderDataset({ root: dir, width: 34, height: 34 });
    expect(ds.labels).toEqual(['cat', 'dog']);
    expect(ds.length).toBe(3);
    for (let i = 0; i < 3; i++) expect(toRows((await ds.get(i)).events)).toEqual(toRows(randomEvents(i + 1, 30, 34, 34)));
    const train = await openFolderDataset({ root: dir, split: 'train', width: 34, height: 34 });
    expect(train.length).toBe(2);
    expect(train.labels).toEqual(['cat']);
  });

  it('takes the sensor size from the first recording when not given', async () => {
    const ds = await openFolderDataset({ root: dir });
    expect(ds.width).toBeGreaterThan(0);
    expect(ds.height).toBeGreaterThan(0);
  });

  it('rejects a labels file without file/label columns', async () => {
    await writeFile(join(dir, 'bad.csv'), 'path,class\nrec/a.bin,cat\n');
    await expect(openFolderDataset({ root: dir, labelsFile: 'bad.csv' })).rejects.toThrow(/file and label/);
  });
});

/** A dataset of n fake samples whose get() takes `delayMs` and records how many run at once. */
function fakeDataset(n: number, labelOf: (i: number) => number, delayMs = 2): Dataset & { maxActive: number } {
  let active = 0;
  const ds = {
    name: 'fake', length: n, labels: ['a', 'b', 'c'], width: 1, height: 1, maxActive: 0,
    label: labelOf,
    source: (i: number) => ({ file: `f${i}` }),
    async get(i: number): Promise<Sample> {
      active++;
      ds.maxActive = Math.max(ds.maxActive, active);
      await new Promise((r) => setTimeout(r, delayMs));
      active--;
      return { events: batchFrom({ t: [i], x: [0], y: [0], p: [1] }), label: labelOf(i), meta: { index: i, source: { file: `f${i}` }, width: 1, height: 1, className: 'a' } };
    },
  };
  return ds;
}

describe('dataset utilities', () => {
  it('splits with a seed, keeping class proportions, disjoint and complete', () => {
    const ds = fakeDataset(100, (i) => (i < 60 ? 0 : i < 90 ? 1 : 2));
    const [a, b] = splitDataset(ds, { fraction: 0.8, seed: 5 });
    expect(classCounts(a)).toEqual([48, 24, 8]);
    expect(classCounts(b)).toEqual([12, 6, 2]);
    const ids = (d: Dataset) => Array.from({ length: d.length }, (_, i) => d.source(i).file);
    expect(new Set([...ids(a), ...ids(b)]).size).toBe(100);
    const [a2] = splitDataset(ds, { fraction: 0.8, seed: 5 });
    expect(ids(a2)).toEqual(ids(a));
    const [a3] = splitDataset(ds, { fraction: 0.8, seed: 6 });
    expect(ids(a3)).not.toEqual(ids(a));
  });

  it('iterates in order with at most `concurrency` samples loading', async () => {
    const ds = fakeDataset(30, () => 0);
    const seen: number[] = [];
    for await (const s of iterateSamples(ds, { concurrency: 4 })) seen.push(s.events.t[0]);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(ds.maxActive).toBeLessThanOrEqual(4);
    expect(ds.maxActive).toBeGreaterThan(1);
  });

  it('bounds concurrent work with mapBounded and Semaphore', async () => {
    let active = 0;
    let max = 0;
    const sem = new Semaphore(3);
    const out = await Promise.all(Array.from({ length: 20 }, (_, i) => sem.run(async () => {
      active++;
      max = Math.max(max, active);
      await new Promise((r) => setTimeout(r, 1));
      active--;
      return i * 2;
    })));
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(max).toBe(3);
    const ds = fakeDataset(12, () => 0);
    const labels = await mapBounded([...Array(12).keys()], 2, async (i) => (await ds.get(i)).events.t[0]);
    expect(labels).toEqual([...Array(12).keys()]);
    expect(ds.maxActive).toBe(2);
  });
});
