import { FakeSys, FS_MAGIC, MS, S_IF, SysError, resetOpenat2Probe } from '@gantry/linux';
import { InitError } from '../src/errors';
import { checkProcMount } from '../src/init/proc-mount';
import { finalizeRootfs, parseCgroupMounts, prepareRootfs, rootfsPropagationFlags, type RootfsOptions } from '../src/init/rootfs';
import { defaultSpec } from '../src/spec/default-spec';
import type { Mount, Spec } from '../src/spec/types';

const OPTS: RootfsOptions = { rootfs: '/b/rootfs', bundle: '/b', noPivot: false, cgroupPath: '/gantry/c1', cgroupNamespace: true, hostCgroups: [] };

/** A rootfs with the usual directories; `dev` decides what /dev is. */
function rootfs(dev: 'dir' | 'absolute-link' | 'relative-link'): FakeSys {
  const sys = new FakeSys();
  sys.addDir('/host-marker');
  sys.addDir('/src/data');
  sys.addFile('/src/file', 'x');
  for (const d of ['proc', 'sys', 'etc', 'tmp']) sys.addDir(`/b/rootfs/${d}`);
  if (dev === 'dir') sys.addDir('/b/rootfs/dev');
  else sys.symlink(dev === 'absolute-link' ? '/host-marker' : '../../../../host-marker', '/b/rootfs/dev');
  sys.calls.length = 0;
  return sys;
}

function spec(change: (s: Spec) => void = () => undefined): Spec {
  const s = defaultSpec();
  change(s);
  return s;
}

const hostEntries = (sys: FakeSys) => [...sys.files.keys()].filter((p) => p.startsWith('/host-marker/'));
const mountedAt = (sys: FakeSys) => sys.mountTable.map((m) => m.target);

beforeEach(() => resetOpenat2Probe());

describe('prepareRootfs', () => {
  for (const dev of ['absolute-link', 'relative-link'] as const) {
    it(`keeps /dev set-up inside the rootfs when /dev is an ${dev} to a host directory`, () => {
      const sys = rootfs(dev);
      prepareRootfs(sys, spec(), OPTS);
      expect(hostEntries(sys)).toEqual([]);
      // the /dev link is followed inside the rootfs: everything lands in /b/rootfs/host-marker
      const inside = '/b/rootfs/host-marker';
      expect(mountedAt(sys)).toEqual(expect.arrayContaining(['/b/rootfs/proc', inside, `${inside}/pts`, `${inside}/shm`, `${inside}/mqueue`, '/b/rootfs/sys']));
      expect(sys.stat(`${inside}/null`)).toMatchObject({ kind: 'chr', rdev: 259 });
      expect(sys.stat(`${inside}/ptmx`)).toMatchObject({ kind: 'symlink' });
      expect(sys.readlink(`${inside}/fd`)).toBe('/proc/self/fd');
      // every mount went through /proc/self/fd (but the rootfs' own bind and propagation)
      const byPath = sys.callsOf('mount').filter((c) => !String(c[1]).startsWith('/proc/self/fd/'));
      expect(byPath).toEqual([
        [null, '/', null, MS.SLAVE | MS.REC, null],
        ['/b/rootfs', '/b/rootfs', 'bind', MS.BIND | MS.REC, null],
      ]);
    });
  }

  it('with a shared root propagation, makes a shared mount holding the rootfs private before binding it (pivot_root refuses a shared parent)', () => {
    const mountinfo = (bShared: boolean) =>
      '1 0 8:1 / / rw shared:1 - ext4 /dev/sda rw\n' +
      `2 1 0:40 / /b rw ${bShared ? 'shared:7' : 'master:7'} - tmpfs t rw\n` +
      '3 1 0:41 / /bx rw shared:8 - tmpfs t rw\n';
    const pathMounts = (sys: FakeSys) =>
      sys
        .callsOf('mount')
        .filter((c) => !String(c[1]).startsWith('/proc/self/fd/'))
        .slice(0, 3);
    const shared = rootfs('dir');
    shared.addFile('/proc/self/mountinfo', mountinfo(true));
    prepareRootfs(
      shared,
      spec((x) => (x.linux!.rootfsPropagation = 'rshared')),
      OPTS,
    );
    expect(pathMounts(shared)).toEqual([
      [null, '/', null, MS.SHARED | MS.REC, null],
      [null, '/b', null, MS.PRIVATE, null],
      ['/b/rootfs', '/b/rootfs', 'bind', MS.BIND | MS.REC, null],
    ]);
    // a parent that is not shared is left as it is
    const slave = rootfs('dir');
    slave.addFile('/proc/self/mountinfo', mountinfo(false));
    prepareRootfs(
      slave,
      spec((x) => (x.linux!.rootfsPropagation = 'rshared')),
      OPTS,
    );
    expect(pathMounts(slave).slice(0, 2)).toEqual([
      [null, '/', null, MS.SHARED | MS.REC, null],
      ['/b/rootfs', '/b/rootfs', 'bind', MS.BIND | MS.REC, null],
    ]);
  });

  it('keeps a bind mount destination below a symlinked parent inside the rootfs', () => {
    const sys = rootfs('dir');
    sys.symlink('/host-marker', '/b/rootfs/mnt');
    sys.symlink('../../../host-marker/conf', '/b/rootfs/etc/app.conf');
    const s = spec((x) => {
      x.mounts!.push({ destination: '/mnt/data', type: 'bind', source: '/src/data', options: ['rbind', 'ro'] });
      x.mounts!.push({ destination: '/etc/app.conf', type: 'bind', source: '/src/file', options: ['bind'] });
    });
    prepareRootfs(sys, s, OPTS);
    expect(hostEntries(sys)).toEqual([]);
    expect(sys.mountTable).toContainEqual({ source: '/src/data', target: '/b/rootfs/host-marker/data', fstype: null, flags: MS.BIND | MS.REC, data: null });
    expect(sys.mountTable).toContainEqual({
      source: null,
      target: '/b/rootfs/host-marker/data',
      fstype: null,
      flags: MS.BIND | MS.REMOUNT | MS.RDONLY,
      data: null,
    });
    expect(sys.stat('/b/rootfs/host-marker/conf')?.kind).toBe('file');
  });

  it('makes device nodes by fd and sets mode and owner through /proc/self/fd', () => {
    const sys = rootfs('dir');
    prepareRootfs(
      sys,
      spec((x) => (x.linux!.devices = [{ type: 'c', path: '/dev/net/tun', major: 10, minor: 200, fileMode: 0o600, uid: 5, gid: 6 }])),
      OPTS,
    );
    expect(sys.stat('/b/rootfs/dev/net/tun')).toMatchObject({ kind: 'chr', rdev: 10 * 256 + 200 });
    const mk = sys.callsOf('mknodat').find((c) => c[1] === 'tun')!;
    expect(mk[2]).toBe(S_IF.CHR | 0o600);
    const chown = sys.callsOf('chown').at(-1)!;
    expect(String(chown[0])).toMatch(/^\/proc\/self\/fd\/\d+$/);
    expect(chown.slice(1)).toEqual([5, 6]);
  });

  it('binds the host node where mknod is refused', () => {
    const sys = rootfs('dir');
    sys.failOn('mknodat', 1, 'null');
    prepareRootfs(sys, spec(), OPTS);
    expect(sys.mountTable).toContainEqual({ source: '/dev/null', target: '/b/rootfs/dev/null', fstype: null, flags: MS.BIND, data: null });
  });

  it('checks proc and sysfs with fstatfs right after mounting them', () => {
    const sys = rootfs('dir');
    jest.spyOn(sys, 'fstatfs').mockReturnValue({ type: FS_MAGIC.TMPFS, flags: 0 });
    expect(() => prepareRootfs(sys, spec(), OPTS)).toThrow(/proc mounted on \/proc is not procfs \(f_type 0x1021994\)/);
  });

  it('falls back to a read-only bind of the host /sys when a new sysfs is refused, and checks it is sysfs', () => {
    const sys = rootfs('dir');
    sys.fsTypes.set('/sys', { type: FS_MAGIC.SYSFS, flags: 0 });
    const mount = sys.mount.bind(sys);
    jest.spyOn(sys, 'mount').mockImplementation((source, target, fstype, flags, data) => {
      if (fstype === 'sysfs') throw new SysError('mount', 1, target);
      mount(source, target, fstype, flags, data);
    });
    prepareRootfs(sys, spec(), OPTS);
    expect(sys.mountTable).toContainEqual({ source: '/sys', target: '/b/rootfs/sys', fstype: null, flags: MS.BIND | MS.REC, data: null });
    expect(sys.mountTable).toContainEqual({
      source: null,
      target: '/b/rootfs/sys',
      fstype: null,
      flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NOEXEC | MS.NODEV,
      data: null,
    });
  });

  it('refuses proc on a symlink (an image whose /proc points elsewhere)', () => {
    const sys = rootfs('dir');
    sys.files.delete('/b/rootfs/proc');
    sys.addDir('/b/rootfs/evil');
    sys.symlink('/evil', '/b/rootfs/proc');
    expect(() => prepareRootfs(sys, spec(), OPTS)).toThrow(
      /filesystem "proc" must be mounted on ordinary directory \(mount destination "\/proc": is a symlink\)/,
    );
    expect(mountedAt(sys)).not.toContain('/b/rootfs/evil');
  });

  it("refuses sysfs on a file, with runc's words", () => {
    const sys = rootfs('dir');
    sys.files.delete('/b/rootfs/sys');
    sys.addFile('/b/rootfs/sys', '');
    expect(() => prepareRootfs(sys, spec(), OPTS)).toThrow(
      /filesystem "sysfs" must be mounted on ordinary directory \(mount destination "\/sys": is a file, not a directory\)/,
    );
    expect(mountedAt(sys)).not.toContain('/b/rootfs/sys');
  });
});

describe('what may be mounted over /proc', () => {
  const withMount = (m: Mount) => spec((x) => x.mounts!.push(m));

  it('refuses a bind of a host directory over /proc (an image VOLUME /proc), before mounting it', () => {
    const sys = rootfs('dir');
    const s = withMount({ destination: '/proc', type: 'bind', source: '/src/data', options: ['rbind'] });
    expect(() => prepareRootfs(sys, s, OPTS)).toThrow(InitError);
    expect(() => prepareRootfs(rootfs('dir'), s, OPTS)).toThrow(/refusing to mount a bind of \/src\/data over \/proc: only procfs/);
    expect(sys.mountTable.filter((m) => m.source === '/src/data')).toEqual([]);
  });

  it('refuses a destination that reaches /proc through a symlink', () => {
    const sys = rootfs('dir');
    sys.symlink('/proc', '/b/rootfs/vol');
    expect(() => prepareRootfs(sys, withMount({ destination: '/vol', type: 'tmpfs', source: 'tmpfs' }), OPTS)).toThrow(/destination \/vol resolves to \/proc/);
  });

  it('refuses mounts inside /proc but for the files lxcfs provides', () => {
    expect(() => prepareRootfs(rootfs('dir'), withMount({ destination: '/proc/sys', type: 'tmpfs', source: 'tmpfs' }), OPTS)).toThrow(
      /mounts inside \/proc are limited to/,
    );
    const sys = rootfs('dir');
    prepareRootfs(sys, withMount({ destination: '/proc/cpuinfo', type: 'bind', source: '/src/file', options: ['bind'] }), OPTS);
    expect(sys.mountTable).toContainEqual(expect.objectContaining({ source: '/src/file', target: '/b/rootfs/proc/cpuinfo' }));
  });

  it('allows a fresh proc, or a bind whose source is a procfs', () => {
    const sys = new FakeSys();
    sys.fsTypes.set('/host/proc', { type: FS_MAGIC.PROC, flags: 0 });
    const m = { destination: '/proc', type: 'bind', source: '/host/proc', bind: true };
    expect(() => checkProcMount(sys, '/r', '/r/proc', m)).not.toThrow();
    expect(() => checkProcMount(sys, '/r', '/r/proc', { ...m, source: '/tmp' })).toThrow(/only procfs/);
    expect(() => checkProcMount(sys, '/r', '/r/proc', { destination: '/proc', type: 'proc', source: 'proc', bind: false })).not.toThrow();
    expect(() => checkProcMount(sys, '/r', '/r/procfoo', { destination: '/procfoo', type: 'tmpfs', source: 'x', bind: false })).not.toThrow();
  });
});

describe('a read-only /dev', () => {
  const roDev = () =>
    spec((x) => {
      const dev = x.mounts!.find((m) => m.destination === '/dev')!;
      dev.options = [...(dev.options ?? []), 'ro'];
      x.linux!.maskedPaths = [];
      x.linux!.readonlyPaths = [];
      x.root = { path: 'rootfs', readonly: false };
    });

  it('is mounted writable first, so its nodes, links and sub-mounts can be made (runc does the same)', () => {
    const sys = rootfs('dir');
    prepareRootfs(sys, roDev(), OPTS);
    const dev = sys.mountTable.find((m) => m.target === '/b/rootfs/dev')!;
    expect(dev.fstype).toBe('tmpfs');
    expect(dev.flags & MS.RDONLY).toBe(0);
    expect(sys.stat('/b/rootfs/dev/null')).toMatchObject({ kind: 'chr' });
    expect(mountedAt(sys)).toContain('/b/rootfs/dev/pts');
  });

  it('is made read-only after pivot_root, keeping its nosuid and strictatime', () => {
    const sys = new FakeSys();
    sys.addDir('/dev');
    finalizeRootfs(sys, roDev());
    expect(sys.mountTable).toEqual([
      { source: null, target: '/dev', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.STRICTATIME, data: null },
    ]);
  });
});

describe('finalizeRootfs (after pivot_root)', () => {
  function pivoted(): FakeSys {
    const sys = new FakeSys();
    sys.addFile('/proc/kcore');
    sys.addDir('/proc/sys');
    sys.addDir('/sys/firmware');
    sys.addDir('/dev');
    sys.mknod('/dev/null', S_IF.CHR | 0o666, 1, 3);
    sys.fsTypes.set('/proc', { type: FS_MAGIC.PROC, flags: 0 });
    sys.fsTypes.set('/sys', { type: FS_MAGIC.SYSFS, flags: 0 });
    return sys;
  }
  const paths = (masked: string[], readonly: string[] = []) =>
    spec((x) => {
      x.linux!.maskedPaths = masked;
      x.linux!.readonlyPaths = readonly;
      x.root = { path: 'rootfs', readonly: false };
    });

  it('masks by fd, binds each read-only path onto itself and remounts it read-only through a fresh fd', () => {
    const sys = pivoted();
    finalizeRootfs(sys, paths(['/proc/kcore', '/sys/firmware', '/proc/missing'], ['/proc/sys']));
    expect(sys.mountTable).toEqual([
      { source: '/dev/null', target: '/proc/kcore', fstype: null, flags: MS.BIND, data: null },
      { source: 'tmpfs', target: '/sys/firmware', fstype: 'tmpfs', flags: MS.RDONLY, data: null },
      { source: '/proc/sys', target: '/proc/sys', fstype: null, flags: MS.BIND | MS.REC, data: null },
      { source: null, target: '/proc/sys', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, data: null },
    ]);
    expect(sys.callsOf('mount').every((c) => String(c[1]).startsWith('/proc/self/fd/'))).toBe(true);
  });

  it('refuses to mask anything when /proc is not procfs (a decoy /proc)', () => {
    const sys = pivoted();
    sys.fsTypes.set('/proc', { type: FS_MAGIC.TMPFS, flags: 0 });
    expect(() => finalizeRootfs(sys, paths(['/proc/kcore']))).toThrow(/\/proc in the container is not procfs/);
    expect(sys.mountTable).toEqual([]);
  });

  it('refuses when /sys is not sysfs and a path in it is to be masked', () => {
    const sys = pivoted();
    sys.fsTypes.set('/sys', { type: FS_MAGIC.EXT4, flags: 0 });
    expect(() => finalizeRootfs(sys, paths(['/sys/firmware']))).toThrow(/\/sys in the container is not sysfs/);
    expect(() => finalizeRootfs(sys, paths(['/proc/kcore']))).not.toThrow();
  });

  it('refuses a masked path under /proc that leads out of it', () => {
    const sys = pivoted();
    sys.addDir('/tmp/x');
    sys.symlink('/tmp/x', '/proc/acpi');
    expect(() => finalizeRootfs(sys, paths(['/proc/acpi']))).toThrow(/\/proc\/acpi resolves to \/tmp\/x, outside \/proc/);
  });

  it('refuses to mask files with a /dev/null that is not the null device', () => {
    const sys = pivoted();
    sys.files.delete('/dev/null');
    sys.addFile('/dev/null', 'not a device');
    expect(() => finalizeRootfs(sys, paths(['/proc/kcore']))).toThrow(/\/dev\/null in the container is not the null device/);
  });

  it('remounts the root read-only last', () => {
    const sys = pivoted();
    finalizeRootfs(
      sys,
      spec((x) => (x.root = { path: 'rootfs', readonly: true })),
    );
    expect(sys.callsOf('mount').at(-1)).toEqual([null, '/', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null]);
  });
});

describe('rootfsPropagationFlags and parseCgroupMounts', () => {
  it('defaults the rootfs propagation to rslave and refuses unknown values', () => {
    expect(rootfsPropagationFlags(undefined)).toBe(MS.SLAVE | MS.REC);
    expect(rootfsPropagationFlags('private')).toBe(MS.PRIVATE);
    expect(() => rootfsPropagationFlags('sideways')).toThrow(/unknown rootfsPropagation/);
    expect(() => rootfsPropagationFlags('toString')).toThrow(/unknown rootfsPropagation/);
  });

  it('reads cgroup hierarchies from mountinfo', () => {
    const text = [
      '30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
      '31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate',
      '33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
      '34 30 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd',
    ].join('\n');
    expect(parseCgroupMounts(text)).toEqual([
      { name: 'unified', fstype: 'cgroup2', controllers: '', mountPoint: '/sys/fs/cgroup/unified' },
      { name: 'cpu,cpuacct', fstype: 'cgroup', controllers: 'cpu,cpuacct', mountPoint: '/sys/fs/cgroup/cpu,cpuacct' },
      { name: 'systemd', fstype: 'cgroup', controllers: 'name=systemd', mountPoint: '/sys/fs/cgroup/systemd' },
    ]);
  });
});
