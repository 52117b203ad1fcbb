/**
 * The builder's and commit's image writer against a real gantry-containerd (the built binary):
 * an active snapshot on busybox, changed through a temporary mount, becomes a layer blob, the next
 * chain's snapshot, a config whose diff_ids and history grow by one, and an untagged image the
 * catalog resolves; an empty-layer step adds history only. Also the COPY file work by fd.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { snapshots as spb } from '@gantry/api';
import { linuxSys, openRoot, withTempMounts } from '@gantry/linux';
import { busyboxArchive, describeIf, needRoot, waitFor } from '@gantry/testkit';
import { Containerd } from '../src/containerd/client';
import { Distribution } from '../src/images/distribution';
import { ImageService } from '../src/images/service';
import { ImageWriter, scratchImage } from '../src/build/image-writer';
import { tagImage, withLease } from '../src/build/commit';
import { copyInto, expandSource, sourcesChecksum } from '../src/build/copy-step';
import { matchGlob } from '@gantry/dockerfile';

const REPO = path.resolve(__dirname, '../../..');
const CONTAINERD_MAIN = path.join(REPO, 'packages/containerd/dist/main.js');
const d = describeIf(needRoot());

d('image writer over gantry-containerd (root)', () => {
  let dir: string;
  let daemon: ChildProcess;
  let cd: Containerd;
  let images: ImageService;
  let dist: Distribution;
  const sys = linuxSys();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gbiw-'));
    const archive = path.join(dir, 'busybox.tar');
    busyboxArchive(archive, 'busybox:latest');
    const logFd = fs.openSync(path.join(dir, 'containerd.log'), 'a');
    daemon = spawn(
      process.execPath,
      [CONTAINERD_MAIN, '--address', path.join(dir, 'c.sock'), '--root', path.join(dir, 'root'), '--state', path.join(dir, 'state'), '--log-level', 'error'],
      {
        stdio: ['ignore', logFd, logFd],
      },
    );
    fs.closeSync(logFd);
    await waitFor('gantry-containerd', () => {
      if (daemon.exitCode !== null) throw new Error('gantry-containerd exited');
      return fs.existsSync(path.join(dir, 'c.sock'));
    });
    cd = new Containerd(path.join(dir, 'c.sock'));
    images = new ImageService(cd);
    dist = new Distribution(cd, []);
    async function* chunks() {
      yield fs.readFileSync(archive);
    }
    await images.load(chunks());
  }, 120000);

  afterAll(async () => {
    cd?.close();
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((resolve) => daemon.once('exit', resolve));
      daemon.kill('SIGTERM');
      await exited;
    }
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Prepare a snapshot on `parent`, let `fn` change it through a mount; its key. */
  async function changed(parent: string, fn: (root: string) => void): Promise<string> {
    const key = `t-${Math.random().toString(16).slice(2)}`;
    const mounts = (await cd.call(cd.snapshots, cd.snapshots.prepare, spb.PrepareSnapshotRequest.fromPartial({ snapshotter: 'overlayfs', key, parent })))
      .mounts;
    const specs = mounts.map((m) => ({ type: m.type, source: m.source, options: [...m.options] }));
    await withTempMounts(sys, path.join(dir, 'mnt'), specs, false, async (root) => fn(root));
    return key;
  }

  /** The files of image `id`'s top snapshot, read through a view. */
  async function readFromImage(chainId: string, file: string): Promise<string> {
    const key = `v-${Math.random().toString(16).slice(2)}`;
    const mounts = (await cd.call(cd.snapshots, cd.snapshots.view, spb.ViewSnapshotRequest.fromPartial({ snapshotter: 'overlayfs', key, parent: chainId })))
      .mounts;
    try {
      const specs = mounts.map((m) => ({ type: m.type, source: m.source, options: [...m.options] }));
      return await withTempMounts(sys, path.join(dir, 'mnt'), specs, true, async (root) => fs.readFileSync(path.join(root, file), 'utf8'));
    } finally {
      await cd.call(cd.snapshots, cd.snapshots.remove, { snapshotter: 'overlayfs', key });
    }
  }

  it('a changed snapshot becomes a layer and an image the catalog resolves; an empty step adds history only', async () => {
    const written = await withLease({ store: () => dist.store() }, 'test', async (store) => {
      const w = new ImageWriter(cd, store, images);
      const base = await w.base('busybox');
      const key = await changed(base.chainId, (root) => fs.writeFileSync(path.join(root, 'made.txt'), 'by the writer\n'));
      const layer = await w.layerOf(key, base);
      await cd.call(cd.snapshots, cd.snapshots.remove, { snapshotter: 'overlayfs', key });
      expect(layer.desc.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(layer.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);
      const one = await w.write(base, { layer, config: { ...base.config.config, Cmd: ['cat', '/made.txt'] }, history: { created_by: 'step one' } });
      const two = await w.write(one, { config: { ...one.config.config, Env: ['A=b'] }, history: { created_by: 'step two' } });
      expect(one.config.rootfs.diff_ids).toEqual([...base.config.rootfs.diff_ids, layer.diffId]);
      expect(two.config.rootfs.diff_ids).toEqual(one.config.rootfs.diff_ids);
      expect(two.chainId).toBe(one.chainId);
      expect(two.config.history!.slice(-2).map((h) => [h.created_by, h.empty_layer ?? false])).toEqual([
        ['step one', false],
        ['step two', true],
      ]);
      return two;
    });
    // the lease is gone: the records hold everything
    images.forget();
    const { entry } = await images.resolve(written.id);
    expect(entry.config.config?.Env).toEqual(['A=b']);
    expect(entry.config.config?.Cmd).toEqual(['cat', '/made.txt']);
    expect(await readFromImage(written.chainId, 'made.txt')).toBe('by the writer\n');
  }, 120000);

  it('an image from scratch has no layers until a step adds one', async () => {
    const img = await withLease({ store: () => dist.store() }, 'test', async (store) => {
      const w = new ImageWriter(cd, store, images);
      const base = scratchImage();
      const key = await changed('', (root) => fs.writeFileSync(path.join(root, 'only.txt'), 'alone\n'));
      const layer = await w.layerOf(key, base);
      await cd.call(cd.snapshots, cd.snapshots.remove, { snapshotter: 'overlayfs', key });
      return w.write(base, { layer, config: {}, history: { created_by: 'copy' } });
    });
    expect(img.config.rootfs.diff_ids).toHaveLength(1);
    expect(await readFromImage(img.chainId, 'only.txt')).toBe('alone\n');
  }, 120000);

  it('base() asks its listing of the images again only for an image not in it, or whose record was removed or moved since', async () => {
    await withLease({ store: () => dist.store() }, 'test', async (store) => {
      const w = new ImageWriter(cd, store, images);
      const listings = jest.spyOn(images, 'entries');
      try {
        const base = await w.base('busybox');
        expect((await w.base(base.id)).id).toBe(base.id);
        expect(listings).toHaveBeenCalledTimes(1);
        const one = await w.write(base, { config: { Env: ['V=1'] }, history: { created_by: 'one' } });
        const two = await w.write(base, { config: { Env: ['V=2'] }, history: { created_by: 'two' } });
        // written after the listing: found in a new one
        expect((await w.base(one.id)).id).toBe(one.id);
        expect(listings).toHaveBeenCalledTimes(2);
        await tagImage(images, one, 'docker.io/library/writer-test:v');
        expect((await w.base('writer-test:v')).id).toBe(one.id);
        // the tag moved by someone else after this writer listed it
        await tagImage(images, two, 'docker.io/library/writer-test:v');
        expect((await w.base('writer-test:v')).id).toBe(two.id);
        // and removed
        await images.deleteRecord('docker.io/library/writer-test:v', true);
        await expect(w.base('writer-test:v')).rejects.toThrow(/No such image: writer-test:v/);
      } finally {
        listings.mockRestore();
      }
    });
  }, 120000);

  it("COPY by fd: globs, a directory's contents, a file renamed, owners and modes set, a link out of the context stays inside", async () => {
    const src = fs.mkdtempSync(path.join(dir, 'ctx-'));
    const dst = fs.mkdtempSync(path.join(dir, 'dst-'));
    fs.mkdirSync(path.join(src, 'app/sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'app/a.txt'), 'a');
    fs.writeFileSync(path.join(src, 'app/sub/b.txt'), 'b');
    fs.writeFileSync(path.join(src, 'one.md'), '1');
    fs.writeFileSync(path.join(src, 'two.md'), '2');
    fs.symlinkSync('/etc/shadow', path.join(src, 'shadow'));
    const s = { sys, fd: openRoot(sys, src) };
    const t = { sys, fd: openRoot(sys, dst) };
    try {
      expect(expandSource(s, '*.md', matchGlob)).toEqual(['/one.md', '/two.md']);
      expect(expandSource(s, 'missing', matchGlob)).toEqual([]);
      await copyInto(s, ['/app'], t, '/opt/app/', { chown: { uid: 1000, gid: 1001 } });
      expect(fs.readFileSync(path.join(dst, 'opt/app/sub/b.txt'), 'utf8')).toBe('b');
      expect(fs.statSync(path.join(dst, 'opt/app/a.txt')).uid).toBe(1000);
      await copyInto(s, ['/one.md'], t, '/renamed.md', { chmod: 0o600 });
      expect(fs.readFileSync(path.join(dst, 'renamed.md'), 'utf8')).toBe('1');
      expect(fs.statSync(path.join(dst, 'renamed.md')).mode & 0o777).toBe(0o600);
      await copyInto(s, ['/one.md', '/two.md'], t, '/docs/', {});
      expect(fs.readdirSync(path.join(dst, 'docs')).sort()).toEqual(['one.md', 'two.md']);
      await expect(copyInto(s, ['/one.md', '/two.md'], t, '/nodir', {})).rejects.toThrow(/must be a directory and end with a \//);
      // the context's symlink to /etc/shadow resolves inside the context: nothing there
      expect(() => expandSource(s, 'shadow', matchGlob)).not.toThrow();
      expect(expandSource(s, 'shadow', matchGlob)).toEqual([]);
      // the checksum follows content, not times
      const before = await sourcesChecksum(s, ['/app']);
      fs.utimesSync(path.join(src, 'app/a.txt'), 1, 1);
      expect(await sourcesChecksum(s, ['/app'])).toBe(before);
      fs.writeFileSync(path.join(src, 'app/a.txt'), 'A');
      expect(await sourcesChecksum(s, ['/app'])).not.toBe(before);
    } finally {
      sys.close(s.fd);
      sys.close(t.fd);
    }
  });
});
