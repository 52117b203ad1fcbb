import * as fs from 'node:fs';
import * as path from 'node:path';
import { AT, S_IF, requestOptions, span, traced, type Sys, writeFileAtomic } from '@gantry/linux';
import { resolveCgroupPath } from '../cgroups/path';
import type { CgroupManager } from '../cgroups/types';
import { ConfigError, InitError, RuntimeError } from '../errors';
import { runHooks } from '../hooks';
import { parseCgroupMounts } from '../init/rootfs';
import { capabilityWarnings } from '../init/finalize';
import { seccompFor } from '../init/seccomp-enabled';
import { usesSeccompAgent } from '../init/seccomp-filter';
import { connectSeccompAgent, seccompAgentState } from './seccomp-agent';
import { inheritable, spawnStage, stageBooted, type PidNamespace, type StageHandle, type StdioFds } from '../process/spawn-stage';
import { endWarmStage, handOverFds } from '../process/warm-init';
import type { WarmStage } from '../process/warm-stages';
import {
  hostIdOf,
  prepareUserNamespace,
  spawnHolder,
  userNamespaceOf,
  type HolderSpawner,
  type PreparedUserNamespace,
  type UserNamespacePlan,
} from '../process/userns';
import { parseSpec } from '../spec/validate';
import { defaultDeviceRules } from '../spec/default-spec';
import type { ContainerState, Spec } from '../spec/types';
import { EXEC_FIFO, processStartTime, toOciState, validateId, type StoredContainer } from '../state/store';
import type { RuntimeContext } from './context';
import { waitExit } from './wait';
import { trace } from '../trace';

export interface CreateOptions {
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** fds for the process's stdin/stdout/stderr (library use, e.g. a shim's FIFOs); default ours. */
  stdio?: StdioFds;
  /** How user namespaces are made (tests); default util-linux's unshare, see userns.ts. */
  spawnHolder?: HolderSpawner;
}

export interface Created {
  state: ContainerState;
  /**
   * The init process as a child of this process (keeps the event loop alive while ref'd). Absent
   * when it was forked into a user namespace's new pid namespace: it is then reparented to this
   * process, which `create` made a child subreaper, and `exited` reaps it by pid.
   */
  init?: StageHandle['child'];
  /** The init's exit status in shell convention (code, or 128 + signal). Call it at most once. */
  exited(): Promise<number>;
}

export function lastCap(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return 40;
  }
}

/** --pid-file: written atomically (readers such as the shim never see an empty file), 0644 as runc's; a pid needs no fsync. */
export function writePidFile(file: string, pid: number): void {
  writeFileAtomic(file, String(pid), { mode: 0o644, durability: 'process-crash' });
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

/**
 * In a user namespace: every bind source as a detached copy of its mount (open_tree), made here
 * with the host's permissions, for the stage to attach (runc opens them for its init likewise).
 */
function detachedBindSources(sys: Sys, spec: Spec, bundle: string): { index: number; fd: number }[] {
  const out: { index: number; fd: number }[] = [];
  try {
    (spec.mounts ?? []).forEach((m, index) => {
      const o = requestOptions(m);
      if (!o.bind) return;
      const source = m.source && path.isAbsolute(m.source) ? m.source : path.join(bundle, m.source ?? '');
      try {
        out.push({ index, fd: sys.openTreeClone(AT.FDCWD, source, o.recursiveBind ? AT.RECURSIVE : 0) });
      } catch (e) {
        throw new InitError(`mount source ${source} for ${m.destination}: ${(e as Error).message}`);
      }
    });
  } catch (e) {
    for (const { fd } of out) sys.close(fd);
    throw e;
  }
  return out;
}

function pidNamespaceOf(spec: Spec): PidNamespace {
  const ns = spec.linux?.namespaces?.find((n) => n.type === 'pid');
  if (!ns) return { kind: 'host' };
  return ns.path ? { kind: 'join', path: ns.path } : { kind: 'new' };
}

/**
 * The init stage started ahead (RuntimeContext.warmInit), if this container can use it: it was born
 * pid 1 of a new pid namespace outside any user namespace, and gets only stdio, the console socket
 * and the seccomp agent (no --preserve-fds). The first create takes it either way; one it cannot use
 * is ended.
 */
function takeWarmInit(ctx: RuntimeContext, pidNs: PidNamespace, userPlan: UserNamespacePlan, opts: CreateOptions): WarmStage | undefined {
  const warm = ctx.warmInit?.take();
  if (!warm) return undefined;
  if (pidNs.kind === 'new' && userPlan.kind === 'none' && !opts.preserveFds) return warm;
  endWarmStage(ctx.sys, warm);
  return undefined;
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
  const userPlan = userNamespaceOf(spec);
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
  let userns: PreparedUserNamespace | undefined;
  let mountSources: { index: number; fd: number }[] = [];
  const pidNs = pidNamespaceOf(spec);
  let initPid: number | undefined;
  let warm: WarmStage | undefined;
  try {
    // The stage is spawned before the record is first written: it boots Node (the longest step of
    // create) while we write it, and one write with its pid replaces two. A
    // crash before that write leaves only the claimed directory, as a crash right after the claim
    // did: no cgroup exists yet, and the stage exits when its sync socket closes.
    if (proc.terminal) consoleFd = sys.connectUnix(opts.consoleSocket!);
    if (usesSeccompAgent(seccomp)) agentFd = connectSeccompAgent(sys, spec.linux!.seccomp!);
    userns = await prepareUserNamespace(sys, opts.spawnHolder ?? spawnHolder, userPlan);
    if (userns) mountSources = detachedBindSources(sys, spec, bundle);
    // a new pid namespace is made inside the user namespace, by the stage's trampoline
    const forked = userns !== undefined && pidNs.kind === 'new';
    // the init is then our grandchild: its parent exits at once and it comes to us (see `exited`)
    if (forked) ctx.orphans.becomeSubreaper();

    const fixedFds = [consoleFd, agentFd].filter((fd): fd is number => fd !== undefined);
    // A warm spare shim's stage has booted while the shim waited for its task; one that died
    // meanwhile is replaced by a cold start.
    warm = takeWarmInit(ctx, pidNs, userPlan, opts);
    if (warm && !(await ctx.warmInit!.booted)) {
      endWarmStage(sys, warm);
      warm = undefined;
    }
    trace('spawning stage');
    const spawnSpan = span('runtime.create.stage-spawn', { warm: warm !== undefined });
    stage =
      warm?.stage ??
      spawnStage(sys, {
        preserveFds: opts.preserveFds ?? 0,
        extraFds: [...fixedFds, ...mountSources.map((m) => m.fd)],
        pidNamespace: forked ? { kind: 'host' } : pidNs,
        detached: true,
        stdio: opts.stdio,
        executable: ctx.stageExecutable,
        ...(userns ? { userNamespace: { path: userns.userPath, newPid: forked } } : {}),
      });
    spawnSpan.end();
    // a warm stage's fds are placeholders: it receives them over its fd socket (InitBootstrap.handover)
    const stageFds = warm ? fixedFds.map(() => -1) : stage.childFds;
    const childMountSources = mountSources.map((m, i) => ({ index: m.index, fd: stage!.childFds[fixedFds.length + i]! }));
    for (const { fd } of mountSources) sys.close(fd);
    mountSources = [];
    // forked: not our child, so its pid is the one it reports once booted
    initPid = forked ? await stageBooted(stage, 'init') : stage.pid;
    record.pid = initPid;
    // --debug names the steps as runc's debug log does, so logs of both read alike.
    ctx.debug(`=> nsexec container setup: init stage ${initPid} started (pid namespace: ${pidNs.kind}${userns ? ', in a user namespace' : ''})`);
    record.pidStartTime = processStartTime(initPid) ?? '';
    ctx.store.save(record);
    // compiled here (or read from the cache) while a cold stage boots: the stage only loads it
    const seccompCompiled = seccomp ? traced('runtime.create.seccomp', () => ctx.seccompPrograms.compiled(seccomp)) : undefined;
    // The stage boots Node meanwhile and waits for its bootstrap message; nothing runs in the
    // container before it is in the cgroup.
    // 0622 whatever our umask: the init opens it for writing after switching to the container's user.
    sys.mknod(path.join(dir, EXEC_FIFO), S_IF.FIFO | 0o622, 0, 0);
    sys.chmod(path.join(dir, EXEC_FIFO), 0o622);
    // as runc: the fifo belongs to the container's root when it has a user namespace
    if (userPlan.kind === 'new') sys.chown(path.join(dir, EXEC_FIFO), hostIdOf(userPlan.uidMappings, 0) ?? 0, hostIdOf(userPlan.gidMappings, 0) ?? 0);
    // lowering it needs CAP_SYS_RESOURCE of the host's user namespace, which the stage lacks there
    if (userns && proc.oomScoreAdj !== undefined) sys.writeFile(`/proc/${initPid}/oom_score_adj`, String(proc.oomScoreAdj));
    trace('fifo made');
    const cgroupSpan = span('runtime.create.cgroup');
    cgroup.create();
    trace('cgroup created');
    const resources = spec.linux?.resources ?? {};
    cgroup.setResources({ ...resources, devices: [...(resources.devices ?? []), ...defaultDeviceRules()] });
    trace('cgroup set');
    cgroupSpan.end();
    // only once Node has booted (see 'booted' in messages.ts); the stage does nothing of the
    // container's before its bootstrap, sent below
    const bootSpan = span('runtime.create.wait-boot');
    if (!forked && !warm) await stageBooted(stage, 'init');
    bootSpan.end();
    cgroup.addProcess(initPid);
    trace('cgroup joined');

    if (warm) {
      const w = warm;
      traced('runtime.create.handover', () => handOverFds(sys, w, opts.stdio ?? [inheritable(0), inheritable(1), inheritable(2)], fixedFds));
      sys.close(w.fdSocket);
      w.fdSocket = -1;
    }
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
      consoleSocketFd: consoleFd !== undefined ? stageFds[0] : undefined,
      seccompAgent:
        agentFd !== undefined
          ? {
              fd: stageFds[consoleFd !== undefined ? 1 : 0]!,
              state: seccompAgentState({
                ociVersion: spec.ociVersion,
                id,
                pid: initPid,
                bundle,
                status: 'creating',
                annotations: spec.annotations,
                metadata: spec.linux?.seccomp?.listenerMetadata,
              }),
            }
          : undefined,
      cgroupPath,
      hostCgroups: parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8')),
      lastCap: lastCap(),
      ...(seccompCompiled ? { seccompCompiled } : { seccomp }),
      runtimeHooks: runtimeHooks.length > 0,
      ...(userns ? { userNamespace: true, mountSources: childMountSources } : {}),
      ...(warm ? { handover: { socketFd: warm.stageFdSocket } } : {}),
    });
    trace('bootstrap sent');
    ctx.debug(`child process in init(): bootstrap sent to init stage ${initPid}`);
    for (const fd of [consoleFd, agentFd]) if (fd !== undefined) sys.close(fd);
    consoleFd = agentFd = undefined;
    // the stage's own spans (gantry-stage track) show what it does meanwhile
    const readySpan = span('runtime.create.wait-ready');
    for (;;) {
      const msg = await stage.next();
      if (msg === undefined) throw new InitError('container init exited before it was ready');
      if (msg.type === 'error') throw new InitError(msg.message);
      if (msg.type === 'hooks') {
        const hookState = { ociVersion: spec.ociVersion, id, status: 'creating', pid: initPid, bundle, annotations: spec.annotations ?? {} };
        runHooks('prestart', spec.hooks?.prestart, hookState);
        runHooks('createRuntime', spec.hooks?.createRuntime, hookState);
        stage.send({ mode: 'continue' });
        continue;
      }
      ctx.debug(`init: closing the pipe to signal completion (init stage ${initPid} is ready and waits on exec.fifo)`);
      break;
    }
    readySpan.end();
    userns?.release();
    record.recorded = 'created';
    ctx.store.save(record);
    if (opts.pidFile) writePidFile(path.resolve(opts.pidFile), initPid);
    stage.close();
    stage.child.unref();
    const pid = initPid;
    if (forked) return { state: toOciState(record, 'created'), exited: () => ctx.orphans.wait(pid) };
    const init = stage.child;
    return { state: toOciState(record, 'created'), init, exited: () => waitExit(init) };
  } catch (e) {
    for (const fd of [consoleFd, agentFd]) if (fd !== undefined) sys.close(fd);
    for (const { fd } of mountSources) sys.close(fd);
    if (warm && warm.fdSocket >= 0) sys.close(warm.fdSocket);
    userns?.release();
    if (stage) {
      stage.close();
      try {
        // a forked init is reaped by whoever it was reparented to (us, as a subreaper, at exit)
        if (initPid !== undefined && initPid !== stage.pid) process.kill(initPid, 'SIGKILL');
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
