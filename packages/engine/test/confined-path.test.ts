import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { containerAbsPath, containerBaseName, resolveInRoot, SymlinkLoopError } from '../src/containers/confined-path';

describe('resolveInRoot', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gcp-'));
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    fs.symlinkSync('/', path.join(root, 'to-root'));
    fs.symlinkSync('/..', path.join(root, 'to-parent'));
    fs.symlinkSync('../../../../../..', path.join(root, 'a', 'b', 'climb'));
    fs.symlinkSync('/etc/passwd', path.join(root, 'pw'));
    fs.symlinkSync('b', path.join(root, 'a', 'rel'));
    fs.symlinkSync('loop2', path.join(root, 'loop1'));
    fs.symlinkSync('loop1', path.join(root, 'loop2'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const host = (p: string, follow = false) => resolveInRoot(root, p, follow).host;

  it('resolves ".." lexically, never above the root', () => {
    expect(host('../../etc/shadow')).toBe(path.join(root, 'etc', 'shadow'));
    expect(host('/a/../../../etc/passwd')).toBe(path.join(root, 'etc', 'passwd'));
    expect(host('/')).toBe(root);
    expect(host('..')).toBe(root);
  });

  it('follows absolute and climbing symlinks inside the root only', () => {
    expect(host('/to-root/etc/passwd')).toBe(path.join(root, 'etc', 'passwd'));
    expect(host('/to-parent/etc/passwd')).toBe(path.join(root, 'etc', 'passwd'));
    expect(host('/to-parent/../../etc')).toBe(path.join(root, 'etc'));
    expect(host('/a/b/climb/etc/passwd')).toBe(path.join(root, 'etc', 'passwd'));
    expect(resolveInRoot(root, '/to-parent', true)).toEqual({ host: root, inContainer: '/' });
    expect(host('/a/rel/climb', true)).toBe(root);
  });

  it('keeps the last component unless asked to follow it (or a trailing slash asks)', () => {
    expect(host('/pw')).toBe(path.join(root, 'pw'));
    expect(host('/pw', true)).toBe(path.join(root, 'etc', 'passwd'));
    expect(host('/to-root/')).toBe(root);
    expect(host('/a/rel/.')).toBe(path.join(root, 'a', 'b'));
    expect(resolveInRoot(root, '/a/rel', true).inContainer).toBe('/a/b');
  });

  it('keeps missing components as they are', () => {
    expect(host('/nope/x/../y')).toBe(path.join(root, 'nope', 'y'));
  });

  it('refuses symlink loops and NUL bytes', () => {
    expect(() => host('/loop1/x')).toThrow(SymlinkLoopError);
    expect(() => host('/a\0b')).toThrow(/NUL/);
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
