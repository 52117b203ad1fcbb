import * as path from 'node:path';
import { O, PR, type Sys } from '@gantry/linux';
import { InitError } from '../errors';
import { runHooks, type HookState } from '../hooks';
import type { ExecBootstrap, InitBootstrap, StageChannel } from '../process/messages';
import { hasNamespace } from '../spec/validate';
import { setupConsole } from './console';
import { finalizeProcess, lookPath, processEnv, type FinalExec } from './finalize';
import { enterNamespaces, joinNamespaceFds } from './namespaces';
import { enterRootfs, finalizeRootfs, prepareRootfs } from './rootfs';
import { trace } from '../trace';

export type HookRunner = typeof runHooks;

/** Sysctls must be namespaced ones, or they would change the host. */
function checkSysctl(key: string, b: InitBootstrap): void {
  const ns = (t: Parameters<typeof hasNamespace>[1]) => hasNamespace(b.spec, t);
  const ipc = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
  if (ipc.includes(key) || key.startsWith('fs.mqueue.')) {
    if (!ns('ipc')) throw new InitError(`sysctl ${key} needs a new ipc namespace`);
    return;
  }
  if (key.startsWith('net.')) {
    if (!ns('network')) throw new InitError(`sysctl ${key} needs a new network namespace`);
    return;
  }
  if (key === 'kernel.hostname' || key === 'kernel.domainname') {
    if (!ns('uts')) throw new InitError(`sysctl ${key} needs a new uts namespace`);
    return;
  }
  throw new InitError(`sysctl ${key} is not namespaced and cannot be set in a container`);
}

/**
 * The container's init stage, from namespaces to execve. Runs on the stage's main thread with only
 * synchronous calls: after pivot_root only this thread sees the container's root.
 */
export function runInit(sys: Sys, ch: StageChannel, b: InitBootstrap, hooks: HookRunner = runHooks): never {
  const spec = b.spec;
  const proc = spec.process!;
  sys.prctl(PR.SET_DUMPABLE, 0);
  if (proc.oomScoreAdj !== undefined) sys.writeFile('/proc/self/oom_score_adj', String(proc.oomScoreAdj));
  const stateDirFd = sys.open(b.stateDir, O.PATH | O.DIRECTORY | O.CLOEXEC);

  enterNamespaces(sys, spec.linux?.namespaces ?? []);
  if (b.runtimeHooks) {
    ch.send({ type: 'hooks' });
    const reply = ch.receive();
    if (reply.mode !== 'continue') throw new InitError('unexpected message from parent');
  }
  if (spec.hostname) sys.sethostname(spec.hostname);
  if (spec.domainname) sys.setdomainname(spec.domainname);

  if (!hasNamespace(spec, 'mount')) throw new InitError('a mount namespace is required (linux.namespaces has no "mount")');
  prepareRootfs(sys, spec, {
    rootfs: b.rootfs,
    bundle: b.bundle,
    noPivot: b.noPivot,
    cgroupPath: b.cgroupPath,
    cgroupNamespace: hasNamespace(spec, 'cgroup'),
    hostCgroups: b.hostCgroups,
  });
  const state: HookState = { ociVersion: spec.ociVersion, id: b.id, status: 'creating', pid: sys.getpid(), bundle: b.bundle, annotations: spec.annotations ?? {} };
  // runc runs them from the container's root directory (relative paths in hooks depend on it)
  if (spec.hooks?.createContainer?.length) hooks('createContainer', spec.hooks.createContainer, state, { cwd: b.rootfs });
  enterRootfs(sys, b.rootfs, b.noPivot);

  if (!sys.stat(proc.cwd, true)) sys.mkdirAll(proc.cwd, 0o755);
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    checkSysctl(key, b);
    sys.writeFile(path.join('/proc/sys', key.replace(/\./g, '/')), value);
  }
  finalizeRootfs(sys, spec);
  if (proc.terminal) {
    if (b.consoleSocketFd === undefined) throw new InitError('process.terminal is set but no console socket was given');
    setupConsole(sys, b.consoleSocketFd, proc.user, proc.consoleSize);
  }
  // Fail create, not start, when the program is missing.
  lookPath(sys, proc.args![0]!, processEnv(sys, proc), proc.cwd);

  // As in runc, the process is confined (rlimits, user, cwd, capabilities, seccomp) before `create`
  // returns, so a failure there fails create; then `start` opens exec.fifo (through the O_PATH
  // dirfd, which works after pivot_root) and releases us right before execve. startContainer hooks
  // run in between, confined like the program (runc's tests check that seccomp applies to them).
  const waitForStart = () => {
    const fifo = sys.openat(stateDirFd, 'exec.fifo', O.WRONLY | O.CLOEXEC);
    sys.write(fifo, '0');
    sys.close(fifo);
    sys.close(stateDirFd);
  };
  const startHooks = spec.hooks?.startContainer ?? [];
  const exec: FinalExec = finalizeProcess(sys, proc, {
    lastCap: b.lastCap,
    seccomp: b.seccomp,
    preserveFds: b.preserveFds,
    beforeExec: () => {
      trace('init ready');
      ch.send({ type: 'ready', pid: sys.getpid() });
      waitForStart();
      trace('init started');
      if (startHooks.length > 0) hooks('startContainer', startHooks, { ...state, status: 'created' });
    },
  });
  trace('init execve');
  return sys.execve(exec.path, exec.argv, exec.env);
}

/** The exec stage: join the running container's namespaces and become one more process in it. */
export function runExec(sys: Sys, ch: StageChannel, b: ExecBootstrap): never {
  const proc = b.process;
  sys.prctl(PR.SET_DUMPABLE, 0);
  joinNamespaceFds(sys, b.namespaceFds);
  sys.chdir('/');
  if (proc.terminal) {
    if (b.consoleSocketFd === undefined) throw new InitError('process.terminal is set but no console socket was given');
    setupConsole(sys, b.consoleSocketFd, proc.user, proc.consoleSize);
  }
  if (proc.oomScoreAdj !== undefined) sys.writeFile('/proc/self/oom_score_adj', String(proc.oomScoreAdj));
  const exec = finalizeProcess(sys, proc, { lastCap: b.lastCap, seccomp: b.seccomp, preserveFds: b.preserveFds });
  ch.send({ type: 'ready', pid: sys.getpid() });
  return sys.execve(exec.path, exec.argv, exec.env);
}
