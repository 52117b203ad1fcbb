import * as path from 'node:path';
import { O } from '@gantry/linux';
import { ConfigError, InitError, RuntimeError } from '../errors';
import { capabilityWarnings } from '../init/finalize';
import { seccompFor } from '../init/seccomp-enabled';
import { PROC_NS_NAME } from '../init/namespaces';
import { spawnStage, type StageHandle, type StdioFds } from '../process/spawn-stage';
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
  /** runc exec --cgroup: existing sub-cgroups of the container's cgroup to put the process in. */
  subCgroups?: SubCgroupPaths;
  /** Allow a paused container (runc --ignore-paused): the process starts once it is resumed. */
  ignorePaused?: boolean;
}

export interface Executed {
  pid: number;
  child: StageHandle['child'];
}

function checkProcess(p: Process): void {
  if (!Array.isArray(p.args) || p.args.length === 0) throw new ConfigError('exec: process args must name a program');
  if (typeof p.cwd !== 'string' || !path.isAbsolute(p.cwd)) throw new ConfigError('exec: process cwd must be an absolute path');
  if (!p.user || !Number.isInteger(p.user.uid) || !Number.isInteger(p.user.gid)) throw new ConfigError('exec: process user needs uid and gid');
}

/** Start one more process inside a running container's namespaces and cgroup (runc exec). */
export async function execInContainer(ctx: RuntimeContext, id: string, opts: ExecOptions): Promise<Executed> {
  const c = ctx.requireStatus(id, opts.ignorePaused ? ['running', 'created', 'paused'] : ['running', 'created'], 'exec in');
  checkProcess(opts.process);
  for (const w of capabilityWarnings(opts.process.capabilities, lastCap())) ctx.warnQuietly(w);
  const sys = ctx.sys;
  const namespaces = c.spec.linux?.namespaces ?? [];
  const nsFds: { type: string; fd: number }[] = [];
  let consoleFd: number | undefined;
  let stage: StageHandle | undefined;
  try {
    for (const ns of namespaces) {
      if (ns.type === 'pid' || ns.type === 'user') continue;
      nsFds.push({ type: ns.type, fd: sys.open(`/proc/${c.pid}/ns/${PROC_NS_NAME[ns.type]}`, O.RDONLY | O.CLOEXEC) });
    }
    if (opts.process.terminal) {
      if (!opts.consoleSocket) throw new ConfigError('exec: a terminal needs --console-socket');
      consoleFd = sys.connectUnix(opts.consoleSocket);
    }
    const hasPidNs = namespaces.some((n) => n.type === 'pid');
    stage = spawnStage(sys, {
      preserveFds: opts.preserveFds ?? 0,
      extraFds: [...nsFds.map((n) => n.fd), ...(consoleFd !== undefined ? [consoleFd] : [])],
      pidNamespace: hasPidNs ? { kind: 'join', path: `/proc/${c.pid}/ns/pid` } : { kind: 'host' },
      detached: opts.process.terminal === true,
      stdio: opts.stdio,
    });
    for (const n of nsFds) sys.close(n.fd);
    if (consoleFd !== undefined) sys.close(consoleFd);
    const nsTypes = nsFds.map((n) => n.type);
    const hasConsole = consoleFd !== undefined;
    // closed: the error path must not close these numbers again
    nsFds.length = 0;
    consoleFd = undefined;
    const childFds = stage.childFds;
    const cg = ctx.cgroup(c);
    ctx.debug(`=> nsexec container setup: exec stage ${stage.pid} started`);
    if (cg.exists()) cg.addProcess(stage.pid, opts.subCgroups);
    stage.send({
      mode: 'exec',
      id,
      process: opts.process,
      preserveFds: opts.preserveFds ?? 0,
      namespaceFds: nsTypes.map((type, i) => ({ type, fd: childFds[i]! })),
      consoleSocketFd: hasConsole ? childFds[nsTypes.length] : undefined,
      lastCap: lastCap(),
      seccomp: seccompFor(c.spec.linux?.seccomp),
    });
    ctx.debug(`child process in init(): bootstrap sent to exec stage ${stage.pid}`);
    let ready = false;
    for (;;) {
      const msg = await stage.next();
      if (msg === undefined) break;
      if (msg.type === 'error') throw new InitError(msg.message);
      if (msg.type === 'ready') {
        ready = true;
        ctx.debug(`setns_init: about to exec (exec stage ${stage.pid} joined the container)`);
      }
    }
    if (!ready) throw new InitError('exec stage exited before running the process');
    if (opts.pidFile) writePidFile(path.resolve(opts.pidFile), stage.pid);
    stage.close();
    return { pid: stage.pid, child: stage.child };
  } catch (e) {
    for (const n of nsFds) sys.close(n.fd);
    if (consoleFd !== undefined) sys.close(consoleFd);
    if (stage) {
      stage.close();
      const child = stage.child;
      try {
        process.kill(stage.pid, 'SIGKILL');
      } catch {
        // gone
      }
      // Reap it here: left to the subreaper, a zombie would linger inside the container.
      if (child.exitCode === null && child.signalCode === null) await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    }
    if (e instanceof RuntimeError) throw e;
    throw new InitError((e as Error).message);
  }
}
