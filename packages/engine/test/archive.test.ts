import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { ByteSource, END_OF_ARCHIVE, padding, readTar, tarHeader, type TarWriteEntry } from '@gantry/archive';
import { linuxSys, openRoot, nodeOf } from '@gantry/linux';
import { checkArchive, extractArchive, spool, tarTree } from '../src/containers/archive';

const sys = linuxSys();

type Member = Partial<TarWriteEntry> & { name: string; data?: string };

function tar(members: Member[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    const type = m.type ?? 'file';
    parts.push(tarHeader({ mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000, ...m, type, size: type === 'file' ? data.length : 0 }));
    if (type === 'file' && data.length > 0) parts.push(data, Buffer.alloc(padding(data.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

describe('container archives', () => {
  let dir: string;
  let root: string;
  let rootFd: number;
  let outside: string;
  let n = 0;
  const file = (buf: Buffer) => {
    const f = path.join(dir, `in-${n++}.tar`);
    fs.writeFileSync(f, buf);
    return f;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gar-'));
    root = path.join(dir, 'root');
    outside = path.join(dir, 'outside');
    fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
    fs.mkdirSync(outside);
    fs.symlinkSync('/..', path.join(root, 'tmp', 'up'));
    rootFd = openRoot(sys, root);
  });
  afterEach(() => {
    sys.close(rootFd);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const extractInRoot = (f: string, dest: string, opts: Parameters<typeof extractArchive>[4]) => extractArchive(sys, f, rootFd, dest, opts);

  it('refuses a hostile archive before writing anything', async () => {
    const f = file(
      tar([
        { name: 'ok.txt', data: 'ok' },
        { name: '../../outside/pwned', data: 'x' },
      ]),
    );
    await expect(checkArchive(f)).rejects.toMatchObject({ kind: 'invalid-argument', message: expect.stringMatching(/escapes the extraction root/) });
    await expect(checkArchive(file(tar([{ name: 'a/../../x', data: 'x' }])))).rejects.toMatchObject({ kind: 'invalid-argument' });
    await checkArchive(
      file(
        tar([
          { name: './a/./b/../c', data: 'x' },
          { name: '/abs/x', data: 'y' },
        ]),
      ),
    );
    const link = file(tar([{ name: 'l', type: 'link', linkname: '../../etc/passwd' }]));
    await expect(checkArchive(link)).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(checkArchive(file(Buffer.from('not a tar at all')))).rejects.toMatchObject({ kind: 'invalid-argument' });
  });

  it('keeps symlinks (in the container or from the archive) inside the root', async () => {
    const f = file(
      tar([
        { name: 'esc', type: 'symlink', linkname: '/..' },
        { name: `esc${outside}/pwned`, data: 'x' },
        { name: 'up2', type: 'symlink', linkname: `../../../..${outside}` },
        { name: 'up2/pwned2', data: 'y' },
      ]),
    );
    await checkArchive(f);
    await extractInRoot(f, '/tmp', { noOverwriteDirNonDir: true });
    expect(fs.readdirSync(outside)).toEqual([]);
    // "/.." is the container's "/": the member landed inside the root
    expect(fs.readFileSync(path.join(root, outside, 'pwned'), 'utf8')).toBe('x');
    expect(fs.readFileSync(path.join(root, outside, 'pwned2'), 'utf8')).toBe('y');
    // a destination reached through the container's own link to "/.." is the root too
    await extractInRoot(file(tar([{ name: 'f', data: 'z' }])), '/tmp/up', { noOverwriteDirNonDir: true });
    expect(fs.readFileSync(path.join(root, 'f'), 'utf8')).toBe('z');
  });

  it('writes through a symlink member, or links to a host file, only inside the root', async () => {
    const marker = path.join(outside, 'marker');
    fs.writeFileSync(marker, 'HOST');
    const f = file(
      tar([
        { name: 'to-host', type: 'symlink', linkname: outside },
        { name: 'to-host/marker', data: 'pwned', mode: 0o4777 },
      ]),
    );
    await checkArchive(f);
    await extractInRoot(f, '/tmp', { noOverwriteDirNonDir: true });
    expect(fs.readFileSync(path.join(root, outside, 'marker'), 'utf8')).toBe('pwned');
    const hard = file(tar([{ name: 'h', type: 'link', linkname: marker }]));
    await checkArchive(hard);
    await expect(extractInRoot(hard, '/tmp', { noOverwriteDirNonDir: true })).rejects.toMatchObject({ kind: 'invalid-argument' });
    expect(fs.existsSync(path.join(root, 'tmp', 'h'))).toBe(false);
    expect(fs.readFileSync(marker, 'utf8')).toBe('HOST');
    expect(fs.statSync(marker).nlink).toBe(1);
    expect(fs.statSync(marker).mode & 0o7777).toBe(0o644);
  });

  it('extracts modes, owners and refuses replacing a directory with a file when asked', async () => {
    const f = file(
      tar([
        { name: 'd/', type: 'dir', mode: 0o750 },
        { name: 'd/x', data: 'hello', mode: 0o604, uid: 1234, gid: 99 },
      ]),
    );
    await extractInRoot(f, '/tmp', { noOverwriteDirNonDir: true });
    const st = fs.statSync(path.join(root, 'tmp/d/x'));
    expect(st.mode & 0o7777).toBe(0o604);
    expect(fs.statSync(path.join(root, 'tmp/d')).mode & 0o7777).toBe(0o750);
    if (process.getuid?.() === 0) expect([st.uid, st.gid]).toEqual([1234, 99]);
    await extractInRoot(f, '/tmp', { noOverwriteDirNonDir: false, chownTo: { uid: 0, gid: 0 } });
    await expect(extractInRoot(file(tar([{ name: 'd', data: 'file now' }])), '/tmp', { noOverwriteDirNonDir: true })).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    expect(fs.statSync(path.join(root, 'tmp/d')).isDirectory()).toBe(true);
  });

  it('spools gzip bodies and writes trees that read back', async () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'sub', 'a'), 'A'.repeat(1000));
    fs.linkSync(path.join(src, 'sub', 'a'), path.join(src, 'hard'));
    fs.symlinkSync('sub/a', path.join(src, 'link'));
    const chunks: Buffer[] = [];
    const srcFd = openRoot(sys, src);
    try {
      for await (const c of tarTree(sys, nodeOf(srcFd), 'top')) chunks.push(c);
    } finally {
      sys.close(srcFd);
    }
    const names: string[] = [];
    for await (const { header } of readTar(new ByteSource(Readable.from([Buffer.concat(chunks)]))))
      names.push(`${header.type}:${header.name}${header.linkname ? `->${header.linkname}` : ''}`);
    expect(names).toEqual(['dir:top/', 'file:top/hard', 'symlink:top/link->sub/a', 'dir:top/sub/', 'link:top/sub/a->top/hard']);
    const gz = (await import('node:zlib')).gzipSync(tar([{ name: 'g', data: 'gz' }]));
    const out = path.join(dir, 'spooled.tar');
    await spool(Readable.from([gz]), out);
    await extractInRoot(out, '/', { noOverwriteDirNonDir: true });
    expect(fs.readFileSync(path.join(root, 'g'), 'utf8')).toBe('gz');
  });
});
