import { FakeSys, O, SysError, mkdirAllInRoot, openInRoot, openRoot, statInRoot, resetOpenat2Probe } from '../src';

/** A hostile rootfs in the fake kernel: links that point at the host, climb with "..", or loop. */
function hostileRoot(): FakeSys {
  const sys = new FakeSys();
  sys.addFile('/host/secret', 'host');
  sys.addFile('/rootfs/etc/passwd', 'root:x:0:0::/root:/bin/sh');
  sys.addFile('/rootfs/secret', 'container');
  sys.addDir('/rootfs/data');
  sys.symlink('/', '/rootfs/abs-root');
  sys.symlink('../../../../host/secret', '/rootfs/climb');
  sys.symlink('/host/secret', '/rootfs/etc/shadow');
  sys.symlink('/etc', '/rootfs/data/etc-link');
  sys.symlink('loop-b', '/rootfs/loop-a');
  sys.symlink('loop-a', '/rootfs/loop-b');
  sys.symlink('/host', '/rootfs/dev');
  return sys;
}

function opened(sys: FakeSys, fd: number): string | undefined {
  return sys.fdPaths.get(fd);
}

describe('openInRoot (walk, as on kernels without openat2)', () => {
  beforeEach(() => resetOpenat2Probe());

  it('keeps absolute symlink targets inside the root', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(() => openInRoot(sys, root, '/etc/shadow', O.RDONLY)).toThrow(/ENOENT/); // /rootfs/host/secret
    sys.addFile('/rootfs/host/secret', 'decoy');
    expect(opened(sys, openInRoot(sys, root, '/etc/shadow', O.RDONLY))).toBe('/rootfs/host/secret');
    expect(opened(sys, openInRoot(sys, root, 'abs-root/secret', O.RDONLY))).toBe('/rootfs/secret');
  });

  it('never climbs above the root with ".." in paths or link targets', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(opened(sys, openInRoot(sys, root, '../../../secret', O.RDONLY))).toBe('/rootfs/secret');
    expect(() => openInRoot(sys, root, 'climb', O.RDONLY)).toThrow(SysError); // /rootfs/host/secret does not exist
    expect(opened(sys, openInRoot(sys, root, 'data/etc-link/passwd', O.RDONLY))).toBe('/rootfs/etc/passwd');
  });

  it('resolves a /dev symlink inside the root, not on the host', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(() => openInRoot(sys, root, '/dev/secret', O.RDONLY)).toThrow(/ENOENT/);
    const dev = mkdirAllInRoot(sys, root, '/dev/pts', 0o755);
    expect(opened(sys, dev)).toBe('/rootfs/host/pts');
    expect(sys.stat('/host/pts')).toBeUndefined();
  });

  it('fails symlink loops with ELOOP', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(() => openInRoot(sys, root, 'loop-a', O.RDONLY)).toThrow(/ELOOP/);
  });

  it('opens the link itself when the last component is not followed (O_PATH) and refuses it otherwise', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(opened(sys, openInRoot(sys, root, '/etc/shadow', O.PATH, { followLast: false }))).toBe('/rootfs/etc/shadow');
    expect(() => openInRoot(sys, root, '/etc/shadow', O.RDONLY, { followLast: false })).toThrow(/ELOOP/);
  });

  it('creates the last component with O_CREAT below its resolved parent', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    const fd = openInRoot(sys, root, '/data/etc-link/hosts', O.WRONLY | O.CREAT, { mode: 0o600 });
    expect(opened(sys, fd)).toBe('/rootfs/etc/hosts');
    expect(sys.stat('/rootfs/etc/hosts')?.mode).toBe(0o600);
  });

  it('answers statInRoot with undefined for missing paths and never reports host files', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    expect(statInRoot(sys, root, '/nope/x')).toBeUndefined();
    expect(statInRoot(sys, root, '/etc/shadow')?.kind).toBe('symlink');
    expect(statInRoot(sys, root, '/etc/shadow', true)).toBeUndefined();
  });

  it('closes every fd it opened on the way', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    const before = sys.fdPaths.size;
    const fd = openInRoot(sys, root, '/data/etc-link/../etc/passwd', O.RDONLY);
    expect(sys.fdPaths.size).toBe(before + 1);
    sys.close(fd);
    expect(() => openInRoot(sys, root, '/data/etc-link/missing/x', O.RDONLY)).toThrow();
    expect(sys.fdPaths.size).toBe(before);
  });

  it('tries openat2 first and falls back only on ENOSYS', () => {
    const sys = hostileRoot();
    const root = openRoot(sys, '/rootfs');
    openInRoot(sys, root, '/etc/passwd', O.RDONLY);
    openInRoot(sys, root, '/etc/passwd', O.RDONLY);
    expect(sys.callsOf('openat2')).toHaveLength(1);
  });
});
