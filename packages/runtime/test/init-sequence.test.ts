import { CLONE, FakeExecve, FakeSys, MS, PR, type SeccompFilter } from '@gantry/linux';
import { runExec, runInit } from '../src/init/init-sequence';
import type { ExecBootstrap, InitBootstrap, ParentMessage, StageChannel, StageMessage } from '../src/process/messages';
import { defaultSpec } from '../src/spec/default-spec';
import type { Spec } from '../src/spec/types';

class FakeChannel implements StageChannel {
  sent: StageMessage[] = [];
  constructor(private readonly replies: ParentMessage[] = []) {}
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
  sys.addDir('/state/c1');
  // after pivot_root the fake sees container paths at "/" too
  sys.addFile('/bin/sh', '', 0o755);
  sys.addFile('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  sys.addDir('/proc/sys/net/ipv4');
  sys.addFile('/proc/kcore');
  sys.addDir('/sys/firmware');
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
    expect(mounts).toContainEqual(['proc', '/bundle/rootfs/proc', 'proc', 0, null]);
    expect(first('pivotRoot')).toBeGreaterThan(first('mknod'));
    expect(sys.callsOf('pivotRoot')).toEqual([['.', '.']]);
    // masked paths after pivot: file masked with /dev/null, directory with a read-only tmpfs
    expect(mounts).toContainEqual(['/dev/null', '/proc/kcore', null, MS.BIND, null]);
    expect(mounts).toContainEqual(['tmpfs', '/sys/firmware', 'tmpfs', MS.RDONLY, null]);
    // read-only root last among mounts
    expect(mounts[mounts.length - 1]).toEqual([null, '/', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null]);
    // ready is announced before waiting on exec.fifo, and the fifo is opened relative to the state dir
    expect(ch.sent).toEqual([{ type: 'ready', pid: 1 }]);
    expect(sys.callsOf('openat')[0]![1]).toBe('exec.fifo');
    // privileges: bounding set, then user, then capabilities, then no_new_privs; `start` is
    // released (exec.fifo) only after all that, right before execve, as runc does
    expect(first('openat')).toBeGreaterThan(first('capset'));
    expect(first('openat')).toBeLessThan(first('execve'));
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
    const o = sys.calls.map((c) => `${c.op}:${c.op === 'prctl' ? c.args[0] : ''}`);
    expect(o.indexOf(`prctl:${PR.SET_KEEPCAPS}`)).toBeLessThan(o.indexOf('setresuid:'));
  });

  it('applies rlimits, umask and the working directory', () => {
    const sys = fakeRootfs();
    sys.addDir('/work');
    run(sys, new FakeChannel(), bootstrap(specFor((s) => {
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
      s.process!.user.umask = 0o077;
      s.process!.cwd = '/work';
    })));
    expect(sys.callsOf('setrlimit')).toEqual([[7, 123n, 456n]]);
    expect(sys.callsOf('umask')).toContainEqual([0o077]);
    expect(sys.callsOf('chdir')).toContainEqual(['/work']);
  });

  it('loads seccomp after no_new_privs when it is set, and before dropping privileges when not', () => {
    const filter: SeccompFilter = { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], flags: [], rules: [] };
    for (const nnp of [true, false]) {
      const sys = fakeRootfs();
      run(sys, new FakeChannel(), bootstrap(specFor((s) => (s.process!.noNewPrivileges = nnp)), { seccomp: filter }));
      const seccomp = sys.calls.findIndex((c) => c.op === 'seccompLoad');
      const setuid = sys.calls.findIndex((c) => c.op === 'setresuid');
      if (nnp) expect(seccomp).toBeGreaterThan(setuid);
      else expect(seccomp).toBeLessThan(setuid);
    }
  });

  it('joins namespaces given by path instead of creating them', () => {
    const sys = fakeRootfs();
    run(sys, new FakeChannel(), bootstrap(specFor((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: '/var/run/netns/x' } : n));
    })));
    expect(sys.callsOf('open')).toContainEqual(['/var/run/netns/x', expect.any(Number), 0]);
    expect(sys.callsOf('setns')[0]![1]).toBe(CLONE.NEWNET);
    expect((sys.callsOf('unshare')[0]![0] as number) & CLONE.NEWNET).toBeFalsy();
  });

  it('confines the process, then waits for start, then runs startContainer hooks (confined too, as runc does)', () => {
    const sys = fakeRootfs();
    const ran: string[] = [];
    try {
      runInit(sys, new FakeChannel(), bootstrap(specFor((s) => (s.hooks = { startContainer: [{ path: '/bin/true' }] }))), (kind) => {
        ran.push(kind);
        sys.calls.push({ op: `hook:${kind}`, args: [] });
      });
    } catch (e) {
      if (!(e instanceof FakeExecve)) throw e;
    }
    expect(ran).toEqual(['startContainer']);
    const o = ops(sys);
    expect(o.indexOf('openat')).toBeLessThan(o.indexOf('hook:startContainer'));
    expect(o.indexOf('setresuid')).toBeLessThan(o.indexOf('openat'));
    expect(o.indexOf('capset')).toBeLessThan(o.indexOf('openat'));
    expect(o.indexOf('hook:startContainer')).toBeLessThan(o.indexOf('resetSignals'));
    expect(o.indexOf('resetSignals')).toBeLessThan(o.indexOf('execve'));
  });

  it('fails before announcing ready when the process cannot be confined (create fails, as with runc)', () => {
    const sys = fakeRootfs();
    sys.addDir('/work');
    sys.failOn('chdir', 13, '/work');
    const ch = new FakeChannel();
    expect(() => runInit(sys, ch, bootstrap(specFor((s) => (s.process!.cwd = '/work'))), () => undefined)).toThrow(/EACCES/);
    expect(ch.sent).toEqual([]);
    expect(sys.callsOf('openat')).toEqual([]);
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
    run(sys, new FakeChannel(), bootstrap(specFor(), { noPivot: true }));
    expect(sys.callsOf('pivotRoot')).toHaveLength(0);
    expect(sys.callsOf('mount')).toContainEqual(['/bundle/rootfs', '/', null, MS.MOVE, null]);
    expect(sys.callsOf('chroot')).toEqual([['.']]);
  });

  it('sets up the terminal and sends the master over the console socket', () => {
    const sys = fakeRootfs();
    run(sys, new FakeChannel(), bootstrap(specFor((s) => (s.process!.terminal = true)), { consoleSocketFd: 7 }));
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
    expect(sys.callsOf('openat')).toHaveLength(0);
  });

  it('refuses sysctls that are not namespaced', () => {
    const sys = fakeRootfs();
    expect(() => run(sys, new FakeChannel(), bootstrap(specFor((s) => (s.linux!.sysctl = { 'kernel.panic': '1' }))))).toThrow(/not namespaced/);
    const ok = fakeRootfs();
    run(ok, new FakeChannel(), bootstrap(specFor((s) => (s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' }))));
    expect(ok.callsOf('writeFile')).toContainEqual(['/proc/sys/net/ipv4/ip_forward', '1']);
  });

  it('refuses user namespaces with a clear error', () => {
    const sys = fakeRootfs();
    expect(() => run(sys, new FakeChannel(), bootstrap(specFor((s) => s.linux!.namespaces!.push({ type: 'user' }))))).toThrow(/user namespaces/);
  });

  it('keeps preserved fds and stdio across exec and closes the rest', () => {
    const sys = fakeRootfs();
    sys.listFds = () => [0, 1, 2, 3, 4, 5, 9];
    run(sys, new FakeChannel(), bootstrap(specFor(), { preserveFds: 2 }));
    const cloexec = Object.fromEntries(sys.callsOf('setCloexec').map(([fd, on]) => [fd, on]));
    expect(cloexec).toEqual({ 0: false, 1: false, 2: false, 3: false, 4: false, 5: true, 9: true });
  });
});

describe('runExec through the fake seam', () => {
  it('joins namespaces with the mount namespace last, then finalizes and execs', () => {
    const sys = fakeRootfs();
    const ch = new FakeChannel();
    const b: ExecBootstrap = {
      mode: 'exec',
      id: 'c1',
      process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] },
      preserveFds: 0,
      namespaceFds: [
        { type: 'mount', fd: 10 },
        { type: 'network', fd: 11 },
        { type: 'ipc', fd: 12 },
      ],
      lastCap: 40,
    };
    let exec: FakeExecve | undefined;
    try {
      runExec(sys, ch, b);
    } catch (e) {
      exec = e as FakeExecve;
    }
    expect(exec).toBeInstanceOf(FakeExecve);
    expect(exec!.path).toBe('/bin/sh');
    expect(sys.callsOf('setns')).toEqual([
      [11, CLONE.NEWNET],
      [12, CLONE.NEWIPC],
      [10, CLONE.NEWNS],
    ]);
    const o = ops(sys);
    expect(o.indexOf('unshare')).toBeLessThan(o.lastIndexOf('setns'));
    expect(ch.sent).toEqual([{ type: 'ready', pid: 1 }]);
  });
});
