/**
 * A hostile-tar corpus against applyLayer: each archive either fails with a LayerError naming the
 * entry, or is confined inside the target as documented in src/diff/apply.ts. In every case the
 * tree around the target (a sentinel tree next to it, and the host paths the archive aims at) is
 * byte-for-byte and stat-for-stat unchanged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { linuxSys, resetOpenat2Probe, SysError, type Sys } from '@gantry/linux';
import { LayerError } from '@gantry/archive';
import { applyLayer } from '../src/diff/apply';
import { comparable, isRoot, makeTar, sha256, snapshotTree, streamOf, tmpDir, type RawEntry } from './diff-helpers';

interface Case {
  name: string;
  entries: RawEntry[];
  /** 'refused': LayerError whose entry is given; else a check of the confined result. */
  expect: { refused: string } | { confined: (target: string) => void };
}

let work: string;
let target: string;
const hostPasswd = fs.readFileSync('/etc/passwd');

beforeEach(() => {
  work = tmpDir('gantry-hostile-');
  target = path.join(work, 'root', 'target');
  fs.mkdirSync(target, { recursive: true });
  // the sentinel tree around the target
  fs.mkdirSync(path.join(work, 'root', 'etc'));
  fs.writeFileSync(path.join(work, 'root', 'etc', 'x'), 'sentinel x');
  fs.writeFileSync(path.join(work, 'outside'), 'outside file');
  fs.mkdirSync(path.join(work, 'sentinel', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(work, 'sentinel', 'sub', 'keep'), 'keep me');
  fs.symlinkSync('/etc', path.join(work, 'sentinel', 'etc-link'));
});

afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

const cases: Case[] = [
  { name: '../../etc/x climbs out', entries: [{ name: '../../etc/x', data: 'pwned' }], expect: { refused: '../../etc/x' } },
  { name: 'a/../../x climbs out after a descent', entries: [{ name: 'a/../../x', data: 'pwned' }], expect: { refused: 'a/../../x' } },
  {
    name: '/abs/path is made relative',
    entries: [{ name: '/abs/path', data: 'abs' }],
    expect: { confined: (t) => expect(fs.readFileSync(path.join(t, 'abs', 'path'), 'utf8')).toBe('abs') },
  },
  {
    name: 'symlink link -> /etc, then link/passwd lands in <target>/etc/passwd',
    entries: [
      { name: 'link', type: '2', linkname: '/etc' },
      { name: 'link/passwd', data: 'root::0:0::/:/bin/sh\n' },
    ],
    expect: {
      confined: (t) => {
        expect(fs.readlinkSync(path.join(t, 'link'))).toBe('/etc');
        expect(fs.readFileSync(path.join(t, 'etc', 'passwd'), 'utf8')).toBe('root::0:0::/:/bin/sh\n');
      },
    },
  },
  {
    name: 'symlink up -> .., then up/up/x lands in <target>/x',
    entries: [
      { name: 'up', type: '2', linkname: '..' },
      { name: 'up/up/x', data: 'x' },
    ],
    expect: { confined: (t) => expect(fs.readFileSync(path.join(t, 'x'), 'utf8')).toBe('x') },
  },
  {
    name: 'relative chain of symlinks a -> b/../../.., b -> /, a/c',
    entries: [
      { name: 'b', type: '2', linkname: '/' },
      { name: 'a', type: '2', linkname: 'b/../../../..' },
      { name: 'a/c/d', data: 'd' },
    ],
    expect: { confined: (t) => expect(fs.readFileSync(path.join(t, 'c', 'd'), 'utf8')).toBe('d') },
  },
  {
    name: 'symlink loop in a parent',
    entries: [
      { name: 'l1', type: '2', linkname: 'l2' },
      { name: 'l2', type: '2', linkname: 'l1' },
      { name: 'l1/x', data: 'x' },
    ],
    expect: { refused: 'l1/x' },
  },
  { name: 'hard link to /etc/passwd (absent inside the target)', entries: [{ name: 'pw', type: '1', linkname: '/etc/passwd' }], expect: { refused: 'pw' } },
  {
    name: 'hard link to /etc/passwd when the layer has its own etc/passwd links that one',
    entries: [
      { name: 'etc/passwd', data: 'layer passwd' },
      { name: 'pw', type: '1', linkname: '/etc/passwd' },
    ],
    expect: {
      confined: (t) => {
        expect(fs.statSync(path.join(t, 'pw')).ino).toBe(fs.statSync(path.join(t, 'etc', 'passwd')).ino);
        expect(fs.readFileSync(path.join(t, 'pw'), 'utf8')).toBe('layer passwd');
      },
    },
  },
  { name: 'hard link to ../outside', entries: [{ name: 'o', type: '1', linkname: '../outside' }], expect: { refused: 'o' } },
  {
    name: 'hard link through a symlink to / resolves inside',
    entries: [
      { name: 'r', type: '2', linkname: '/' },
      { name: 'h', type: '1', linkname: 'r/etc/passwd' },
    ],
    expect: { refused: 'h' },
  },
  {
    name: 'hard link to a symlink pointing out links the symlink, not the host file',
    entries: [
      { name: 's', type: '2', linkname: '/etc/passwd' },
      { name: 'h', type: '1', linkname: 's' },
    ],
    expect: {
      confined: (t) => {
        expect(fs.lstatSync(path.join(t, 'h')).isSymbolicLink()).toBe(true);
        expect(fs.lstatSync(path.join(t, 'h')).ino).toBe(fs.lstatSync(path.join(t, 's')).ino);
      },
    },
  },
  { name: 'whiteout of a path outside', entries: [{ name: '../.wh.outside', data: '' }], expect: { refused: '../.wh.outside' } },
  {
    name: 'whiteout through a symlink to /etc removes only <target>/etc/passwd',
    entries: [
      { name: 'etc/passwd', data: 'p' },
      { name: 'e', type: '2', linkname: '/etc' },
      { name: 'e/.wh.passwd', data: '' },
      { name: 'r', type: '2', linkname: '/' },
      { name: 'r/.wh.etc', data: '' },
    ],
    expect: { confined: (t) => expect(fs.existsSync(path.join(t, 'etc'))).toBe(false) },
  },
  {
    name: 'opaque marker under a symlink to .. empties only the target',
    entries: [
      { name: 'keep', data: 'k' },
      { name: 'p', type: '2', linkname: '..' },
      { name: 'p/.wh..wh..opq', data: '' },
    ],
    expect: { confined: (t) => expect(fs.readdirSync(t).sort()).toEqual(['keep', 'p']) },
  },
  {
    name: 'a file over a symlink pointing outside replaces the symlink',
    entries: [
      { name: 'evil', type: '2', linkname: '../../outside' },
      { name: 'evil', data: 'replaced' },
    ],
    expect: {
      confined: (t) => {
        expect(fs.lstatSync(path.join(t, 'evil')).isFile()).toBe(true);
        expect(fs.readFileSync(path.join(t, 'evil'), 'utf8')).toBe('replaced');
      },
    },
  },
  {
    name: 'a directory entry over a symlink to / replaces the symlink',
    entries: [
      { name: 'd', type: '2', linkname: '/' },
      { name: 'd/', type: '5', mode: 0o700 },
    ],
    expect: { confined: (t) => expect(fs.lstatSync(path.join(t, 'd')).isDirectory()).toBe(true) },
  },
  {
    name: 'device nodes: created inside (root) or refused (non-root); ../dev refused',
    entries: [{ name: 'dev/null', type: '3', mode: 0o666, devmajor: 1, devminor: 3 }],
    expect: isRoot
      ? {
          confined: (t) => {
            const st = fs.lstatSync(path.join(t, 'dev', 'null'));
            expect(st.isCharacterDevice()).toBe(true);
            expect(st.rdev).toBe(fs.statSync('/dev/null').rdev);
          },
        }
      : { refused: 'dev/null' },
  },
  { name: 'device node above the root', entries: [{ name: '../null', type: '3', devmajor: 1, devminor: 3 }], expect: { refused: '../null' } },
  {
    name: 'very long PAX path with .. that escapes',
    entries: [{ name: 'short', pax: { path: `${'a/'.repeat(300)}${'../'.repeat(301)}escaped` }, data: 'x' }],
    expect: { refused: `${'a/'.repeat(300)}${'../'.repeat(301)}escaped` },
  },
  {
    name: 'very long PAX path with .. that stays inside',
    entries: [{ name: 'short', pax: { path: `${'d/'.repeat(100)}${'../'.repeat(99)}inside` }, data: 'x' }],
    expect: { confined: (t) => expect(fs.readFileSync(path.join(t, 'd', 'inside'), 'utf8')).toBe('x') },
  },
  {
    name: 'PAX linkpath escaping for a hard link',
    entries: [{ name: 'hl', type: '1', pax: { linkpath: '../../../../../../etc/passwd' } }],
    expect: { refused: 'hl' },
  },
  { name: 'bad header checksum', entries: [{ name: 'f', data: 'x', badChecksum: true }], expect: { refused: 'f' } },
  // refused by the tar reader already (Go's validPAXRecord), naming the PAX header
  { name: 'NUL in a PAX path', entries: [{ name: 'f', pax: { path: 'a\0/../../x' }, data: 'x' }], expect: { refused: 'PaxHeader' } },
];

/** The real kernel, or one without openat2 (before 5.6): the extractor then walks one O_NOFOLLOW openat per component. */
const noOpenat2: Sys = new Proxy(linuxSys(), {
  get(target, key: keyof Sys) {
    if (key === 'openat2') {
      return (_fd: number, p: string) => {
        throw new SysError('openat2', 38 /* ENOSYS */, p);
      };
    }
    const v = target[key];
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
  },
});

describe.each([
  ['openat2', linuxSys()],
  ['the fallback walk', noOpenat2],
])('hostile layers (%s)', (_kernel, sys) => {
  beforeEach(() => resetOpenat2Probe());
  afterAll(() => resetOpenat2Probe());

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const around = (p: string) => p === path.join('root', 'target');
    const before = comparable(snapshotTree(work, around));
    const layer = makeTar(c.entries);
    const run = applyLayer(streamOf(layer), target, { sys });
    if ('refused' in c.expect) {
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LayerError);
      expect((err as LayerError).entry).toBe(c.expect.refused);
    } else {
      const res = await run;
      expect(res.digest).toBe(sha256(layer));
      c.expect.confined(target);
    }
    expect(comparable(snapshotTree(work, around))).toEqual(before);
    expect(fs.readFileSync('/etc/passwd')).toEqual(hostPasswd);
    expect(fs.existsSync('/abs')).toBe(false);
    expect(fs.existsSync('/etc/x')).toBe(false);
    expect(fs.existsSync('/escaped')).toBe(false);
    // nothing under the target is a hard link to a file outside it
    const outsideIno = new Set([fs.statSync('/etc/passwd').ino, fs.statSync(path.join(work, 'outside')).ino]);
    for (const [, info] of snapshotTree(target)) if (info.type === 'file') expect(outsideIno.has(info.ino)).toBe(false);
  });
});

describe('links aimed at a host file by its absolute path', () => {
  it('a symlink to the host directory, then a file written through it, lands inside the target', async () => {
    const hostDir = path.join(work, 'sentinel', 'sub');
    await applyLayer(
      streamOf(
        makeTar([
          { name: 'm', type: '2', linkname: hostDir },
          { name: 'm/keep', data: 'pwned', mode: 0o4755 },
        ]),
      ),
      target,
    );
    expect(fs.readFileSync(path.join(hostDir, 'keep'), 'utf8')).toBe('keep me');
    expect(fs.statSync(path.join(hostDir, 'keep')).mode & 0o7777).toBe(0o644);
    expect(fs.readFileSync(path.join(target, hostDir, 'keep'), 'utf8')).toBe('pwned');
  });

  it('a hard link to the host file is refused', async () => {
    const outside = path.join(work, 'outside');
    const err = await applyLayer(streamOf(makeTar([{ name: 'h', type: '1', linkname: outside }])), target).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as LayerError).entry).toBe('h');
    expect(fs.statSync(outside).nlink).toBe(1);
  });
});
