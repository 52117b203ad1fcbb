/**
 * docker cp's paths in a hostile container root (links to "/", "/..", a host file and a host
 * directory, loops), on the real kernel: whatever the container made, nothing outside its root is
 * read or written, and a host marker file stays as it was.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readTarMembers } from '@gantry/archive';
import { linuxSys, openRoot } from '@gantry/linux';
import { tarTree } from '../src/containers/archive';
import { containerAbsPath, containerBaseName, cpDestination, openCpSource } from '../src/containers/cp';

const sys = linuxSys();
let tmp: string;
let root: string;
let hostDir: string;
let marker: string;
let rootFd: number;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-cp-'));
  root = path.join(tmp, 'root');
  hostDir = path.join(tmp, 'host');
  marker = path.join(hostDir, 'marker');
  fs.mkdirSync(hostDir);
  fs.writeFileSync(marker, 'HOST SECRET');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
  fs.symlinkSync('/', path.join(root, 'to-root'));
  fs.symlinkSync('/..', path.join(root, 'to-parent'));
  fs.symlinkSync('../../../../../..', path.join(root, 'a', 'b', 'climb'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'pw'));
  fs.symlinkSync('b', path.join(root, 'a', 'rel'));
  fs.symlinkSync('loop2', path.join(root, 'loop1'));
  fs.symlinkSync('loop1', path.join(root, 'loop2'));
  fs.symlinkSync(marker, path.join(root, 'host-file'));
  fs.symlinkSync(hostDir, path.join(root, 'host-dir'));
  rootFd = openRoot(sys, root);
});

afterEach(() => {
  sys.close(rootFd);
  expect(fs.readFileSync(marker, 'utf8')).toBe('HOST SECRET');
  expect(fs.readdirSync(hostDir)).toEqual(['marker']);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Where the source opened for `p` is, as the kernel names it; its stat's name and link target. */
function source(p: string): { at: string; name: string; linkTarget: string } | undefined {
  const s = openCpSource(sys, rootFd, p);
  if (!s) return undefined;
  try {
    return { at: fs.readlinkSync(`/proc/self/fd/${s.node.fd}`), name: s.stat.name, linkTarget: s.stat.linkTarget };
  } finally {
    sys.close(s.node.fd);
  }
}

async function members(p: string): Promise<Record<string, string>> {
  const s = openCpSource(sys, rootFd, p)!;
  const chunks: Buffer[] = [];
  try {
    for await (const c of tarTree(sys, s.node, s.stat.name === '/' ? '.' : s.stat.name)) chunks.push(c);
  } finally {
    sys.close(s.node.fd);
  }
  const out = Object.fromEntries(
    (await readTarMembers(chunks)).map(({ header, data }) => [header.name, header.type === 'symlink' ? `-> ${header.linkname}` : data.toString()]),
  );
  expect(Buffer.concat(chunks).includes('HOST SECRET')).toBe(false);
  return out;
}

describe('the source of docker cp', () => {
  it('resolves ".." lexically, never above the root', () => {
    expect(source('../../etc/passwd')?.at).toBe(path.join(root, 'etc', 'passwd'));
    expect(source('/a/../../../etc/passwd')?.at).toBe(path.join(root, 'etc', 'passwd'));
    expect(source('/')).toMatchObject({ at: root, name: '/' });
    expect(source('..')?.at).toBe(root);
  });

  it('follows links to "/", "/.." and climbing links inside the root only', () => {
    expect(source('/to-root/etc/passwd')?.at).toBe(path.join(root, 'etc', 'passwd'));
    expect(source('/to-parent/etc/passwd')?.at).toBe(path.join(root, 'etc', 'passwd'));
    expect(source('/a/b/climb/etc/passwd')?.at).toBe(path.join(root, 'etc', 'passwd'));
    expect(source('/to-parent/')).toMatchObject({ at: root, name: 'to-parent' });
    expect(source('/a/rel/climb/')?.at).toBe(root);
  });

  it('keeps the last link unless a trailing "/" or "/." asks; names its target in the container', () => {
    expect(source('/pw')).toEqual({ at: path.join(root, 'pw'), name: 'pw', linkTarget: '/etc/passwd' });
    expect(source('/a/rel/.')).toMatchObject({ at: path.join(root, 'a', 'b'), name: '.' });
    expect(source('/host-file')).toEqual({ at: path.join(root, 'host-file'), name: 'host-file', linkTarget: marker });
  });

  it('finds nothing where a link names a host file or directory, and refuses loops', () => {
    expect(source('/host-dir/marker')).toBeUndefined();
    expect(source('/host-dir/')).toBeUndefined();
    expect(source('/host-file/.')).toBeUndefined();
    expect(source('/nope/x/../y')).toBeUndefined();
    expect(() => source('/loop1/x')).toThrow(/ELOOP/);
    expect(() => source('/a\0b')).toThrow(/NUL/);
  });

  it('archives a link to a host file as the link, and "/" through a link as the container root', async () => {
    expect(await members('/host-file')).toEqual({ 'host-file': `-> ${marker}` });
    const all = await members('/to-root/');
    expect(all['to-root/etc/passwd']).toBe('root:x:0:0::/root:/bin/sh\n');
    expect(all['to-root/host-dir']).toBe(`-> ${hostDir}`);
    expect(Object.keys(all).some((n) => n.includes('marker'))).toBe(false);
  });

  it('reads what it opened even when the container swaps a directory for a host link meanwhile', async () => {
    fs.mkdirSync(path.join(root, 'data'));
    fs.writeFileSync(path.join(root, 'data', 'marker'), 'container data');
    const s = openCpSource(sys, rootFd, '/data')!;
    try {
      fs.renameSync(path.join(root, 'data'), path.join(root, 'data.old'));
      fs.symlinkSync(hostDir, path.join(root, 'data'));
      // a path joined from the root now leads to the host: what a string resolver would read
      expect(fs.readFileSync(path.join(root, 'data', 'marker'), 'utf8')).toBe('HOST SECRET');
      const chunks: Buffer[] = [];
      for await (const c of tarTree(sys, s.node, 'data')) chunks.push(c);
      const all = Buffer.concat(chunks);
      expect(all.includes('container data')).toBe(true);
      expect(all.includes('HOST SECRET')).toBe(false);
    } finally {
      sys.close(s.node.fd);
    }
  });
});

describe('the destination of docker cp', () => {
  it('is a directory inside the root, reached through links in the container scope', () => {
    expect(cpDestination(sys, rootFd, '/to-parent')).toBe('/');
    expect(cpDestination(sys, rootFd, '/a/rel/climb/a')).toBe('/a');
    expect(cpDestination(sys, rootFd, '/pw')).toBe('not-dir');
    // the host directory the link names is not there inside the root
    expect(cpDestination(sys, rootFd, '/host-dir')).toBeUndefined();
    fs.mkdirSync(path.join(root, hostDir), { recursive: true });
    expect(cpDestination(sys, rootFd, '/host-dir')).toBe(hostDir);
  });
});

describe('container path names', () => {
  it('cleans and keeps a trailing separator or dot', () => {
    expect(containerAbsPath('../../etc/shadow')).toBe('/etc/shadow');
    expect(containerAbsPath('tmp/dir/')).toBe('/tmp/dir/');
    expect(containerAbsPath('/tmp/dir/.')).toBe('/tmp/dir/.');
    expect(containerAbsPath('/')).toBe('/');
  });
  it('names an archive root by the last element', () => {
    expect(containerBaseName('/tmp/dir/')).toBe('dir');
    expect(containerBaseName('/tmp/dir/.')).toBe('.');
    expect(containerBaseName('/etc/passwd')).toBe('passwd');
    expect(containerBaseName('/')).toBe('/');
  });
});
