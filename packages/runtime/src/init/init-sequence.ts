import * as path from 'node:path';
import { O, PR, span, SysError, traced, traceFd, traceMark, type Sys } from '@gantry/linux';
import { InitError } from '../errors';
import { runHooks, type HookState } from '../hooks';
import type { ExecBootstrap, InitBootstrap, SeccompAgentHandoff, StageChannel } from '../process/messages';
import { hasNamespace } from '../spec/validate';
import { EXEC_FIFO, EXEC_FIFO_GO, execFifoFailure } from '../state/store';
import { createConsole, setupConsole } from './console';
import { closeStrayFds } from './fds';
import { finalizeProcess, lookPath, preservedFds, processEnv, type FinalExec } from './finalize';
import { withCloneFallback } from './spawn-seccomp';
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
  if (proc.oomScoreAdj !== undefined && !b.userNamespace) sys.writeFile('/proc/self/oom_score_adj', String(proc.oomScoreAdj));
  // The stage holds exec.fifo as an O_PATH fd on the fifo itself, never a directory of the host: a
  // cwd or program path through /proc/self/fd/N cannot walk from a fifo (CVE-2024-21626).
  const fifoFd = sys.open(path.join(b.stateDir, EXEC_FIFO), O.PATH | O.NOFOLLOW | O.CLOEXEC);

  const nsSpan = span('stage.init.namespaces');
  enterNamespaces(sys, spec.linux?.namespaces ?? []);
  nsSpan.end();
  if (b.runtimeHooks) {
    ch.send({ type: 'hooks' });
    const reply = ch.receive();
    if (reply.mode !== 'continue') throw new InitError('unexpected message from parent');
  }
  if (spec.hostname) sys.sethostname(spec.hostname);
  if (spec.domainname) sys.setdomainname(spec.domainname);

  if (!hasNamespace(spec, 'mount')) throw new InitError('a mount namespace is required (linux.namespaces has no "mount")');
  const mountSpan = span('stage.init.mounts');
  prepareRootfs(sys, spec, {
    rootfs: b.rootfs,
    bundle: b.bundle,
    noPivot: b.noPivot,
    cgroupPath: b.cgroupPath,
    cgroupNamespace: hasNamespace(spec, 'cgroup'),
    hostCgroups: b.hostCgroups,
    detachedSources: new Map((b.mountSources ?? []).map((m) => [m.index, m.fd])),
  });
  mountSpan.end();
  const state: HookState = {
    ociVersion: spec.ociVersion,
    id: b.id,
    status: 'creating',
    pid: sys.getpid(),
    bundle: b.bundle,
    annotations: spec.annotations ?? {},
  };
  // runc runs them from the container's root directory (relative paths in hooks depend on it)
  if (spec.hooks?.createContainer?.length) hooks('createContainer', spec.hooks.createContainer, state, { cwd: b.rootfs });
  const pivotSpan = span('stage.init.pivot');
  enterRootfs(sys, b.rootfs, b.noPivot);
  pivotSpan.end();
  const finalSpan = span('stage.init.finalize');

  if (!sys.stat(proc.cwd, true)) {
    try {
      sys.mkdirAll(proc.cwd, 0o755);
    } catch (e) {
      throw new InitError(`cannot create the working directory ${proc.cwd}: ${(e as Error).message}`);
    }
  }
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
  // As runc, `start` releases us by opening the fifo for reading while we block opening it for
  // writing, through the container's /proc (our O_PATH fd cannot be reopened any other way).
  const fifoPath = `/proc/self/fd/${fifoFd}`;
  if (sys.stat(fifoPath, true)?.kind !== 'fifo') throw new InitError(`cannot reach the exec fifo at ${fifoPath}: the container needs /proc mounted`);
  // The trace file (GANTRY_TRACE only) stays open to record the last steps: a write-only regular
  // file, close-on-exec, so neither a cwd nor the program can walk through it, and execve closes it.
  const keepFds = new Set([ch.fd, fifoFd, ...(b.seccompAgent ? [b.seccompAgent.fd] : []), ...traceFds()]);
  const finalOptions = {
    lastCap: b.lastCap,
    seccomp: b.seccompCompiled ?? b.seccomp,
    preserveFds: b.preserveFds,
    keepFds,
    resetSignals: true,
    seccompListener: toAgent(sys, b.seccompAgent),
  };

  const startHooks = spec.hooks?.startContainer ?? [];
  let exec: FinalExec;
  if (startHooks.length === 0) {
    // Everything that can fail comes before `ready`, so `create` reports it, as runc's does.
    exec = finalizeProcess(sys, proc, finalOptions);
    finalSpan.end();
    trace('init ready');
    ch.send({ type: 'ready', pid: sys.getpid() });
    const waitSpan = span('stage.init.wait-start');
    const fifo = sys.open(fifoPath, O.WRONLY | O.CLOEXEC);
    waitSpan.end();
    sys.write(fifo, EXEC_FIFO_GO);
    // left open: execve closes it (close-on-exec), and `start` returns at that end of file, once
    // the program replaced this stage (as runc's init and `runc start`)
  } else {
    // As runc: the process is confined first (user, capabilities, seccomp: a failure there still
    // fails `create`), so startContainer hooks run confined like the program (runc's tests check
    // the seccomp filter applies to them). They run after `start`; a failing hook travels to
    // `start` through the fifo (EXEC_FIFO_FAILED and why), which hears the outcome before returning.
    // Signals are reset after them: the hooks' spawn relies on Node's SIGCHLD handling.
    exec = finalizeProcess(sys, proc, { ...finalOptions, resetSignals: false });
    finalSpan.end();
    trace('init ready');
    ch.send({ type: 'ready', pid: sys.getpid() });
    const fifo = sys.open(fifoPath, O.WRONLY | O.CLOEXEC);
    try {
      hooks('startContainer', startHooks, { ...state, status: 'created' });
    } catch (e) {
      sys.write(fifo, execFifoFailure(e instanceof Error ? e.message : String(e)));
      throw e;
    }
    sys.resetSignals();
    sys.write(fifo, EXEC_FIFO_GO); // left open for execve to close, as above
  }
  sys.close(fifoFd);
  trace('init execve');
  traceMark('stage.execve');
  return sys.execve(exec.path, exec.argv, exec.env);
}

/** Send a seccomp listener to the agent the runtime connected (SCM_RIGHTS, with the container's state). */
function toAgent(sys: Sys, agent: SeccompAgentHandoff | undefined): ((fd: number) => void) | undefined {
  if (!agent) return undefined;
  return (listener) => {
    try {
      sys.sendFd(agent.fd, listener, agent.state);
    } catch (e) {
      throw new InitError(`cannot send the seccomp listener to the seccomp agent: ${(e as Error).message}`);
    } finally {
      // our copies: the agent's is then the only one, so its death makes notified syscalls ENOSYS
      sys.close(listener);
      sys.close(agent.fd);
    }
  };
}

/**
 * The exec stage: started in the host's pid namespace, so no process of the container can see it
 * (nor its /proc/<pid>/root, the host's) while Node boots. It joins the container's namespaces on
 * its main thread (pid for its children only), takes the process's credentials, and starts the
 * program with posix_spawn: the first process the container can see is the program, already in
 * its mount namespace and with its credentials. It reports the pid and exits; the program is
 * reparented to the runtime, a child subreaper (runc's nsexec clones its final process the same way).
 */
export function runExec(sys: Sys, ch: StageChannel, b: ExecBootstrap): never {
  const proc = b.process;
  sys.prctl(PR.SET_DUMPABLE, 0);
  // /proc/self is this process only until it joins the container's mount namespace.
  if (proc.oomScoreAdj !== undefined && !b.userNamespace) sys.writeFile('/proc/self/oom_score_adj', String(proc.oomScoreAdj));
  const keep = [ch.fd, ...b.namespaceFds.map((n) => n.fd), ...preservedFds(b.preserveFds)];
  if (b.consoleSocketFd !== undefined) keep.push(b.consoleSocketFd);
  if (b.seccompAgent) keep.push(b.seccompAgent.fd);
  keep.push(...traceFds());
  const fdSpan = span('stage.exec.close-fds');
  closeStrayFds(sys, new Set(keep));
  fdSpan.end();

  const nsSpan = span('stage.exec.namespaces');
  joinNamespaceFds(sys, b.namespaceFds);
  sys.chdir('/');
  nsSpan.end();
  let terminal: string | undefined;
  if (proc.terminal) {
    if (b.consoleSocketFd === undefined) throw new InitError('process.terminal is set but no console socket was given');
    terminal = createConsole(sys, b.consoleSocketFd, proc.user, proc.consoleSize).slavePath;
  }
  const exec = traced('stage.exec.finalize', () =>
    finalizeProcess(sys, proc, {
      lastCap: b.lastCap,
      seccomp: b.seccompCompiled ?? withCloneFallback(b.seccomp),
      preserveFds: b.preserveFds,
      resetSignals: false,
      seccompListener: toAgent(sys, b.seccompAgent),
    }),
  );
  let pid: number;
  // posix_spawn: the program's fork and execve (the parent returns once the child has exec'd)
  const spawnSpan = span('stage.exec.spawn');
  try {
    pid = sys.spawn({ path: exec.path, argv: exec.argv, env: exec.env, setsid: true, terminal, closeFrom: 3 + b.preserveFds });
    spawnSpan.end();
  } catch (e) {
    spawnSpan.end();
    // glibc's posix_spawn needs clone3 (or clone after ENOSYS) under the container's filter
    const code = e instanceof SysError ? e.code : '';
    const why =
      (b.seccomp || b.seccompCompiled) && (code === 'EPERM' || code === 'ENOSYS')
        ? " (the container's seccomp profile refuses the clone3/clone that starting a process needs)"
        : '';
    throw new InitError(`exec: "${proc.args![0]}": ${(e as Error).message}${why}`);
  }
  ch.send({ type: 'spawned', pid });
  // Under the container's seccomp filter now: end without Node's exit path.
  return sys.exitNow(0);
}

/** The trace file's fd as a list (empty with tracing off), for the sets of fds a stage keeps. */
function traceFds(): number[] {
  const fd = traceFd();
  return fd === undefined ? [] : [fd];
}
