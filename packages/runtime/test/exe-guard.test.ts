/**
 * The stage executable guard (CVE-2019-5736) against FakeSys: which kernel calls seal node, in
 * which order, what happens when the kernel refuses, and how spawnStage uses the sealed handle
 * (node's child_process.spawn is replaced by a recorder, so no process starts).
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { CLONE, F, F_SEAL, FakeSys, MFD, MOUNT_ATTR, O, SysError } from '@gantry/linux';
import { ConfigError, InitError } from '../src/errors';
import { StageExecutable, sealExecutable, type StageExecutableOptions } from '../src/process/exe-guard';

const mockSpawned: { file: string; args: string[]; options: Record<string, unknown> }[] = [];
let mockOnSpawn: (() => void) | undefined;
jest.mock('node:child_process', () => ({
  spawn: (file: string, args: string[], options: { stdio: unknown[] }) => {
    mockSpawned.push({ file, args, options });
    mockOnSpawn?.();
    const child = new EventEmitter() as EventEmitter & { pid: number; stdio: unknown[] };
    child.pid = 4242;
    child.stdio = options.stdio.map((s) => (s === 'pipe' ? new PassThrough() : null));
    return child;
  },
}));
// Imported after the mock so spawnStage gets the recorder.
import { spawnStage } from '../src/process/spawn-stage';

const ENODEV = 19;
const EINVAL = 22;
const NODE = '/opt/node/bin/node';
const BOTTOM = '/run/gantry-runtime';

function opts(extra: Partial<StageExecutableOptions> = {}): StageExecutableOptions {
  return { node: NODE, bottomDir: BOTTOM, ...extra };
}

/** The calls made, as "op arg arg" strings, for readable order assertions. */
function ops(sys: FakeSys): string[] {
  return sys.calls.map((c) =>
    [c.op, ...c.args.map((a) => (typeof a === 'object' ? JSON.stringify(a) : String(a as string | number | bigint | boolean | undefined)))].join(' '),
  );
}

/** The fd the first `op` call got: FakeSys hands out 10, 11, … in call order (only when no call failed before). */
function fdOpenedBy(sys: FakeSys, op: string): number {
  const i = sys.calls.findIndex((c) => c.op === op);
  if (i < 0) throw new Error(`no ${op} call`);
  const fdReturning = new Set(['open', 'openat', 'fsopen', 'fsmount', 'memfdCreate', 'pipe', 'connectUnix', 'listenUnix']);
  return 10 + sys.calls.slice(0, i).filter((c) => fdReturning.has(c.op)).length;
}

describe('sealing the stage executable', () => {
  it("overlay: a detached read-only overlay of node's directory over the state root, then an O_PATH fd of node on it", () => {
    const sys = new FakeSys();
    const sealed = sealExecutable(sys, opts());
    expect(sealed.how).toBe('overlay');
    const ctx = fdOpenedBy(sys, 'fsopen');
    const mnt = fdOpenedBy(sys, 'fsmount');
    expect(sealed.fd).toBe(fdOpenedBy(sys, 'openat'));
    expect(sealed.mountFd).toBe(mnt);
    expect(ops(sys)).toEqual([
      `mkdir /run ${0o711}`,
      `mkdir ${BOTTOM} ${0o711}`,
      'fsopen overlay',
      `fsconfigString ${ctx} lowerdir /opt/node/bin:${BOTTOM}`,
      `fsconfigString ${ctx} xino off`,
      `fsconfigCreate ${ctx}`,
      `fsmount ${ctx} ${MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV}`,
      `openat ${mnt} node ${O.PATH | O.NOFOLLOW | O.CLOEXEC} 0`,
      // the mount fd stays open until the first spawn (see StageExecutable)
      `close ${ctx}`,
    ]);
    // never mounted anywhere, never exec-less, never attached by path
    expect(sys.callsOf('mount')).toEqual([]);
    expect(sys.callsOf('unshare')).toEqual([]);
  });

  it('escapes ":", "," and "\\" in the layer paths (overlayfs splits lowerdir on ":")', () => {
    const sys = new FakeSys();
    sealExecutable(sys, opts({ node: '/a:b/c\\d,e/node', bottomDir: '/e:f' }));
    expect(sys.callsOf('fsconfigString')[0]).toEqual([expect.any(Number), 'lowerdir', '/a\\:b/c\\\\d\\,e:/e\\:f']);
  });

  it('goes on without xino=off on kernels that do not know it', () => {
    const sys = new FakeSys();
    sys.failOn('fsconfigString', EINVAL, 'xino');
    expect(sealExecutable(sys, opts()).how).toBe('overlay');
    expect(sys.callsOf('fsconfigCreate')).toHaveLength(1);
  });

  it('closes the context and mount fds when the overlay cannot be made', () => {
    const sys = new FakeSys();
    sys.failOn('openat', 2 /* ENOENT */);
    sys.failOn('memfdCreate', 12 /* ENOMEM */);
    expect(() => sealExecutable(sys, opts())).toThrow(InitError);
    const ctx = fdOpenedBy(sys, 'fsopen');
    const mnt = fdOpenedBy(sys, 'fsmount');
    expect(sys.callsOf('close').slice(0, 2)).toEqual([[mnt], [ctx]]);
  });

  it('falls back to a sealed memfd copy when the kernel refuses the overlay', () => {
    const sys = new FakeSys();
    sys.failOn('fsopen', ENODEV);
    sys.sendfileResults = [1 << 30, 5_000_000];
    const sealed = sealExecutable(sys, opts());
    expect(sealed.how).toBe('copy');
    // fsopen failed before handing out an fd: the source is the first fd, the memfd the second
    const mfd = sealed.fd;
    const src = mfd - 1;
    expect(ops(sys).slice(ops(sys).indexOf(`open ${NODE} ${O.RDONLY | O.CLOEXEC} 0`))).toEqual([
      `open ${NODE} ${O.RDONLY | O.CLOEXEC} 0`,
      `memfdCreate gantry-stage-node ${MFD.CLOEXEC | MFD.ALLOW_SEALING | MFD.EXEC}`,
      // copied until sendfile says end of file
      `sendfile ${mfd} ${src} ${1 << 30}`,
      `sendfile ${mfd} ${src} ${1 << 30}`,
      `sendfile ${mfd} ${src} ${1 << 30}`,
      `fcntlInt ${mfd} ${F.ADD_SEALS} ${F_SEAL.EXEC}`,
      `fcntlInt ${mfd} ${F.ADD_SEALS} ${F_SEAL.WRITE | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.SEAL}`,
      `close ${src}`,
    ]);
  });

  it('copy: retries without MFD_EXEC on kernels before 6.3, and survives a missing F_SEAL_EXEC', () => {
    const sys = new FakeSys();
    sys.failOn('memfdCreate', EINVAL);
    sys.failOn('fcntlInt', EINVAL, String(F.ADD_SEALS));
    const sealed = sealExecutable(sys, opts({ seal: 'copy' }));
    expect(sealed.how).toBe('copy');
    expect(sys.callsOf('memfdCreate')).toEqual([
      ['gantry-stage-node', MFD.CLOEXEC | MFD.ALLOW_SEALING | MFD.EXEC],
      ['gantry-stage-node', MFD.CLOEXEC | MFD.ALLOW_SEALING],
    ]);
    // the write seals are still applied
    expect(sys.callsOf('fcntlInt').at(-1)).toEqual([sealed.fd, F.ADD_SEALS, F_SEAL.WRITE | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.SEAL]);
    expect(sys.callsOf('fsopen')).toEqual([]);
  });

  it('copy: a refused write seal is an error, and the memfd is closed', () => {
    // F_SEAL_EXEC may be refused (old kernels); the write seals may not.
    const sys = new (class extends FakeSys {
      private adds = 0;
      override fcntlInt(fd: number, cmd: number, arg: number): number {
        if (cmd === F.ADD_SEALS && ++this.adds === 2) {
          this.calls.push({ op: 'fcntlInt', args: [fd, cmd, arg] });
          throw new SysError('fcntl', EINVAL);
        }
        return super.fcntlInt(fd, cmd, arg);
      }
    })();
    expect(() => sealExecutable(sys, opts({ seal: 'copy' }))).toThrow(/cannot seal the stage executable .*copy: fcntl: EINVAL/);
    const src = fdOpenedBy(sys, 'open');
    const mfd = fdOpenedBy(sys, 'memfdCreate');
    expect(sys.callsOf('close')).toEqual([[mfd], [src]]);
  });

  it('an explicit mode does not fall back', () => {
    const sys = new FakeSys();
    sys.failOn('fsopen', ENODEV);
    expect(() => sealExecutable(sys, opts({ seal: 'overlay' }))).toThrow(InitError);
    expect(sys.callsOf('memfdCreate')).toEqual([]);
  });

  it('names both refusals when nothing works', () => {
    const sys = new FakeSys();
    sys.failOn('fsopen', ENODEV);
    sys.failOn('open', 13 /* EACCES */, NODE);
    expect(() => sealExecutable(sys, opts())).toThrow(
      `cannot seal the stage executable ${NODE} against CVE-2019-5736: overlay: fsopen overlay: ENODEV (errno 19); copy: open ${NODE}: EACCES (permission denied)`,
    );
  });

  it('a node that cannot be resolved is a configuration error', () => {
    const sys = new FakeSys();
    sys.realpath = (p: string) => {
      throw Object.assign(new Error(`ENOENT: no such file or directory, realpath '${p}'`), { code: 'ENOENT' });
    };
    expect(() => sealExecutable(sys, opts({ node: '/nowhere/node' }))).toThrow(
      new ConfigError("the stages' node /nowhere/node cannot be used: ENOENT: no such file or directory, realpath '/nowhere/node'"),
    );
    expect(sys.calls).toEqual([]);
  });

  it('seals the binary a symlink points to', () => {
    const sys = new FakeSys();
    sys.realpath = () => '/usr/lib/node/bin/node-20';
    sealExecutable(sys, opts({ node: '/usr/bin/node' }));
    expect(sys.callsOf('fsconfigString')[0]![2]).toBe(`/usr/lib/node/bin:${BOTTOM}`);
    expect(sys.callsOf('openat')[0]![1]).toBe('node-20');
  });

  it('refuses an unknown mode before touching the kernel', () => {
    const sys = new FakeSys();
    expect(() => sealExecutable(sys, opts({ seal: 'none' }))).toThrow(ConfigError);
    expect(sys.calls).toEqual([]);
  });

  it('a bug (not a kernel refusal) is not hidden by the fallback', () => {
    const sys = new FakeSys();
    sys.fsopen = () => {
      throw new TypeError('boom');
    };
    expect(() => sealExecutable(sys, opts())).toThrow(TypeError);
  });
});

describe('StageExecutable', () => {
  it('seals once per kernel seam and node, however many Runtime contexts ask', () => {
    const sys = new FakeSys();
    const a = new StageExecutable(sys, opts());
    const b = new StageExecutable(sys, opts());
    expect(b.sealed()).toBe(a.sealed());
    expect(sys.callsOf('fsopen')).toHaveLength(1);
    expect(new StageExecutable(sys, opts({ node: '/usr/bin/node' })).sealed()).not.toBe(a.sealed());
    expect(new StageExecutable(new FakeSys(), opts()).sealed()).not.toBe(a.sealed());
  });

  it("spawns /proc/self/fd/N of the sealed handle when N is above the child's stdio; closes the mount fd after the first spawn only", () => {
    const sys = new FakeSys();
    const exe = new StageExecutable(sys, opts());
    const { fd, mountFd } = exe.sealed();
    sys.calls.length = 0;
    const spawn = (file: string): string => {
      sys.calls.push({ op: 'spawn', args: [file] });
      return file;
    };
    expect(exe.spawnWith(fd, spawn)).toBe(`/proc/self/fd/${fd}`);
    expect(exe.spawnWith(fd, spawn)).toBe(`/proc/self/fd/${fd}`);
    expect(ops(sys)).toEqual([`spawn /proc/self/fd/${fd}`, `close ${mountFd}`, `spawn /proc/self/fd/${fd}`]);
    // another context sharing the cached handle does not close it again
    new StageExecutable(sys, opts()).spawnWith(fd, spawn);
    expect(sys.callsOf('close')).toEqual([[mountFd]]);
  });

  it("duplicates a handle the child's stdio mapping would replace, and closes the duplicate after spawning", () => {
    const sys = new FakeSys();
    const exe = new StageExecutable(sys, opts());
    const { fd, mountFd } = exe.sealed();
    sys.calls.length = 0;
    const stdioCount = fd + 5;
    const file = exe.spawnWith(stdioCount, (f) => {
      sys.calls.push({ op: 'spawn', args: [f] });
      return f;
    });
    const dup = Number(file.slice('/proc/self/fd/'.length));
    expect(dup).toBeGreaterThanOrEqual(stdioCount);
    expect(ops(sys)).toEqual([`fcntlInt ${fd} ${F.DUPFD_CLOEXEC} ${stdioCount}`, `spawn /proc/self/fd/${dup}`, `close ${dup}`, `close ${mountFd}`]);
  });

  it('closes the duplicate (and the mount fd) when spawning throws', () => {
    const sys = new FakeSys();
    const exe = new StageExecutable(sys, opts());
    const { fd, mountFd } = exe.sealed();
    sys.calls.length = 0;
    expect(() =>
      exe.spawnWith(fd + 1, () => {
        throw new Error('EAGAIN');
      }),
    ).toThrow('EAGAIN');
    const [[dup]] = sys.callsOf('close') as [[number]];
    expect(dup).toBeGreaterThanOrEqual(fd + 1);
    expect(sys.callsOf('close')).toEqual([[dup], [mountFd]]);
  });
});

describe('spawnStage with the guard', () => {
  beforeEach(() => {
    mockSpawned.length = 0;
  });

  it('seals first, then switches the pid namespace, spawns the sealed node, and switches back', () => {
    const sys = new FakeSys();
    const exe = new StageExecutable(sys, opts());
    mockOnSpawn = () => sys.calls.push({ op: 'spawn', args: [mockSpawned.at(-1)!.file] });
    const h = spawnStage(sys, { preserveFds: 0, extraFds: [], pidNamespace: { kind: 'new' }, detached: true, executable: exe });
    mockOnSpawn = undefined;
    h.close();
    const sealedFd = exe.sealed().fd;
    const all = ops(sys);
    const savedNs = fdOpenedBy(sys, 'open');
    expect(all.slice(all.indexOf('fsopen overlay'))).toEqual([
      'fsopen overlay',
      expect.stringMatching(/^fsconfigString \d+ lowerdir /),
      expect.stringMatching(/^fsconfigString \d+ xino off$/),
      expect.stringMatching(/^fsconfigCreate /),
      expect.stringMatching(/^fsmount /),
      expect.stringMatching(/^openat /),
      expect.stringMatching(/^close /),
      `open /proc/self/ns/pid ${O.RDONLY | O.CLOEXEC} 0`,
      `unshare ${CLONE.NEWPID}`,
      `spawn /proc/self/fd/${sealedFd}`,
      `close ${fdOpenedBy(sys, 'fsmount')}`,
      `setns ${savedNs} ${CLONE.NEWPID}`,
      `close ${savedNs}`,
    ]);
    expect(mockSpawned).toHaveLength(1);
    expect(mockSpawned[0]!.args).toEqual([expect.stringMatching(/stage-main\.js$/)]);
    // ps shows node, not /proc/self/fd/N
    expect(mockSpawned[0]!.options.argv0).toBe(NODE);
  });

  it('keeps the handle clear of a long stdio list (preserved fds)', () => {
    const sys = new FakeSys();
    const exe = new StageExecutable(sys, opts());
    const { fd } = exe.sealed();
    const preserveFds = fd; // stdio = 3 + preserveFds + sync: covers fd
    spawnStage(sys, { preserveFds, extraFds: [], pidNamespace: { kind: 'host' }, detached: false, executable: exe }).close();
    const stdioCount = 3 + preserveFds + 1;
    const file = mockSpawned[0]!.file;
    expect(Number(file.slice('/proc/self/fd/'.length))).toBeGreaterThanOrEqual(stdioCount);
    expect(sys.callsOf('fcntlInt')).toEqual([[fd, F.DUPFD_CLOEXEC, stdioCount]]);
  });

  it('a sealing failure starts nothing and leaves the pid namespace alone', () => {
    const sys = new FakeSys();
    sys.failOn('fsopen', ENODEV);
    sys.failOn('memfdCreate', 12);
    const exe = new StageExecutable(sys, opts({ node: '/nowhere/node' }));
    expect(() => spawnStage(sys, { preserveFds: 0, extraFds: [], pidNamespace: { kind: 'new' }, detached: true, executable: exe })).toThrow(InitError);
    expect(mockSpawned).toEqual([]);
    expect(sys.callsOf('unshare')).toEqual([]);
  });
});
