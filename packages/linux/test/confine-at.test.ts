/** The *at helpers and realpathInRoot against the fake kernel: hostile links never reach /host. */
import { AT, FakeSys, O, SysError, isPlainName, openBeneath, openRoot, readFileInRoot, realpathInRoot, removeAllAt, resetOpenat2Probe } from '../src';

function hostileRoot(): FakeSys {
  const sys = new FakeSys();
  sys.addFile('/host/marker', 'HOST');
  sys.addDir('/host/dir/sub');
  sys.addFile('/host/dir/sub/keep', 'HOST');
  sys.addFile('/rootfs/etc/group', 'root:x:0:');
  sys.symlink('/host/marker', '/rootfs/etc/passwd');
  sys.symlink('../../../host', '/rootfs/up');
  sys.symlink('/', '/rootfs/slash');
  sys.addDir('/rootfs/tmp');
  sys.symlink('/host/dir', '/rootfs/tmp/link-to-host-dir');
  sys.addFile('/rootfs/tmp/file', 'x');
  sys.addDir('/rootfs/dev');
  sys.mknod('/rootfs/dev/zero', 0o20666, 1, 5);
  return sys;
}

beforeEach(() => resetOpenat2Probe());

describe('readFileInRoot', () => {
  it('reads a file inside the root and never the host file a link names', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(readFileInRoot(sys, root, '/etc/group')?.toString()).toBe('root:x:0:');
    // /etc/passwd -> /host/marker resolves to /rootfs/host/marker, which does not exist
    expect(readFileInRoot(sys, root, '/etc/passwd')).toBeUndefined();
    expect(readFileInRoot(sys, root, '/up/marker')).toBeUndefined();
    sys.addFile('/rootfs/host/marker', 'decoy');
    expect(readFileInRoot(sys, root, '/etc/passwd')?.toString()).toBe('decoy');
    expect(sys.callsOf('open').map((c) => c[0])).not.toContain('/host/marker');
  });

  it('refuses devices and files over the limit', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    sys.symlink('/dev/zero', '/rootfs/etc/shadow');
    expect(() => readFileInRoot(sys, root, '/etc/shadow')).toThrow(/not a regular file/);
    sys.addFile('/rootfs/big', 'x'.repeat(100));
    expect(() => readFileInRoot(sys, root, '/big', 10)).toThrow(/EFBIG|larger/);
  });
});

describe('removeAllAt', () => {
  it('removes a symlink to a host directory, not what it points at', () => {
    const sys = hostileRoot();
    const tmp = sys.open('/rootfs/tmp', O.PATH | O.DIRECTORY);
    removeAllAt(sys, tmp, 'link-to-host-dir');
    expect(sys.stat('/rootfs/tmp/link-to-host-dir')).toBeUndefined();
    expect(sys.readFile('/host/dir/sub/keep')).toBe('HOST');
  });

  it('empties a directory by fd, links inside it removed as links', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    removeAllAt(sys, root, 'tmp');
    expect(sys.stat('/rootfs/tmp')).toBeUndefined();
    expect(sys.stat('/host/dir/sub/keep')?.kind).toBe('file');
    expect(sys.callsOf('unlinkat').map((c) => c[2])).toContain(AT.REMOVEDIR);
    removeAllAt(sys, root, 'missing'); // no error
  });

  it('takes single names only', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(() => removeAllAt(sys, root, '../host')).toThrow(SysError);
    expect(() => removeAllAt(sys, root, 'tmp/file')).toThrow(/single path component/);
    expect(sys.stat('/rootfs/tmp/file')?.kind).toBe('file');
    expect(['a', '.a', 'a..'].every(isPlainName)).toBe(true);
    expect(['', '.', '..', 'a/b', 'a\0'].some(isPlainName)).toBe(false);
  });
});

describe('realpathInRoot', () => {
  it('follows links inside the root and keeps missing parts as written', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(realpathInRoot(sys, root, '/etc/passwd')).toBe('/host/marker');
    expect(realpathInRoot(sys, root, '/etc/passwd', false)).toBe('/etc/passwd');
    expect(realpathInRoot(sys, root, '/slash/slash/etc/../up/x')).toBe('/host/x');
    expect(realpathInRoot(sys, root, '/missing/../tmp/link-to-host-dir/sub')).toBe('/host/dir/sub');
    expect(realpathInRoot(sys, root, '/tmp/file/below')).toBe('/tmp/file/below');
    expect(realpathInRoot(sys, root, '../..')).toBe('/');
  });

  it('fails a loop with ELOOP and leaves no fd open', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    sys.symlink('b', '/rootfs/a');
    sys.symlink('a', '/rootfs/b');
    const before = sys.fdPaths.size;
    expect(() => realpathInRoot(sys, root, '/tmp/../a/x')).toThrow(/ELOOP/);
    expect(sys.fdPaths.size).toBe(before);
  });
});

describe('openBeneath (walk)', () => {
  it('follows no link at all and never climbs above the fd', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(sys.fdPaths.get(openBeneath(sys, root, 'etc/group', O.RDONLY))).toBe('/rootfs/etc/group');
    expect(() => openBeneath(sys, root, 'etc/passwd', O.RDONLY)).toThrow(/ELOOP/);
    expect(sys.fdPaths.get(openBeneath(sys, root, 'etc/passwd', O.PATH))).toBe('/rootfs/etc/passwd');
    expect(() => openBeneath(sys, root, 'slash/etc/group', O.PATH)).toThrow(/ELOOP/);
    expect(() => openBeneath(sys, root, 'up/marker', O.PATH)).toThrow(/ELOOP/);
    expect(() => openBeneath(sys, root, 'tmp/../../host/marker', O.RDONLY)).toThrow(/EXDEV/);
    expect(() => openBeneath(sys, root, 'tmp/file/x', O.RDONLY)).toThrow(/ENOTDIR/);
  });
});
