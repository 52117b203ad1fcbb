import { FakeSys, MS, SysError, resetOpenat2Probe } from '../src';
import { mountAll } from '../src/mount/temp-mounts';

beforeEach(() => resetOpenat2Probe());

describe('diff mountAll', () => {
  function tree(): FakeSys {
    const sys = new FakeSys();
    sys.addDir('/tmp/m');
    sys.addDir('/host');
    sys.addDir('/snap/upper');
    sys.addDir('/vol');
    return sys;
  }

  it('mounts on the directory itself by path, and below it by fd inside it (a symlink in a layer stays inside)', () => {
    const sys = tree();
    // what the first mount shows at /tmp/m: image content with a link to the host
    sys.symlink('/host', '/tmp/m/data');
    const points = mountAll(
      sys,
      [
        { type: 'bind', source: '/snap/upper', options: ['rbind'] },
        { type: 'bind', source: '/vol', target: '/data/v', options: ['rbind'] },
      ],
      '/tmp/m',
      true,
    );
    expect(points).toEqual(['/tmp/m', '/tmp/m/host/v']);
    expect(sys.mountTable.map((m) => [m.source, m.target, m.flags])).toEqual([
      ['/snap/upper', '/tmp/m', MS.BIND | MS.REC],
      [null, '/tmp/m', MS.BIND | MS.REMOUNT | MS.RDONLY],
      ['/vol', '/tmp/m/host/v', MS.BIND | MS.REC],
      [null, '/tmp/m/host/v', MS.BIND | MS.REMOUNT | MS.RDONLY],
    ]);
    expect([...sys.files.keys()].filter((p) => p.startsWith('/host/'))).toEqual([]);
  });

  it('undoes a bind whose read-only remount failed', () => {
    const sys = tree();
    const mount = sys.mount.bind(sys);
    jest.spyOn(sys, 'mount').mockImplementation((source, target, fstype, flags, data) => {
      if ((flags & MS.REMOUNT) !== 0) throw new SysError('mount', 22, target);
      mount(source, target, fstype, flags, data);
    });
    expect(() => mountAll(sys, [{ type: 'bind', source: '/snap/upper', options: ['rbind', 'ro'] }], '/tmp/m', false)).toThrow(/EINVAL/);
    expect(sys.callsOf('umount')).toEqual([['/tmp/m', 0]]);
  });

  it('refuses a target with ".."', () => {
    expect(() => mountAll(tree(), [{ type: 'bind', source: '/vol', target: '../x', options: ['rbind'] }], '/tmp/m', false)).toThrow(/leaves the mount root/);
  });
});
