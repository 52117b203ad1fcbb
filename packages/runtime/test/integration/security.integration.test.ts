/**
 * What the container may not do, checked from inside it: capabilities, seccomp, a read-only root,
 * masked and read-only paths, a non-root user with rlimits, and no leaked host fds.
 */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { ConsoleSocket } from '../../src/console-socket';
import { CLI, capHex, describeRoot, statusField, useHarness } from './helpers';

const TMPFS_TMP = { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] };
const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

describeRoot('security (root integration)', () => {
  const H = useHarness('sec');

  describe('capabilities', () => {
    const script = 'touch /tmp/f; chown 1000 /tmp/f; echo "rc=$?"; ls -n /tmp/f | awk \'{print "owner=" $3}\'; cat /proc/self/status';

    it('without CAP_CHOWN (the default set) chown fails with EPERM, and CapEff is the configured set', () => {
      const h = H();
      const b = h.bundleFor(['sh', '-c', script], (c) => c.mounts.push(TMPFS_TMP));
      const r = h.cli(['run', '-b', b, h.id()]);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/chown: \/tmp\/f: Operation not permitted/);
      expect(r.stdout).toMatch(/^rc=1$/m);
      expect(r.stdout).toMatch(/^owner=0$/m);
      const want = capHex(DEFAULT_CAPS);
      expect(statusField(r.stdout, 'CapEff')).toBe(want);
      expect(statusField(r.stdout, 'CapPrm')).toBe(want);
      expect(statusField(r.stdout, 'CapBnd')).toBe(want);
      expect(statusField(r.stdout, 'CapInh')).toBe('0000000000000000');
      expect(statusField(r.stdout, 'CapAmb')).toBe('0000000000000000');
      expect(statusField(r.stdout, 'NoNewPrivs')).toBe('1');
    });

    it('with CAP_CHOWN in bounding/effective/permitted chown succeeds', () => {
      const h = H();
      const caps = [...DEFAULT_CAPS, 'CAP_CHOWN'];
      const b = h.bundleFor(['sh', '-c', script], (c) => {
        c.mounts.push(TMPFS_TMP);
        for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set] = caps;
      });
      const r = h.cli(['run', '-b', b, h.id()]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^rc=0$/m);
      expect(r.stdout).toMatch(/^owner=1000$/m);
      expect(statusField(r.stdout, 'CapEff')).toBe(capHex(caps));
      expect(statusField(r.stdout, 'CapBnd')).toBe(capHex(caps));
    });

    it('`spec` output as is (ambient capabilities, no inheritable ones) runs: the ambient ones are skipped with a warning', () => {
      const h = H();
      const dir = h.bundle('{}', 'spec');
      fs.rmSync(`${dir}/config.json`);
      h.ok(['spec', '-b', dir]);
      const c = JSON.parse(fs.readFileSync(`${dir}/config.json`, 'utf8'));
      expect(c.process.capabilities.ambient).toEqual(DEFAULT_CAPS);
      expect(c.process.capabilities.inheritable).toBeUndefined();
      c.root.path = h.rootfs;
      c.process.terminal = false;
      c.process.args = ['sh', '-c', 'grep -E "^Cap(Amb|Eff|Inh):" /proc/self/status'];
      fs.writeFileSync(`${dir}/config.json`, JSON.stringify(c));
      const log = h.file('ambient.log');
      const r = h.cli(['--log', log, 'run', '-b', dir, h.id()]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(statusField(r.stdout, 'CapAmb')).toBe('0000000000000000');
      expect(statusField(r.stdout, 'CapEff')).toBe(capHex(DEFAULT_CAPS));
      for (const cap of DEFAULT_CAPS) expect(fs.readFileSync(log, 'utf8')).toContain(`level=warning msg="can't raise ambient capability ${cap}`);
    });

    it('ambient capabilities that are also inheritable are raised', () => {
      const h = H();
      const b = h.bundleFor(['sh', '-c', 'grep -E "^Cap(Amb|Inh):" /proc/self/status'], (c) => {
        c.process.capabilities.inheritable = DEFAULT_CAPS;
        c.process.capabilities.ambient = DEFAULT_CAPS;
      });
      const r = h.cli(['run', '-b', b, h.id()]);
      expect(r.status).toBe(0);
      expect(statusField(r.stdout, 'CapAmb')).toBe(capHex(DEFAULT_CAPS));
    });
  });

  describe('seccomp', () => {
    const seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 95 }],
    };
    const script = 'mkdir /tmp/x; echo "rc=$?"; grep Seccomp /proc/self/status; [ -d /tmp/x ] && echo exists || echo absent; touch /tmp/y && echo touched';

    for (const noNewPrivileges of [true, false]) {
      it(`returns the configured errno for mkdir (EOPNOTSUPP) and is in filter mode (noNewPrivileges ${noNewPrivileges})`, () => {
        const h = H();
        const b = h.bundleFor(['sh', '-c', script], (c) => {
          c.mounts.push(TMPFS_TMP);
          c.linux.seccomp = seccomp;
          c.process.noNewPrivileges = noNewPrivileges;
        });
        const r = h.cli(['run', '-b', b, h.id()]);
        expect(r.status).toBe(0);
        expect(r.stderr).toMatch(/mkdir: can't create directory '\/tmp\/x': (Operation )?[Nn]ot supported/);
        expect(r.stdout).toMatch(/^rc=1$/m);
        expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
        expect(r.stdout).toMatch(/^absent$/m);
        // only the listed syscalls are refused
        expect(r.stdout).toMatch(/^touched$/m);
      });
    }

    it('SCMP_ACT_NOTIFY: the listener reaches the seccomp agent with the container state; once the agent drops it, mkdir fails with ENOSYS', async () => {
      const h = H();
      const agentPath = h.file('agent.sock');
      const agent = ConsoleSocket.listen(agentPath); // any SCM_RIGHTS receiver will do as an agent
      try {
        const id = h.id();
        const b = h.bundleFor(['sh', '-c', 'mkdir /tmp/x; echo "rc=$?"'], (c) => {
          c.mounts.push(TMPFS_TMP);
          c.linux.seccomp = {
            defaultAction: 'SCMP_ACT_ALLOW',
            listenerPath: agentPath,
            listenerMetadata: 'meta',
            syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
          };
        });
        const child = spawn(process.execPath, [CLI, '--root', h.root, 'run', '-b', b, id], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        const { master: listener, name: payload } = await agent.receive();
        expect(fs.readlinkSync(`/proc/self/fd/${listener}`)).toBe('anon_inode:seccomp notify');
        const state = JSON.parse(payload);
        expect(state).toMatchObject({ fds: ['seccompFd'], metadata: 'meta', state: { id, status: 'creating' } });
        expect(state.pid).toBe(state.state.pid);
        fs.closeSync(listener); // the only copy left: notified syscalls now fail with ENOSYS
        expect(await exited).toBe(0);
        expect(err).toMatch(/mkdir: can't create directory '\/tmp\/x': Function not implemented/);
        expect(out).toMatch(/^rc=1$/m);
      } finally {
        agent.close();
      }
    });

    it("SCMP_ACT_NOTIFY without a reachable agent fails create with runc's message", () => {
      const h = H();
      const b = h.bundleFor(['true'], (c) => {
        c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: h.file('nobody.sock'), syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
      });
      const r = h.cli(['run', '-b', b, h.id()]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/failed to connect with seccomp agent/);
    });

    it('without linux.seccomp no filter is loaded', () => {
      const h = H();
      const b = h.bundleFor(['sh', '-c', 'grep Seccomp: /proc/self/status; mkdir /tmp/x && echo made'], (c) => c.mounts.push(TMPFS_TMP));
      const r = h.cli(['run', '-b', b, h.id()]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Seccomp:\s+0$/m);
      expect(r.stdout).toMatch(/^made$/m);
    });
  });

  it('a read-only rootfs refuses writes while a tmpfs at /tmp is writable', () => {
    const h = H();
    const b = h.bundleFor(
      ['sh', '-c', 'touch /x; echo "root rc=$?"; echo hello > /tmp/w && cat /tmp/w; awk \'$5 == "/" {print "rootmount " $6}\' /proc/self/mountinfo'],
      (c) => {
        expect(c.root.readonly).toBe(true);
        c.mounts.push(TMPFS_TMP);
      },
    );
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/touch: \/x: Read-only file system/);
    expect(r.stdout).toMatch(/^root rc=1$/m);
    expect(r.stdout).toMatch(/^hello$/m);
    expect(r.stdout).toMatch(/^rootmount ro(,|$)/m);
    expect(fs.existsSync(`${h.rootfs}/x`)).toBe(false);
  });

  it('a writable rootfs (root.readonly false) accepts writes', () => {
    const h = H();
    const name = `w-${process.pid}-${Date.now()}`;
    const b = h.bundleFor(['sh', '-c', `touch /${name} && echo ok; rm /${name}`], (c) => {
      c.root.readonly = false;
    });
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
  });

  it('masks maskedPaths (empty files, empty dirs) and makes readonlyPaths read-only', () => {
    const h = H();
    const script = [
      '[ -e /proc/kcore ] && echo "kcore $(wc -c < /proc/kcore)" || echo "kcore absent"',
      'echo "timer_list $(wc -c < /proc/timer_list)"',
      'echo "firmware [$(ls -A /sys/firmware)]"',
      'echo x > /proc/sys/kernel/hostname; echo "sys rc=$?"',
      'echo "hostname $(hostname)"',
      'echo "ostype $(cat /proc/sys/kernel/ostype >/dev/null && echo readable)"',
    ].join('; ');
    const b = h.bundleFor(['sh', '-c', script]);
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.status).toBe(0);
    // Sanity: these are not empty on the host.
    expect(fs.readFileSync('/proc/timer_list').length).toBeGreaterThan(0);
    expect(fs.readdirSync('/sys/firmware').length).toBeGreaterThan(0);
    expect(r.stdout).toMatch(fs.existsSync('/proc/kcore') ? /^kcore 0$/m : /^kcore absent$/m);
    expect(r.stdout).toMatch(/^timer_list 0$/m);
    expect(r.stdout).toMatch(/^firmware \[\]$/m);
    expect(r.stderr).toMatch(/\/proc\/sys\/kernel\/hostname: Read-only file system|can't create \/proc\/sys\/kernel\/hostname: Read-only file system/);
    expect(r.stdout).toMatch(/^sys rc=[1-9]/m);
    expect(r.stdout).toMatch(/^hostname gantry$/m);
    // read-only, not hidden
    expect(r.stdout).toMatch(/^ostype readable$/m);
  });

  it('runs as process.user (uid/gid/additionalGids) with the configured rlimits', () => {
    const h = H();
    const b = h.bundleFor(['sh', '-c', 'id; echo "soft $(ulimit -n) hard $(ulimit -Hn)"; grep -E "^(Uid|Gid|Groups|CapEff):" /proc/self/status'], (c) => {
      c.process.user = { uid: 1000, gid: 1000, additionalGids: [2000] };
      c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
    });
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const idLine = r.stdout.split('\n')[0]!;
    expect(idLine).toMatch(/^uid=1000\(app\) gid=1000\(app\) groups=/);
    expect(
      idLine
        .replace(/^.*groups=/, '')
        .split(',')
        .map((g) => g.replace(/\(.*\)/, '')),
    ).toContain('2000');
    expect(r.stdout).toMatch(/^soft 123 hard 456$/m);
    const status = r.stdout;
    expect(statusField(status, 'Uid')!.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
    expect(statusField(status, 'Gid')!.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
    expect(statusField(status, 'Groups')).toBe('2000');
    // A non-root user's execve clears the effective set, whatever the config says.
    expect(statusField(status, 'CapEff')).toBe('0000000000000000');
  });

  it('the devices cgroup refuses devices outside the allow list, even with CAP_MKNOD', () => {
    const h = H();
    const script = [
      'mknod /dev/sdx b 8 0; echo "mknod rc=$?"',
      'head -c 1 /dev/sdx > /dev/null; echo "open rc=$?"',
      'echo hi > /dev/null && echo null-ok',
      'echo "zero $(head -c 4 /dev/zero | wc -c)"',
    ].join('; ');
    const b = h.bundleFor(['sh', '-c', script], (c) => {
      for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set].push('CAP_MKNOD');
    });
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.status).toBe(0);
    // mknod is allowed ("b *:* m", as runc), opening the node is not
    expect(r.stdout).toMatch(/^mknod rc=0$/m);
    expect(r.stderr).toMatch(/\/dev\/sdx: Operation not permitted/);
    expect(r.stdout).toMatch(/^open rc=1$/m);
    expect(r.stdout).toMatch(/^null-ok$/m);
    expect(r.stdout).toMatch(/^zero 4$/m);
  });

  it('namespaced sysctls apply in the container only; host-wide ones are refused', () => {
    const h = H();
    const host = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    const want = host === '1' ? '0' : '1';
    const b = h.bundleFor(['cat', '/proc/sys/net/ipv4/ip_forward'], (c) => {
      c.linux.sysctl = { 'net.ipv4.ip_forward': want };
    });
    const r = h.cli(['run', '-b', b, h.id()]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(want);
    expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(host);

    const id = h.id('sysctl');
    const bad = h.cli(['run', '-b', h.bundleFor(['true'], (c) => (c.linux.sysctl = { 'kernel.panic': '1' })), id]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/kernel\.panic/);
    expect(fs.existsSync(h.stateDir(id))).toBe(false);
  });

  it("exec gets the container's confinement: capabilities, no_new_privs, seccomp, rlimits, env", () => {
    const h = H();
    const id = h.id('execconf');
    const b = h.bundleFor(['sleep', '300'], (c) => {
      c.mounts.push(TMPFS_TMP);
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 95 }] };
      c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
      c.process.env.push('FROM_CONFIG=yes');
    });
    h.runDetached(id, b);
    const r = h.cli(['exec', id, 'sh', '-c', 'cat /proc/self/status; echo "nofile $(ulimit -n)"; env; touch /tmp/f; chown 1000 /tmp/f; mkdir /tmp/d']);
    expect(r.status).not.toBe(0);
    const want = capHex(DEFAULT_CAPS);
    expect(statusField(r.stdout, 'CapEff')).toBe(want);
    expect(statusField(r.stdout, 'CapPrm')).toBe(want);
    expect(statusField(r.stdout, 'CapBnd')).toBe(want);
    expect(statusField(r.stdout, 'NoNewPrivs')).toBe('1');
    expect(statusField(r.stdout, 'Seccomp')).toBe('2');
    expect(r.stdout).toMatch(/^nofile 123$/m);
    expect(r.stdout).toMatch(/^FROM_CONFIG=yes$/m);
    // nothing of the runtime's own environment leaks in
    expect(r.stdout).not.toMatch(/_GANTRY|JEST|NODE_/);
    expect(r.stderr).toMatch(/chown: \/tmp\/f: Operation not permitted/);
    expect(r.stderr).toMatch(/mkdir: can't create directory '\/tmp\/d': (Operation )?[Nn]ot supported/);
    // the same for the init's environment, read from the host
    const environ = fs
      .readFileSync(`/proc/${h.state(id).pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean);
    expect(environ.sort()).toEqual([...(h.config().process.env as string[]), 'FROM_CONFIG=yes', 'HOME=/root'].sort());
  });

  describe('file descriptors', () => {
    let fd3: number;
    let fd4: number;
    beforeAll(() => {
      const h = H();
      fd3 = fs.openSync(h.file('fd3.txt', 'fd3-content\n'), 'r');
      fd4 = fs.openSync(h.file('fd4.txt', 'fd4-content\n'), 'r');
    });
    afterAll(() => {
      fs.closeSync(fd3);
      fs.closeSync(fd4);
    });

    /** The fds `ls /proc/self/fd` sees, run as the container's (or exec's) process itself. */
    const fdList = (out: string): string[] => out.split('\n').filter(Boolean);
    const LS = ['ls', '/proc/self/fd'];

    it('passes only stdio to the container', () => {
      const h = H();
      const r = h.cli(['run', '-b', h.bundleFor(LS), h.id()], { extraFds: [fd3, fd4] });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      // stdio + the directory ls itself is reading
      expect(fdList(r.stdout)).toEqual(['0', '1', '2', '3']);
      // and fd 3 of the container's program is not ours
      const rl = h.cli(['run', '-b', h.bundleFor(['readlink', '/proc/self/fd/3']), h.id()], { extraFds: [fd3, fd4] });
      expect(rl.stdout).not.toMatch(/fd3\.txt/);
      expect(rl.status).not.toBe(0);
    });

    it('passes fd 3 on with --preserve-fds 1 (and not fd 4)', () => {
      const h = H();
      const r = h.cli(['run', '--preserve-fds', '1', '-b', h.bundleFor(LS), h.id()], { extraFds: [fd3, fd4] });
      expect(r.status).toBe(0);
      expect(fdList(r.stdout)).toEqual(['0', '1', '2', '3', '4']);
      const rl = h.cli(['run', '--preserve-fds', '1', '-b', h.bundleFor(['readlink', '/proc/self/fd/3']), h.id()], { extraFds: [fd3, fd4] });
      expect(rl.stdout.trim()).toMatch(/\/fd3\.txt$/);
      // and it is readable in the container (reopened through /proc: the offset is shared with us)
      const cat = h.cli(['run', '--preserve-fds', '1', '-b', h.bundleFor(['cat', '/proc/self/fd/3']), h.id()], { extraFds: [fd3, fd4] });
      expect(cat.stdout).toBe('fd3-content\n');
    });

    it('exec passes only stdio too, and fd 3 with --preserve-fds 1', () => {
      const h = H();
      const id = h.id('fdexec');
      h.runDetached(id, h.bundleFor(['sleep', '300']));
      const r = h.cli(['exec', id, ...LS], { extraFds: [fd3, fd4] });
      expect(r.status).toBe(0);
      expect(fdList(r.stdout)).toEqual(['0', '1', '2', '3']);
      const pres = h.cli(['exec', '--preserve-fds', '1', id, ...LS], { extraFds: [fd3, fd4] });
      expect(pres.status).toBe(0);
      expect(fdList(pres.stdout)).toEqual(['0', '1', '2', '3', '4']);
      const rl = h.cli(['exec', '--preserve-fds', '1', id, 'readlink', '/proc/self/fd/3'], { extraFds: [fd3, fd4] });
      expect(rl.stdout.trim()).toMatch(/\/fd3\.txt$/);
    });
  });
});
