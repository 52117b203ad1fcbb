/**
 * `exec` as the container sees it: the exec stage runs in the host's pid namespace and starts the
 * program with posix_spawn, so these check what that must keep: exit statuses, `-d --pid-file`,
 * user switching, errors for missing programs, and seccomp profiles that do not allow clone3.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRoot, pidAlive, readOr, statusField, useHarness, waitFor } from './helpers';

/** Syscalls a busybox shell, glibc's posix_spawn and the exec stage need; clone3 deliberately absent. */
const ALLOWED = (
  'accept accept4 access arch_prctl bind brk capget capset chdir chmod chown clock_getres clock_gettime clock_nanosleep ' +
  'clone close close_range connect dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_wait eventfd ' +
  'eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fchdir fchmod fchmodat fchown fchownat fcntl ' +
  'fdatasync flock fstat fstatfs fsync ftruncate futex getcwd getdents getdents64 getegid geteuid getgid getgroups ' +
  'getpgid getpgrp getpid getppid getpriority getrandom getresgid getresuid getrlimit getrusage getsid getsockname ' +
  'getsockopt gettid gettimeofday getuid ioctl kill lseek lstat madvise membarrier mkdir mkdirat mmap mprotect mremap ' +
  'munmap nanosleep newfstatat open openat pipe pipe2 poll ppoll prctl pread64 prlimit64 pselect6 pwrite64 read readlink ' +
  'readlinkat readv recvfrom recvmsg rename renameat rseq rt_sigaction rt_sigprocmask rt_sigqueueinfo rt_sigreturn ' +
  'rt_sigsuspend rt_sigtimedwait sched_getaffinity sched_yield select sendmsg sendto set_robust_list set_tid_address ' +
  'setgid setgroups setitimer setpgid setresgid setresuid setsid setsockopt setuid sigaltstack socket socketpair stat ' +
  'statfs statx symlink sysinfo tgkill tkill umask uname unlink unlinkat utimensat vfork wait4 waitid write writev'
).split(' ');

describeRoot('exec (root integration)', () => {
  const H = useHarness('exec');

  it('forwards exit codes and signals of the program, and reports a missing one clearly', () => {
    const h = H();
    const id = h.id('codes');
    h.runDetached(id, h.bundleFor(['sleep', '300']));
    expect(h.cli(['exec', id, 'sh', '-c', 'exit 7']).status).toBe(7);
    expect(h.cli(['exec', id, 'sh', '-c', 'kill -9 $$']).status).toBe(137);
    const missing = h.cli(['exec', id, 'no-such-program']);
    expect(missing.status).toBe(255); // runc's status for a failed exec
    expect(missing.stderr.trim()).toBe('gantry-runtime: exec: "no-such-program": executable file not found in $PATH');
  });

  it("runs the program in the container's pid namespace, in a session of its own", () => {
    const h = H();
    const id = h.id('pidns');
    h.runDetached(id, h.bundleFor(['sleep', '300']));
    const out = h.ok(['exec', id, 'sh', '-c', 'echo "pid=$$"; cat /proc/$$/stat']);
    const pid = Number(/^pid=(\d+)$/m.exec(out)![1]);
    // pid 1 is the container's init; the program is another process of that namespace
    expect(pid).toBeGreaterThan(1);
    const stat = out.split('\n')[1]!;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // ppid 0: its parent (us, a subreaper on the host) is outside the namespace; sid = its own pid
    expect(fields[1]).toBe('0');
    expect(fields[3]).toBe(String(pid));
    // no signal ignored or blocked (Node ignores SIGPIPE; glibc's spawn child would ignore 32 and
    // 33); asked of grep itself, as a shell ignores SIGQUIT
    const sig = h.ok(['exec', id, 'grep', '-E', '^Sig(Ign|Blk):', '/proc/self/status']);
    expect(sig).toMatch(/^SigIgn:\s+0000000000000000$/m);
    expect(sig).toMatch(/^SigBlk:\s+0000000000000000$/m);
  });

  it("exec -d --pid-file writes the program's pid and leaves it running", async () => {
    const h = H();
    const id = h.id('detach');
    h.runDetached(id, h.bundleFor(['sleep', '300']));
    const pidFile = path.join(h.tmp, 'exec.pid');
    h.ok(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '200']);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(pidAlive(pid)).toBe(true);
    expect(readOr(`/proc/${pid}/cmdline`).split('\0').slice(0, 2)).toEqual(['sleep', '200']);
    // in the container's pid namespace and cgroup
    expect(fs.readlinkSync(`/proc/${pid}/ns/pid`)).toBe(fs.readlinkSync(`/proc/${h.state(id).pid}/ns/pid`));
    expect(h.ok(['ps', '--format', 'json', id])).toContain(String(pid));
    h.ok(['kill', '--all', id, 'KILL']);
    await waitFor('the exec to die', () => !pidAlive(pid), 10_000);
  });

  it('switches to the exec user with the process capabilities', () => {
    const h = H();
    const id = h.id('user');
    h.runDetached(id, h.bundleFor(['sleep', '300']));
    const out = h.ok(['exec', '-u', '1000:1000', id, 'sh', '-c', 'id -u; id -g; cat /proc/self/status']);
    const [uid, gid] = out.split('\n');
    expect([uid, gid]).toEqual(['1000', '1000']);
    expect(statusField(out, 'Uid')!.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
    expect(statusField(out, 'CapEff')).toBe('0000000000000000');
    expect(statusField(out, 'NoNewPrivs')).toBe('1');
  });

  for (const noNewPrivileges of [true, false]) {
    it(`works under a default-deny seccomp profile that does not name clone3 (noNewPrivileges ${noNewPrivileges})`, () => {
      const h = H();
      const id = h.id('seccomp');
      h.runDetached(
        id,
        h.bundleFor(['sleep', '300'], (c) => {
          c.process.noNewPrivileges = noNewPrivileges;
          c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, syscalls: [{ names: ALLOWED, action: 'SCMP_ACT_ALLOW' }] };
        }),
      );
      const r = h.cli(['exec', id, 'sh', '-c', 'grep Seccomp: /proc/self/status; hostname x; echo "rc=$?"; exit 3']);
      expect(r.stderr).toMatch(/hostname: sethostname: Operation not permitted/);
      expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
      expect(r.stdout).toMatch(/^rc=1$/m);
      expect(r.status).toBe(3);
    });
  }

  it('says why when the profile itself refuses clone3 and clone', () => {
    const h = H();
    const id = h.id('noclone');
    h.runDetached(
      id,
      h.bundleFor(['sleep', '300'], (c) => {
        c.linux.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['clone3', 'clone', 'fork', 'vfork'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
        };
      }),
    );
    const r = h.cli(['exec', id, 'true']);
    expect(r.status).toBe(255);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/exec: "true": .*EPERM.*seccomp/);
  });
});
