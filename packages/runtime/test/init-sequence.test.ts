import { CLONE, FakeExecve, FakeExit, FakeSys, FS_MAGIC, MNT_DETACH, MS, O, PR, S_IF, type SeccompFilter, type SpawnRequest } from '@gantry/linux';
import { runExec, runInit } from '../src/init/init-sequence';
import type { ExecBootstrap, InitBootstrap, ParentMessage, StageChannel, StageMessage } from '../src/process/messages';
import { defaultSpec } from '../src/spec/default-spec';
import type { Spec } from '../src/spec/types';

class FakeChannel implements StageChannel {
  sent: StageMessage[] = [];
  constructor(
    private readonly replies: ParentMessage[] = [],
    readonly fd = 3,
  ) {}
  send(msg: StageMessage): void {
    this.sent.push(msg);
  }
  receive(): ParentMessage {
    const r = this.replies.shift();
    if (!r) throw new Error('no reply queued');
    return r;
  }
}

function fakeRootfs(): FakeSys {
  const sys = new FakeSys();
  sys.addFile('/bundle/rootfs/bin/busybox', '', 0o755);
  sys.addFile('/bundle/rootfs/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  sys.addDir('/bundle/rootfs/proc');
  sys.addDir('/bundle/rootfs/dev');
  sys.addFifo('/state/c1/exec.fifo');
  // after pivot_root the fake sees container paths at "/" too
  sys.addFile('/bin/sh', '', 0o755);
  sys.addFile('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  sys.addDir('/proc/sys/net/ipv4');
  sys.addFile('/proc/kcore');
  sys.addDir('/sys/firmware');
  sys.addDir('/dev');
  sys.mknod('/dev/null', S_IF.CHR | 0o666, 1, 3);
  // after pivot_root /proc and /sys are the container's procfs and sysfs
  sys.fsTypes.set('/proc', { type: FS_MAGIC.PROC, flags: 0 });
  sys.fsTypes.set('/sys', { type: FS_MAGIC.SYSFS, flags: 0 });
  sys.calls.length = 0;
  return sys;
}

function bootstrap(spec: Spec, extra: Partial<InitBootstrap> = {}): InitBootstrap {
  return {
    mode: 'init',
    id: 'c1',
    bundle: '/bundle',
    rootfs: '/bundle/rootfs',
    spec,
    stateDir: '/state/c1',
    noPivot: false,
    preserveFds: 0,
    cgroupPath: '/gantry/c1',
    hostCgroups: [],
    lastCap: 40,
    runtimeHooks: false,
    ...extra,
  };
}

function specFor(change: (s: Spec) => void = () => undefined): Spec {
  const s = defaultSpec();
  s.process!.terminal = false;
  s.process!.args = ['sh', '-c', 'echo hi'];
  s.linux!.namespaces!.push({ type: 'cgroup' });
  change(s);
  return s;
}

function run(sys: FakeSys, ch: FakeChannel, b: InitBootstrap): FakeExecve {
  try {
    runInit(sys, ch, b, () => undefined);
  } catch (e) {
    if (e instanceof FakeExecve) return e;
    throw e;
  }
  throw new Error('runInit returned');
}

const ops = (sys: FakeSys) => sys.calls.map((c) => c.op);
/** Index of the open of exec.fifo (the rootfs set-up makes openat calls of its own). */
const fifoOpen = (sys: FakeSys) => sys.calls.findIndex((c) => c.op === 'openat' && c.args[1] === 'exec.fifo');

describe('runInit through the fake seam', () => {
  it('goes from namespaces to execve in the order the kernel needs', () => {
    const sys = fakeRootfs();
    const ch = new FakeChannel();
    const exec = run(sys, ch, bootstrap(specFor()));

    expect(exec.path).toBe('/bin/sh');
    expect(exec.argv).toEqual(['sh', '-c', 'echo hi']);
    expect(exec.env).toContain('HOME=/root');

    const o = ops(sys);
    const first = (op: string) => o.indexOf(op);
    // not dumpable before anything else
    expect(sys.calls[0]).toEqual({ op: 'prctl', args: [PR.SET_DUMPABLE, 0, 0, 0, 0] });
    // one unshare for new namespaces (with CLONE_FS for the mount ns), cgroup last
    const unshares = sys.callsOf('unshare').map((a) => a[0] as number);
    expect(unshares[0]! & CLONE.NEWNS).toBeTruthy();
    expect(unshares[0]! & CLONE.FS).toBeTruthy();
    expect(unshares[0]! & CLONE.NEWNET).toBeTruthy();
    expect(unshares[0]! & CLONE.NEWPID).toBeFalsy();
    expect(unshares[1]).toBe(CLONE.NEWCGROUP);
    expect(first('sethostname')).toBeGreaterThan(first('unshare'));
    expect(sys.callsOf('sethostname')).toEqual([['gantry']]);
    // propagation, rootfs bind, mounts, pivot
    const mounts = sys.callsOf('mount');
    expect(mounts[0]).toEqual([null, '/', null, MS.SLAVE | MS.REC, null]);
    expect(mounts[1]).toEqual(['/bundle/rootfs', '/bundle/rootfs', 'bind', MS.BIND | MS.REC, null]);
    // mounts go onto /proc/self/fd/N of targets resolved inside the rootfs
    expect(sys.mountTable).toContainEqual({ source: 'proc', target: '/bundle/rootfs/proc', fstype: 'proc', flags: 0, data: null });
    expect(first('pivotRoot')).toBeGreaterThan(first('mknodat'));
    expect(sys.callsOf('pivotRoot')).toEqual([['.', '.']]);
    // masked paths after pivot: file masked with /dev/null, directory with a read-only tmpfs
    expect(sys.mountTable).toContainEqual({ source: '/dev/null', target: '/proc/kcore', fstype: null, flags: MS.BIND, data: null });
    expect(sys.mountTable).toContainEqual({ source: 'tmpfs', target: '/sys/firmware', fstype: 'tmpfs', flags: MS.RDONLY, data: null });
    // read-only root last among mounts
    expect(mounts[mounts.length - 1]).toEqual([null, '/', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null]);
    // exec.fifo is held as an O_PATH fd on the fifo (never on the state dir) and reopened for
    // writing through /proc/self/fd once the container is ready
    const opens = sys.callsOf('open').map(([p, flags]) => [p, flags]);
    const fifoOpen = opens.findIndex(([p]) => p === '/state/c1/exec.fifo');
    expect(opens[fifoOpen]).toEqual(['/state/c1/exec.fifo', O.PATH | O.NOFOLLOW | O.CLOEXEC]);
    expect(opens.filter(([p]) => p === '/state/c1')).toEqual([]);
    const fifoFd = 10 + fifoOpen;
    const reopen = sys.calls.findIndex((c) => c.op === 'open' && c.args[0] === `/proc/self/fd/${fifoFd}`);
    expect(sys.calls[reopen]!.args[1]).toBe(O.WRONLY | O.CLOEXEC);
    // ... and left open: execve closes it, which is when `start` returns
    const writes = sys.calls.filter((c) => c.op === 'write' && Buffer.from(c.args[1] as Buffer | string).toString() === '0');
    expect(writes).toHaveLength(1);
    expect(sys.callsOf('close').map(([fd]) => fd)).not.toContain(writes[0]!.args[0]);
    expect(sys.callsOf('close').map(([fd]) => fd)).toContain(fifoFd);
    expect(sys.callsOf('openat').filter((a) => a[1] === 'exec.fifo')).toEqual([]);
    // everything that can fail comes before `ready`, so create reports it: ready is announced
    // after the cwd is entered and checked, and after the privileges are dropped
    expect(ch.sent).toEqual([{ type: 'ready', pid: 1 }]);
    // privileges: bounding set, then user, then capabilities, then no_new_privs; `start` is
    // released (exec.fifo) only after all that, right before execve, as runc does
    expect(reopen).toBeGreaterThan(first('capset'));
    expect(reopen).toBeGreaterThan(first('getcwd'));
    expect(reopen).toBeLessThan(first('execve'));
    const capDrop = sys.calls.findIndex((c) => c.op === 'prctl' && c.args[0] === PR.CAPBSET_DROP);
    expect(capDrop).toBeLessThan(first('setresuid'));
    expect(first('capset')).toBeGreaterThan(first('setresuid'));
    const nnp = sys.calls.findIndex((c) => c.op === 'prctl' && c.args[0] === PR.SET_NO_NEW_PRIVS);
    expect(nnp).toBeGreaterThan(first('capset'));
    expect(first('resetSignals')).toBeLessThan(first('execve'));
    expect(o[o.length - 1]).toBe('execve');
  });

  it('keeps only the bounding capabilities and sets the configured sets', () => {
    const sys = fakeRootfs();
    run(sys, new FakeChannel(), bootstrap(specFor()));
    const dropped = sys.calls.filter((c) => c.op === 'prctl' && c.args[0] === PR.CAPBSET_DROP).map((c) => c.args[1]);
    expect(dropped).toHaveLength(41 - 3);
    expect(dropped).not.toContain(29); // CAP_AUDIT_WRITE
    expect(dropped).not.toContain(5); // CAP_KILL
    const [sets] = sys.callsOf('capset')[0] as [{ effective: bigint }];
    expect(sets.effective).toBe((1n << 29n) | (1n << 5n) | (1n << 10n));
  });

  it('switches to the configured user with keepcaps around the uid change', () => {
    const sys = fakeRootfs();
    run(sys, new FakeChannel(), bootstrap(specFor((s) => (s.process!.user = { uid: 1000, gid: 1000, additionalGids: [5, 20] }))));
    expect(sys.callsOf('setgroups')).toEqual([[[5, 20]]]);
    expect(sys.callsOf('setresgid')).toEqual([[1000]]);
    expect(sys.callsOf('setresuid')).toEqual([[1000]]);
    const o = sys.calls.map((c) => `${c.op}:${c.op === 'prctl' ? String(c.args[0]) : ''}`);
    expect(o.indexOf(`prctl:${PR.SET_KEEPCAPS}`)).toBeLessThan(o.indexOf('setresuid:'));
  });

  it('applies rlimits, umask and the working directory', () => {
    const sys = fakeRootfs();
    sys.addDir('/work');
    run(
      sys,
      new FakeChannel(),
      bootstrap(
        specFor((s) => {
          s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
          s.process!.user.umask = 0o077;
          s.process!.cwd = '/work';
        }),
      ),
    );
    expect(sys.callsOf('setrlimit')).toEqual([[7, 123n, 456n]]);
    expect(sys.callsOf('umask')).toContainEqual([0o077]);
    expect(sys.callsOf('chdir')).toContainEqual(['/work']);
  });

  it('loads seccomp after no_new_privs when it is set, and before dropping privileges when not', () => {
    const filter: SeccompFilter = { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], flags: [], rules: [] };
    for (const nnp of [true, false]) {
      const sys = fakeRootfs();
      run(
        sys,
        new FakeChannel(),
        bootstrap(
          specFor((s) => (s.process!.noNewPrivileges = nnp)),
          { seccomp: filter },
        ),
      );
      const seccomp = sys.calls.findIndex((c) => c.op === 'seccompLoad');
      const setuid = sys.calls.findIndex((c) => c.op === 'setresuid');
      if (nnp) expect(seccomp).toBeGreaterThan(setuid);
      else expect(seccomp).toBeLessThan(setuid);
    }
  });

  it('loads the program the runtime compiled as it is, without compiling the filter itself', () => {
    const sys = fakeRootfs();
    const compiled = { program: Buffer.alloc(16).toString('base64'), flags: 0, notify: false };
    run(sys, new FakeChannel(), bootstrap(specFor(), { seccompCompiled: compiled }));
    expect(sys.callsOf('seccompLoadCompiled')).toEqual([[compiled]]);
    expect(sys.callsOf('seccompLoad')).toEqual([]);
  });

  it('hands a SCMP_ACT_NOTIFY listener to the seccomp agent right after loading, then closes its copies', () => {
    const filter: SeccompFilter = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: [],
      flags: [],
      rules: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY', args: [] }],
    };
    for (const nnp of [true, false]) {
      const sys = fakeRootfs();
      const state = '{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1}';
      run(
        sys,
        new FakeChannel(),
        bootstrap(
          specFor((s) => (s.process!.noNewPrivileges = nnp)),
          { seccomp: filter, seccompAgent: { fd: 77, state } },
        ),
      );
      const load = sys.calls.findIndex((c) => c.op === 'seccompLoad');
      const send = sys.calls.findIndex((c) => c.op === 'sendFd');
      expect(send).toBe(load + 1);
      const [[agentFd, listener, payload]] = sys.callsOf('sendFd') as [number, number, string][];
      expect([agentFd, payload]).toEqual([77, state]);
      const closes = sys.calls.slice(send + 1, send + 3);
      expect(closes).toEqual([
        { op: 'close', args: [listener] },
        { op: 'close', args: [77] },
      ]);
    }
  });

  it('refuses a notify filter when no agent was connected', () => {
    const filter: SeccompFilter = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: [],
      flags: [],
      rules: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY', args: [] }],
    };
    const sys = fakeRootfs();
    expect(() => run(sys, new FakeChannel(), bootstrap(specFor(), { seccomp: filter }))).toThrow(/no seccomp agent/);
  });

  it('joins namespaces given by path instead of creating them', () => {
    const sys = fakeRootfs();
    run(
      sys,
      new FakeChannel(),
      bootstrap(
        specFor((s) => {
          s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: '/var/run/netns/x' } : n));
        }),
      ),
    );
    expect(sys.callsOf('open')).toContainEqual(['/var/run/netns/x', expect.any(Number), 0]);
    expect(sys.callsOf('setns')[0]![1]).toBe(CLONE.NEWNET);
    expect((sys.callsOf('unshare')[0]![0] as number) & CLONE.NEWNET).toBeFalsy();
  });

  it('confines the process, then waits for start, then runs startContainer hooks (confined too, as runc does)', () => {
    const sys = fakeRootfs();
    sys.addDir('/work');
    const ran: string[] = [];
    const ch = new FakeChannel();
    try {
      runInit(
        sys,
        ch,
        bootstrap(
          specFor((s) => {
            s.hooks = { startContainer: [{ path: '/bin/true' }] };
            s.process!.cwd = '/work';
          }),
        ),
        (kind) => {
          ran.push(kind);
          sys.calls.push({ op: `hook:${kind}`, args: [] });
        },
      );
    } catch (e) {
      if (!(e instanceof FakeExecve)) throw e;
    }
    expect(ran).toEqual(['startContainer']);
    const o = ops(sys);
    const reopen = sys.calls.findIndex((c) => c.op === 'open' && String(c.args[0]).startsWith('/proc/self/fd/'));
    expect(reopen).toBeGreaterThan(0);
    expect(reopen).toBeLessThan(o.indexOf('hook:startContainer'));
    // confined first (user, capabilities), as runc: hooks run like the program will
    expect(o.indexOf('setresuid')).toBeLessThan(reopen);
    expect(o.indexOf('capset')).toBeLessThan(reopen);
    expect(o.indexOf('hook:startContainer')).toBeLessThan(o.indexOf('resetSignals'));
    expect(o.indexOf('resetSignals')).toBeLessThan(o.indexOf('execve'));
    // the cwd is entered and checked before `ready`, so a bad one still fails create
    expect(o.indexOf('getcwd')).toBeLessThan(reopen);
    const enter = sys.calls.findIndex((c) => c.op === 'chdir' && c.args[0] === '/work');
    expect(enter).toBeGreaterThan(0);
    expect(enter).toBeLessThan(reopen);
  });

  it('fails create with a clear error when the cwd is outside the root, before ready', () => {
    for (const outside of [(s: FakeSys) => (s.cwdOverride = '(unreachable)/run/gantry/c1'), (s: FakeSys) => s.failOn('getcwd', 2)]) {
      const sys = fakeRootfs();
      sys.addDir('/work');
      outside(sys);
      const ch = new FakeChannel();
      expect(() => run(sys, ch, bootstrap(specFor((s) => (s.process!.cwd = '/work'))))).toThrow(/outside the container's root/);
      expect(ch.sent).toEqual([]);
      expect(sys.callsOf('execve')).toEqual([]);
    }
  });

  it('reports a cwd that is not a directory at create, not as "init exited before start"', () => {
    const sys = fakeRootfs();
    sys.failOn('chdir', 20, '/proc/self/fd/4');
    const ch = new FakeChannel();
    expect(() => run(sys, ch, bootstrap(specFor((s) => (s.process!.cwd = '/proc/self/fd/4'))))).toThrow(
      'cannot enter the working directory /proc/self/fd/4: chdir /proc/self/fd/4: ENOTDIR (not a directory)',
    );
    expect(ch.sent).toEqual([]);
  });

  it('closes stray file and directory fds and marks the rest close-on-exec before chdir', () => {
    const sys = fakeRootfs();
    sys.fds.push(3, 4, 1020, 1021, 1022); // far above what the fake hands out
    sys.fdPaths.set(3, '/preserved/file');
    sys.fdPaths.set(1020, '/run/gantry/c1'); // a host directory someone leaked to us
    sys.fdPaths.set(1021, 'anon_inode:[eventpoll]'); // Node's own
    sys.fdPaths.set(1022, '/var/log/leaked.log');
    sys.addDir('/work');
    run(
      sys,
      new FakeChannel([], 4),
      bootstrap(
        specFor((s) => (s.process!.cwd = '/work')),
        { preserveFds: 1 },
      ),
    );
    const closes = sys.calls.flatMap((c, i) => (c.op === 'close' ? [[c.args[0], i]] : [])) as [number, number][];
    const chdir = sys.calls.findIndex((c) => c.op === 'chdir' && c.args[0] === '/work');
    const closedBeforeChdir = closes.filter(([, i]) => i < chdir).map(([fd]) => fd);
    expect(closedBeforeChdir).toEqual(expect.arrayContaining([1020, 1022]));
    // the preserved fd (3), the sync socket (4) and Node's anonymous fds stay
    expect(closedBeforeChdir).not.toContain(3);
    expect(closedBeforeChdir).not.toContain(4);
    expect(closedBeforeChdir).not.toContain(1021);
    const cloexec = sys.calls.findIndex((c) => c.op === 'closeFrom');
    expect(sys.calls[cloexec]!.args).toEqual([4, true]);
    expect(cloexec).toBeLessThan(chdir);
  });

  it('fails create, before ready, when a last step (capabilities) fails', () => {
    const sys = fakeRootfs();
    const ch = new FakeChannel();
    sys.failOn('capset', 1 /* EPERM */);
    expect(() => runInit(sys, ch, bootstrap(specFor()), () => undefined)).toThrow(/^unable to apply caps: operation not permitted$/);
    expect(ch.sent).toEqual([]); // create is still listening and reports it
    expect(sys.callsOf('write')).toEqual([]);
    expect(sys.callsOf('execve')).toHaveLength(0);
  });

  it('tells start through exec.fifo why the process cannot start when a startContainer hook fails', () => {
    const sys = fakeRootfs();
    const ch = new FakeChannel();
    const spec = specFor((s) => (s.hooks = { startContainer: [{ path: '/bin/false' }] }));
    const failingHook = () => {
      throw new Error('error running hook #0 (startContainer /bin/false): exit status 1');
    };
    expect(() => runInit(sys, ch, bootstrap(spec), failingHook)).toThrow(/hook #0/);
    expect(ch.sent).toEqual([{ type: 'ready', pid: 1 }]); // create had returned: the parent is not listening
    const reopen = sys.callsOf('open').filter(([p]) => String(p).startsWith('/proc/self/fd/'));
    expect(reopen).toHaveLength(1);
    const [[, written]] = sys.callsOf('write') as [number, string][];
    expect(written).toMatch(/^E.*hook #0/);
    expect(sys.callsOf('execve')).toHaveLength(0);
  });

  it('with startContainer hooks too, a step that confines the process fails create, before ready', () => {
    const sys = fakeRootfs();
    const ch = new FakeChannel();
    sys.failOn('capset', 1 /* EPERM */);
    const spec = specFor((s) => (s.hooks = { startContainer: [{ path: '/bin/true' }] }));
    expect(() => runInit(sys, ch, bootstrap(spec), () => undefined)).toThrow(/^unable to apply caps: operation not permitted$/);
    expect(ch.sent).toEqual([]);
    expect(sys.callsOf('write')).toEqual([]);
  });

  it('asks the parent to run createRuntime hooks after the namespaces exist', () => {
    const sys = fakeRootfs();
    const ch = new FakeChannel([{ mode: 'continue' }]);
    run(sys, ch, bootstrap(specFor(), { runtimeHooks: true }));
    expect(ch.sent[0]).toEqual({ type: 'hooks' });
    expect(ch.sent[1]).toEqual({ type: 'ready', pid: 1 });
  });

  it('uses MS_MOVE and chroot with --no-pivot', () => {
    const sys = fakeRootfs();
    sys.addFile('/proc/self/mountinfo', '');
    run(sys, new FakeChannel(), bootstrap(specFor(), { noPivot: true }));
    expect(sys.callsOf('pivotRoot')).toHaveLength(0);
    expect(sys.callsOf('mount')).toContainEqual(['/bundle/rootfs', '/', null, MS.MOVE, null]);
    expect(sys.callsOf('chroot')).toEqual([['.']]);
  });

  it("with --no-pivot, hides the host's full proc and sysfs mounts first (detach, or a tmpfs over them)", () => {
    const sys = fakeRootfs();
    sys.addFile(
      '/proc/self/mountinfo',
      [
        '22 1 0:21 / /proc rw,nosuid - proc proc rw',
        '23 1 0:22 / /sys rw,nosuid - sysfs sysfs rw',
        '24 22 0:23 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw',
        '25 1 0:21 /sys /srv/procsys rw - proc proc rw', // not the filesystem's root: harmless
        '26 1 0:24 / /run/other/proc rw - proc proc rw',
        '30 1 0:25 / /bundle/rootfs/proc rw - proc proc rw', // the container's own
      ].join('\n'),
    );
    sys.failOn('umount', 1 /* EPERM */, '/run/other/proc');
    run(sys, new FakeChannel(), bootstrap(specFor(), { noPivot: true }));
    expect(sys.callsOf('umount')).toEqual([
      ['/run/other/proc', MNT_DETACH],
      ['/proc', MNT_DETACH],
      ['/sys', MNT_DETACH],
    ]);
    const mounts = sys.callsOf('mount');
    expect(mounts).toContainEqual([null, '/proc', null, MS.SLAVE | MS.REC, null]);
    expect(mounts).toContainEqual(['tmpfs', '/run/other/proc', 'tmpfs', 0, null]);
    const o = ops(sys);
    expect(o.lastIndexOf('umount')).toBeLessThan(o.indexOf('chroot'));
  });

  it('sets up the terminal and sends the master over the console socket', () => {
    const sys = fakeRootfs();
    run(
      sys,
      new FakeChannel(),
      bootstrap(
        specFor((s) => (s.process!.terminal = true)),
        { consoleSocketFd: 7 },
      ),
    );
    expect(sys.callsOf('open')).toContainEqual(['/dev/ptmx', expect.any(Number), 0]);
    expect(sys.callsOf('sendFd')[0]).toEqual([7, expect.any(Number), '/dev/pts/0']);
    expect(sys.callsOf('dup2').map((a) => a[1])).toEqual([0, 1, 2]);
  });

  it('fails create, not start, when the program does not exist', () => {
    const sys = fakeRootfs();
    const ch = new FakeChannel();
    expect(() => runInit(sys, ch, bootstrap(specFor((s) => (s.process!.args = ['nosuchprog']))), () => undefined)).toThrow(
      /executable file not found in \$PATH/,
    );
    expect(ch.sent).toEqual([]);
    expect(fifoOpen(sys)).toBe(-1);
  });

  it('refuses sysctls that are not namespaced', () => {
    const sys = fakeRootfs();
    expect(() => run(sys, new FakeChannel(), bootstrap(specFor((s) => (s.linux!.sysctl = { 'kernel.panic': '1' }))))).toThrow(/not namespaced/);
    const ok = fakeRootfs();
    run(ok, new FakeChannel(), bootstrap(specFor((s) => (s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' }))));
    expect(ok.callsOf('writeFile')).toContainEqual(['/proc/sys/net/ipv4/ip_forward', '1']);
  });

  it('in a user namespace, makes the other namespaces (the trampoline made the user one) and leaves oom_score_adj to the parent', () => {
    const sys = fakeRootfs();
    const spec = specFor((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.process!.oomScoreAdj = -500;
    });
    run(sys, new FakeChannel(), bootstrap(spec, { userNamespace: true }));
    const unshares = sys.callsOf('unshare').map((a) => a[0] as number);
    expect(unshares.every((f) => (f & CLONE.NEWUSER) === 0)).toBe(true);
    expect(unshares[0]! & CLONE.NEWNS).toBeTruthy();
    expect(unshares[0]! & CLONE.NEWNET).toBeTruthy();
    expect(sys.callsOf('setns')).toEqual([]);
    expect(sys.callsOf('writeFile').filter((a) => a[0] === '/proc/self/oom_score_adj')).toEqual([]);
    // without a user namespace the stage writes it itself
    const plain = fakeRootfs();
    run(plain, new FakeChannel(), bootstrap(specFor((s) => (s.process!.oomScoreAdj = -500))));
    expect(plain.callsOf('writeFile')).toContainEqual(['/proc/self/oom_score_adj', '-500']);
  });

  it('attaches a bind source the parent sent as a detached mount, and closes it', () => {
    const sys = fakeRootfs();
    sys.addDir('/host/secret/dir');
    const src = sys.openTreeClone(-100, '/host/secret/dir', 0);
    sys.calls.length = 0;
    const spec = specFor((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.mounts!.push({ destination: '/tmp/m1', source: '/host/secret/dir', options: ['bind', 'ro'] });
    });
    const index = spec.mounts!.length - 1;
    run(sys, new FakeChannel(), bootstrap(spec, { userNamespace: true, mountSources: [{ index, fd: src }] }));
    const moved = sys.callsOf('moveMountFd');
    expect(moved).toHaveLength(1);
    expect(moved[0]![0]).toBe(src);
    expect(moved[0]![1]).toMatch(/^\/proc\/self\/fd\/\d+$/);
    // never a bind of the host path, which the stage may not reach from its user namespace
    expect(sys.callsOf('mount').filter((a) => a[0] === '/host/secret/dir')).toEqual([]);
    // "ro" still applies, as a remount of the attached mount
    const at = sys.calls.findIndex((c) => c.op === 'moveMountFd');
    const remount = sys.calls.findIndex(
      (c, i) => i > at && c.op === 'mount' && ((c.args[3] as number) & MS.REMOUNT) !== 0 && ((c.args[3] as number) & MS.RDONLY) !== 0,
    );
    expect(remount).toBeGreaterThan(at);
    const closed = sys.calls.findIndex((c) => c.op === 'close' && c.args[0] === src);
    expect(closed).toBeGreaterThan(at);
  });

  it('keeps preserved fds and stdio across exec and closes the rest', () => {
    const sys = fakeRootfs();
    run(sys, new FakeChannel(), bootstrap(specFor(), { preserveFds: 2 }));
    expect(sys.callsOf('closeFrom')).toEqual([[5, true]]);
    expect(sys.callsOf('setCloexec')).toEqual([0, 1, 2, 3, 4].map((fd) => [fd, false]));
  });
});

function execBootstrap(extra: Partial<ExecBootstrap> = {}): ExecBootstrap {
  return {
    mode: 'exec',
    id: 'c1',
    process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] },
    preserveFds: 0,
    namespaceFds: [
      { type: 'mount', fd: 10 },
      { type: 'network', fd: 11 },
      { type: 'pid', fd: 12 },
      { type: 'ipc', fd: 13 },
    ],
    lastCap: 40,
    ...extra,
  };
}

function runExecToEnd(sys: FakeSys, ch: FakeChannel, b: ExecBootstrap): FakeExit {
  try {
    runExec(sys, ch, b);
  } catch (e) {
    if (e instanceof FakeExit) return e;
    throw e;
  }
  throw new Error('runExec returned');
}

describe('runExec through the fake seam', () => {
  it('joins the namespaces (mount after the others), spawns the program and exits', () => {
    const sys = fakeRootfs();
    sys.fds.push(3, 10, 11, 12, 13);
    const ch = new FakeChannel();
    const end = runExecToEnd(
      sys,
      ch,
      execBootstrap({ process: { args: ['sh', '-c', 'true'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'], oomScoreAdj: 5 } }),
    );
    expect(end.code).toBe(0);
    expect(sys.callsOf('setns')).toEqual([
      [11, CLONE.NEWNET],
      [12, CLONE.NEWPID],
      [13, CLONE.NEWIPC],
      [10, CLONE.NEWNS],
    ]);
    const o = ops(sys);
    expect(o.indexOf('unshare')).toBeLessThan(o.lastIndexOf('setns'));
    expect(sys.callsOf('unshare')).toEqual([[CLONE.FS]]);
    // /proc/self is ours only before the mount namespace changes: oom_score_adj first
    expect(sys.callsOf('writeFile')).toEqual([['/proc/self/oom_score_adj', '5']]);
    expect(o.indexOf('writeFile')).toBeLessThan(o.indexOf('setns'));
    // never execve'd in the stage: posix_spawn of the program, with a new session, default
    // signals and every fd above stdio closed in the child
    expect(sys.callsOf('execve')).toEqual([]);
    const [req] = sys.callsOf('spawn')[0] as [SpawnRequest];
    expect(req).toEqual({ path: '/bin/sh', argv: ['sh', '-c', 'true'], env: ['PATH=/bin', 'HOME=/root'], setsid: true, terminal: undefined, closeFrom: 3 });
    // credentials and the cwd check before the spawn, on this thread
    expect(o.indexOf('setresuid')).toBeLessThan(o.indexOf('spawn'));
    expect(o.indexOf('getcwd')).toBeLessThan(o.indexOf('spawn'));
    expect(o.indexOf('capset')).toBeLessThan(o.indexOf('spawn'));
    expect(ch.sent).toEqual([{ type: 'spawned', pid: 4242 }]);
    expect(o[o.length - 1]).toBe('exitNow');
  });

  it('closes stray path fds before joining the mount namespace, and keeps its own', () => {
    const sys = fakeRootfs();
    sys.fds.push(3, 10, 11, 12, 13, 30, 31);
    sys.fdPaths.set(30, '/run/gantry/c1');
    sys.fdPaths.set(31, 'anon_inode:[eventfd]');
    sys.fdPaths.set(10, 'mnt:[4026531841]');
    runExecToEnd(sys, new FakeChannel(), execBootstrap());
    const closeOf = (fd: number) => sys.calls.findIndex((c) => c.op === 'close' && c.args[0] === fd);
    const firstSetns = sys.calls.findIndex((c) => c.op === 'setns');
    expect(closeOf(30)).toBeGreaterThanOrEqual(0);
    expect(closeOf(30)).toBeLessThan(firstSetns);
    expect(closeOf(31)).toBe(-1);
    // namespace fds are closed once joined; everything from 3 up is close-on-exec before the cwd
    expect(closeOf(10)).toBeGreaterThan(firstSetns);
    const cloexec = sys.calls.findIndex((c) => c.op === 'closeFrom');
    expect(sys.calls[cloexec]!.args).toEqual([3, true]);
    expect(cloexec).toBeLessThan(sys.calls.findIndex((c) => c.op === 'getcwd'));
  });

  it('refuses a cwd outside the container root and spawns nothing', () => {
    const sys = fakeRootfs();
    sys.addDir('/data');
    sys.cwdOverride = '(unreachable)/';
    const ch = new FakeChannel();
    expect(() => runExecToEnd(sys, ch, execBootstrap({ process: { args: ['sh'], cwd: '/data', user: { uid: 0, gid: 0 } } }))).toThrow(
      /outside the container's root/,
    );
    expect(sys.callsOf('spawn')).toEqual([]);
    expect(ch.sent).toEqual([]);
  });

  it('gives the terminal to the program: the child opens the slave after setsid', () => {
    const sys = fakeRootfs();
    runExecToEnd(
      sys,
      new FakeChannel(),
      execBootstrap({ consoleSocketFd: 7, process: { args: ['sh'], cwd: '/', user: { uid: 1000, gid: 1000 }, terminal: true } }),
    );
    expect(sys.callsOf('sendFd')[0]).toEqual([7, expect.any(Number), '/dev/pts/0']);
    expect(sys.callsOf('chown')).toContainEqual(['/dev/pts/0', 1000, 1000]);
    // the stage itself neither takes the terminal nor changes its stdio
    expect(sys.callsOf('dup2')).toEqual([]);
    expect(sys.callsOf('setsid')).toEqual([]);
    const [req] = sys.callsOf('spawn')[0] as [SpawnRequest];
    expect(req.terminal).toBe('/dev/pts/0');
    expect(req.setsid).toBe(true);
  });

  it('reports a program that cannot be started with its name', () => {
    const sys = fakeRootfs();
    sys.failOn('spawn', 13);
    expect(() => runExecToEnd(sys, new FakeChannel(), execBootstrap())).toThrow(/^exec: "sh": .*\/bin\/sh: EACCES \(permission denied\)$/);
  });

  it('lets posix_spawn fall back from clone3 under a default-deny seccomp profile', () => {
    const deny: SeccompFilter = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: [],
      flags: [],
      rules: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [] }],
    };
    const sys = fakeRootfs();
    runExecToEnd(sys, new FakeChannel(), execBootstrap({ seccomp: deny }));
    const [loaded] = sys.callsOf('seccompLoad')[0] as [SeccompFilter];
    expect(loaded.rules).toContainEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [] });
    // a profile that decides about clone3 itself is loaded as written
    const own: SeccompFilter = { ...deny, rules: [...deny.rules, { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [] }] };
    const sys2 = fakeRootfs();
    runExecToEnd(sys2, new FakeChannel(), execBootstrap({ seccomp: own }));
    expect(sys2.callsOf('seccompLoad')[0]![0]).toEqual(own);
  });

  it('loads the program the runtime compiled as it is, and compiles nothing itself', () => {
    const sys = fakeRootfs();
    const compiled = { program: 'AAAAAAAAAAA=', flags: 0, notify: false };
    runExecToEnd(sys, new FakeChannel(), execBootstrap({ seccompCompiled: compiled, process: { ...execBootstrap().process, noNewPrivileges: true } }));
    expect(sys.callsOf('seccompLoadCompiled')).toEqual([[compiled]]);
    expect(sys.callsOf('seccompLoad')).toEqual([]);
    const o = ops(sys);
    expect(o.indexOf('seccompLoadCompiled')).toBeGreaterThan(o.indexOf('setresuid'));
    expect(o.indexOf('seccompLoadCompiled')).toBeLessThan(o.indexOf('spawn'));
  });
});
