import * as path from 'node:path';
import { CAPABILITIES, describeErrno, PR, RLIMIT, span, SysError, type CompiledSeccomp, type SeccompFilter, type Sys } from '@gantry/linux';
import { InitError } from '../errors';
import type { Capabilities, Process, Rlimit, User } from '../spec/types';
import { closeStrayFds, markExecFds, verifyCwd } from './fds';

/** Bit of a capability name, or undefined when we or this kernel (cap_last_cap) do not know it. */
function capBit(name: string, lastCap: number): number | undefined {
  const bit = CAPABILITIES[name];
  return bit === undefined || bit > lastCap ? undefined : bit;
}

/** Like runc, names unknown to us or to this kernel are left out (the runtime warns about them). */
function capMask(names: readonly string[] | undefined, lastCap = 63): bigint {
  let mask = 0n;
  for (const n of names ?? []) {
    const bit = capBit(n, lastCap);
    if (bit !== undefined) mask |= 1n << BigInt(bit);
  }
  return mask;
}

const CAP_SETS = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const;

/**
 * Ambient capabilities the kernel refuses to raise: each one must be in both the permitted and
 * the inheritable set (`runc spec` writes ambient ones with no inheritable set, so by default all).
 */
export function refusedAmbient(caps: Capabilities | undefined, lastCap = 63): string[] {
  if (!caps) return [];
  const allowed = capMask(caps.permitted, lastCap) & capMask(caps.inheritable, lastCap);
  return (caps.ambient ?? []).filter((n) => {
    const bit = capBit(n, lastCap);
    return bit !== undefined && (allowed & (1n << BigInt(bit))) === 0n;
  });
}

/**
 * What the runtime warns about before starting a process with `caps`, in runc's words: names it
 * ignores, and ambient capabilities that will not be raised. Neither stops the container.
 */
export function capabilityWarnings(caps: Capabilities | undefined, lastCap: number): string[] {
  if (!caps) return [];
  const unknown = new Set<string>();
  for (const set of CAP_SETS) for (const n of caps[set] ?? []) if (capBit(n, lastCap) === undefined) unknown.add(n);
  const out: string[] = [];
  if (unknown.size > 0) out.push(`ignoring unknown or unavailable capabilities: [${[...unknown].sort().join(' ')}]`);
  for (const n of refusedAmbient(caps, lastCap)) out.push(`can't raise ambient capability ${n}: it is not in both the permitted and inheritable sets`);
  return out;
}

const RLIM_INFINITY = 0xffffffffffffffffn;

function rlimitValue(v: number): bigint {
  // JSON cannot carry 2^64-1 exactly; anything at or beyond 2^63 means "unlimited".
  return v < 0 || v >= 2 ** 63 ? RLIM_INFINITY : BigInt(Math.floor(v));
}

function applyRlimits(sys: Sys, rlimits: readonly Rlimit[] | undefined): void {
  for (const rl of rlimits ?? []) {
    const resource = RLIMIT[rl.type];
    if (resource === undefined) throw new InitError(`unknown rlimit ${rl.type}`);
    sys.setrlimit(resource, rlimitValue(rl.soft), rlimitValue(rl.hard));
  }
}

/** Drop every capability not in the bounding list (needs CAP_SETPCAP, so before the user switch). */
function dropBoundingSet(sys: Sys, caps: Capabilities | undefined, lastCap: number): void {
  if (!caps) return;
  const keep = capMask(caps.bounding, lastCap);
  for (let cap = 0; cap <= lastCap; cap++) {
    if ((keep & (1n << BigInt(cap))) === 0n) sys.prctl(PR.CAPBSET_DROP, cap);
  }
}

/** setgroups/setresgid/setresuid, keeping the permitted set across the uid change for applyCapabilities. */
function switchUser(sys: Sys, user: User): void {
  sys.setgroups(user.additionalGids ?? []);
  sys.prctl(PR.SET_KEEPCAPS, 1);
  sys.setresgid(user.gid);
  sys.setresuid(user.uid);
  sys.prctl(PR.SET_KEEPCAPS, 0);
}

/**
 * Set effective/permitted/inheritable, then raise the ambient set. An ambient capability the
 * kernel refuses (not permitted+inheritable, or EPERM/EINVAL from prctl) is skipped, as runc does;
 * the parent warns about it (capabilityWarnings). Returns the names skipped.
 */
export function applyCapabilities(sys: Sys, caps: Capabilities | undefined, lastCap = 63): string[] {
  if (!caps) return [];
  try {
    sys.capset({ effective: capMask(caps.effective, lastCap), permitted: capMask(caps.permitted, lastCap), inheritable: capMask(caps.inheritable, lastCap) });
  } catch (e) {
    // runc's words (what dockerd users search for): e.g. a capability outside the host's bounding set is EPERM
    if (e instanceof SysError) throw new InitError(`unable to apply caps: ${describeErrno(e.errno)}`);
    throw e;
  }
  sys.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL);
  const skipped = refusedAmbient(caps, lastCap);
  for (const name of caps.ambient ?? []) {
    const bit = capBit(name, lastCap);
    if (bit === undefined || skipped.includes(name)) continue;
    try {
      sys.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, bit);
    } catch (e) {
      // e.g. SECBIT_NO_CAP_AMBIENT_RAISE, or a kernel without ambient capabilities
      if (e instanceof SysError && (e.code === 'EPERM' || e.code === 'EINVAL')) skipped.push(name);
      else throw e;
    }
  }
  return skipped;
}

/** Find `name` like execvp does, in the container's root (we are already inside it). */
export function lookPath(sys: Sys, name: string, env: readonly string[], cwd: string): string {
  const executable = (p: string) => {
    const st = sys.stat(p, true);
    return st !== undefined && st.kind === 'file' && (st.mode & 0o111) !== 0;
  };
  if (name.includes('/')) {
    const full = path.isAbsolute(name) ? name : path.join(cwd, name);
    if (!sys.stat(full, true)) throw new InitError(`exec: "${name}": stat ${name}: no such file or directory`);
    if (!executable(full)) throw new InitError(`exec: "${name}": permission denied`);
    return name;
  }
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of pathVar.split(':')) {
    const candidate = path.join(dir || '.', name);
    if (executable(candidate)) return candidate;
  }
  throw new InitError(`exec: "${name}": executable file not found in $PATH`);
}

/** The process environment, with HOME from the container's /etc/passwd when the config sets none. */
export function processEnv(sys: Sys, proc: Process): string[] {
  const env = [...(proc.env ?? [])];
  if (!env.some((e) => e.startsWith('HOME='))) {
    let home = '/';
    try {
      const line = sys
        .readFile('/etc/passwd')
        .split('\n')
        .find((l) => l.split(':')[2] === String(proc.user.uid));
      home = line?.split(':')[5] || '/';
    } catch {
      // no passwd file in the image: HOME stays "/"
    }
    env.push(`HOME=${home}`);
  }
  return env;
}

export interface FinalExec {
  path: string;
  argv: string[];
  env: string[];
}

export interface FinalizeOptions {
  lastCap: number;
  /** The filter, or the program the parent compiled from it (exec: see ExecBootstrap.seccompCompiled). */
  seccomp?: SeccompFilter | CompiledSeccomp;
  preserveFds: number;
  /**
   * fds the stage still needs besides stdio and the preserved ones (sync socket, exec fifo): every
   * other fd that names a file or directory is closed before chdir. Leave undefined where
   * /proc/self is not this process (the exec stage closes its fds before joining the mount namespace).
   */
  keepFds?: ReadonlySet<number>;
  /** Reset signal dispositions and mask for an execve from this thread (posix_spawn does its own). */
  resetSignals: boolean;
  /** Takes the listener fd of a filter with SCMP_ACT_NOTIFY rules, right after it is loaded. */
  seccompListener?: (fd: number) => void;
}

/**
 * Load the filter; a listener (SCMP_ACT_NOTIFY) goes to the seccomp agent at once, before any
 * syscall the agent answers is made (the agent continues those it does not handle).
 */
function loadSeccomp(sys: Sys, filter: SeccompFilter | CompiledSeccomp, opts: FinalizeOptions): void {
  const loadSpan = span('stage.seccomp');
  const listener = 'program' in filter ? sys.seccompLoadCompiled(filter) : sys.seccompLoad(filter);
  loadSpan.end();
  if (listener === undefined) return;
  if (!opts.seccompListener) {
    sys.close(listener);
    throw new InitError('the seccomp filter has SCMP_ACT_NOTIFY rules but no seccomp agent was connected');
  }
  opts.seccompListener(listener);
}

/**
 * chdir to the process's cwd, then make sure the kernel sees it inside our root (CVE-2024-21626).
 * With `permissionMayWait`, a refusal (EACCES/EPERM) returns false instead of throwing: the caller
 * tries again as the container's user.
 */
function enterCwd(sys: Sys, cwd: string, permissionMayWait = false): boolean {
  try {
    sys.chdir(cwd);
  } catch (e) {
    if (permissionMayWait && e instanceof SysError && (e.code === 'EACCES' || e.code === 'EPERM')) return false;
    throw new InitError(`cannot enter the working directory ${cwd}: ${(e as Error).message}`);
  }
  verifyCwd(sys, cwd);
  return true;
}

/**
 * The last steps before execve, in runc's order: fds (stray ones closed, the rest close-on-exec,
 * before anything can walk through them), rlimits, seccomp (early when no_new_privs is off,
 * because loading then needs CAP_SYS_ADMIN), bounding set, cwd (checked inside the root; as root,
 * again as the user if root was refused), user,
 * capabilities, no_new_privs, seccomp (late otherwise), umask. Returns what to exec.
 */
export function finalizeProcess(sys: Sys, proc: Process, opts: FinalizeOptions): FinalExec {
  if (opts.keepFds) closeStrayFds(sys, new Set([...opts.keepFds, ...preservedFds(opts.preserveFds)]));
  markExecFds(sys, opts.preserveFds);
  const env = processEnv(sys, proc);
  const argv = proc.args ?? [];
  const file = lookPath(sys, argv[0]!, env, proc.cwd);
  applyRlimits(sys, proc.rlimits);
  if (opts.seccomp && !proc.noNewPrivileges) loadSeccomp(sys, opts.seccomp, opts);
  dropBoundingSet(sys, proc.capabilities, opts.lastCap);
  // As runc: enter the cwd before the user switch (root may reach a directory the container's user
  // cannot, e.g. a 0700 /root), and only if that is refused, again as the user (a directory only
  // the user may enter, on a file system that does not let root through).
  const entered = enterCwd(sys, proc.cwd, true);
  switchUser(sys, proc.user);
  if (!entered) enterCwd(sys, proc.cwd);
  applyCapabilities(sys, proc.capabilities, opts.lastCap);
  if (proc.noNewPrivileges) sys.prctl(PR.SET_NO_NEW_PRIVS, 1);
  if (opts.seccomp && proc.noNewPrivileges) loadSeccomp(sys, opts.seccomp, opts);
  if (proc.user.umask !== undefined) sys.umask(proc.user.umask);
  else sys.umask(0o022);
  if (opts.resetSignals) sys.resetSignals();
  return { path: file, argv, env };
}

/** The fd numbers `--preserve-fds N` hands to the program: 3 .. 3+N-1. */
export function preservedFds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => 3 + i);
}
