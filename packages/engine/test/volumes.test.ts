import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MS, O, linuxSys, type Sys, Logger } from '@gantry/linux';
import type { EngineContext } from '../src/context';
import { parseBind, parseMountSpec } from '../src/containers/mounts';
import { buildSpec } from '../src/containers/spec';
import { ContainerStore } from '../src/containers/store';
import { initialState, type ContainerRecord } from '../src/containers/record';
import { EngineEvents } from '../src/events';
import { KindError } from '@gantry/linux';
import { toHttpError, type HttpError } from '../src/http/errors';
import { ContainerMounts, mountsJson, usesVolume } from '../src/volumes/container-mounts';
import { copyImageContent } from '../src/volumes/copyup';
import { localMountCalls, validateLocalOptions } from '../src/volumes/local-options';
import { ANONYMOUS_LABEL, volumeNameError } from '../src/volumes/names';
import { VolumeStore, type MountSeam } from '../src/volumes/store';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gvol-unit-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function httpError(f: () => unknown): HttpError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KindError);
    return toHttpError(e);
  }
  throw new Error('expected a KindError');
}

/** A recording mount seam whose mount table `mountsUnder` reads back. */
class FakeMounts implements MountSeam {
  readonly calls: string[] = [];
  readonly table: string[] = [];
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    this.calls.push(`mount ${source} ${path.basename(path.dirname(target))} ${fstype} ${flags} ${data}`);
    if (!(flags & MS.REMOUNT)) this.table.push(target);
  }
  umount(target: string): void {
    this.calls.push(`umount ${path.basename(path.dirname(target))}`);
    const i = this.table.lastIndexOf(target);
    if (i < 0) throw new Error('EINVAL');
    this.table.splice(i, 1);
  }
  under = (dir: string) => this.table.filter((m) => m === dir || m.startsWith(`${dir}/`));
}

describe('volume names', () => {
  test('Docker accepts [a-zA-Z0-9][a-zA-Z0-9_.-]+', () => {
    for (const ok of ['db', 'my_vol.1-x', '0abc']) expect(volumeNameError(ok)).toBeUndefined();
  });
  test('a name with "/" gets Docker message', () => {
    expect(volumeNameError('foo/bar')).toBe(
      '"foo/bar" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
    );
  });
  test('too short and bad first character', () => {
    expect(volumeNameError('a')).toMatch(/too short/);
    expect(volumeNameError('_ab')).toMatch(/includes invalid characters/);
    expect(volumeNameError('.ab')).toMatch(/includes invalid characters/);
  });
});

describe('mount parsing', () => {
  test('-v name:/dst is a named volume with mode z and copy-up', () => {
    expect(parseBind('data:/data')).toMatchObject({ kind: 'volume', name: 'data', destination: '/data', writable: true, copyData: true, mode: 'z' });
  });
  test('-v name:/dst:ro,nocopy', () => {
    expect(parseBind('data:/data/:ro,nocopy')).toMatchObject({
      kind: 'volume',
      name: 'data',
      destination: '/data',
      writable: false,
      copyData: false,
      mode: 'ro,nocopy',
    });
  });
  test('-v /dst alone is an anonymous volume', () => {
    expect(parseBind('/anon')).toMatchObject({ kind: 'volume', name: '', destination: '/anon', writable: true });
  });
  test('-v /host:/ctr:ro is a bind from Binds (host path created at start)', () => {
    expect(parseBind('/host:/ctr:ro')).toMatchObject({
      kind: 'bind',
      source: '/host',
      destination: '/ctr',
      writable: false,
      mode: 'ro',
      propagation: 'rprivate',
      fromBinds: true,
    });
  });
  test('--mount type=volume with options', () => {
    const m = parseMountSpec({
      Type: 'volume',
      Source: 'v1',
      Target: '/x',
      ReadOnly: true,
      VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } } },
    });
    expect(m).toMatchObject({
      kind: 'volume',
      name: 'v1',
      writable: false,
      copyData: false,
      volumeCreate: { driver: 'local', labels: { a: 'b' }, options: { type: 'tmpfs', device: 'tmpfs' } },
    });
    expect(parseMountSpec({ Type: 'volume', Target: '/y' })).toMatchObject({ kind: 'volume', name: '', copyData: true });
  });
  test('--mount type=bind keeps propagation; a volume with TmpfsOptions is refused', () => {
    expect(parseMountSpec({ Type: 'bind', Source: '/s', Target: '/t', BindOptions: { Propagation: 'rshared' } })).toMatchObject({
      kind: 'bind',
      propagation: 'rshared',
      mode: '',
    });
    expect(() => parseMountSpec({ Type: 'volume', Source: 'v', Target: '/t', TmpfsOptions: {} })).toThrow(
      'invalid mount config for type "volume": field TmpfsOptions must not be specified',
    );
  });
});

describe('local driver options', () => {
  test('unknown and incomplete options are refused with Docker messages', () => {
    expect(() => validateLocalOptions({ foo: 'x' })).toThrow('invalid option: "foo"');
    expect(() => validateLocalOptions({ type: 'tmpfs' })).toThrow('missing required option: "device"');
    expect(() => validateLocalOptions({ o: 'size=1m' })).toThrow(/missing required option/);
    expect(() => validateLocalOptions({ type: 'tmpfs', device: 'tmpfs', o: 'size=64m' })).not.toThrow();
  });
  test('o= words split into flags and data', () => {
    expect(localMountCalls({ type: 'tmpfs', device: 'tmpfs', o: 'size=64m,noexec,uid=1000' }, '/v/_data')).toEqual([
      { source: 'tmpfs', target: '/v/_data', fstype: 'tmpfs', flags: MS.NOEXEC, data: 'size=64m,uid=1000' },
    ]);
  });
  test('a read-only bind takes a bind then a read-only remount', () => {
    const calls = localMountCalls({ type: 'none', o: 'bind,ro', device: '/src' }, '/v/_data');
    expect(calls).toEqual([
      { source: '/src', target: '/v/_data', fstype: null, flags: MS.BIND, data: null },
      { source: null, target: '/v/_data', fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY, data: null },
    ]);
    expect(localMountCalls({ type: 'tmpfs', device: 'tmpfs', o: 'size=64m' }, '/v/_data')).toEqual([
      { source: 'tmpfs', target: '/v/_data', fstype: 'tmpfs', flags: 0, data: 'size=64m' },
    ]);
  });
});

describe('copy-up', () => {
  function image(): string {
    const root = tmp();
    fs.mkdirSync(path.join(root, 'etc/sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    fs.writeFileSync(path.join(root, 'etc/secret'), 's');
    fs.chmodSync(path.join(root, 'etc/secret'), 0o600);
    fs.chownSync(path.join(root, 'etc/secret'), 1234, 5678);
    fs.chmodSync(path.join(root, 'etc/sub'), 0o2750);
    fs.chownSync(path.join(root, 'etc/sub'), 42, 43);
    fs.symlinkSync('../passwd', path.join(root, 'etc/sub/link'));
    fs.linkSync(path.join(root, 'etc/passwd'), path.join(root, 'etc/hard'));
    fs.chmodSync(path.join(root, 'etc'), 0o751);
    fs.chownSync(path.join(root, 'etc'), 7, 8);
    // /cfg -> /etc (absolute, resolved inside the root); /esc -> ../../../etc escapes nothing
    fs.symlinkSync('/etc', path.join(root, 'cfg'));
    fs.symlinkSync('../../../etc', path.join(root, 'esc'));
    return root;
  }

  test('copies content, owners, modes, symlinks and hard links into an empty volume', () => {
    const root = image();
    const vol = tmp();
    expect(copyImageContent(root, '/etc', vol)).toBe(true);
    expect(fs.readFileSync(path.join(vol, 'passwd'), 'utf8')).toMatch(/^root:/);
    const secret = fs.statSync(path.join(vol, 'secret'));
    expect([secret.mode & 0o7777, secret.uid, secret.gid]).toEqual([0o600, 1234, 5678]);
    const sub = fs.statSync(path.join(vol, 'sub'));
    expect([sub.mode & 0o7777, sub.uid, sub.gid]).toEqual([0o2750, 42, 43]);
    expect(fs.readlinkSync(path.join(vol, 'sub/link'))).toBe('../passwd');
    expect(fs.statSync(path.join(vol, 'hard')).ino).toBe(fs.statSync(path.join(vol, 'passwd')).ino);
    const top = fs.statSync(vol);
    expect([top.mode & 0o7777, top.uid, top.gid]).toEqual([0o751, 7, 8]);
  });

  test('a volume with content is left alone; a missing path copies nothing', () => {
    const root = image();
    const vol = tmp();
    fs.writeFileSync(path.join(vol, 'mine'), 'x');
    expect(copyImageContent(root, '/etc', vol)).toBe(false);
    expect(fs.readdirSync(vol)).toEqual(['mine']);
    expect(copyImageContent(root, '/nope', tmp())).toBe(false);
  });

  test('symlinked mount points resolve inside the image root', () => {
    const root = image();
    const vol = tmp();
    expect(copyImageContent(root, '/cfg', vol)).toBe(true);
    expect(fs.existsSync(path.join(vol, 'passwd'))).toBe(true);
    const vol2 = tmp();
    expect(copyImageContent(root, '/esc/sub', vol2)).toBe(true);
    expect(fs.readlinkSync(path.join(vol2, 'link'))).toBe('../passwd');
    expect(copyImageContent(root, '/../../etc', tmp())).toBe(true);
  });

  test('a mount point linking to a host directory copies nothing from the host', () => {
    const root = image();
    const host = tmp();
    fs.writeFileSync(path.join(host, 'marker'), 'HOST');
    fs.symlinkSync(host, path.join(root, 'data'));
    const vol = tmp();
    expect(copyImageContent(root, '/data', vol)).toBe(false);
    expect(fs.readdirSync(vol)).toEqual([]);
  });

  test('directories swapped for host links during the copy (image side and volume side) are not followed', () => {
    const root = image();
    const host = tmp();
    fs.writeFileSync(path.join(host, 'marker'), 'HOST');
    const vol = tmp();
    const real = linuxSys();
    const swap = (dir: string) => {
      fs.renameSync(dir, `${dir}.moved`);
      fs.symlinkSync(host, dir);
    };
    fs.writeFileSync(path.join(root, 'etc', 'sub', 'zz'), 'image data');
    // once the first entry of etc/sub is copied, both the image's etc/sub and the volume's sub
    // become host links: the second entry is read and written while they are
    let swapped = false;
    const after = (name: string) => {
      if (swapped || (name !== 'link' && name !== 'zz')) return;
      swapped = true;
      swap(path.join(root, 'etc', 'sub'));
      swap(path.join(vol, 'sub'));
    };
    const hooked = new Proxy(real, {
      get(target, key: keyof Sys) {
        if (key === 'symlinkat') {
          return (t: string, fd: number, name: string) => {
            real.symlinkat(t, fd, name);
            after(name);
          };
        }
        if (key === 'openat') {
          return (fd: number, name: string, flags: number, mode?: number) => {
            const r = real.openat(fd, name, flags, mode);
            if ((flags & O.CREAT) !== 0) after(name);
            return r;
          };
        }
        const v = target[key];
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    expect(copyImageContent(root, '/etc', vol, hooked)).toBe(true);
    // a path joined from the volume now leads to the host: what a string-based copy would write into
    expect(fs.realpathSync(path.join(vol, 'sub'))).toBe(host);
    expect(fs.readdirSync(host)).toEqual(['marker']);
    expect(fs.readFileSync(path.join(host, 'marker'), 'utf8')).toBe('HOST');
    expect(swapped).toBe(true);
    expect(fs.readlinkSync(path.join(vol, 'sub.moved', 'link'))).toBe('../passwd');
    expect(fs.readFileSync(path.join(vol, 'sub.moved', 'zz'), 'utf8')).toBe('image data');
    expect(fs.statSync(path.join(vol, 'sub.moved')).mode & 0o7777).toBe(0o2750);
  });
});

describe('VolumeStore', () => {
  function store(): { s: VolumeStore; fake: FakeMounts; root: string } {
    const root = tmp();
    const fake = new FakeMounts();
    return { s: new VolumeStore(root, { sys: () => fake, mountsUnder: fake.under }), fake, root };
  }

  test('create writes the record and _data; records survive a new store', () => {
    const { s, root, fake } = store();
    const { volume, created } = s.create({ name: 'db', labels: { a: 'b' } });
    expect(created).toBe(true);
    expect(volume).toMatchObject({ Name: 'db', Driver: 'local', Labels: { a: 'b' }, Options: null, Scope: 'local' });
    expect(fs.statSync(path.join(root, 'volumes/db/_data')).isDirectory()).toBe(true);
    expect(s.create({ name: 'db' }).created).toBe(false);
    const again = new VolumeStore(root, { sys: () => fake, mountsUnder: fake.under });
    expect(again.get('db')).toEqual(volume);
  });

  test('no name: an anonymous volume with a 64-hex name and the anonymous label', () => {
    const { s } = store();
    const v = s.create({}).volume;
    expect(v.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(v.Labels).toEqual({ [ANONYMOUS_LABEL]: '' });
    expect(s.isAnonymous(v)).toBe(true);
  });

  test('bad input: status, message, nothing created', () => {
    const { s, root } = store();
    const e = httpError(() => s.create({ name: 'foo/bar' }));
    expect([e.status, e.message]).toEqual([
      400,
      'create foo/bar: "foo/bar" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
    ]);
    expect(httpError(() => s.create({ name: 'x1', options: { bogus: '1' } })).message).toBe('create x1: invalid option: "bogus"');
    expect(httpError(() => s.create({ name: 'x2', driver: 'nfs' })).status).toBe(404);
    expect(fs.readdirSync(path.join(root, 'volumes'))).toEqual([]);
    expect(httpError(() => s.get('nope'))).toMatchObject({ status: 404, message: 'get nope: no such volume' });
  });

  test('a device is mounted for the first holder and unmounted after the last', () => {
    const { s, fake } = store();
    s.create({ name: 'tv', options: { type: 'tmpfs', device: 'tmpfs', o: 'size=64m' } });
    s.acquire('tv', 'c1');
    s.acquire('tv', 'c2');
    s.acquire('tv', 'c2');
    expect(fake.calls).toEqual(['mount tmpfs tv tmpfs 0 size=64m']);
    s.release('tv', 'c1');
    expect(fake.table).toHaveLength(1);
    s.release('tv', 'c2');
    expect(fake.calls).toEqual(['mount tmpfs tv tmpfs 0 size=64m', 'umount tv']);
    expect(fake.table).toEqual([]);
    s.release('tv', 'c2');
    expect(fake.calls).toHaveLength(2);
  });

  test('plain volumes are never mounted', () => {
    const { s, fake } = store();
    s.create({ name: 'plain' });
    s.acquire('plain', 'c1');
    s.release('plain', 'c1');
    expect(fake.calls).toEqual([]);
  });

  test('remove: in use is a 409 with the users; otherwise unmounted and deleted', () => {
    const { s, fake, root } = store();
    s.create({ name: 'bv', options: { type: 'none', o: 'bind', device: root } });
    s.acquire('bv', 'c1');
    const e = httpError(() => s.remove('bv', ['c1']));
    expect([e.status, e.message]).toEqual([409, 'remove bv: volume is in use - [c1]']);
    s.remove('bv', []);
    expect(fake.table).toEqual([]);
    expect(fs.existsSync(path.join(root, 'volumes/bv'))).toBe(false);
    expect(s.find('bv')).toBeUndefined();
  });

  test('size counts each inode once', () => {
    const { s } = store();
    s.create({ name: 'sz' });
    fs.writeFileSync(path.join(s.dataPath('sz'), 'a'), 'x'.repeat(100));
    fs.linkSync(path.join(s.dataPath('sz'), 'a'), path.join(s.dataPath('sz'), 'b'));
    fs.mkdirSync(path.join(s.dataPath('sz'), 'd'));
    fs.writeFileSync(path.join(s.dataPath('sz'), 'd', 'c'), 'y'.repeat(20));
    expect(s.size('sz')).toBe(120);
    // a link to a host directory is counted as the link (its own length), not walked
    const host = tmp();
    fs.writeFileSync(path.join(host, 'big'), 'z'.repeat(10_000));
    fs.symlinkSync(host, path.join(s.dataPath('sz'), 'h'));
    expect(s.size('sz')).toBe(120 + host.length);
  });
});

describe('ContainerMounts', () => {
  function setup() {
    const root = tmp();
    const fake = new FakeMounts();
    const volumes = new VolumeStore(root, { sys: () => fake, mountsUnder: fake.under });
    const containers = new ContainerStore(root);
    const ctx = { log: new Logger('error'), events: new EngineEvents(), dataRoot: root } as unknown as EngineContext;
    return { root, volumes, containers, cm: new ContainerMounts(volumes, containers, ctx) };
  }
  function record(id: string, mountPoints: ContainerRecord['MountPoints']): ContainerRecord {
    return {
      Id: id,
      Name: `/${id}`,
      Created: new Date().toISOString(),
      Path: 'true',
      Args: [],
      Image: 'busybox',
      ImageID: 'sha256:x',
      Config: {},
      HostConfig: {},
      State: initialState(),
      RestartCount: 0,
      LogPath: '',
      ManuallyStopped: false,
      SnapshotKey: id,
      MountPoints: mountPoints,
    };
  }

  test('plans binds, named, anonymous and image volumes; buildSpec binds their _data', () => {
    const { cm, volumes, root } = setup();
    const hc = { Binds: [`${root}:/h:ro`, 'named:/n', '/anon'], Mounts: [{ Type: 'tmpfs', Target: '/t' }], Tmpfs: { '/run': '' } };
    const p = cm.prepare(hc, ['/anon', '/img', '/run', '/n']);
    const byDest = Object.fromEntries(p.mountPoints.map((m) => [m.Destination, m]));
    expect(byDest['/h']).toMatchObject({ Type: 'bind', Source: root, RW: false, Mode: 'ro', Propagation: 'rprivate' });
    expect(byDest['/n']).toMatchObject({ Type: 'volume', Name: 'named', Source: volumes.dataPath('named'), Mode: 'z', Anonymous: false });
    expect(byDest['/anon']).toMatchObject({ Type: 'volume', Anonymous: true, Mode: '' });
    expect(byDest['/img']).toMatchObject({ Type: 'volume', Anonymous: true, CopyData: true });
    expect(byDest['/t']).toMatchObject({ Type: 'tmpfs', Source: '' });
    // /run is a --tmpfs, /n and /anon are planned already: no extra volumes for them
    expect(byDest['/run']).toBeUndefined();
    expect(volumes.all()).toHaveLength(3);
    const spec = buildSpec({
      id: 'a'.repeat(64),
      config: {},
      hostConfig: hc,
      image: { config: { Cmd: ['sh'] } },
      rootfsPath: 'rootfs',
      volumeSource: p.volumeSource,
      configVolumes: p.configVolumes,
    });
    const m = (d: string) => spec.mounts!.find((x) => x.destination === d);
    expect(m('/n')).toEqual({ destination: '/n', type: 'bind', source: volumes.dataPath('named'), options: ['rbind', 'rprivate'] });
    expect(m('/img')).toMatchObject({ type: 'bind', source: byDest['/img']!.Source });
    expect(m('/anon')).toMatchObject({ type: 'bind', source: byDest['/anon']!.Source });
    p.rollback();
    expect(volumes.all()).toEqual([]);
  });

  test('a missing --mount bind source is a 400 and creates no volume', () => {
    const { cm, volumes, root } = setup();
    const missing = path.join(root, 'missing');
    const e = httpError(() => cm.prepare({ Binds: ['v1:/v'], Mounts: [{ Type: 'bind', Source: missing, Target: '/x' }] }, ['/img']));
    expect([e.status, e.message]).toEqual([400, `invalid mount config for type "bind": bind source path does not exist: ${missing}`]);
    expect(volumes.all()).toEqual([]);
  });

  test('a bad volume name undoes the volumes made before it', () => {
    const { cm, volumes } = setup();
    const e = httpError(() => cm.prepare({ Binds: ['good:/a', 'foo/bar:/b'] }, []));
    expect(e.message).toMatch(/^create foo\/bar: "foo\/bar" includes invalid characters/);
    expect(volumes.all()).toEqual([]);
  });

  test('users, start/stop holding, rm -v removes only anonymous volumes', () => {
    const { cm, volumes, containers, root } = setup();
    const p = cm.prepare({ Binds: ['keep:/k', '/anon', `${path.join(root, 'made')}:/m`] }, []);
    const rec = record('c1', p.mountPoints);
    containers.save(rec);
    const anon = p.mountPoints.find((m) => m.Anonymous)!.Name!;
    expect(cm.usersOf('keep')).toEqual(['c1']);
    expect(usesVolume(rec, 'keep') && usesVolume(rec, '/anon') && !usesVolume(rec, 'other')).toBe(true);
    expect(mountsJson(rec).find((m) => m.Destination === '/k')).toEqual({
      Type: 'volume',
      Name: 'keep',
      Source: volumes.dataPath('keep'),
      Destination: '/k',
      Driver: 'local',
      Mode: 'z',
      RW: true,
      Propagation: '',
    });
    cm.start(rec);
    expect(fs.existsSync(path.join(root, 'made'))).toBe(true);
    expect(volumes.holdersOf('keep')).toEqual(['c1']);
    cm.stop(rec);
    expect(volumes.holdersOf('keep')).toEqual([]);
    containers.remove('c1');
    cm.removed(rec, true);
    expect(volumes.find(anon)).toBeUndefined();
    expect(volumes.find('keep')).toBeDefined();
  });
});
