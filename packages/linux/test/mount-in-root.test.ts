import { FakeSys, MS, SysError, UnsafeMountTargetError, mountInRoot, openMountRoot, resetOpenat2Probe, type FakeMount } from '../src';

/** A rootfs whose /dev and /mnt lead to the host, as a hostile image would have them. */
function hostile(): FakeSys {
  const sys = new FakeSys();
  sys.addDir('/host');
  sys.addFile('/src/file', 'f');
  sys.addDir('/src/dir');
  sys.addDir('/rootfs/etc');
  sys.symlink('/host', '/rootfs/dev');
  sys.symlink('../../../../host', '/rootfs/mnt');
  sys.symlink('../run/resolv.conf', '/rootfs/etc/resolv.conf');
  sys.addDir('/rootfs/run');
  sys.addDir('/rootfs/proc');
  sys.symlink('/proc', '/rootfs/proc-link');
  return sys;
}

const hostFiles = (sys: FakeSys) => [...sys.files.keys()].filter((p) => p.startsWith('/host/'));
const targets = (sys: FakeSys) => sys.mountTable.map((m: FakeMount) => m.target);

beforeEach(() => resetOpenat2Probe());

describe('mountInRoot', () => {
  it('creates and mounts below a /dev symlink inside the root, by /proc/self/fd, never on the host', () => {
    const sys = hostile();
    const root = openMountRoot(sys, '/rootfs');
    const pts = mountInRoot(sys, root, '/dev/pts', { type: 'devpts', source: 'devpts', options: ['nosuid', 'newinstance'] });
    const mnt = mountInRoot(sys, root, '/mnt/data', { type: 'bind', source: '/src/dir', options: ['rbind'] });
    expect(pts.hostPath).toBe('/rootfs/host/pts');
    expect(mnt.hostPath).toBe('/rootfs/host/data');
    expect(targets(sys)).toEqual(['/rootfs/host/pts', '/rootfs/host/data']);
    expect(sys.callsOf('mount').every((c) => String(c[1]).startsWith('/proc/self/fd/'))).toBe(true);
    expect(hostFiles(sys)).toEqual([]);
  });

  it('binds a file onto a file it creates, following a dangling symlink inside the root', () => {
    const sys = hostile();
    const root = openMountRoot(sys, '/rootfs');
    const t = mountInRoot(sys, root, '/etc/resolv.conf', { type: 'bind', source: '/src/file', options: ['rbind', 'ro'] });
    expect(t.hostPath).toBe('/rootfs/run/resolv.conf');
    expect(sys.stat('/rootfs/run/resolv.conf')?.kind).toBe('file');
    // the read-only remount goes through the fresh fd, onto the same place
    expect(sys.mountTable).toEqual([
      { source: '/src/file', target: '/rootfs/run/resolv.conf', fstype: null, flags: MS.BIND | MS.REC, data: null },
      { source: null, target: '/rootfs/run/resolv.conf', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY, data: null },
    ]);
  });

  it('refuses a missing bind source with ENOENT before touching the root', () => {
    const sys = hostile();
    const root = openMountRoot(sys, '/rootfs');
    expect(() => mountInRoot(sys, root, '/x', { type: 'bind', source: '/nope' })).toThrow(/bind source \/nope.*ENOENT/);
    expect(sys.stat('/rootfs/x')).toBeUndefined();
  });

  it('refuses the root itself unless allowed', () => {
    const sys = hostile();
    const root = openMountRoot(sys, '/rootfs');
    expect(() => mountInRoot(sys, root, '/', { type: 'tmpfs', source: 'tmpfs' })).toThrow(UnsafeMountTargetError);
    expect(() => mountInRoot(sys, root, '../..', { type: 'tmpfs', source: 'tmpfs' })).toThrow(/is the root/);
    expect(sys.mountTable).toEqual([]);
    const t = mountInRoot(sys, root, '.', { type: 'tmpfs', source: 'tmpfs' }, { allowRoot: true });
    expect(t.hostPath).toBe('/rootfs');
  });

  it('refuses a symlink as the last component when asked (proc, sysfs)', () => {
    const sys = hostile();
    const root = openMountRoot(sys, '/rootfs');
    expect(() => mountInRoot(sys, root, '/proc-link', { type: 'proc', source: 'proc' }, { noFollowLast: true })).toThrow(/is a symlink/);
    expect(sys.mountTable).toEqual([]);
  });

  it('refuses an existing target that is not a directory when asked, and says so (notDirectory)', () => {
    const sys = hostile();
    sys.addFile('/rootfs/procfile', '');
    const root = openMountRoot(sys, '/rootfs');
    let err: unknown;
    try {
      mountInRoot(sys, root, '/procfile', { type: 'proc', source: 'proc' }, { noFollowLast: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsafeMountTargetError);
    expect((err as UnsafeMountTargetError).notDirectory).toBe(true);
    expect((err as Error).message).toMatch(/"\/procfile": is a file, not a directory/);
    expect(sys.mountTable).toEqual([]);
    // a missing target is still made as a directory
    expect(mountInRoot(sys, root, '/newproc', { type: 'proc', source: 'proc' }, { noFollowLast: true }).hostPath).toBe('/rootfs/newproc');
  });

  it('hands the resolved host path to the caller check before mounting', () => {
    const sys = hostile();
    const root = openMountRoot(sys, '/rootfs');
    const seen: string[] = [];
    const refuse = (p: string) => {
      seen.push(p);
      throw new Error('refused');
    };
    const open = sys.fdPaths.size;
    expect(() => mountInRoot(sys, root, '/proc-link', { type: 'bind', source: '/src/dir' }, { check: refuse })).toThrow('refused');
    expect(seen).toEqual(['/rootfs/proc']);
    expect(sys.mountTable).toEqual([]);
    expect(sys.fdPaths.size).toBe(open);
  });

  it('refuses a target the kernel names outside the root', () => {
    const sys = hostile();
    const root = openMountRoot(sys, '/rootfs');
    const readlink = sys.readlink.bind(sys);
    // the kernel's name for the opened target (as if a bind mount from the host were under it)
    jest.spyOn(sys, 'readlink').mockImplementation((p) => (readlink(p) === '/rootfs/victim' ? '/etc' : readlink(p)));
    sys.addDir('/rootfs/victim');
    expect(() => mountInRoot(sys, root, '/victim', { type: 'tmpfs', source: 'tmpfs' })).toThrow(/resolves to \/etc, outside the root/);
    expect(sys.mountTable).toEqual([]);
  });

  it('fails when the target moved between the mount and the re-check, and applies nothing more there', () => {
    const sys = hostile();
    sys.addDir('/rootfs/a/b');
    sys.addDir('/rootfs/elsewhere/b');
    const root = openMountRoot(sys, '/rootfs');
    const mount = sys.mount.bind(sys);
    jest.spyOn(sys, 'mount').mockImplementation((...args) => {
      mount(...args);
      // a racing process swaps a parent for a symlink right after the first mount
      if (sys.mountTable.length === 1) {
        sys.files.delete('/rootfs/a/b');
        sys.files.delete('/rootfs/a');
        sys.symlink('/elsewhere', '/rootfs/a');
      }
    });
    expect(() => mountInRoot(sys, root, '/a/b', { type: 'bind', source: '/src/dir', options: ['bind', 'ro'] })).toThrow(/moved to \/rootfs\/elsewhere\/b/);
    expect(sys.mountTable).toHaveLength(1);
  });

  it('closes every fd but the one it returns', () => {
    const sys = hostile();
    const root = openMountRoot(sys, '/rootfs');
    const before = sys.fdPaths.size;
    const t = mountInRoot(sys, root, '/dev/shm', { type: 'tmpfs', source: 'shm', options: ['nosuid', 'rprivate'] });
    expect(sys.fdPaths.size).toBe(before + 1);
    expect(sys.fdPaths.get(t.fd)).toBe('/rootfs/host/shm');
    expect(() => mountInRoot(sys, root, '/dev/x', { type: 'bind', source: '/nope' })).toThrow(SysError);
    expect(sys.fdPaths.size).toBe(before + 1);
  });
});
