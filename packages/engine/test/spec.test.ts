import { validateSpec, type Spec } from '@gantry/runtime';
import { errdefs, KindError } from '@gantry/linux';
import { toHttpError, type HttpError } from '../src/http/errors';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../src/containers/capabilities';
import type { ContainerConfig, HostConfig, ImageConfigFields } from '@gantry/engine-api';
import { buildSpec, DEFAULT_MASKED_PATHS, DEFAULT_PATH_ENV, DEFAULT_READONLY_PATHS, RLIM_UNLIMITED, type BuildSpecInput } from '../src/containers/spec';
import { validateCreate } from '../src/containers/validate';
import type { DeviceLookup } from '../src/containers/devices';

const ID = '4f66ad4a1bc3d9a2e1f0c7b8a9d6e5f4c3b2a1908f7e6d5c4b3a29180f7e6d5c';

function build(
  config: ContainerConfig = {},
  hostConfig: HostConfig = {},
  image: ImageConfigFields = { Cmd: ['sh'] },
  extra: Partial<BuildSpecInput> = {},
): Spec {
  const spec = buildSpec({ id: ID, config, hostConfig, image: { config: image }, rootfsPath: 'rootfs', arch: 'x64', kernel: '6.1.0-18-amd64', ...extra });
  // every spec we produce is a valid runtime spec and survives JSON
  validateSpec(spec);
  expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  return spec;
}

function httpError(f: () => unknown): HttpError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KindError);
    return toHttpError(e);
  }
  throw new Error('expected a KindError');
}

const mount = (s: Spec, dest: string) => s.mounts!.find((m) => m.destination === dest);
const nsTypes = (s: Spec) => s.linux!.namespaces!.map((n) => n.type);

describe('buildSpec: process', () => {
  const image: ImageConfigFields = { Entrypoint: ['/entry'], Cmd: ['default'] };
  test.each<[string, ContainerConfig, ImageConfigFields, string[]]>([
    ['image entrypoint + image cmd', {}, image, ['/entry', 'default']],
    ['Cmd replaces the image cmd', { Cmd: ['x', 'y'] }, image, ['/entry', 'x', 'y']],
    ['Entrypoint replaces the image entrypoint and drops its cmd', { Entrypoint: ['/bin/sh'] }, image, ['/bin/sh']],
    ['Entrypoint + Cmd', { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'true'] }, image, ['/bin/sh', '-c', 'true']],
    ['Entrypoint [""] resets it, Cmd runs alone', { Entrypoint: [''], Cmd: ['ls'] }, image, ['ls']],
    ['Entrypoint [] resets it, image cmd kept', { Entrypoint: [] }, image, ['default']],
    ['image without entrypoint', {}, { Cmd: ['sh', '-c', 'echo hi'] }, ['sh', '-c', 'echo hi']],
    ['Cmd with image entrypoint only', { Cmd: ['--help'] }, { Entrypoint: ['/bin/app'] }, ['/bin/app', '--help']],
  ])('%s', (_name, config, img, args) => {
    expect(build(config, {}, img).process!.args).toEqual(args);
  });

  test.each<[string, ContainerConfig, ImageConfigFields]>([
    ['Entrypoint [""] and no Cmd', { Entrypoint: [''] }, image],
    ['no command anywhere', {}, {}],
  ])('%s: 400 no command specified', (_name, config, img) => {
    const e = httpError(() => build(config, {}, img));
    expect(e.status).toBe(400);
    expect(e.message).toBe('no command specified');
  });

  test('env: defaults, image env under request env, bare name removes', () => {
    const s = build({ Env: ['A=2', 'B=3', 'REMOVE'] }, {}, { Cmd: ['sh'], Env: ['PATH=/opt/bin:/bin', 'A=1', 'REMOVE=x', 'C=4'] });
    expect(s.process!.env).toEqual(['PATH=/opt/bin:/bin', `HOSTNAME=${ID.slice(0, 12)}`, 'A=2', 'B=3', 'C=4']);
  });

  test('env: PATH default, HOSTNAME from Config.Hostname, TERM with a tty', () => {
    const s = build({ Hostname: 'web', Tty: true });
    expect(s.process!.env).toEqual([`PATH=${DEFAULT_PATH_ENV}`, 'HOSTNAME=web', 'TERM=xterm']);
    expect(s.process!.terminal).toBe(true);
    expect(s.hostname).toBe('web');
  });

  test('hostname: the engine-given one wins, else the id prefix', () => {
    expect(build().hostname).toBe(ID.slice(0, 12));
    expect(build({ Hostname: 'x' }, {}, undefined, { hostname: 'hosty' }).hostname).toBe('hosty');
  });

  test('cwd: request, image, "/"', () => {
    expect(build().process!.cwd).toBe('/');
    expect(build({}, {}, { Cmd: ['sh'], WorkingDir: '/app' }).process!.cwd).toBe('/app');
    expect(build({ WorkingDir: '/srv' }, {}, { Cmd: ['sh'], WorkingDir: '/app' }).process!.cwd).toBe('/srv');
  });

  test.each<[string, string, { uid: number; gid: number; additionalGids: number[] }]>([
    ['default root', '', { uid: 0, gid: 0, additionalGids: [0] }],
    ['numeric uid', '1000', { uid: 1000, gid: 0, additionalGids: [0] }],
    ['uid:gid', '1000:1001', { uid: 1000, gid: 1001, additionalGids: [1001] }],
  ])('user without passwd: %s', (_n, user, want) => {
    expect(build({ User: user }).process!.user).toEqual(want);
  });

  test('user: resolveUser gets the merged User (image default), GroupAdd appended', () => {
    const seen: string[] = [];
    const s = build(
      {},
      { GroupAdd: ['50', 'audio'] },
      { Cmd: ['sh'], User: 'app' },
      {
        resolveUser: (u) => {
          seen.push(u);
          return { uid: 1000, gid: 1000, additionalGids: [27] };
        },
        resolveGroup: (g) => (g === 'audio' ? 29 : -1),
      },
    );
    expect(seen).toEqual(['app']);
    expect(s.process!.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 27, 50, 29] });
  });

  test('user: a name with no passwd to read is a 400', () => {
    const e = httpError(() => build({ User: 'app' }));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/unable to find user app/);
  });

  test('rlimits, noNewPrivileges, oomScoreAdj, console size', () => {
    const s = build(
      { Tty: true },
      {
        Ulimits: [
          { Name: 'nofile', Soft: 1024, Hard: 2048 },
          { Name: 'core', Soft: -1, Hard: -1 },
        ],
        SecurityOpt: ['no-new-privileges'],
        OomScoreAdj: 500,
        ConsoleSize: [40, 120],
      },
    );
    expect(s.process!.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 },
      { type: 'RLIMIT_CORE', soft: RLIM_UNLIMITED, hard: RLIM_UNLIMITED },
    ]);
    expect(s.process!.noNewPrivileges).toBe(true);
    expect(s.process!.oomScoreAdj).toBe(500);
    expect(s.process!.consoleSize).toEqual({ height: 40, width: 120 });
    const plain = build();
    expect(plain.process!.rlimits).toBeUndefined();
    expect(plain.process!.noNewPrivileges).toBeUndefined();
    expect(plain.process!.apparmorProfile).toBeUndefined();
    expect(build({}, { SecurityOpt: ['no-new-privileges=false'] }).process!.noNewPrivileges).toBeUndefined();
  });
});

describe('buildSpec: capabilities', () => {
  const without = (...c: string[]) => DEFAULT_CAPABILITIES.filter((x) => !c.includes(x));
  test.each<[string, HostConfig, string[]]>([
    ['Docker default set', {}, [...DEFAULT_CAPABILITIES]],
    ['CapAdd without CAP_, lower case', { CapAdd: ['net_admin'] }, [...DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN']],
    ['CapDrop', { CapDrop: ['CHOWN', 'CAP_NET_RAW'] }, without('CAP_CHOWN', 'CAP_NET_RAW')],
    ['CapDrop ALL + CapAdd', { CapDrop: ['ALL'], CapAdd: ['KILL', 'CAP_SETUID'] }, ['CAP_KILL', 'CAP_SETUID']],
    ['CapAdd ALL - CapDrop', { CapAdd: ['ALL'], CapDrop: ['SYS_ADMIN'] }, ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_ADMIN')],
    ['CapAdd of a default one', { CapAdd: ['KILL'] }, [...DEFAULT_CAPABILITIES]],
    ['Privileged: every capability', { Privileged: true, CapDrop: ['ALL'] }, [...ALL_CAPABILITIES]],
  ])('%s', (_n, hc, caps) => {
    const c = build({}, hc).process!.capabilities!;
    expect(c.bounding).toEqual(caps);
    expect(c.effective).toEqual(caps);
    expect(c.permitted).toEqual(caps);
    expect(c.inheritable).toBeUndefined();
    expect(c.ambient).toBeUndefined();
  });

  test("the default set is dockerd's 14", () => {
    expect(DEFAULT_CAPABILITIES).toHaveLength(14);
    expect(ALL_CAPABILITIES).toHaveLength(41);
  });
});

describe('buildSpec: mounts', () => {
  test('Docker default mounts, /dev/shm sized 64MiB', () => {
    const s = build();
    expect(s.mounts).toEqual([
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] },
    ]);
    expect(s.root).toEqual({ path: 'rootfs', readonly: false });
  });

  test('ShmSize, IpcMode none and host', () => {
    expect(mount(build({}, { ShmSize: 1 << 20 }), '/dev/shm')!.options).toContain('size=1048576');
    expect(mount(build({}, { IpcMode: 'none' }), '/dev/shm')).toBeUndefined();
    expect(mount(build({}, { IpcMode: 'host' }), '/dev/shm')).toEqual({
      destination: '/dev/shm',
      type: 'bind',
      source: '/dev/shm',
      options: ['rbind', 'rprivate'],
    });
  });

  test.each<[string, string, { destination: string; type: string; source: string; options: string[] }]>([
    ['plain bind', '/srv/data:/data', { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rprivate'] }],
    ['read-only', '/srv/data:/data:ro', { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro', 'rprivate'] }],
    ['rw + propagation + label', '/srv/x/:/x/:rw,rshared,z', { destination: '/x', type: 'bind', source: '/srv/x', options: ['rbind', 'rshared'] }],
  ])('Binds: %s', (_n, bind, want) => {
    expect(mount(build({}, { Binds: [bind] }), want.destination)).toEqual(want);
  });

  test('Mounts: bind and tmpfs', () => {
    const s = build(
      {},
      {
        Mounts: [
          { Type: 'bind', Source: '/srv/cfg', Target: '/etc/app', ReadOnly: true, BindOptions: { NonRecursive: true } },
          { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1777 } },
        ],
      },
    );
    expect(mount(s, '/etc/app')).toEqual({ destination: '/etc/app', type: 'bind', source: '/srv/cfg', options: ['bind', 'ro', 'rprivate'] });
    expect(mount(s, '/scratch')).toEqual({
      destination: '/scratch',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'mode=1777', 'size=64m'],
    });
  });

  test('rro when the runtime supports it', () => {
    const s = build({}, { Binds: ['/a:/a:ro'] }, undefined, { recursiveReadOnly: true });
    expect(mount(s, '/a')!.options).toEqual(['rbind', 'rro', 'rprivate']);
  });

  test.each<[string, string, string[]]>([
    ['empty options', '', ['noexec', 'nosuid', 'nodev', 'rprivate']],
    ['later flags win', 'rw,exec,size=65536k', ['nosuid', 'nodev', 'rprivate', 'rw', 'exec', 'size=65536k']],
    ['later size wins', 'size=1m,size=2m,mode=700', ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=2m', 'mode=700']],
  ])('Tmpfs map: %s', (_n, opts, want) => {
    expect(mount(build({}, { Tmpfs: { '/run': opts } }), '/run')).toEqual({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: want });
  });

  test('etc files, sorted by depth after the defaults; user mounts override them', () => {
    const s = build({}, { Binds: ['/h/deep:/a/b/c', '/h/top:/top'] }, undefined, {
      etcFiles: { hosts: '/run/c/hosts', resolvConf: '/run/c/resolv.conf', hostname: '/run/c/hostname' },
    });
    expect(s.mounts!.slice(7).map((m) => m.destination)).toEqual(['/top', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts', '/a/b/c']);
    expect(mount(s, '/etc/hosts')).toEqual({ destination: '/etc/hosts', type: 'bind', source: '/run/c/hosts', options: ['rbind', 'rprivate'] });
    const own = build({}, { Binds: ['/mine/hosts:/etc/hosts:ro'] }, undefined, { etcFiles: { hosts: '/run/c/hosts' } });
    expect(own.mounts!.filter((m) => m.destination === '/etc/hosts')).toEqual([
      { destination: '/etc/hosts', type: 'bind', source: '/mine/hosts', options: ['rbind', 'ro', 'rprivate'] },
    ]);
  });

  test('a user /dev replaces every default mount under /dev', () => {
    const s = build({}, { Binds: ['/dev:/dev'] });
    expect(s.mounts!.map((m) => m.destination)).toEqual(['/proc', '/sys', '/sys/fs/cgroup', '/dev']);
  });

  test('ReadonlyRootfs: root ro, ro added to non-user mounts except /proc and /dev ones, etc files ro', () => {
    const s = build({}, { ReadonlyRootfs: true, Binds: ['/srv:/srv'], Tmpfs: { '/tmp': '' } }, undefined, { etcFiles: { hosts: '/run/c/hosts' } });
    expect(s.root).toEqual({ path: 'rootfs', readonly: true });
    expect(mount(s, '/sys')!.options).toEqual(['nosuid', 'noexec', 'nodev', 'ro']);
    expect(mount(s, '/proc')!.options).not.toContain('ro');
    expect(mount(s, '/dev/shm')!.options).not.toContain('ro');
    expect(mount(s, '/srv')!.options).toEqual(['rbind', 'rprivate']);
    expect(mount(s, '/tmp')!.options).not.toContain('ro');
    expect(mount(s, '/etc/hosts')!.options).toEqual(['rbind', 'ro', 'rprivate']);
  });

  test('Init: docker-init as pid 1, bind-mounted read-only', () => {
    const s = build({}, { Init: true }, undefined, { initPath: '/usr/libexec/docker-init' });
    expect(s.process!.args).toEqual(['/sbin/docker-init', '--', 'sh']);
    expect(mount(s, '/sbin/docker-init')).toEqual({
      destination: '/sbin/docker-init',
      type: 'bind',
      source: '/usr/libexec/docker-init',
      options: ['bind', 'ro'],
    });
    expect(httpError(() => build({}, { Init: true })).status).toBe(400);
  });

  test("the daemon's --init applies where HostConfig.Init is unset, not where it is false or the pid namespace is shared", () => {
    const daemon = { initPath: '/usr/bin/tini-static', defaultInit: true };
    expect(build({}, {}, undefined, daemon).process!.args).toEqual(['/sbin/docker-init', '--', 'sh']);
    expect(build({}, { Init: false }, undefined, daemon).process!.args).toEqual(['sh']);
    expect(mount(build({}, { Init: false }, undefined, daemon), '/sbin/docker-init')).toBeUndefined();
    expect(build({}, { PidMode: 'host' }, undefined, daemon).process!.args).toEqual(['sh']);
    expect(build({}, {}, undefined, { initPath: '/usr/bin/tini-static' }).process!.args).toEqual(['sh']);
  });
});

/** A host with /dev/kmsg, /dev/sda (8:0), /dev/snd/{controlC0,timer} and /dev/by-name/disk -> /dev/sda. */
const KMSG = { type: 'c', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 };
const fakeDevices: DeviceLookup = {
  mapped(onHost, inContainer) {
    const sda = { type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 };
    if (onHost === '/dev/sda' || onHost === '/dev/by-name/disk') return [{ ...sda, path: inContainer }];
    if (onHost === '/dev/snd')
      return [
        { type: 'c', path: `${inContainer}/controlC0`, major: 116, minor: 2, fileMode: 0o660, uid: 0, gid: 29 },
        { type: 'c', path: `${inContainer}/timer`, major: 116, minor: 33, fileMode: 0o660, uid: 0, gid: 29 },
      ];
    throw errdefs.invalidArgument(`error gathering device information while adding custom device "${onHost}": no such file or directory`);
  },
  host: () => [{ ...KMSG, path: '/dev/kmsg' }],
  numbers(p) {
    if (p === '/dev/sda') return { major: 8, minor: 0 };
    throw errdefs.invalidArgument(`blkio device "${p}" is not a device node`);
  },
};

describe('buildSpec: devices and per-device blkio', () => {
  test('--device: the node at its container path and a cgroup rule with its permissions', () => {
    const s = build({}, { Devices: [{ PathOnHost: '/dev/by-name/disk', PathInContainer: '/dev/xvda', CgroupPermissions: 'r' }] }, undefined, {
      devices: fakeDevices,
    });
    expect(s.linux!.devices).toEqual([{ type: 'b', path: '/dev/xvda', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 }]);
    expect(s.linux!.resources!.devices!.at(-1)).toEqual({ allow: true, type: 'b', major: 8, minor: 0, access: 'r' });
  });
  test('a directory maps every node under it; permissions default to rwm; the container path defaults to the host one', () => {
    const s = build({}, { Devices: [{ PathOnHost: '/dev/snd', PathInContainer: '', CgroupPermissions: '' }] }, undefined, { devices: fakeDevices });
    expect(s.linux!.devices!.map((d) => d.path)).toEqual(['/dev/snd/controlC0', '/dev/snd/timer']);
    expect(s.linux!.resources!.devices!.slice(-2)).toEqual([
      { allow: true, type: 'c', major: 116, minor: 2, access: 'rwm' },
      { allow: true, type: 'c', major: 116, minor: 33, access: 'rwm' },
    ]);
  });
  test('privileged: the host nodes and the mapped ones', () => {
    const s = build({}, { Privileged: true, Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] }, undefined, {
      devices: fakeDevices,
    });
    expect(s.linux!.devices!.map((d) => d.path)).toEqual(['/dev/kmsg', '/dev/sda']);
    expect(s.linux!.resources!.devices).toEqual([{ allow: true, access: 'rwm' }]);
  });
  test('a host path that is no device: 400 naming it', () => {
    const e = httpError(() =>
      build({}, { Devices: [{ PathOnHost: '/dev/nope', PathInContainer: '/dev/nope', CgroupPermissions: 'rwm' }] }, undefined, { devices: fakeDevices }),
    );
    expect(e.status).toBe(400);
    expect(e.message).toBe('error gathering device information while adding custom device "/dev/nope": no such file or directory');
  });
  test('per-device weights and throttles keyed by major:minor', () => {
    const s = build(
      {},
      {
        BlkioWeight: 300,
        BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 200 }],
        BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1048576 }],
        BlkioDeviceWriteBps: [{ Path: '/dev/sda', Rate: 2097152 }],
        BlkioDeviceReadIOps: [{ Path: '/dev/sda', Rate: 100 }],
        BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 200 }],
      },
      undefined,
      { devices: fakeDevices },
    );
    expect(s.linux!.resources!.blockIO).toEqual({
      weight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 200 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 200 }],
    });
    expect(httpError(() => build({}, { BlkioDeviceReadBps: [{ Path: '/etc/passwd', Rate: 1 }] }, undefined, { devices: fakeDevices })).message).toBe(
      'blkio device "/etc/passwd" is not a device node',
    );
  });
  test('validation: device requests fail as dockerd without a GPU driver; bad modes refused', () => {
    const v = (hc: HostConfig) => httpError(() => validateCreate({ Image: 'busybox', HostConfig: hc }, null));
    expect(v({ DeviceRequests: [{ Driver: '', Count: -1, Capabilities: [['gpu']] }] }).message).toBe(
      'could not select device driver "" with capabilities: [[gpu]]',
    );
    expect(v({ Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwx' }] }).message).toBe('invalid device mode: rwx');
    expect(v({ Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rr' }] }).message).toBe('invalid device mode: rr');
  });
});

describe('buildSpec: privileged', () => {
  const s = build({}, { Privileged: true }, undefined, { devices: fakeDevices });
  test('all devices allowed, host devices given', () => {
    expect(s.linux!.resources!.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(s.linux!.devices).toEqual([{ type: 'c', path: '/dev/kmsg', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 }]);
  });
  test('/sys and cgroups writable, nothing masked, no seccomp', () => {
    expect(mount(s, '/sys')!.options).toEqual(['nosuid', 'noexec', 'nodev']);
    expect(mount(s, '/sys/fs/cgroup')!.options).toEqual(['nosuid', 'noexec', 'nodev']);
    expect(s.linux!.maskedPaths).toEqual([]);
    expect(s.linux!.readonlyPaths).toEqual([]);
    expect(s.linux!.seccomp).toBeUndefined();
  });
  test('explicit MaskedPaths/ReadonlyPaths still apply', () => {
    const p = build({}, { Privileged: true, MaskedPaths: ['/proc/kcore'], ReadonlyPaths: [] });
    expect(p.linux!.maskedPaths).toEqual(['/proc/kcore']);
    expect(p.linux!.readonlyPaths).toEqual([]);
  });
  test("unprivileged: Docker's device rules and path lists", () => {
    const u = build();
    expect(u.linux!.resources!.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
      { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
      { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
      { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
    ]);
    expect(u.linux!.devices).toEqual([]);
    expect(u.linux!.maskedPaths).toEqual([...DEFAULT_MASKED_PATHS]);
    expect(u.linux!.readonlyPaths).toEqual([...DEFAULT_READONLY_PATHS]);
    expect(u.linux!.cgroupsPath).toBeUndefined();
  });
  test('DeviceCgroupRules are appended', () => {
    const d = build({}, { DeviceCgroupRules: ['c 10:200 rwm', 'b *:* m'] }).linux!.resources!.devices!;
    expect(d.slice(-2)).toEqual([
      { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
      { allow: true, type: 'b', major: null, minor: null, access: 'm' },
    ]);
  });
});

describe('buildSpec: namespaces', () => {
  test.each<[string, HostConfig, 1 | 2, string[]]>([
    ['default, cgroup v2', {}, 2, ['mount', 'network', 'uts', 'pid', 'ipc', 'cgroup']],
    ['default, cgroup v1: host cgroupns', {}, 1, ['mount', 'network', 'uts', 'pid', 'ipc']],
    ['CgroupnsMode private on v1', { CgroupnsMode: 'private' }, 1, ['mount', 'network', 'uts', 'pid', 'ipc', 'cgroup']],
    ['CgroupnsMode host on v2', { CgroupnsMode: 'host' }, 2, ['mount', 'network', 'uts', 'pid', 'ipc']],
    ['network host', { NetworkMode: 'host' }, 2, ['mount', 'uts', 'pid', 'ipc', 'cgroup']],
    ['network none', { NetworkMode: 'none' }, 2, ['mount', 'network', 'uts', 'pid', 'ipc', 'cgroup']],
    ['pid and ipc host', { PidMode: 'host', IpcMode: 'host' }, 2, ['mount', 'network', 'uts', 'cgroup']],
    ['privileged on v1', { Privileged: true }, 1, ['mount', 'network', 'uts', 'pid', 'ipc']],
  ])('%s', (_n, hc, v, want) => {
    expect(nsTypes(build({}, hc, undefined, { cgroupVersion: v }))).toEqual(want);
  });

  test('UTSMode host: no uts namespace, no hostname', () => {
    const s = build({}, { UTSMode: 'host', NetworkMode: 'host' });
    expect(nsTypes(s)).not.toContain('uts');
    expect(s.hostname).toBeUndefined();
  });

  test('container:<ref> joins through namespacePath', () => {
    const s = build({}, { NetworkMode: 'container:db', PidMode: 'container:db' }, undefined, {
      namespacePath: (t, ref) => `/proc/42/ns/${t === 'network' ? 'net' : t}#${ref}`,
    });
    expect(s.linux!.namespaces).toContainEqual({ type: 'network', path: '/proc/42/ns/net#db' });
    expect(s.linux!.namespaces).toContainEqual({ type: 'pid', path: '/proc/42/ns/pid#db' });
    expect(httpError(() => build({}, { IpcMode: 'container:db' })).status).toBe(400);
  });

  test('sysctls: Docker defaults with a private network, domainname, request sysctls win', () => {
    expect(
      build({ Domainname: 'example.org' }, { Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '1024', 'kernel.msgmax': '65536' } }).linux!.sysctl,
    ).toEqual({
      'net.ipv4.ping_group_range': '0 2147483647',
      'net.ipv4.ip_unprivileged_port_start': '1024',
      'kernel.domainname': 'example.org',
      'kernel.msgmax': '65536',
    });
    expect(build({}, { NetworkMode: 'host' }).linux!.sysctl).toBeUndefined();
  });
});

describe('buildSpec: resources', () => {
  const MB = 1024 * 1024;
  test.each<[string, HostConfig, object | undefined]>([
    ['memory limit: swap defaults to 2x', { Memory: 100 * MB }, { limit: 100 * MB, swap: 200 * MB }],
    ['MemorySwap -1: unlimited swap, passed on', { Memory: 100 * MB, MemorySwap: -1 }, { limit: 100 * MB, swap: -1 }],
    ['MemorySwap given', { Memory: 100 * MB, MemorySwap: 300 * MB }, { limit: 100 * MB, swap: 300 * MB }],
    ['reservation + swappiness', { MemoryReservation: 50 * MB, MemorySwappiness: 10 }, { reservation: 50 * MB, swappiness: 10 }],
    ['nothing', {}, undefined],
  ])('memory: %s', (_n, hc, want) => {
    expect(build({}, hc).linux!.resources!.memory).toEqual(want);
  });

  test.each<[string, HostConfig, object | undefined]>([
    ['NanoCpus 1.5', { NanoCpus: 1_500_000_000 }, { period: 100000, quota: 150000 }],
    ['NanoCpus 0.01', { NanoCpus: 10_000_000 }, { period: 100000, quota: 1000 }],
    [
      'shares, quota, period, cpuset',
      { CpuShares: 512, CpuQuota: 50000, CpuPeriod: 200000, CpusetCpus: '0-1', CpusetMems: '0' },
      { shares: 512, quota: 50000, period: 200000, cpus: '0-1', mems: '0' },
    ],
    ['nothing', {}, undefined],
  ])('cpu: %s', (_n, hc, want) => {
    expect(build({}, hc).linux!.resources!.cpu).toEqual(want);
  });

  test.each<[number | undefined, { limit: number } | undefined]>([
    [undefined, undefined],
    [0, { limit: -1 }],
    [-1, { limit: -1 }],
    [100, { limit: 100 }],
  ])('pids limit %p', (limit, want) => {
    expect(build({}, limit === undefined ? {} : { PidsLimit: limit }).linux!.resources!.pids).toEqual(want);
  });

  test('blkio weight; OomKillDisable only on cgroup v1', () => {
    expect(build({}, { BlkioWeight: 300 }).linux!.resources!.blockIO).toEqual({ weight: 300 });
    expect(build({}, { OomKillDisable: true, Memory: 64 * MB }).linux!.resources!.memory!.disableOOMKiller).toBeUndefined();
    expect(build({}, { OomKillDisable: true, Memory: 64 * MB }, undefined, { cgroupVersion: 1 }).linux!.resources!.memory!.disableOOMKiller).toBe(true);
  });
});

describe('buildSpec: seccomp', () => {
  const names = (s: Spec) => new Set(s.linux!.seccomp!.syscalls!.flatMap((c) => (c.action === 'SCMP_ACT_ALLOW' ? c.names : [])));
  test('Docker default profile for the default caps on x86_64', () => {
    const sc = build().linux!.seccomp!;
    expect(sc.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(sc.defaultErrnoRet).toBe(1);
    expect(sc.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const allowed = names(build());
    for (const n of ['read', 'write', 'openat', 'execve', 'clone', 'chroot', 'arch_prctl', 'ptrace']) expect(allowed).toContain(n);
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'reboot', 'init_module', 'kexec_load', 'bpf', 'open_by_handle_at'])
      expect(allowed).not.toContain(n);
    // clone3 answers ENOSYS so glibc falls back to clone (whose namespace flags are filtered)
    expect(sc.syscalls).toContainEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    expect(sc.syscalls).toContainEqual({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] });
  });

  test('rules follow the capabilities', () => {
    const admin = build({}, { CapAdd: ['SYS_ADMIN', 'SYS_PTRACE'] });
    expect(names(admin)).toContain('mount');
    expect(names(admin)).toContain('clone3');
    expect(admin.linux!.seccomp!.syscalls!.some((c) => c.names.includes('clone3') && c.action === 'SCMP_ACT_ERRNO')).toBe(false);
    expect(names(build({}, { CapDrop: ['SYS_CHROOT'] }))).not.toContain('chroot');
  });

  test('architecture and kernel conditions', () => {
    const arm = build({}, {}, undefined, { arch: 'arm64' });
    expect(arm.linux!.seccomp!.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(names(arm)).not.toContain('arch_prctl');
    expect(names(arm)).toContain('set_tls');
    const old = build({}, {}, undefined, { kernel: '4.4.0' });
    expect(names(old)).not.toContain('ptrace');
  });

  test('unconfined, and a custom profile as JSON', () => {
    expect(build({}, { SecurityOpt: ['seccomp=unconfined'] }).linux!.seccomp).toBeUndefined();
    const custom = JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        { names: ['mount'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_SYS_ADMIN'] } },
      ],
    });
    expect(build({}, { SecurityOpt: [`seccomp=${custom}`] }).linux!.seccomp).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        { names: ['mount'], action: 'SCMP_ACT_ERRNO' },
      ],
    });
    // a custom profile applies to privileged containers too; the default does not
    expect(build({}, { Privileged: true, SecurityOpt: [`seccomp=${custom}`] }).linux!.seccomp!.syscalls).toEqual([
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ]);
  });
});

describe('validateCreate', () => {
  const ok = (body: unknown, name?: string) => validateCreate(body, name, { cpuCount: 4 });

  test('a docker CLI body decodes: nulls dropped, StrSlice strings, defaults applied', () => {
    const r = ok(
      {
        Hostname: '',
        User: '',
        AttachStdout: true,
        Tty: false,
        Env: null,
        Cmd: 'date',
        Entrypoint: null,
        Image: 'busybox',
        Volumes: {},
        Labels: {},
        HostConfig: {
          Binds: null,
          NetworkMode: 'default',
          RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
          Memory: 64 * 1024 * 1024,
          CapAdd: 'NET_ADMIN',
          ConsoleSize: [0, 0],
          Mounts: [],
          PidsLimit: null,
        },
        NetworkingConfig: { EndpointsConfig: {} },
      },
      '/web-1',
    );
    expect(r.name).toBe('web-1');
    expect(r.config.Cmd).toEqual(['date']);
    expect(r.config.Env).toBeUndefined();
    expect(r.config.Entrypoint).toBeUndefined();
    expect(r.hostConfig.CapAdd).toEqual(['NET_ADMIN']);
    expect(r.hostConfig.MemorySwap).toBe(128 * 1024 * 1024);
    expect(r.hostConfig.ShmSize).toBe(64 * 1024 * 1024);
    expect(r.hostConfig.PidsLimit).toBeUndefined();
    const spec = buildSpec({ id: ID, config: r.config, hostConfig: r.hostConfig, image: {}, rootfsPath: 'rootfs' });
    validateSpec(spec);
    expect(spec.process!.args).toEqual(['date']);
  });

  test('field names match case-insensitively, as Go does', () => {
    const r = ok({ image: 'busybox', cmd: ['sh'], hostconfig: { memory: 8 * 1024 * 1024 } });
    expect(r.config).toEqual({ Image: 'busybox', Cmd: ['sh'] });
    expect(r.hostConfig.Memory).toBe(8 * 1024 * 1024);
  });

  test('unknown fields are ignored at every level, as dockerd (Go) does', () => {
    const r = ok({ Image: 'busybox', Bogus: 1, HostConfig: { Memroy: 1, RestartPolicy: { Name: 'no', Max: 1 } } });
    expect(r.config).toEqual({ Image: 'busybox' });
    expect(r.hostConfig).not.toHaveProperty('Memroy');
    expect(r.hostConfig.RestartPolicy).toEqual({ Name: 'no' });
  });

  test.each<[string, unknown, string | RegExp]>([
    ['empty body', {}, 'config cannot be empty in order to create a container'],
    ['known field mistyped next to an unknown one', { Image: 'x', Bogus: 1, Tty: 'yes' }, /cannot unmarshal string into Go struct field .*Tty of type bool/],
    [
      'wrong type: Memory string',
      { Image: 'x', HostConfig: { Memory: '1g' } },
      /cannot unmarshal string into Go struct field .*HostConfig\.Memory of type int64/,
    ],
    ['wrong type: Tty string', { Image: 'x', Tty: 'yes' }, /cannot unmarshal string into Go struct field .*Tty of type bool/],
    ['wrong type: Env object', { Image: 'x', Env: { A: '1' } }, /cannot unmarshal object into Go struct field .*Env of type \[\]string/],
    ['wrong type: Memory fraction', { Image: 'x', HostConfig: { Memory: 1.5 } }, /cannot unmarshal number 1.5/],
    ['wrong type: BlkioWeight negative', { Image: 'x', HostConfig: { BlkioWeight: -1 } }, /of type uint16/],
    ['negative memory', { Image: 'x', HostConfig: { Memory: -1 } }, 'Minimum memory limit allowed is 6MB'],
    ['memory below 6MB', { Image: 'x', HostConfig: { Memory: 4 * 1024 * 1024 } }, 'Minimum memory limit allowed is 6MB'],
    [
      'swap below memory',
      { Image: 'x', HostConfig: { Memory: 64 << 20, MemorySwap: 32 << 20 } },
      'Minimum memoryswap limit should be larger than memory limit, see usage',
    ],
    [
      'swap without memory',
      { Image: 'x', HostConfig: { MemorySwap: 64 << 20 } },
      'You should always set the Memory limit when using Memoryswap limit, see usage',
    ],
    [
      'reservation above limit',
      { Image: 'x', HostConfig: { Memory: 64 << 20, MemoryReservation: 128 << 20 } },
      'Minimum memory limit can not be less than memory reservation limit, see usage',
    ],
    ['swappiness', { Image: 'x', HostConfig: { MemorySwappiness: 101 } }, 'Invalid value: 101, valid memory swappiness range is 0-100'],
    [
      'unknown restart policy',
      { Image: 'x', HostConfig: { RestartPolicy: { Name: 'sometimes' } } },
      "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
    ],
    [
      'retry count with always',
      { Image: 'x', HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } } },
      "invalid restart policy: maximum retry count can only be used with 'on-failure'",
    ],
    [
      'negative retry count',
      { Image: 'x', HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } } },
      'invalid restart policy: maximum retry count cannot be negative',
    ],
    [
      'AutoRemove + restart',
      { Image: 'x', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } },
      "can't create 'AutoRemove' container with restart policy",
    ],
    ['bad CapAdd', { Image: 'x', HostConfig: { CapAdd: ['NET_ADMINN'] } }, 'invalid CapAdd: unknown capability: "CAP_NET_ADMINN"'],
    ['bad CapDrop', { Image: 'x', HostConfig: { CapDrop: ['foo'] } }, 'invalid CapDrop: unknown capability: "CAP_FOO"'],
    ['tmpfs option', { Image: 'x', HostConfig: { Tmpfs: { '/run': 'size=1m,bogus' } } }, /invalid tmpfs option "bogus"/],
    ['tmpfs relative destination', { Image: 'x', HostConfig: { Tmpfs: { run: '' } } }, "invalid mount path: 'run' mount path must be absolute"],
    ['tmpfs on /', { Image: 'x', HostConfig: { Tmpfs: { '/': '' } } }, "invalid specification: destination can't be '/'"],
    ['ulimit name', { Image: 'x', HostConfig: { Ulimits: [{ Name: 'files', Soft: 1, Hard: 1 }] } }, 'invalid ulimit type: files'],
    [
      'ulimit soft > hard',
      { Image: 'x', HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 4096, Hard: 1024 }] } },
      'ulimit soft limit must be less than or equal to hard limit: 4096 > 1024',
    ],
    [
      'bind relative destination',
      { Image: 'x', HostConfig: { Binds: ['/src:dst'] } },
      `invalid volume specification: '/src:dst': invalid mount config for type "bind": invalid mount path: 'dst' mount path must be absolute`,
    ],
    ['bind mode', { Image: 'x', HostConfig: { Binds: ['/src:/dst:rx'] } }, 'invalid mode: rx'],
    ['bind destination with mode only', { Image: 'x', HostConfig: { Binds: ['/dst:ro'] } }, "invalid volume specification: '/dst:ro'"],
    [
      'named volume relative destination',
      { Image: 'x', HostConfig: { Binds: ['data:dst'] } },
      `invalid volume specification: 'data:dst': invalid mount config for type "volume": invalid mount path: 'dst' mount path must be absolute`,
    ],
    [
      'named volume with propagation',
      { Image: 'x', HostConfig: { Binds: ['data:/data:rshared'] } },
      /invalid mount config for type "volume": propagation modes are not supported for volumes/,
    ],
    [
      'Mounts volume with bind options',
      { Image: 'x', HostConfig: { Mounts: [{ Type: 'volume', Source: 'v', Target: '/b', BindOptions: {} }] } },
      'invalid mount config for type "volume": field BindOptions must not be specified',
    ],
    [
      'Mounts relative target',
      { Image: 'x', HostConfig: { Mounts: [{ Type: 'bind', Source: '/a', Target: 'b' }] } },
      `invalid mount config for type "bind": invalid mount path: 'b' mount path must be absolute`,
    ],
    [
      'Mounts tmpfs with source',
      { Image: 'x', HostConfig: { Mounts: [{ Type: 'tmpfs', Source: '/a', Target: '/b' }] } },
      'invalid mount config for type "tmpfs": field Source must not be specified',
    ],
    ['Mounts unknown type', { Image: 'x', HostConfig: { Mounts: [{ Type: 'nfs', Target: '/b' }] } }, 'invalid mount config for type "nfs": mount type unknown'],
    ['working dir', { Image: 'x', WorkingDir: 'app' }, "the working directory 'app' is invalid, it needs to be an absolute path"],
    ['env', { Image: 'x', Env: ['=x'] }, 'invalid environment variable: =x'],
    ['stop signal', { Image: 'x', StopSignal: 'SIGFOO' }, 'invalid signal: SIGFOO'],
    ['healthcheck interval', { Image: 'x', Healthcheck: { Interval: 1000 } }, 'Interval in Healthcheck cannot be less than 1ms'],
    [
      'nano cpus and period',
      { Image: 'x', HostConfig: { NanoCpus: 1e9, CpuPeriod: 100000 } },
      'Conflicting options: Nano CPUs and CPU Period cannot both be set',
    ],
    ['nano cpus range', { Image: 'x', HostConfig: { NanoCpus: 8e9 } }, 'range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available'],
    [
      'cpu period range',
      { Image: 'x', HostConfig: { CpuPeriod: 500 } },
      'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)',
    ],
    ['blkio weight', { Image: 'x', HostConfig: { BlkioWeight: 5 } }, 'Range of blkio weight is from 10 to 1000'],
    ['oom score', { Image: 'x', HostConfig: { OomScoreAdj: 1001 } }, 'Invalid value 1001, range for oom score adj is [-1000, 1000]'],
    ['ipc mode', { Image: 'x', HostConfig: { IpcMode: 'public' } }, 'invalid IPC mode: public'],
    ['pid mode', { Image: 'x', HostConfig: { PidMode: 'private' } }, 'invalid PID mode: private'],
    ['cgroupns mode', { Image: 'x', HostConfig: { CgroupnsMode: 'shared' } }, 'invalid cgroup namespace mode: shared'],
    [
      'hostname with container network',
      { Image: 'x', Hostname: 'h', HostConfig: { NetworkMode: 'container:db' } },
      'conflicting options: hostname and the network mode',
    ],
    ['hostname with UTS host', { Image: 'x', Hostname: 'h', HostConfig: { UTSMode: 'host' } }, 'conflicting options: hostname and the UTS mode'],
    ['security opt', { Image: 'x', HostConfig: { SecurityOpt: ['nonsense'] } }, 'invalid --security-opt 1: "nonsense"'],
    ['security opt key', { Image: 'x', HostConfig: { SecurityOpt: ['foo=bar'] } }, 'invalid --security-opt 2: "foo=bar"'],
    ['seccomp profile JSON', { Image: 'x', HostConfig: { SecurityOpt: ['seccomp={oops'] } }, /^Decoding seccomp profile failed/],
    ['isolation', { Image: 'x', HostConfig: { Isolation: 'hyperv' } }, `Invalid isolation: "hyperv" - linux only supports 'default'`],
    ['port binding', { Image: 'x', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '99999' }] } } }, 'invalid port specification: "99999"'],
    [
      'device mapping without a host path',
      { Image: 'x', HostConfig: { Devices: [{ PathOnHost: '', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }] } },
      'invalid device mapping: no host path',
    ],
  ])('%s → 400', (_n, body, message) => {
    const e = httpError(() => ok(body));
    expect(e.status).toBe(400);
    if (typeof message === 'string') expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
  });

  test.each(['a', '-web', 'web/1', 'we b', '/'])('invalid name %p', (name) => {
    const e = httpError(() => ok({ Image: 'x' }, name));
    expect(e.status).toBe(400);
    expect(e.message).toBe(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  });

  test.each(['web', '/web', 'my_app.1-2', 'ab'])('valid name %p', (name) => {
    expect(ok({ Image: 'x' }, name).name).toBe(name.replace(/^\//, ''));
  });

  test.each<[string, unknown]>([
    ['restart policy unless-stopped', { RestartPolicy: { Name: 'unless-stopped' } }],
    ['on-failure with retries', { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } }],
    ['AutoRemove with "no"', { AutoRemove: true, RestartPolicy: { Name: 'no' } }],
    ['caps with ALL', { CapAdd: ['ALL'], CapDrop: ['cap_sys_admin'] }],
    ['memory 6MB exactly', { Memory: 6 * 1024 * 1024 }],
    ['MemorySwappiness -1', { MemorySwappiness: -1 }],
    ['seccomp unconfined + nnp', { SecurityOpt: ['seccomp=unconfined', 'no-new-privileges:true', 'label=disable', 'apparmor=unconfined'] }],
    ['ulimit unlimited', { Ulimits: [{ Name: 'memlock', Soft: -1, Hard: -1 }] }],
  ])('accepted: %s', (_n, hostConfig) => {
    expect(() => ok({ Image: 'x', HostConfig: hostConfig })).not.toThrow();
  });
});
