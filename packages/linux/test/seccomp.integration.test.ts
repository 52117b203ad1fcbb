/**
 * Real seccomp filters, loaded through libseccomp. A filter can never be removed, so each test loads
 * it in a child `node` that requires the compiled dist/seccomp.js, tries syscalls and prints JSON.
 * Nothing here loads a filter in the Jest worker.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { seccompFeatures } from '../src/seccomp';
import type { SeccompFilter, SeccompRule } from '../src/sys';

const PKG = path.resolve(__dirname, '..');
const REPO = path.resolve(PKG, '../..');
const SECCOMP_JS = path.join(PKG, 'dist/seccomp.js');
const KOFFI = require.resolve('koffi', { paths: [PKG] });

const EPERM = 1;
const EACCES = 13;
const ENOSYS = 38;

interface ChildReport {
  loaded: boolean;
  /** The Seccomp field of /proc/self/status at the end: 0 none, 2 filter. */
  mode: string;
  error?: { name: string; code: string; message: string };
  probe?: Record<string, unknown>;
}
interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  report?: ChildReport;
  stderr: string;
}

let workDir: string;

beforeAll(() => {
  // The child needs the compiled module; build it (other files' errors must not block our output).
  try {
    execFileSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-b', 'packages/linux/tsconfig.json'], {
      cwd: REPO,
      stdio: 'pipe',
    });
  } catch (err) {
    const built = fs.existsSync(SECCOMP_JS) && fs.statSync(SECCOMP_JS).mtimeMs >= fs.statSync(path.join(PKG, 'src/seccomp.ts')).mtimeMs;
    if (!built) throw err;
  }
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-seccomp-'));
}, 120_000);

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/** JS source for a filter: JSON with bigints written as BigInt literals. */
function filterSource(filter: SeccompFilter): string {
  return JSON.stringify(filter, (_k, v: unknown) => (typeof v === 'bigint' ? `__big__${v}` : v)).replace(/"__big__(\d+)"/g, '$1n');
}

/**
 * Run `probe` (a JS function body returning an object) in a child after loading `filter`. The probe
 * sees: fs, dir (a scratch directory), attempt(fn) → 'ok' | error code, persona(n) → {ret} | {errno}.
 */
function runChild(filter: SeccompFilter, probe: string): ChildResult {
  const dir = fs.mkdtempSync(path.join(workDir, 'case-'));
  const script = path.join(dir, 'child.js');
  fs.writeFileSync(
    script,
    `'use strict';
const fs = require('fs');
const koffi = require(${JSON.stringify(KOFFI)});
const seccomp = require(${JSON.stringify(SECCOMP_JS)});
const personality = koffi.load('libc.so.6').func('int personality(unsigned long persona)');
const dir = ${JSON.stringify(dir)};
function attempt(fn) { try { fn(); return 'ok'; } catch (e) { return e.code || String(e); } }
function persona(p) { const r = personality(p); return r === -1 ? { errno: koffi.errno() } : { ret: r }; }
const out = {};
try {
  seccomp.preloadSeccomp();
  globalThis.listenerFd = seccomp.loadSeccompFilter(${filterSource(filter)});
  out.loaded = true;
} catch (e) {
  out.loaded = false;
  out.error = { name: e.name, code: e.code, message: e.message };
}
if (out.loaded) out.probe = (function () { ${probe} })();
try {
  out.mode = fs.readFileSync('/proc/self/status', 'utf8').match(/^Seccomp:\\s*(\\d+)/m)[1];
} catch (e) {
  out.mode = 'unreadable: ' + e.code; // the filter may deny open
}
fs.writeSync(1, JSON.stringify(out));
`,
  );
  const res = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
  const result: ChildResult = { status: res.status, signal: res.signal, stderr: res.stderr };
  if (res.stdout) result.report = JSON.parse(res.stdout) as ChildReport;
  return result;
}

function allowAllBut(rules: SeccompRule[], extra: Partial<SeccompFilter> = {}): SeccompFilter {
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], flags: [], rules, ...extra };
}

const MKDIR_PROBE = `return {
  mkdir: attempt(() => fs.mkdirSync(dir + '/a')),
  stat: attempt(() => fs.statSync(dir)),
};`;

describe('loadSeccompFilter (in a child process)', () => {
  it('SCMP_ACT_ERRNO with errnoRet 1 makes mkdir fail with EPERM, other calls unaffected', () => {
    const r = runChild(allowAllBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [] }]), MKDIR_PROBE);
    expect(r.report).toEqual({ loaded: true, mode: '2', probe: { mkdir: 'EPERM', stat: 'ok' } });
  });

  it('honours a custom errnoRet, and EPERM is the default errno', () => {
    for (const [errnoRet, code] of [
      [ENOSYS, 'ENOSYS'],
      [EACCES, 'EACCES'],
      [undefined, 'EPERM'],
    ] as const) {
      const r = runChild(allowAllBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet, args: [] }]), MKDIR_PROBE);
      expect(r.report?.probe).toEqual({ mkdir: code, stat: 'ok' });
    }
  });

  it('defaultAction SCMP_ACT_ERRNO with defaultErrnoRet denies what the allow-list leaves out', () => {
    // What Node's main thread needs to finish the probe, print and exit.
    const allow = [
      'read',
      'write',
      'writev',
      'readv',
      'pread64',
      'pwrite64',
      'close',
      'fstat',
      'newfstatat',
      'statx',
      'lseek',
      'mmap',
      'munmap',
      'mprotect',
      'madvise',
      'mremap',
      'brk',
      'futex',
      'exit',
      'exit_group',
      'rt_sigaction',
      'rt_sigprocmask',
      'rt_sigreturn',
      'sigaltstack',
      'epoll_wait',
      'epoll_pwait',
      'epoll_pwait2',
      'epoll_ctl',
      'clock_gettime',
      'clock_nanosleep',
      'gettimeofday',
      'nanosleep',
      'getpid',
      'gettid',
      'tgkill',
      'ioctl',
      'fcntl',
      'sched_yield',
      'getrandom',
      'uname',
      'eventfd2',
      'set_robust_list',
      'prlimit64',
      'getrusage',
      'membarrier',
      'dup',
      'dup3',
      'pipe2',
      'fsync',
      'fdatasync',
      'restart_syscall',
      'rseq',
      'poll',
      'ppoll',
      'sched_getaffinity',
      'getuid',
      'geteuid',
      'getgid',
      'getegid',
      'kill',
      'rt_sigtimedwait',
      'wait4',
    ];
    const r = runChild(
      { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: EACCES, architectures: [], flags: [], rules: [{ names: allow, action: 'SCMP_ACT_ALLOW', args: [] }] },
      `return {
        mkdir: attempt(() => fs.mkdirSync(dir + '/a')),
        open: attempt(() => fs.openSync('/etc/hostname', 'r')),
        fstat: attempt(() => fs.fstatSync(1)),
      };`,
    );
    expect(r.status).toBe(0);
    expect(r.report?.probe).toEqual({ mkdir: 'EACCES', open: 'EACCES', fstat: 'ok' });
  });

  it("answers ENOSYS, not the default errno, for syscalls newer than any the profile names (runc's stub)", () => {
    const allow = [
      'read',
      'write',
      'writev',
      'readv',
      'pread64',
      'pwrite64',
      'close',
      'fstat',
      'newfstatat',
      'statx',
      'lseek',
      'mmap',
      'munmap',
      'mprotect',
      'madvise',
      'mremap',
      'brk',
      'futex',
      'exit',
      'exit_group',
      'rt_sigaction',
      'rt_sigprocmask',
      'rt_sigreturn',
      'sigaltstack',
      'epoll_wait',
      'epoll_pwait',
      'epoll_ctl',
      'clock_gettime',
      'clock_nanosleep',
      'gettimeofday',
      'nanosleep',
      'getpid',
      'gettid',
      'tgkill',
      'ioctl',
      'fcntl',
      'sched_yield',
      'getrandom',
      'uname',
      'eventfd2',
      'set_robust_list',
      'prlimit64',
      'getrusage',
      'membarrier',
      'dup',
      'dup3',
      'pipe2',
      'fsync',
      'fdatasync',
      'restart_syscall',
      'rseq',
      'poll',
      'ppoll',
      'sched_getaffinity',
      'getuid',
      'geteuid',
      'getgid',
      'getegid',
      'kill',
      'rt_sigtimedwait',
      'wait4',
    ];
    const probe = `const raw = koffi.load('libc.so.6').func('long syscall(long nr, long a)');
      const call = (nr) => (raw(nr, 0) === -1 ? koffi.errno() : 0);
      return { mkdir: attempt(() => fs.mkdirSync(dir + '/a')), unknown: call(1000), epollPwait2: call(441) };`;
    const filter = (architectures: string[]): SeccompFilter => ({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: EACCES,
      architectures,
      flags: [],
      rules: [{ names: allow, action: 'SCMP_ACT_ALLOW', args: [] }],
    });
    const withArchs = runChild(filter(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']), probe);
    expect(withArchs.status).toBe(0);
    // mkdir is older than rseq (334), the newest syscall named: the default errno; 441 and 1000 are newer
    expect(withArchs.report?.loaded).toBe(true);
    expect(withArchs.report?.probe).toEqual({ mkdir: 'EACCES', unknown: ENOSYS, epollPwait2: ENOSYS });
    // like runc, no architectures listed means no stub
    expect(runChild(filter([]), probe).report?.probe).toEqual({ mkdir: 'EACCES', unknown: EACCES, epollPwait2: EACCES });
  });

  it('SCMP_ACT_NOTIFY: returns the listener fd; once it is closed, a notified syscall fails with ENOSYS', () => {
    const r = runChild(
      allowAllBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY', args: [] }]),
      `const fd = globalThis.listenerFd;
      const kind = fs.readlinkSync('/proc/self/fd/' + fd);
      const flags = parseInt(/^flags:\\s*([0-7]+)/m.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8);
      const cloexec = (flags & 0o2000000) !== 0;
      fs.closeSync(fd);
      return { kind, cloexec, mkdir: attempt(() => fs.mkdirSync(dir + '/a')), stat: attempt(() => fs.statSync(dir)) };`,
    );
    expect(r.report).toEqual({ loaded: true, mode: '2', probe: { kind: 'anon_inode:seccomp notify', cloexec: true, mkdir: 'ENOSYS', stat: 'ok' } });
    // without notify rules there is no listener
    expect(runChild(allowAllBut([]), 'return { fd: globalThis.listenerFd === undefined };').report?.probe).toEqual({ fd: true });
  });

  it('compares arguments: personality allowed only when arg0 == 0xffffffff', () => {
    const r = runChild(
      allowAllBut([{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_NE', value: 0xffffffffn, valueTwo: 0n }] }]),
      `return { query: persona(0xffffffff), set: persona(0) };`,
    );
    expect(r.report?.probe).toEqual({ query: { ret: expect.any(Number) }, set: { errno: EPERM } });
  });

  it('ORs conditions on the same argument (one rule each, as runc does)', () => {
    const r = runChild(
      allowAllBut([
        {
          names: ['personality'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: EACCES,
          args: [
            { index: 0, op: 'SCMP_CMP_EQ', value: 1n, valueTwo: 0n },
            { index: 0, op: 'SCMP_CMP_EQ', value: 2n, valueTwo: 0n },
          ],
        },
      ]),
      `return { one: persona(1), two: persona(2), query: persona(0xffffffff) };`,
    );
    expect(r.report?.probe).toEqual({ one: { errno: EACCES }, two: { errno: EACCES }, query: { ret: expect.any(Number) } });
  });

  it('ANDs conditions on different arguments in one rule', () => {
    // kill(self, 0) is denied; kill(1, 0) and kill(self, SIGCONT) each match only one condition.
    const r = runChild(
      allowAllBut([
        {
          names: ['kill'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 0, op: 'SCMP_CMP_GT', value: 1n, valueTwo: 0n },
            { index: 1, op: 'SCMP_CMP_EQ', value: 0n, valueTwo: 0n },
          ],
        },
      ]),
      `return {
        selfZero: attempt(() => process.kill(process.pid, 0)),
        initZero: attempt(() => process.kill(1, 0)),
        selfCont: attempt(() => process.kill(process.pid, 'SIGCONT')),
      };`,
    );
    expect(r.report?.probe).toEqual({ selfZero: 'EPERM', initZero: 'ok', selfCont: 'ok' });
  });

  it('supports SCMP_CMP_MASKED_EQ (value is the mask, valueTwo the expected bits)', () => {
    // Deny mkdir(2) of world-writable directories: mode & 0o002 == 0o002.
    const r = runChild(
      allowAllBut([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, op: 'SCMP_CMP_MASKED_EQ', value: 0o002n, valueTwo: 0o002n }] }]),
      `return {
        open: attempt(() => fs.mkdirSync(dir + '/open', 0o777)),
        closed: attempt(() => fs.mkdirSync(dir + '/closed', 0o755)),
      };`,
    );
    expect(r.report?.probe).toEqual({ open: 'EPERM', closed: 'ok' });
  });

  it('SCMP_ACT_KILL_PROCESS kills the child with SIGSYS', () => {
    const r = runChild(allowAllBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL_PROCESS', args: [] }]), MKDIR_PROBE);
    expect(r.signal).toBe('SIGSYS');
    expect(r.report).toBeUndefined();
  });

  it('SCMP_ACT_TRAP raises SIGSYS; SCMP_ACT_TRACE without a tracer fails with ENOSYS; SCMP_ACT_LOG allows', () => {
    expect(runChild(allowAllBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_TRAP', args: [] }]), MKDIR_PROBE).signal).toBe('SIGSYS');
    expect(runChild(allowAllBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_TRACE', args: [] }]), MKDIR_PROBE).report?.probe).toEqual({
      mkdir: 'ENOSYS',
      stat: 'ok',
    });
    expect(runChild(allowAllBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_LOG', args: [] }]), MKDIR_PROBE).report?.probe).toEqual({
      mkdir: 'ok',
      stat: 'ok',
    });
  });

  it('skips syscall names unknown to libseccomp, unknown architectures and rules equal to the default', () => {
    const r = runChild(
      allowAllBut(
        [
          { names: ['no_such_syscall_gantry', 'mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, args: [] },
          { names: ['getpid'], action: 'SCMP_ACT_ALLOW', args: [] },
        ],
        { architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_NOT_A_REAL_ONE'] },
      ),
      MKDIR_PROBE,
    );
    expect(r.report).toEqual({ loaded: true, mode: '2', probe: { mkdir: 'ENOSYS', stat: 'ok' } });
  });

  it('keeps the filter on the calling thread (no TSYNC, even when asked) and leaves no_new_privs alone', () => {
    const r = runChild(
      allowAllBut([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', args: [] }], {
        flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      }),
      `const field = (file, name) => fs.readFileSync(file, 'utf8').match(new RegExp('^' + name + ':\\\\s*(\\\\d+)', 'm'))[1];
      const others = fs.readdirSync('/proc/self/task').filter((t) => t !== String(process.pid));
      return {
        main: field('/proc/self/status', 'Seccomp'),
        nnp: field('/proc/self/status', 'NoNewPrivs'),
        threads: others.length > 0,
        othersFiltered: others.filter((t) => field('/proc/self/task/' + t + '/status', 'Seccomp') !== '0').length,
      };`,
    );
    expect(r.report?.probe).toEqual({ main: '2', nnp: '0', threads: true, othersFiltered: 0 });
  });

  it('throws SysError before loading on a NOTIFY default, unknown actions, operators, flags and bad indexes', () => {
    const cases: Array<[SeccompFilter, string]> = [
      [{ ...allowAllBut([]), defaultAction: 'SCMP_ACT_NOTIFY' }, 'EINVAL'],
      [allowAllBut([{ names: ['mkdir'], action: 'SCMP_ACT_BOGUS' as SeccompRule['action'], args: [] }]), 'EINVAL'],
      [
        allowAllBut([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_XX' as 'SCMP_CMP_EQ', value: 0n, valueTwo: 0n }] }]),
        'EINVAL',
      ],
      [allowAllBut([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, op: 'SCMP_CMP_EQ', value: 0n, valueTwo: 0n }] }]), 'EINVAL'],
      [allowAllBut([], { flags: ['SECCOMP_FILTER_FLAG_FAST'] }), 'EINVAL'],
    ];
    for (const [filter, code] of cases) {
      const r = runChild(filter, 'return {};');
      expect(r.report?.loaded).toBe(false);
      expect(r.report?.mode).toBe('0');
      expect(r.report?.error).toMatchObject({ name: 'SysError', code });
    }
  });
});

describe('seccompFeatures', () => {
  it('reports what libseccomp and the kernel support, runc-style', () => {
    const f = seccompFeatures();
    expect(f.enabled).toBe(true);
    expect(f.actions).toEqual(expect.arrayContaining(['SCMP_ACT_ERRNO', 'SCMP_ACT_ALLOW', 'SCMP_ACT_KILL_PROCESS']));
    expect(f.actions).toContain('SCMP_ACT_NOTIFY'); // kernel 5.5+
    expect(f.operators).toEqual(['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE']);
    expect(f.archs).toEqual(expect.arrayContaining(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64']));
    expect(f.knownFlags).toContain('SECCOMP_FILTER_FLAG_TSYNC');
    expect(f.supportedFlags).toEqual(expect.arrayContaining(['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW']));
    expect(f.version).toMatch(/^2\.\d+\.\d+$/);
  });
});
