import * as path from 'node:path';
import { O, span, traced } from '@gantry/linux';
import { ConfigError, InitError, RuntimeError } from '../errors';
import { capabilityWarnings } from '../init/finalize';
import { seccompFor } from '../init/seccomp-enabled';
import { usesSeccompAgent } from '../init/seccomp-filter';
import { withCloneFallback } from '../init/spawn-seccomp';
import { connectSeccompAgent, seccompAgentState } from './seccomp-agent';
import { PROC_NS_NAME } from '../init/namespaces';
import { spawnStage, stageBooted, type StageHandle, type StdioFds } from '../process/spawn-stage';
import { handOverFds } from '../process/warm-init';
import type { SubCgroupPaths } from '../cgroups/sub-cgroup';
import type { Process } from '../spec/types';
import type { RuntimeContext } from './context';
import { lastCap, writePidFile } from './create';

export interface ExecOptions {
  process: Process;
  consoleSocket?: string;
  pidFile?: string;
  preserveFds?: number;
  /** fds for the process's stdin/stdout/stderr (library use, e.g. a shim's FIFOs); default ours. */
  stdio?: StdioFds;
  /**
   * Do not wait for the program (runc's `exec -d`): it goes to the nearest child subreaper above
   * us (a shim), and `exited` is undefined. Otherwise this process becomes a child subreaper.
   */
  detach?: boolean;
  /** runc exec --cgroup: existing sub-cgroups of the container's cgroup to put the process in. */
  subCgroups?: SubCgroupPaths;
  /** Allow a paused container (runc --ignore-paused): the process starts once it is resumed. */
  ignorePaused?: boolean;
}

export interface Executed {
  /** The program's pid, in this process's pid namespace. */
  pid: number;
  /** Its exit status in shell convention (code, or 128 + signal); undefined with `detach`. */
  exited: Promise<number> | undefined;
}

function checkProcess(p: Process): void {
  if (!Array.isArray(p.args) || p.args.length === 0) throw new ConfigError('exec: process args must name a program');
  if (typeof p.cwd !== 'string' || !path.isAbsolute(p.cwd)) throw new ConfigError('exec: process cwd must be an absolute path');
  if (!p.user || !Number.isInteger(p.user.uid) || !Number.isInteger(p.user.gid)) throw new ConfigError('exec: process user needs uid and gid');
}

function exitOf(child: StageHandle['child']): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Whether a warm stage may serve this exec: the runtime keeps them (a shim), the stage needs no user
 * namespace (nsenter joins it before node starts), the caller names the program's stdio and
 * passes no other fds (`--preserve-fds`).
 */
function warmable(ctx: RuntimeContext, inUserNs: boolean, opts: ExecOptions): boolean {
  return ctx.warmStages !== undefined && !inUserNs && !opts.preserveFds && opts.stdio !== undefined;
}

/**
 * Start one more process inside a running container (runc exec). The exec stage runs in the host's
 * pid namespace, so the container never sees it; it joins the container's namespaces and cgroup,
 * takes the process's credentials and posix_spawns the program into the container's pid namespace,
 * then exits. The program is then our child (we are a subreaper) and `exited` reaps it.
 */
export async function execInContainer(ctx: RuntimeContext, id: string, opts: ExecOptions): Promise<Executed> {
  const c = ctx.requireStatus(id, opts.ignorePaused ? ['running', 'created', 'paused'] : ['running', 'created'], 'exec in');
  checkProcess(opts.process);
  for (const w of capabilityWarnings(opts.process.capabilities, lastCap())) ctx.warnQuietly(w);
  const sys = ctx.sys;
  const namespaces = c.spec.linux?.namespaces ?? [];
  const nsFds: { type: string; fd: number }[] = [];
  let consoleFd: number | undefined;
  let agentFd: number | undefined;
  let stage: StageHandle | undefined;
  const seccomp = seccompFor(c.spec.linux?.seccomp);
  const inUserNs = namespaces.some((n) => n.type === 'user');
  // Before the stage exists: its program must come to us when it exits.
  if (!opts.detach) ctx.orphans.becomeSubreaper();
  try {
    for (const ns of namespaces) {
      if (ns.type === 'user') continue;
      nsFds.push({ type: ns.type, fd: sys.open(`/proc/${c.pid}/ns/${PROC_NS_NAME[ns.type]}`, O.RDONLY | O.CLOEXEC) });
    }
    if (opts.process.terminal) {
      if (!opts.consoleSocket) throw new ConfigError('exec: a terminal needs --console-socket');
      consoleFd = sys.connectUnix(opts.consoleSocket);
    }
    if (usesSeccompAgent(seccomp)) agentFd = connectSeccompAgent(sys, c.spec.linux!.seccomp!);
    const passed = [...nsFds.map((n) => n.fd), ...[consoleFd, agentFd].filter((fd): fd is number => fd !== undefined)];
    // a stage started ahead (see process/warm-stages.ts): it gets the fds over its fd socket
    const warm = warmable(ctx, inUserNs, opts) ? ctx.warmStages!.take(id) : undefined;
    if (warm) {
      stage = warm.stage;
      try {
        traced('runtime.exec.handover', () => handOverFds(sys, warm, opts.stdio!, passed));
      } finally {
        sys.close(warm.fdSocket);
      }
    }
    const spawnSpan = span('runtime.exec.spawn-stage');
    stage ??= spawnStage(sys, {
      preserveFds: opts.preserveFds ?? 0,
      extraFds: passed,
      pidNamespace: { kind: 'host' },
      // its own session: a terminal's ^C meant for the program must not kill the stage half-way
      detached: true,
      stdio: opts.stdio,
      executable: ctx.stageExecutable,
      // the user namespace is joined by nsenter before node starts (see process/userns.ts)
      ...(inUserNs ? { userNamespace: { path: `/proc/${c.pid}/ns/user`, newPid: false } } : {}),
    });
    spawnSpan.end();
    if (inUserNs && opts.process.oomScoreAdj !== undefined) sys.writeFile(`/proc/${stage.pid}/oom_score_adj`, String(opts.process.oomScoreAdj));
    for (const n of nsFds) sys.close(n.fd);
    for (const fd of [consoleFd, agentFd]) if (fd !== undefined) sys.close(fd);
    const nsTypes = nsFds.map((n) => n.type);
    const hasConsole = consoleFd !== undefined;
    const hasAgent = agentFd !== undefined;
    // closed: the error path must not close these numbers again
    nsFds.length = 0;
    consoleFd = agentFd = undefined;
    // a warm stage's fds are placeholders here: it receives them in this order (ExecBootstrap.handover)
    const childFds = warm ? passed.map(() => -1) : stage.childFds;
    const cg = ctx.cgroup(c);
    // while the stage boots: the stage then only loads the program
    const compiled = seccomp ? traced('runtime.exec.seccomp', () => ctx.seccompPrograms.compiled(withCloneFallback(seccomp)!)) : undefined;
    ctx.debug(`=> nsexec container setup: exec stage ${stage.pid} started`);
    // once Node has booted: its start-up is not charged to the container (see 'booted' in messages.ts)
    await traced('runtime.exec.wait-booted', () => stageBooted(stage!, 'exec'));
    if (cg.exists()) traced('runtime.exec.cgroup', () => cg.addProcess(stage!.pid, opts.subCgroups));
    stage.send({
      mode: 'exec',
      id,
      process: opts.process,
      preserveFds: opts.preserveFds ?? 0,
      namespaceFds: nsTypes.map((type, i) => ({ type, fd: childFds[i]! })),
      consoleSocketFd: hasConsole ? childFds[nsTypes.length] : undefined,
      lastCap: lastCap(),
      ...(compiled ? { seccompCompiled: compiled } : { seccomp }),
      userNamespace: inUserNs,
      seccompAgent: hasAgent
        ? {
            fd: childFds[nsTypes.length + (hasConsole ? 1 : 0)]!,
            state: seccompAgentState({
              ociVersion: c.spec.ociVersion,
              id,
              pid: c.pid,
              bundle: c.bundle,
              status: 'running',
              annotations: c.annotations,
              metadata: c.spec.linux?.seccomp?.listenerMetadata,
            }),
          }
        : undefined,
      ...(warm ? { handover: { socketFd: warm.stageFdSocket } } : {}),
    });
    ctx.debug(`child process in init(): bootstrap sent to exec stage ${stage.pid}`);
    // A taken warm stage's successor is started now, while the stage works on its own: execs in a
    // row came faster than Node boots under load, and spawning it (~5-12 ms of this thread) is
    // better spent here than before the stage's bootstrap.
    if (warm) ctx.warmStages!.prepare(id);
    nsFds.length = 0;
    consoleFd = undefined;
    let pid: number | undefined;
    const waitSpan = span('runtime.exec.wait-spawned');
    for (;;) {
      const msg = await stage.next();
      if (msg === undefined) break;
      if (msg.type === 'error') throw new InitError(msg.message);
      if (msg.type === 'spawned') {
        pid = msg.pid;
        ctx.debug(`setns_init: about to exec (exec stage ${stage.pid} joined the container, program ${pid})`);
      }
    }
    waitSpan.end();
    // The stage's exit reparents the program to us (the kernel does it before our SIGCHLD).
    await traced('runtime.exec.wait-stage-exit', () => exitOf(stage!.child));
    stage.close();
    if (pid === undefined) throw new InitError('exec stage exited before starting the process');
    const exited = opts.detach ? undefined : ctx.orphans.wait(pid);
    if (opts.pidFile) writePidFile(path.resolve(opts.pidFile), pid);
    // after a cold start (a first exec, which it would slow down): the next exec's stage boots now
    if (!warm && warmable(ctx, inUserNs, opts)) ctx.warmStages!.prepare(id);
    return { pid, exited };
  } catch (e) {
    for (const n of nsFds) sys.close(n.fd);
    for (const fd of [consoleFd, agentFd]) if (fd !== undefined) sys.close(fd);
    if (stage) {
      stage.close();
      try {
        process.kill(stage.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await exitOf(stage.child);
    }
    if (e instanceof RuntimeError) throw e;
    throw new InitError((e as Error).message);
  }
}
