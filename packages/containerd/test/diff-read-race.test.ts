/**
 * A directory of the tree being diffed is swapped for a symlink to a host directory right after
 * its header was written (a running container can do that to its upper dir). The differ lists and
 * reads it through the fd it opened, so the host directory's names and its marker's bytes never
 * enter the layer. (A path-based walk lists `<upper>/z` after writing its header, i.e. the host
 * directory, and copies the marker into the layer: this test fails on it.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diffTarChunks } from '../src/diff/diff';
import { readTarMembers } from '@gantry/archive';
import { tmpDir } from './diff-helpers';

let work: string;
beforeEach(() => {
  work = tmpDir('gantry-read-race-');
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

test('a directory swapped for a host link after its header is still read from the directory', async () => {
  const lower = path.join(work, 'lower');
  const upper = path.join(work, 'upper');
  const host = path.join(work, 'host');
  fs.mkdirSync(lower);
  fs.mkdirSync(path.join(upper, 'z'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'z', 'mine'), 'container data');
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, 'marker'), 'HOST SECRET');

  const chunks: Buffer[] = [];
  let swapped = false;
  for await (const chunk of diffTarChunks(lower, upper)) {
    chunks.push(chunk);
    // the header of "z/" has just been written: the walk is about to list z
    if (!swapped && chunk.length === 512 && chunk.subarray(0, 3).toString() === 'z/\0') {
      fs.renameSync(path.join(upper, 'z'), path.join(work, 'z.moved'));
      fs.symlinkSync(host, path.join(upper, 'z'));
      swapped = true;
    }
  }
  expect(swapped).toBe(true);
  const members = Object.fromEntries((await readTarMembers(chunks)).map((m) => [m.header.name, m.data.toString()]));
  expect(Object.keys(members).sort()).toEqual(['z/', 'z/mine']);
  expect(members['z/mine']).toBe('container data');
  expect(Buffer.concat(chunks).includes('HOST SECRET')).toBe(false);
});
