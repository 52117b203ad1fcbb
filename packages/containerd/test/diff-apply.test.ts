/**
 * applyLayer semantics: whiteouts and opaque directories over lower content, hard links, symlinks,
 * metadata, xattrs, gzip, the diffID; and a cross-check against GNU tar on the same archive.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { linuxSys } from '@gantry/linux';
import { LayerError } from '@gantry/archive';
import { applyLayer } from '../src/diff/apply';
import { comparable, isRoot, makeTar, sh, sha256, snapshotTree, streamOf, tmpDir } from './diff-helpers';

let work: string;
beforeEach(() => {
  work = tmpDir();
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

function lower(): string {
  const t = path.join(work, 'rootfs');
  fs.mkdirSync(path.join(t, 'etc', 'conf.d'), { recursive: true });
  fs.writeFileSync(path.join(t, 'etc', 'hosts'), 'lower hosts');
  fs.writeFileSync(path.join(t, 'etc', 'conf.d', 'a.conf'), 'a');
  fs.writeFileSync(path.join(t, 'etc', 'conf.d', 'b.conf'), 'b');
  fs.mkdirSync(path.join(t, 'var', 'cache', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(t, 'var', 'cache', 'deep', 'x'), 'x');
  fs.writeFileSync(path.join(t, 'var', 'cache', 'y'), 'y');
  fs.mkdirSync(path.join(t, 'gone', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(t, 'gone', 'sub', 'f'), 'f');
  return t;
}

test('whiteouts remove lower entries; opaque directories keep only what this layer brings', async () => {
  const t = lower();
  const layer = makeTar([
    { name: 'etc/', type: '5' },
    { name: 'etc/.wh.hosts' },
    { name: 'etc/conf.d/', type: '5' },
    { name: 'etc/conf.d/.wh..wh..opq' },
    { name: 'etc/conf.d/c.conf', data: 'c' },
    { name: 'var/cache/', type: '5' },
    { name: 'var/cache/deep/', type: '5' }, // kept by this layer, but its lower content is hidden too
    { name: 'var/cache/.wh..wh..opq' },
    { name: 'var/cache/new', data: 'n' },
    { name: '.wh.gone' },
    { name: '.wh.never-existed' },
    { name: 'etc/.wh..wh.plnk' }, // AUFS metadata: ignored
  ]);
  await applyLayer(streamOf(layer), t);
  expect(fs.existsSync(path.join(t, 'etc', 'hosts'))).toBe(false);
  expect(fs.readdirSync(path.join(t, 'etc', 'conf.d')).sort()).toEqual(['c.conf']);
  expect(fs.readdirSync(path.join(t, 'var', 'cache')).sort()).toEqual(['deep', 'new']);
  expect(fs.readdirSync(path.join(t, 'var', 'cache', 'deep'))).toEqual([]);
  expect(fs.existsSync(path.join(t, 'gone'))).toBe(false);
  expect(fs.existsSync(path.join(t, 'etc', '.wh..wh.plnk'))).toBe(false);
});

test('an opaque marker before the directory contents of the same layer keeps them', async () => {
  const t = lower();
  await applyLayer(streamOf(makeTar([{ name: 'etc/conf.d/.wh..wh..opq' }, { name: 'etc/conf.d/z.conf', data: 'z' }])), t);
  expect(fs.readdirSync(path.join(t, 'etc', 'conf.d'))).toEqual(['z.conf']);
});

test('hard links share an inode; symlink targets are kept verbatim; type changes replace', async () => {
  const t = lower();
  await applyLayer(
    streamOf(
      makeTar([
        { name: 'bin/busybox', data: 'ELF', mode: 0o755 },
        { name: 'bin/sh', type: '1', linkname: 'bin/busybox' },
        { name: 'bin/ls', type: '1', linkname: './bin/../bin/busybox' },
        { name: 'abs', type: '2', linkname: '/does/not/exist' },
        { name: 'rel', type: '2', linkname: '../../weird//path/.' },
        { name: 'etc/hosts/', type: '5' }, // a file in lower becomes a directory
        { name: 'var', type: '2', linkname: 'etc' }, // a directory in lower becomes a symlink
      ]),
    ),
    t,
  );
  const ino = fs.statSync(path.join(t, 'bin', 'busybox')).ino;
  expect(fs.statSync(path.join(t, 'bin', 'sh')).ino).toBe(ino);
  expect(fs.statSync(path.join(t, 'bin', 'ls')).ino).toBe(ino);
  expect(fs.statSync(path.join(t, 'bin', 'sh')).nlink).toBe(3);
  expect(fs.readlinkSync(path.join(t, 'abs'))).toBe('/does/not/exist');
  expect(fs.readlinkSync(path.join(t, 'rel'))).toBe('../../weird//path/.');
  expect(fs.lstatSync(path.join(t, 'etc', 'hosts')).isDirectory()).toBe(true);
  expect(fs.readlinkSync(path.join(t, 'var'))).toBe('etc');
});

test('modes, owners and times are restored (directory times after their children)', async () => {
  const t = path.join(work, 't');
  fs.mkdirSync(t);
  await applyLayer(
    streamOf(
      makeTar([
        { name: 'd/', type: '5', mode: 0o750, uid: 1000, gid: 1001, mtime: 1_000_000_000 },
        { name: 'd/suid', data: 'x', mode: 0o4755, uid: 0, gid: 0, mtime: 1_100_000_000 },
        { name: 'd/owned', data: 'y', mode: 0o600, uid: 1234, gid: 5678, mtime: 1_200_000_000 },
        { name: 'd/link', type: '2', linkname: 'owned', uid: 42, gid: 43, mtime: 1_300_000_000 },
        { name: 'd/fifo', type: '6', mode: 0o640, mtime: 1_400_000_000 },
        { name: 'sticky/', type: '5', mode: 0o1777 },
      ]),
    ),
    t,
  );
  const st = (p: string) => fs.lstatSync(path.join(t, p));
  expect(st('d').mode & 0o7777).toBe(0o750);
  expect(Math.floor(st('d').mtimeMs / 1000)).toBe(1_000_000_000);
  expect(st('d/suid').mode & 0o7777).toBe(0o4755);
  expect(Math.floor(st('d/suid').mtimeMs / 1000)).toBe(1_100_000_000);
  expect(st('d/owned').mode & 0o7777).toBe(0o600);
  expect(Math.floor(st('d/link').mtimeMs / 1000)).toBe(1_300_000_000);
  expect(st('d/fifo').isFIFO()).toBe(true);
  expect(st('d/fifo').mode & 0o7777).toBe(0o640);
  expect(st('sticky').mode & 0o7777).toBe(0o1777);
  if (isRoot) {
    expect([st('d').uid, st('d').gid]).toEqual([1000, 1001]);
    expect([st('d/owned').uid, st('d/owned').gid]).toEqual([1234, 5678]);
    expect([st('d/link').uid, st('d/link').gid]).toEqual([42, 43]);
  }
});

test('xattrs from SCHILY.xattr.* records (user.* on this filesystem), binary values intact', async () => {
  const t = path.join(work, 't');
  fs.mkdirSync(t);
  // does the filesystem under the temp dir take user.* xattrs?
  const probe = path.join(work, 'probe');
  fs.writeFileSync(probe, '');
  let supported = true;
  try {
    linuxSys().lsetxattr(probe, 'user.probe', Buffer.from('1'));
  } catch {
    supported = false;
  }
  const binary = Buffer.from([0, 1, 2, 0xff, 0x0a, 0x3d]);
  const warnings: string[] = [];
  await applyLayer(
    streamOf(
      makeTar([
        { name: 'f', data: 'x', pax: { 'SCHILY.xattr.user.comment': 'hello', 'SCHILY.xattr.user.bin': binary } },
        { name: 'd/', type: '5', pax: { 'SCHILY.xattr.user.dir': 'yes' } },
        { name: 'l', type: '2', linkname: 'f', pax: { 'SCHILY.xattr.user.onlink': 'no' } }, // the kernel refuses user.* on symlinks
      ]),
    ),
    t,
    { onWarning: (m, entry) => warnings.push(`${entry}: ${m}`) },
  );
  expect(warnings.some((w) => w.startsWith('l: xattr user.onlink not set'))).toBe(true);
  if (!supported) return;
  expect(linuxSys().lgetxattr(path.join(t, 'f'), 'user.comment')?.toString()).toBe('hello');
  expect(linuxSys().lgetxattr(path.join(t, 'f'), 'user.bin')).toEqual(binary);
  expect(linuxSys().lgetxattr(path.join(t, 'd'), 'user.dir')?.toString()).toBe('yes');
  expect(linuxSys().llistxattr(path.join(t, 'f')).sort()).toEqual(['user.bin', 'user.comment']);
});

test('gzip input is detected by its magic; size and digest are those of the uncompressed tar', async () => {
  const tarBytes = makeTar([
    { name: 'a', data: 'a'.repeat(100_000) },
    { name: 'b/', type: '5' },
  ]);
  // trailing zero padding after the end-of-archive marker counts too (as a 10 KiB-record writer leaves)
  const padded = Buffer.concat([tarBytes, Buffer.alloc(10240 - (tarBytes.length % 10240))]);
  for (const [input, label] of [
    [padded, 'plain'],
    [gzipSync(padded), 'gzip'],
    [Buffer.concat([gzipSync(padded.subarray(0, 5000)), gzipSync(padded.subarray(5000))]), 'multi-member gzip'],
  ] as const) {
    const t = path.join(work, label.replace(/ /g, '-'));
    fs.mkdirSync(t);
    const res = await applyLayer(streamOf(input, 1000), t);
    expect(res).toEqual({ size: padded.length, digest: sha256(padded) });
    expect(fs.readFileSync(path.join(t, 'a'), 'utf8')).toBe('a'.repeat(100_000));
  }
});

test('zstd (and xz) layers are refused with a clear error', async () => {
  const t = path.join(work, 't');
  fs.mkdirSync(t);
  const zstd = Buffer.from(sh('bash', ['-c', 'printf hello | zstd -q -c | base64 -w0']), 'base64');
  await expect(applyLayer(streamOf(zstd), t)).rejects.toThrow(/zstd-compressed layers are not supported/);
  await expect(applyLayer(streamOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2])), t)).rejects.toThrow(LayerError);
});

test('truncated and malformed archives fail with LayerError', async () => {
  const t = path.join(work, 't');
  fs.mkdirSync(t);
  const full = makeTar([{ name: 'big', data: Buffer.alloc(5000, 1) }]);
  await expect(applyLayer(streamOf(full.subarray(0, 2000)), t)).rejects.toThrow(/big.*unexpected end of archive/);
  await expect(applyLayer(streamOf(Buffer.alloc(0)), t)).rejects.toThrow(LayerError);
  await expect(applyLayer(streamOf(makeTar([{ name: 'x', type: 'S' }])), t)).rejects.toThrow(/sparse|unsupported/);
  await expect(applyLayer(streamOf(makeTar([])), path.join(work, 'missing'))).rejects.toThrow(LayerError);
});

describe('cross-check with GNU tar', () => {
  function sourceTree(): string {
    const s = path.join(work, 'src');
    fs.mkdirSync(path.join(s, 'usr', 'bin'), { recursive: true });
    fs.mkdirSync(path.join(s, 'usr', 'share', 'doc', 'pkg'), { recursive: true });
    fs.mkdirSync(path.join(s, 'empty'), { mode: 0o700 });
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(s, 'usr', 'share', 'doc', 'pkg', `f${i}`), Buffer.alloc(i * 997, i));
    fs.writeFileSync(path.join(s, 'usr', 'bin', 'tool'), 'binary', { mode: 0o755 });
    fs.linkSync(path.join(s, 'usr', 'bin', 'tool'), path.join(s, 'usr', 'bin', 'tool-alias'));
    fs.symlinkSync('tool', path.join(s, 'usr', 'bin', 'tool-link'));
    fs.symlinkSync('/usr/share/doc', path.join(s, 'docs'));
    const long = path.join(s, 'l'.repeat(120), 'm'.repeat(120));
    fs.mkdirSync(long, { recursive: true });
    fs.writeFileSync(path.join(long, 'n'.repeat(150)), 'long name');
    fs.writeFileSync(path.join(s, 'ünïcødé'), 'utf8');
    fs.chmodSync(path.join(s, 'usr', 'bin', 'tool'), 0o2755);
    if (isRoot) {
      fs.lchownSync(path.join(s, 'usr', 'share'), 1000, 1000);
      fs.lchownSync(path.join(s, 'docs'), 7, 8);
      sh('mknod', [path.join(s, 'null'), 'c', '1', '3']);
    }
    sh('mkfifo', [path.join(s, 'pipe')]);
    sh('touch', ['-h', '-d', '2001-02-03 04:05:06', path.join(s, 'docs')]);
    sh('touch', ['-d', '2002-02-03 04:05:06', path.join(s, 'usr', 'bin', 'tool')]);
    return s;
  }

  test.each([
    ['gnu', ['--format=gnu']],
    ['pax', ['--format=pax']],
    ['ustar (no long names)', ['--format=ustar']],
    ['gzip', ['-z']],
  ])('a %s archive made by GNU tar applies to the same tree as tar -xf', async (label, flags) => {
    const s = sourceTree();
    if (label.startsWith('ustar')) fs.rmSync(path.join(s, 'l'.repeat(120)), { recursive: true });
    const archive = path.join(work, 'layer.tar');
    sh('tar', ['-C', s, ...flags, '--numeric-owner', '-cf', archive, '.']);
    const mine = path.join(work, 'mine');
    const theirs = path.join(work, 'theirs');
    fs.mkdirSync(mine);
    fs.mkdirSync(theirs);
    const res = await applyLayer(fs.createReadStream(archive), mine);
    sh('tar', ['-C', theirs, '--numeric-owner', '-xpf', archive]);
    // GNU tar also applies "./" to the target itself; applyLayer leaves the root alone (containerd does)
    expect(comparable(snapshotTree(mine), { rootMeta: false })).toEqual(comparable(snapshotTree(theirs), { rootMeta: false }));
    // diff cannot compare FIFOs and devices (the snapshots above do): left out
    expect(sh('diff', ['-r', '--no-dereference', '-x', 'pipe', '-x', 'null', mine, theirs])).toBe('');
    const tool = snapshotTree(mine);
    expect(tool.get('usr/bin/tool')!.ino).toBe(tool.get('usr/bin/tool-alias')!.ino);
    const plain = label === 'gzip' ? sh('bash', ['-c', `gzip -dc ${archive} | sha256sum`]) : sh('sha256sum', [archive]);
    expect(res.digest).toBe(`sha256:${plain.split(' ')[0]}`);
  });
});
