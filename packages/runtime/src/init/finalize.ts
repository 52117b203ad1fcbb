import * as path from 'node:path';
import { CAPABILITIES, PR, RLIMIT, type SeccompFilter, type Sys } from '@gantry/linux';
import { InitError } from '../errors';
import type { Capabilities, Process, Rlimit, User } from '../spec/types';

function capMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const n of names ?? []) {
    const bit = CAPABILITIES[n];
    if (bit === undefined) throw new InitError(`unknown capability ${n}`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

const RLIM_INFINITY = 0xffffffffffffffffn;

function rlimitValue(v: number): bigint {
  // JSON cannot carry 2^64-1 exactly; anything at or beyond 2^63 means "unlimited".
  return v < 0 || v >= 2 ** 63 ? RLIM_INFINITY : BigInt(Math.floor(v));
}

export function applyRlimits(sys: Sys, rlimits: readonly Rlimit[] | undefined): void {
  for (const rl of rlimits ?? []) {
    const resource = RLIMIT[rl.type];
    if (resource === undefined) throw new InitError(`unknown rlimit ${rl.type}`);
    sys.setrlimit(resource, rlimitValue(rl.soft), rlimitValue(rl.hard));
  }
}

/** Drop every capability not in the bounding list (needs CAP_SETPCAP, so before the user switch). */
export function dropBoundingSet(sys: Sys, caps: Capabilities | undefined, lastCap: number): void {
  if (!caps) return;
  const keep = capMask(caps.bounding);
  for (let cap = 0; cap <= lastCap; cap++) {
    if ((keep & (1n << BigInt(cap))) === 0n) sys.prctl(PR.CAPBSET_DROP, cap);
  }
}

/** setgroups/setresgid/setresuid, keeping the permitted set across the uid change for applyCapabilities. */
export function switchUser(sys: Sys, user: User): void {
  sys.setgroups(user.additionalGids ?? []);
  sys.prctl(PR.SET_KEEPCAPS, 1);
  sys.setresgid(user.gid);
  sys.setresuid(user.uid);
  sys.prctl(PR.SET_KEEPCAPS, 0);
}

export function applyCapabilities(sys: Sys, caps: Capabilities | undefined): void {
  if (!caps) return;
  sys.capset({ effective: capMask(caps.effective), permitted: capMask(caps.permitted), inheritable: capMask(caps.inheritable) });
  sys.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL);
  for (const name of caps.ambient ?? []) sys.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, CAPABILITIES[name]!);
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

/** Leave stdio and the preserved fds to the new program; everything else closes on exec. */
export function setExecFds(sys: Sys, preserveFds: number): void {
  const keep = 3 + preserveFds;
  for (const fd of sys.listFds()) {
    try {
      sys.setCloexec(fd, fd >= keep);
    } catch {
      // the fd used to list /proc/self/fd is gone by now
    }
  }
}

export interface FinalExec {
  path: string;
  argv: string[];
  env: string[];
}

export interface FinalizeOptions {
  lastCap: number;
  seccomp?: SeccompFilter;
  preserveFds: number;
}

/**
 * The last steps before execve, in runc's order: rlimits, seccomp (early when no_new_privs is off,
 * because loading then needs CAP_SYS_ADMIN), bounding set, user, cwd, capabilities, no_new_privs,
 * seccomp (late otherwise), umask, fds. Returns what to exec; the caller calls execve.
 */
export function finalizeProcess(sys: Sys, proc: Process, opts: FinalizeOptions): FinalExec {
  const env = processEnv(sys, proc);
  const argv = proc.args ?? [];
  const file = lookPath(sys, argv[0]!, env, proc.cwd);
  applyRlimits(sys, proc.rlimits);
  if (opts.seccomp && !proc.noNewPrivileges) sys.seccompLoad(opts.seccomp);
  dropBoundingSet(sys, proc.capabilities, opts.lastCap);
  switchUser(sys, proc.user);
  sys.chdir(proc.cwd);
  applyCapabilities(sys, proc.capabilities);
  if (proc.noNewPrivileges) sys.prctl(PR.SET_NO_NEW_PRIVS, 1);
  if (opts.seccomp && proc.noNewPrivileges) sys.seccompLoad(opts.seccomp);
  if (proc.user.umask !== undefined) sys.umask(proc.user.umask);
  else sys.umask(0o022);
  sys.resetSignals();
  setExecFds(sys, opts.preserveFds);
  return { path: file, argv, env };
}
