/**
 * diffDirectories / diffMounts: the produced tar is read by GNU tar (`tar -tvf`) with the expected
 * entries and whiteouts; a round trip (apply base, copy, modify, diff, apply the diff onto another
 * copy of base) gives the modified tree; the overlay fast path reads a real overlay upper dir.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { linuxSys } from '@gantry/linux';
import { applyLayer } from '../src/diff/apply';
import { diffMounts } from '../src/diff/compare';
import { diffDirectories } from '../src/diff/diff';
import { collect, comparable, isRoot, makeTar, sh, snapshotTree, streamOf, tmpDir } from './diff-helpers';
import { describeIf, needRoot } from '@gantry/testkit';

let work: string;
beforeEach(() => {
  work = tmpDir();
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

const base = () =>
  makeTar([
    { name: 'etc/', type: '5', mtime: 1_500_000_000 },
    { name: 'etc/hosts', data: '127.0.0.1 localhost\n', mtime: 1_500_000_000 },
    { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n', mtime: 1_500_000_000 },
    { name: 'etc/conf.d/', type: '5', mtime: 1_500_000_000 },
    { name: 'etc/conf.d/a.conf', data: 'a', mtime: 1_500_000_000 },
    { name: 'etc/conf.d/b.conf', data: 'b', mtime: 1_500_000_000 },
    { name: 'bin/', type: '5', mtime: 1_500_000_000 },
    { name: 'bin/busybox', data: 'ELF...', mode: 0o755, mtime: 1_500_000_000 },
    { name: 'bin/sh', type: '1', linkname: 'bin/busybox' },
    { name: 'bin/ls', type: '2', linkname: 'busybox', mtime: 1_500_000_000 },
    { name: 'same-size', data: 'AAAA', mtime: 1_500_000_000 },
    { name: 'var/', type: '5', mtime: 1_500_000_000 },
    { name: 'var/lib/', type: '5', mtime: 1_500_000_000 },
    { name: 'var/lib/db', data: 'db', mtime: 1_500_000_000 },
  ]);

async function baseTree(name: string): Promise<string> {
  const d = path.join(work, name);
  fs.mkdirSync(d);
  await applyLayer(streamOf(base()), d);
  return d;
}

function modify(d: string): void {
  fs.writeFileSync(path.join(d, 'etc', 'hosts'), '127.0.0.1 localhost\n10.0.0.1 db\n');
  fs.rmSync(path.join(d, 'etc', 'passwd'));
  fs.rmSync(path.join(d, 'etc', 'conf.d'), { recursive: true });
  fs.mkdirSync(path.join(d, 'etc', 'conf.d'));
  fs.writeFileSync(path.join(d, 'etc', 'conf.d', 'c.conf'), 'c');
  fs.chmodSync(path.join(d, 'bin', 'busybox'), 0o4755);
  fs.linkSync(path.join(d, 'etc', 'hosts'), path.join(d, 'etc', 'hosts.bak'));
  fs.symlinkSync('/etc/hosts', path.join(d, 'hosts-link'));
  fs.rmSync(path.join(d, 'var', 'lib'), { recursive: true });
  fs.writeFileSync(path.join(d, 'var', 'lib'), 'now a file');
  // same size and (whole-second) mtime, different bytes: found by content comparison
  const st = fs.statSync(path.join(d, 'same-size'));
  fs.writeFileSync(path.join(d, 'same-size'), 'BBBB');
  fs.utimesSync(path.join(d, 'same-size'), st.atime, st.mtime);
  fs.mkdirSync(path.join(d, 'new', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(d, 'new', 'deep', 'file'), Buffer.alloc(70_000, 7));
  sh('mkfifo', [path.join(d, 'new', 'fifo')]);
  if (isRoot) fs.lchownSync(path.join(d, 'new', 'deep', 'file'), 1000, 1000);
  fs.writeFileSync(path.join(d, 'x'.repeat(90) + '/'.slice(1) + 'y'.repeat(90)), 'long name'); // >100 bytes: PAX path
  linuxSys().lsetxattr(path.join(d, 'new', 'deep', 'file'), 'user.origin', Buffer.from('gantry'));
}

test('the diff is a tar GNU tar reads, with the changed entries and whiteouts', async () => {
  const lower = await baseTree('lower');
  const upper = path.join(work, 'upper');
  sh('cp', ['-a', lower, upper]);
  modify(upper);
  const tarBytes = await collect(diffDirectories(lower, upper));
  const file = path.join(work, 'diff.tar');
  fs.writeFileSync(file, tarBytes);
  const listing = sh('tar', ['-tvf', file]);
  const names = sh('tar', ['-tf', file]).trim().split('\n');
  expect(names).toEqual(
    expect.arrayContaining([
      'bin/busybox',
      'etc/',
      'etc/hosts',
      'etc/hosts.bak',
      'etc/.wh.passwd',
      'etc/conf.d/',
      'etc/conf.d/.wh.a.conf',
      'etc/conf.d/.wh.b.conf',
      'etc/conf.d/c.conf',
      'hosts-link',
      'new/',
      'new/deep/',
      'new/deep/file',
      'new/fifo',
      'same-size',
      'var/lib',
      'x'.repeat(90) + 'y'.repeat(90),
    ]),
  );
  // unchanged entries are not in the diff
  for (const n of ['bin/ls', 'etc/conf.d/a.conf', 'var/lib/db', 'var/lib/']) expect(names).not.toContain(n);
  // the parents of changed entries are written first (their metadata survives the apply)
  expect(names.indexOf('bin/')).toBeLessThan(names.indexOf('bin/busybox'));
  expect(names.indexOf('var/')).toBeLessThan(names.indexOf('var/lib'));
  // hard links: the second name of a written inode is a link to the first (sh shares busybox's changed mode)
  expect(listing).toMatch(/^hrw-r--r-- .* etc\/hosts\.bak link to etc\/hosts$/m);
  expect(listing).toMatch(/^hrwsr-xr-x .* bin\/sh link to bin\/busybox$/m);
  expect(listing).toMatch(/^lrwxrwxrwx .* hosts-link -> \/etc\/hosts$/m);
  expect(listing).toMatch(/^-rwsr-xr-x .* bin\/busybox$/m);
  expect(listing).toMatch(/^prw-r--r-- .* new\/fifo$/m);
  if (isRoot) expect(listing).toMatch(/^-rw-r--r-- 1000\/1000 +70000 .* new\/deep\/file$/m);
  // GNU tar extracts it too, xattrs included
  const out = path.join(work, 'extracted');
  fs.mkdirSync(out);
  sh('tar', ['-C', out, '--xattrs', '--xattrs-include=user.*', '-xf', file]);
  expect(fs.readFileSync(path.join(out, 'new', 'deep', 'file'))).toEqual(Buffer.alloc(70_000, 7));
  expect(
    linuxSys()
      .lgetxattr(path.join(out, 'new', 'deep', 'file'), 'user.origin')
      ?.toString(),
  ).toBe('gantry');
});

test('round trip: apply base, copy, modify, diff, apply the diff to another copy of base', async () => {
  const lower = await baseTree('lower');
  const upper = path.join(work, 'upper');
  sh('cp', ['-a', lower, upper]);
  modify(upper);
  const target = await baseTree('target');
  await applyLayer(diffDirectories(lower, upper), target);
  expect(comparable(snapshotTree(target), { rootMeta: false })).toEqual(comparable(snapshotTree(upper), { rootMeta: false }));
  expect(sh('diff', ['-r', '--no-dereference', '-x', 'fifo', target, upper])).toBe('');
  expect(
    linuxSys()
      .lgetxattr(path.join(target, 'new', 'deep', 'file'), 'user.origin')
      ?.toString(),
  ).toBe('gantry');
  const t = snapshotTree(target);
  expect(t.get('etc/hosts')!.ino).toBe(t.get('etc/hosts.bak')!.ino);
  // a diff of identical trees holds nothing but the end-of-archive marker
  const none = await collect(diffDirectories(upper, upper));
  expect(none).toEqual(Buffer.alloc(1024));
});

describeIf(needRoot())('overlay (root)', () => {
  const mounted: string[] = [];
  afterEach(() => {
    for (const m of mounted.splice(0).reverse()) sh('umount', [m]);
  });

  test('diffMounts reads the overlay upper dir (whiteout devices, opaque xattr) and matches the merged view', async () => {
    const lower = await baseTree('lower');
    for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(work, d));
    const [upper, wk, merged] = ['upper', 'work', 'merged'].map((d) => path.join(work, d)) as [string, string, string];
    const opts = [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${wk}`];
    sh('mount', ['-t', 'overlay', 'overlay', '-o', opts.join(','), merged]);
    mounted.push(merged);
    modify(merged);
    sh('umount', [merged]);
    mounted.pop();
    // what overlay wrote: a 0:0 char device for the deleted passwd, an opaque conf.d
    expect(fs.lstatSync(path.join(upper, 'etc', 'passwd')).isCharacterDevice()).toBe(true);
    expect(
      linuxSys()
        .lgetxattr(path.join(upper, 'etc', 'conf.d'), 'trusted.overlay.opaque')
        ?.toString(),
    ).toBe('y');

    const left = [{ type: 'bind', source: lower, options: ['rbind', 'ro'] }];
    const right = [{ type: 'overlay', source: 'overlay', options: opts }];
    const tarBytes = await collect(diffMounts(left, right, { tmpRoot: path.join(work, 'tmp') }));
    const file = path.join(work, 'diff.tar');
    fs.writeFileSync(file, tarBytes);
    const names = sh('tar', ['-tf', file]).trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['etc/.wh.passwd', 'etc/conf.d/', 'etc/conf.d/.wh..wh..opq', 'etc/conf.d/c.conf']));
    expect(names.some((n) => n.startsWith('etc/conf.d/.wh.a'))).toBe(false); // opaque, not per-file whiteouts
    // applying it onto a copy of lower gives the merged view
    const target = await baseTree('target');
    await applyLayer(fs.createReadStream(file), target);
    sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${upper}:${lower}`, merged]);
    mounted.push(merged);
    expect(comparable(snapshotTree(target), { rootMeta: false, dirTimes: false })).toEqual(
      comparable(snapshotTree(merged), { rootMeta: false, dirTimes: false }),
    );

    // the generic walk over the same mounts (left as an overlay that does not match) agrees
    const generic = await collect(
      diffMounts([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower}:${fs.mkdtempSync(path.join(work, 'empty-'))}`] }], right, {
        tmpRoot: path.join(work, 'tmp'),
      }),
    );
    const target2 = await baseTree('target2');
    await applyLayer(streamOf(generic, 1 << 16), target2);
    expect(comparable(snapshotTree(target2), { rootMeta: false, dirTimes: false })).toEqual(
      comparable(snapshotTree(target), { rootMeta: false, dirTimes: false }),
    );
    expect(fs.readdirSync(path.join(work, 'tmp'))).toEqual([]); // temp mounts undone and removed
  });
});
