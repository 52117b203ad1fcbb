import { FakeSys, MS, SysError, resetOpenat2Probe } from '@gantry/linux';
import { mountRootfs } from '../src/rootfs';

beforeEach(() => resetOpenat2Probe());

function bundle(): FakeSys {
  const sys = new FakeSys();
  sys.addDir('/b');
  sys.addDir('/snap/1/fs');
  sys.addDir('/snap/2/fs');
  sys.addDir('/host');
  return sys;
}

describe('shim mountRootfs', () => {
  it('makes <bundle>/rootfs and mounts onto it through /proc/self/fd', () => {
    const sys = bundle();
    const n = mountRootfs(sys, '/b', [{ type: 'overlay', source: 'overlay', options: ['lowerdir=/snap/1/fs', 'upperdir=/snap/2/fs', 'workdir=/snap/2/work'] }]);
    expect(n).toBe(1);
    expect(sys.stat('/b/rootfs')?.kind).toBe('dir');
    expect(sys.mountTable).toEqual([
      { source: 'overlay', target: '/b/rootfs', fstype: 'overlay', flags: 0, data: 'lowerdir=/snap/1/fs,upperdir=/snap/2/fs,workdir=/snap/2/work' },
    ]);
    expect(sys.callsOf('mount')[0]![1]).toMatch(/^\/proc\/self\/fd\/\d+$/);
  });

  it('makes a read-only bind really read-only (a remount), which the old flag table did not', () => {
    const sys = bundle();
    mountRootfs(sys, '/b', [{ type: 'bind', source: '/snap/1/fs', options: ['rbind', 'ro'] }]);
    expect(sys.mountTable.map((m) => [m.source, m.target, m.fstype, m.flags])).toEqual([
      ['/snap/1/fs', '/b/rootfs', null, MS.BIND | MS.REC],
      [null, '/b/rootfs', null, MS.BIND | MS.REMOUNT | MS.RDONLY],
    ]);
  });

  it('keeps a rootfs symlinked out of the bundle inside the bundle, and honours Mount.target', () => {
    const sys = bundle();
    sys.symlink('/host', '/b/rootfs');
    mountRootfs(sys, '/b', [
      { type: 'bind', source: '/snap/1/fs', options: ['rbind'] },
      { type: 'bind', source: '/snap/2/fs', target: '/data', options: ['rbind'] },
    ]);
    expect(sys.mountTable.map((m) => m.target)).toEqual(['/b/host', '/b/host/data']);
    expect([...sys.files.keys()].filter((p) => p.startsWith('/host/'))).toEqual([]);
  });

  it('undoes what it mounted when a later mount fails', () => {
    const sys = bundle();
    const mount = sys.mount.bind(sys);
    let calls = 0;
    jest.spyOn(sys, 'mount').mockImplementation((...a) => {
      if (++calls === 2) throw new SysError('mount', 19, a[1]);
      mount(...a);
    });
    expect(() =>
      mountRootfs(sys, '/b', [
        { type: 'bind', source: '/snap/1/fs', options: ['rbind'] },
        { type: 'fuse', source: 'x', options: [] },
      ]),
    ).toThrow(/ENODEV/);
    expect(sys.callsOf('umount')).toEqual([['/b/rootfs', 2]]);
  });
});
