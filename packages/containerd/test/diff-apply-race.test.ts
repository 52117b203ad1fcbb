/**
 * A directory swapped for a symlink to the host while a layer is being applied (what a process
 * of a running container, or a hostile snapshot, can do between two system calls of the
 * extractor). The tar stream is paused in the middle of a file's body, the test swaps `d` for a
 * link to a host directory holding a marker file, then lets the stream go on. The extractor works
 * through the fds it already holds, so the marker keeps its content, mode, owner and link count.
 * (A path-based extractor chmods/chowns `<target>/d/marker` after the body, i.e. the host file,
 * and links `d/marker` from the host: these tests fail on it.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LayerError } from '@gantry/archive';
import { applyLayer } from '../src/diff/apply';
import { isRoot, makeTar, tmpDir } from './diff-helpers';

let work: string;
let target: string;
let hostDir: string;
let marker: string;

beforeEach(() => {
  work = tmpDir('gantry-race-');
  target = path.join(work, 'target');
  hostDir = path.join(work, 'host');
  marker = path.join(hostDir, 'marker');
  fs.mkdirSync(target);
  fs.mkdirSync(hostDir);
  fs.writeFileSync(marker, 'HOST');
  fs.chmodSync(marker, 0o644);
});

afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

/** Resolves once `p` exists: the extractor has made it and waits for the rest of the body. */
async function created(p: string): Promise<void> {
  while (!fs.existsSync(p)) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The tar in two pieces, cut `cut` bytes into the data of member `member` (0-based, headers only). */
function racing(tar: Buffer, cut: number, during: () => Promise<void>): Readable {
  return Readable.from(
    (async function* () {
      yield tar.subarray(0, cut);
      await during();
      yield tar.subarray(cut);
    })(),
  );
}

function swapForHostLink(): void {
  fs.renameSync(path.join(target, 'd'), path.join(target, 'd.old'));
  fs.symlinkSync(hostDir, path.join(target, 'd'));
}

function expectMarkerUntouched(): void {
  const st = fs.statSync(marker);
  expect(fs.readFileSync(marker, 'utf8')).toBe('HOST');
  expect(st.mode & 0o7777).toBe(0o644);
  expect(st.uid).toBe(process.getuid?.() ?? 0);
  expect(st.nlink).toBe(1);
}

test('owner, mode and times of a file go to the file written, not to what its path names after a swap', async () => {
  const body = Buffer.alloc(4096, 'x');
  const tar = makeTar([
    { name: 'd/', type: '5' },
    { name: 'd/marker', data: body, mode: 0o4777, uid: 4242, gid: 4242, mtime: 1_000_000 },
  ]);
  // member 0 is one header, member 1's header follows; cut 1000 bytes into its data
  const stream = racing(tar, 1024 + 1000, async () => {
    await created(path.join(target, 'd', 'marker'));
    swapForHostLink();
  });
  await applyLayer(stream, target);
  expectMarkerUntouched();
  const written = fs.statSync(path.join(target, 'd.old', 'marker'));
  expect(fs.readFileSync(path.join(target, 'd.old', 'marker'))).toEqual(body);
  expect(written.mode & 0o7777).toBe(0o4777);
  expect(written.mtimeMs).toBe(1_000_000_000);
  if (isRoot) expect(written.uid).toBe(4242);
  expect(fs.readlinkSync(path.join(target, 'd'))).toBe(hostDir);
});

test('a hard link into a directory swapped for a host link does not link the host file', async () => {
  const tar = makeTar([
    { name: 'd/', type: '5' },
    { name: 'd/big', data: Buffer.alloc(4096, 'y') },
    { name: 'h', type: '1', linkname: 'd/marker' },
  ]);
  // a host file by the same name, so a path-based extractor gets as far as the link
  fs.writeFileSync(path.join(hostDir, 'big'), 'HOST big');
  const stream = racing(tar, 1024 + 1000, async () => {
    await created(path.join(target, 'd', 'big'));
    swapForHostLink();
  });
  const err = await applyLayer(stream, target).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LayerError);
  expect((err as LayerError).entry).toBe('h');
  expect(fs.existsSync(path.join(target, 'h'))).toBe(false);
  expectMarkerUntouched();
  expect(fs.readFileSync(path.join(hostDir, 'big'), 'utf8')).toBe('HOST big');
});
