/**
 * mountInRoot on the real kernel, as root, in a child `unshare -m` process (nothing is mounted in
 * the Jest worker's namespace, and everything goes away with the child): a rootfs whose /dev and
 * /mnt are symlinks to a host directory gets its mounts inside itself, a read-only bind is really
 * read-only, and the host directory stays empty.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeIf, needRoot } from '@gantry/testkit';

const PKG = path.resolve(__dirname, '..');
const REPO = path.resolve(PKG, '../..');
const DIST = path.join(PKG, 'dist/index.js');
const maybe = describeIf(needRoot());

let tmp: string;

/** Run `body` (JS, with `L` = @gantry/linux, `sys`, `root`) in a private mount namespace; returns its JSON. */
function inMountNs(body: string): Record<string, unknown> {
  const script = `
    const L = require(${JSON.stringify(DIST)});
    const fs = require('node:fs');
    const sys = L.linuxSys();
    const out = {};
    try { ${body} } catch (e) { out.error = String(e && e.message || e); }
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

maybe('mountInRoot (root integration)', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-b', 'packages/linux/tsconfig.json'], { cwd: REPO, stdio: 'pipe' });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-mir-'));
  }, 120_000);
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps mounts through a /dev -> host and a ../../.. symlink inside the root; the host dir stays empty', () => {
    const rootfs = path.join(tmp, 'a/rootfs');
    const host = path.join(tmp, 'a/host-marker');
    const src = path.join(tmp, 'a/src');
    fs.mkdirSync(rootfs, { recursive: true });
    fs.mkdirSync(host);
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'data');
    fs.symlinkSync(host, path.join(rootfs, 'dev'));
    fs.symlinkSync('../'.repeat(12) + host.slice(1), path.join(rootfs, 'mnt'));
    const out = inMountNs(`
      const root = L.openMountRoot(sys, ${JSON.stringify(rootfs)});
      const shm = L.mountInRoot(sys, root, '/dev/shm', { type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'size=64k'] });
      const data = L.mountInRoot(sys, root, '/mnt/data', { type: 'bind', source: ${JSON.stringify(src)}, options: ['rbind', 'ro'] });
      out.shm = shm.hostPath; out.data = data.hostPath;
      out.shmType = sys.fstatfs(shm.fd).type;
      try { fs.writeFileSync(data.hostPath + '/g', 'x'); out.write = 'ok'; } catch (e) { out.write = e.code; }
      out.read = fs.readFileSync(data.hostPath + '/f', 'utf8');
      out.hostEntries = fs.readdirSync(${JSON.stringify(host)});
      out.mounts = L.mountPointsUnder(L.readMountinfo(), ${JSON.stringify(path.join(tmp, 'a'))});
    `);
    expect(out.error).toBeUndefined();
    const inside = path.join(rootfs, host);
    expect(out.shm).toBe(path.join(inside, 'shm'));
    expect(out.data).toBe(path.join(inside, 'data'));
    expect(out.shmType).toBe(0x01021994);
    expect(out.write).toBe('EROFS');
    expect(out.read).toBe('data');
    expect(out.hostEntries).toEqual([]);
    expect(out.mounts).toEqual(expect.arrayContaining([path.join(inside, 'shm'), path.join(inside, 'data')]));
    expect(fs.readdirSync(host)).toEqual([]);
  });

  it('gives a recursive bind "rro" read-only submounts (mount_setattr)', () => {
    const rootfs = path.join(tmp, 'b/rootfs');
    const src = path.join(tmp, 'b/src');
    fs.mkdirSync(rootfs, { recursive: true });
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    const out = inMountNs(`
      sys.mount('tmpfs', ${JSON.stringify(path.join(src, 'sub'))}, 'tmpfs', 0, 'size=64k');
      const root = L.openMountRoot(sys, ${JSON.stringify(rootfs)});
      const t = L.mountInRoot(sys, root, '/data', { type: 'bind', source: ${JSON.stringify(src)}, options: ['rbind', 'rro'] });
      try { fs.writeFileSync(t.hostPath + '/sub/x', 'x'); out.sub = 'ok'; } catch (e) { out.sub = e.code; }
    `);
    expect(out.error).toBeUndefined();
    expect(out.sub).toBe('EROFS');
  });
});
