import * as fs from 'node:fs';
import * as path from 'node:path';
import { S_IF, type Sys, writeFileAtomic } from '@gantry/linux';
import { resolveCgroupPath } from '../cgroups/path';
import type { CgroupManager } from '../cgroups/types';
import { ConfigError, InitError, RuntimeError } from '../errors';
import { runHooks } from '../hooks';
import { parseCgroupMounts } from '../init/rootfs';
import { capabilityWarnings } from '../init/finalize';
import { seccompFor } from '../init/seccomp-enabled';
import { usesSeccompAgent } from '../init/seccomp-filter';
import { connectSeccompAgent, seccompAgentState } from './seccomp-agent';
import { spawnStage, type PidNamespace, type StageHandle, type StdioFds } from '../process/spawn-stage';
import { parseSpec } from '../spec/validate';
import { defaultDeviceRules } from '../spec/default-spec';
import type { ContainerState, Spec } from '../spec/types';
import { EXEC_FIFO, processStartTime, toOciState, validateId, type StoredContainer } from '../state/store';
import type { RuntimeContext } from './context';
import { trace } from '../trace';

export interface CreateOptions {
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** fds for the process's stdin/stdout/stderr (library use, e.g. a shim's FIFOs); default ours. */
  stdio?: StdioFds;
}

export interface Created {
  state: ContainerState;
  /** The init process as a child of this process (lets `run` and library users wait for its exit). */
  init: StageHandle['child'];
}

export function lastCap(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return 40;
  }
}

/** --pid-file: written atomically (readers such as the shim never see an empty file), 0644 as runc's. */
export function writePidFile(file: string, pid: number): void {
  writeFileAtomic(file, String(pid), { mode: 0o644 });
}

function loadBundle(bundle: string): { bundle: string; spec: Spec; rootfs: string } {
  let dir: string;
  try {
    dir = fs.realpathSync(bundle);
  } catch {
    throw new ConfigError(`bundle ${bundle} does not exist`);
  }
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
  } catch {
    throw new ConfigError(`${path.join(dir, 'config.json')}: no such file`);
  }
  const spec = parseSpec(text, path.join(dir, 'config.json'));
  const rootfs = path.resolve(dir, spec.root!.path);
  if (!fs.statSync(rootfs, { throwIfNoEntry: false })?.isDirectory()) throw new ConfigError(`rootfs ${rootfs} does not exist or is not a directory`);
  return { bundle: dir, spec, rootfs };
}

function pidNamespaceOf(spec: Spec): PidNamespace {
  const ns = spec.linux?.namespaces?.find((n) => n.type === 'pid');
  if (!ns) return { kind: 'host' };
  return ns.path ? { kind: 'join', path: ns.path } : { kind: 'new' };
}

/**
 * A cgroup that exists before the container, as runc checks it: a frozen one is refused (the init
 * would freeze as soon as it joined and create would wait for it forever); a non-empty one is
 * shared with other processes, which works but deserves a warning.
 */
export function checkExistingCgroup(cg: CgroupManager, warn: (message: string) => void): void {
  if (!cg.exists()) return;
  const pids = cg.pids();
  if (pids.length > 0) warn(`container's cgroup is not empty: ${pids.length} process(es) found`);
  let state: 'frozen' | 'thawed' = 'thawed';
  try {
    state = cg.freezerState();
  } catch {
    // no freezer on this host: nothing can be frozen
  }
  if (state === 'frozen') throw new ConfigError("container's cgroup unexpectedly frozen");
}

/**
 * Create a container: everything up to (not including) the user's program. The init stage is left
 * blocked on exec.fifo inside the container until `start`. Any failure undoes what was done.
 */
export async function createContainer(ctx: RuntimeContext, id: string, opts: CreateOptions): Promise<Created> {
  validateId(id);
  const { bundle, spec, rootfs } = loadBundle(opts.bundle);
  const proc = spec.process!;
  if (proc.terminal && !opts.consoleSocket) throw new ConfigError('cannot allocate a tty without --console-socket when the runtime detaches');
  const seccomp = seccompFor(spec.linux?.seccomp);
  for (const w of capabilityWarnings(proc.capabilities, lastCap())) ctx.warnQuietly(w);
  const cgroupPath = resolveCgroupPath(spec.linux?.cgroupsPath, id);
  const sys: Sys = ctx.sys;

  const dir = ctx.store.claim(id);
  const cgroup = ctx.cgroup({ id, cgroupPath });
  try {
    checkExistingCgroup(cgroup, ctx.warn);
  } catch (e) {
    // the cgroup is not ours: leave it as it is
    ctx.store.remove(id);
    throw e;
  }
  const record: StoredContainer = {
    id,
    bundle,
    rootfs,
    created: new Date().toISOString(),
    owner: '',
    pid: 0,
    pidStartTime: '',
    recorded: 'creating',
    cgroupPath,
    spec,
    annotations: spec.annotations,
  };
  let stage: StageHandle | undefined;
  let consoleFd: number | undefined;
  let agentFd: number | undefined;
  try {
    // The stage is spawned before the record is first written: it boots Node (the longest step of
    // create) while we write it, and one durable write (two fsyncs) with its pid replaces two. A
    // crash before that write leaves only the claimed directory, as a crash right after the claim
    // did: no cgroup exists yet, and the stage exits when its sync socket closes.
    if (proc.terminal) consoleFd = sys.connectUnix(opts.consoleSocket!);
    if (usesSeccompAgent(seccomp)) agentFd = connectSeccompAgent(sys, spec.linux!.seccomp!);

    trace('spawning stage');
    stage = spawnStage(sys, {
      preserveFds: opts.preserveFds ?? 0,
      extraFds: [consoleFd, agentFd].filter((fd): fd is number => fd !== undefined),
      pidNamespace: pidNamespaceOf(spec),
      detached: true,
      stdio: opts.stdio,
      executable: ctx.stageExecutable,
    });
    record.pid = stage.pid;
    // --debug names the steps as runc's debug log does, so logs of both read alike.
    ctx.debug(`=> nsexec container setup: init stage ${stage.pid} started (pid namespace: ${pidNamespaceOf(spec).kind})`);
    record.pidStartTime = processStartTime(stage.pid) ?? '';
    ctx.store.save(record);
    // The stage boots Node meanwhile and waits for its bootstrap message; nothing runs in the
    // container before it is in the cgroup.
    // 0622 whatever our umask: the init opens it for writing after switching to the container's user.
    sys.mknod(path.join(dir, EXEC_FIFO), S_IF.FIFO | 0o622, 0, 0);
    sys.chmod(path.join(dir, EXEC_FIFO), 0o622);
    trace('fifo made');
    cgroup.create();
    trace('cgroup created');
    const resources = spec.linux?.resources ?? {};
    cgroup.setResources({ ...resources, devices: [...(resources.devices ?? []), ...defaultDeviceRules()] });
    trace('cgroup set');
    cgroup.addProcess(stage.pid);
    trace('cgroup joined');

    const runtimeHooks = [...(spec.hooks?.prestart ?? []), ...(spec.hooks?.createRuntime ?? [])];
    stage.send({
      mode: 'init',
      id,
      bundle,
      rootfs,
      spec,
      stateDir: dir,
      noPivot: opts.noPivot ?? false,
      preserveFds: opts.preserveFds ?? 0,
      consoleSocketFd: consoleFd !== undefined ? stage.childFds[0] : undefined,
      seccompAgent:
        agentFd !== undefined
          ? {
              fd: stage.childFds[consoleFd !== undefined ? 1 : 0]!,
              state: seccompAgentState({ ociVersion: spec.ociVersion, id, pid: stage.pid, bundle, status: 'creating', annotations: spec.annotations, metadata: spec.linux?.seccomp?.listenerMetadata }),
            }
          : undefined,
      cgroupPath,
      hostCgroups: parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8')),
      lastCap: lastCap(),
      seccomp,
      runtimeHooks: runtimeHooks.length > 0,
    });
    trace('bootstrap sent');
    ctx.debug(`child process in init(): bootstrap sent to init stage ${stage.pid}`);
    for (const fd of [consoleFd, agentFd]) if (fd !== undefined) sys.close(fd);
    consoleFd = agentFd = undefined;
    for (;;) {
      const msg = await stage.next();
      if (msg === undefined) throw new InitError('container init exited before it was ready');
      if (msg.type === 'error') throw new InitError(msg.message);
      if (msg.type === 'hooks') {
        const hookState = { ociVersion: spec.ociVersion, id, status: 'creating', pid: stage.pid, bundle, annotations: spec.annotations ?? {} };
        runHooks('prestart', spec.hooks?.prestart, hookState);
        runHooks('createRuntime', spec.hooks?.createRuntime, hookState);
        stage.send({ mode: 'continue' });
        continue;
      }
      ctx.debug(`init: closing the pipe to signal completion (init stage ${stage.pid} is ready and waits on exec.fifo)`);
      break;
    }
    record.recorded = 'created';
    ctx.store.save(record);
    if (opts.pidFile) writePidFile(path.resolve(opts.pidFile), stage.pid);
    stage.close();
    stage.child.unref();
    return { state: toOciState(record, 'created'), init: stage.child };
  } catch (e) {
    for (const fd of [consoleFd, agentFd]) if (fd !== undefined) sys.close(fd);
    if (stage) {
      stage.close();
      try {
        process.kill(stage.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await new Promise<void>((resolve) => {
        if (stage!.child.exitCode !== null || stage!.child.signalCode !== null) resolve();
        else stage!.child.once('exit', () => resolve());
      });
    }
    try {
      cgroup.destroy();
    } catch {
      // best effort; the original error matters more
    }
    ctx.store.remove(id);
    if (e instanceof RuntimeError) throw e;
    throw new InitError((e as Error).message);
  }
}

