/**
 * The *at calls of the seam and the helpers built on them, on the real kernel, around a hostile
 * tree whose links point at a host marker: the marker is never read, changed or removed. Root is
 * needed for chown and trusted.* xattrs; under CI=true a non-root run fails instead of skipping.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRoot } from '@gantry/testkit';
import { AT, O, S_IF, linuxSys, openInRoot, openRoot, readFileInRoot, realpathInRoot, removeAllAt } from '../src';

const sys = linuxSys();
let tmp: string;
let rootfs: string;
let marker: string;
let rootFd: number;

beforeAll(() => {
  if (!isRoot && process.env.CI === 'true') throw new Error('these tests need root');
});

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-confine-at-'));
  rootfs = path.join(tmp, 'rootfs');
  marker = path.join(tmp, 'host', 'marker');
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.mkdirSync(path.dirname(marker));
  fs.writeFileSync(marker, 'HOST');
  fs.symlinkSync(marker, path.join(rootfs, 'etc', 'passwd'));
  fs.symlinkSync(path.dirname(marker), path.join(rootfs, 'hostdir'));
  fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\n');
  rootFd = openRoot(sys, rootfs);
});

afterEach(() => {
  sys.close(rootFd);
  expect(fs.readFileSync(marker, 'utf8')).toBe('HOST');
  fs.rmSync(tmp, { recursive: true, force: true });
});

const markerStat = () => fs.statSync(marker);

it('fstatat does not follow the last link; readdirFd lists a directory by its O_PATH fd', () => {
  expect(sys.fstatat(rootFd, 'etc/passwd')?.kind).toBe('symlink');
  expect(sys.fstatat(rootFd, 'etc/passwd', true)?.kind).toBe('file'); // plain fstatat follows the host link: why callers use openInRoot
  expect(sys.fstatat(rootFd, 'nope')).toBeUndefined();
  expect(sys.fstatat(rootFd, '')?.kind).toBe('dir');
  expect(sys.readdirFd(rootFd).sort()).toEqual(['etc', 'hostdir']);
});

it('creates, links and removes below a directory fd', () => {
  const etc = openInRoot(sys, rootFd, '/etc', O.PATH | O.DIRECTORY);
  try {
    sys.symlinkat('/x', etc, 'l');
    expect(fs.readlinkSync(path.join(rootfs, 'etc', 'l'))).toBe('/x');
    sys.mknodat(etc, 'fifo', S_IF.FIFO | 0o600, 0, 0);
    expect(fs.lstatSync(path.join(rootfs, 'etc', 'fifo')).isFIFO()).toBe(true);
    // linking a symlink links the symlink, never the host file it names
    sys.linkat(etc, 'passwd', etc, 'pw-link', 0);
    expect(fs.lstatSync(path.join(rootfs, 'etc', 'pw-link')).ino).toBe(fs.lstatSync(path.join(rootfs, 'etc', 'passwd')).ino);
    expect(markerStat().nlink).toBe(1);
    sys.unlinkat(etc, 'fifo', 0);
    sys.mkdirat(etc, 'd', 0o755);
    sys.unlinkat(etc, 'd', AT.REMOVEDIR);
    expect(fs.readdirSync(path.join(rootfs, 'etc')).sort()).toEqual(['group', 'l', 'passwd', 'pw-link']);
  } finally {
    sys.close(etc);
  }
});

it('changes metadata of a symlink itself through its O_PATH fd, never its host target', () => {
  const before = markerStat();
  const link = openInRoot(sys, rootFd, '/etc/passwd', O.PATH, { followLast: false });
  try {
    if (isRoot) {
      sys.fchownat(link, '', 4242, 4243, AT.EMPTY_PATH);
      expect(fs.lstatSync(path.join(rootfs, 'etc', 'passwd')).uid).toBe(4242);
      sys.fsetxattr(link, 'trusted.gantry', Buffer.from('v'));
      expect(sys.fgetxattr(link, 'trusted.gantry')?.toString()).toBe('v');
      expect(sys.flistxattr(link)).toContain('trusted.gantry');
      expect(sys.lgetxattr(marker, 'trusted.gantry')).toBeUndefined();
    }
    sys.utimensat(link, '', 1000, 2000.5, AT.EMPTY_PATH | AT.SYMLINK_NOFOLLOW);
    expect(fs.lstatSync(path.join(rootfs, 'etc', 'passwd'), { bigint: true }).mtimeNs).toBe(2000_500_000_000n);
  } finally {
    sys.close(link);
  }
  const after = markerStat();
  expect([after.uid, after.mtimeMs, after.mode]).toEqual([before.uid, before.mtimeMs, before.mode]);
});

it('fchmod takes an O_PATH fd of a regular file', () => {
  const fd = openInRoot(sys, rootFd, '/etc/group', O.PATH);
  try {
    sys.fchmod(fd, 0o600);
  } finally {
    sys.close(fd);
  }
  expect(fs.statSync(path.join(rootfs, 'etc', 'group')).mode & 0o7777).toBe(0o600);
});

it('readFileInRoot reads inside the root only and refuses FIFOs without blocking', () => {
  expect(readFileInRoot(sys, rootFd, '/etc/group')?.toString()).toBe('root:x:0:\n');
  expect(readFileInRoot(sys, rootFd, '/etc/passwd')).toBeUndefined();
  expect(readFileInRoot(sys, rootFd, '/hostdir/marker')).toBeUndefined();
  fs.mkdirSync(path.join(rootfs, 'tmp'));
  sys.mknodat(openInRoot(sys, rootFd, '/tmp', O.PATH | O.DIRECTORY), 'fifo', S_IF.FIFO | 0o600, 0, 0);
  expect(() => readFileInRoot(sys, rootFd, '/tmp/fifo')).toThrow(/not a regular file/);
});

it('removeAllAt removes links to host directories as links', () => {
  fs.mkdirSync(path.join(rootfs, 'tree', 'a'), { recursive: true });
  fs.symlinkSync(path.dirname(marker), path.join(rootfs, 'tree', 'a', 'host'));
  removeAllAt(sys, rootFd, 'tree');
  removeAllAt(sys, rootFd, 'hostdir');
  expect(fs.readdirSync(rootfs)).toEqual(['etc']);
  expect(fs.existsSync(marker)).toBe(true);
});

it('realpathInRoot names where a link leads inside the root', () => {
  expect(realpathInRoot(sys, rootFd, '/etc/passwd')).toBe(marker);
  // hostdir -> <tmp>/host inside the root, which does not exist there: the rest is lexical
  expect(realpathInRoot(sys, rootFd, '/hostdir/../etc/group')).toBe(`${tmp}/etc/group`);
  expect(realpathInRoot(sys, rootFd, '/etc/../hostdir', false)).toBe('/hostdir');
});
