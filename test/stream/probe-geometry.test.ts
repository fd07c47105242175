/** probeGeometry: header geometry from the first chunk, options next, else inferred from a full pass. */
import { expect, it } from 'vitest';
import { probeGeometry } from '../../src/stream/probe-geometry.js';
import { describeWithFixtures, sharedFixture } from '../helpers/fixtures.js';
import { NMNIST_REL } from './helpers.js';

const EVT2 = 'events/expelliarmus/evt2_sample.raw';

describeWithFixtures('probeGeometry', [NMNIST_REL, EVT2], () => {
  it('reads the geometry an EVT 2.0 header declares', async () => {
    expect(await probeGeometry(sharedFixture(EVT2), { chunkBytes: 4096 })).toMatchObject({ width: 640, height: 480, geometry: 'header', format: 'evt2' });
  });

  it('infers it from the largest coordinates when the format declares none, unless options give it', async () => {
    expect(await probeGeometry(sharedFixture(NMNIST_REL), { chunkBytes: 1000 })).toMatchObject({ width: 34, height: 34, geometry: 'inferred' });
    expect(await probeGeometry(sharedFixture(NMNIST_REL), { width: 40, height: 36 })).toMatchObject({ width: 40, height: 36, geometry: 'option' });
  });
});
