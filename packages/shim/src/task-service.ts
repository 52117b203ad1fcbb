import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errdefs, linuxSys, traced, type Sys } from '@gantry/linux';
import { ConsoleSocket, Runtime, type Process, type Resources, type CgroupStats, type WarmInitStage } from '@gantry/runtime';
import { ProcessStdio, type StdioPaths } from './stdio';
import { runtimeFailure } from './errors';
import { mountRootfs, type RootfsMount } from './rootfs';

export type { RootfsMount } from './rootfs';

/** containerd's task status values (types/task Status). */
export enum TaskStatus {
  UNKNOWN = 0,
  CREATED = 1,
  RUNNING = 2,
  STOPPED = 3,
  PAUSED = 4,
  PAUSING = 5,
}

export interface CreateRequest extends StdioPaths {
  id: string;
  bundle: string;
  rootfs: RootfsMount[];
}

export interface ExecRequest extends StdioPaths {
  execId: string;
  spec: Process;
}

export interface ProcessInfo {
  execId: string;
  pid: number;
  status: TaskStatus;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exitStatus: number;
  exitedAt?: Date;
}

/** Events the shim reports upward (to the daemon); names follow containerd's task events. */
export type ShimEvent =
  | { topic: '/tasks/create'; containerId: string; pid: number; bundle: string }
  | { topic: '/tasks/start'; containerId: string; pid: number }
  | { topic: '/tasks/exit'; containerId: string; id: string; pid: number; exitStatus: number; exitedAt: Date }
  | { topic: '/tasks/delete'; containerId: string; id: string; pid: number; exitStatus: number; exitedAt: Date }
  | { topic: '/tasks/exec-added'; containerId: string; execId: string }
  | { topic: '/tasks/exec-started'; containerId: string; execId: string; pid: number }
  | { topic: '/tasks/paused'; containerId: string }
  | { topic: '/tasks/resumed'; containerId: string }
  | { topic: '/tasks/oom'; containerId: string };

interface TrackedProcess {
  info: ProcessInfo;
  stdio: ProcessStdio;
  console?: ConsoleSocket;
  /** Its exit status (shell convention), once started: the init's child exit, an exec's reaped orphan. */
  exitStatus?: Promise<number>;
  /** For exec processes: what Start runs. */
  spec?: Process;
  exited: Promise<void>;
  markExited: () => void;
  /** Set while Start runs: an exit seen meanwhile waits for it (see start). */
  starting?: Promise<void>;
}

/**
 * The task API of one container, over @gantry/runtime used as a library (no runc process per
 * call). The shim process serves this over its socket; tests drive it directly.
 */
export class TaskService {
  readonly runtime: Runtime;
  private readonly processes = new Map<string, TrackedProcess>();
  private container: { id: string; bundle: string; rootfsMounted: boolean } | undefined;
  /** A create is under way (`container` is set only once it succeeded). */
  private creating = false;
  private oomSeen = 0;
  private oomTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: {
      runtimeRoot: string;
      stateDir: string;
      publish: (e: ShimEvent) => void;
      sys?: Sys;
      /** A short directory for console sockets (sun_path is 108 bytes; the state dir holds a 64-char id). */
      consoleDir?: string;
      /** How long a warm exec stage waits for the next exec (@gantry/runtime's warmExecIdleMs); 0: none. */
      warmExecIdleMs?: number;
      /** The init stage a warm spare started before its task was known (@gantry/runtime's warmInit). */
      warmInit?: WarmInitStage;
    },
  ) {
    this.runtime = new Runtime({
      root: opts.runtimeRoot,
      warmExecIdleMs: opts.warmExecIdleMs,
      warmInit: opts.warmInit,
      // beside the namespaces' roots (no containerd namespace starts with a dot): every shim of the
      // daemon compiles a profile such as Docker's default once between them
      seccompCacheDir: path.join(path.dirname(path.resolve(opts.runtimeRoot)), '.seccomp-programs'),
    });
  }

  private get sys(): Sys {
    return this.opts.sys ?? linuxSys();
  }

  private get id(): string {
    if (!this.container) throw errdefs.notFound('no task has been created in this shim');
    return this.container.id;
  }

  private proc(execId: string): TrackedProcess {
    const p = this.processes.get(execId);
    if (!p) throw errdefs.notFound(execId ? `exec ${execId} not found` : `task ${this.container?.id ?? ''} not found`);
    return p;
  }

  private track(info: ProcessInfo, stdio: ProcessStdio, extra: Partial<TrackedProcess> = {}): TrackedProcess {
    let markExited!: () => void;
    const exited = new Promise<void>((r) => (markExited = r));
    const t: TrackedProcess = { info, stdio, exited, markExited, ...extra };
    this.processes.set(info.execId, t);
    return t;
  }

  /** The pty master of a process that failed to start: closed if it came (the stage sent it before failing). */
  private discardMaster(master: Promise<{ master: number }> | undefined): void {
    void master?.then(
      (m) => this.sys.close(m.master),
      () => undefined,
    );
  }

  private consoleFor(execId: string): ConsoleSocket {
    const name = `console-${execId || 'init'}.sock`;
    const inState = path.join(this.opts.stateDir, name);
    const hash = createHash('sha256').update(`${this.opts.stateDir}\0${execId}`).digest('hex').slice(0, 24);
    const p = !this.opts.consoleDir || Buffer.byteLength(inState) < 100 ? inState : path.join(this.opts.consoleDir, `c-${hash}.sock`);
    // The name is this task's (one shim per task), so a file there is a dead shim's: one killed
    // (kill -9) never removed it, and bind() failed with EADDRINUSE when the task was created again.
    fs.rmSync(p, { force: true });
    return ConsoleSocket.listen(p);
  }

  async create(req: CreateRequest): Promise<number> {
    if (this.container || this.creating) throw errdefs.alreadyExists(`task ${this.container?.id ?? req.id} already exists in this shim`);
    this.creating = true;
    try {
      return await this.createTask(req);
    } finally {
      this.creating = false;
    }
  }

  private async createTask(req: CreateRequest): Promise<number> {
    // the rootfs the client prepared (overlay, bind), mounted at <bundle>/rootfs
    const rootfsMounted = traced('shim.create.rootfs', () => mountRootfs(this.sys, req.bundle, req.rootfs)) > 0;
    const stdio = req.terminal ? ProcessStdio.terminal(req) : ProcessStdio.pipes(req);
    const cons = req.terminal ? this.consoleFor('') : undefined;
    const master = cons?.receive();
    try {
      const created = await this.runtime
        .create(req.id, {
          bundle: req.bundle,
          stdio: req.terminal ? undefined : stdio.childFds,
          consoleSocket: cons?.path,
          pidFile: path.join(req.bundle, 'init.pid'),
        })
        .catch((e: unknown) => {
          throw runtimeFailure('create', e);
        });
      stdio.releaseChildFds();
      if (master) stdio.attachMaster((await master).master);
      this.container = { id: req.id, bundle: req.bundle, rootfsMounted };
      const t = this.track(
        {
          execId: '',
          pid: created.state.pid,
          status: TaskStatus.CREATED,
          stdin: req.stdin,
          stdout: req.stdout,
          stderr: req.stderr,
          terminal: req.terminal,
          exitStatus: 0,
        },
        stdio,
        { exitStatus: created.exited(), console: cons },
      );
      created.init?.ref();
      this.watchExit(t);
      this.opts.publish({ topic: '/tasks/create', containerId: req.id, pid: created.state.pid, bundle: req.bundle });
      return created.state.pid;
    } catch (e) {
      stdio.releaseChildFds();
      stdio.close();
      cons?.close();
      this.discardMaster(master);
      if (rootfsMounted) this.unmountRootfs(req.bundle);
      throw e;
    }
  }

  private watchExit(t: TrackedProcess): void {
    // a program we could not reap (not reparented to us) counts as failed, as containerd's 255
    void t
      .exitStatus!.catch(() => 255)
      .then(async (status) => {
        await t.starting;
        await t.stdio.drain();
        t.info.exitStatus = status;
        t.info.exitedAt = new Date();
        t.info.status = TaskStatus.STOPPED;
        t.markExited();
        // /tasks/oom before /tasks/exit (as containerd's shim): the engine records OOMKilled with the exit
        if (t.info.execId === '') this.stopOomWatch();
        this.opts.publish({
          topic: '/tasks/exit',
          containerId: this.id,
          id: t.info.execId || this.id,
          pid: t.info.pid,
          exitStatus: status,
          exitedAt: t.info.exitedAt,
        });
      });
  }

  async start(execId: string): Promise<number> {
    const t = this.proc(execId);
    if (execId === '') {
      if (t.info.status !== TaskStatus.CREATED) throw errdefs.failedPrecondition(`task ${this.id} is not in created state`);
      // A program that exits at once (`true`) can be reaped before runtime.start returns: its exit
      // waits until the start is recorded and announced, or the status would go from STOPPED back
      // to RUNNING (Delete then refused) and /tasks/exit would precede /tasks/start.
      let started!: () => void;
      t.starting = new Promise<void>((r) => (started = r));
      try {
        await this.runtime.start(this.id).catch((e: unknown) => {
          throw runtimeFailure('start', e);
        });
        t.info.status = TaskStatus.RUNNING;
        this.startOomWatch();
        this.opts.publish({ topic: '/tasks/start', containerId: this.id, pid: t.info.pid });
      } finally {
        t.starting = undefined;
        started();
      }
      return t.info.pid;
    }
    if (t.exitStatus) throw errdefs.failedPrecondition(`exec ${execId} was already started`);
    const master = t.console?.receive();
    try {
      const ex = await this.runtime
        .exec(this.id, {
          process: t.spec!,
          stdio: t.info.terminal ? undefined : t.stdio.childFds,
          consoleSocket: t.console?.path,
        })
        .catch((e: unknown) => {
          throw runtimeFailure('exec', e);
        });
      t.stdio.releaseChildFds();
      if (master) t.stdio.attachMaster((await master).master);
      // the program was reparented to us (a subreaper); the runtime reaps it by pid
      t.exitStatus = ex.exited;
      t.info.pid = ex.pid;
      t.info.status = TaskStatus.RUNNING;
      this.watchExit(t);
      this.opts.publish({ topic: '/tasks/exec-started', containerId: this.id, execId, pid: ex.pid });
      return ex.pid;
    } catch (e) {
      t.stdio.releaseChildFds();
      t.stdio.close();
      t.console?.close();
      this.discardMaster(master);
      this.processes.delete(execId);
      throw e;
    }
  }

  exec(req: ExecRequest): void {
    const id = this.id;
    if (this.processes.has(req.execId)) throw errdefs.alreadyExists(`exec ${req.execId} already exists`);
    if (!req.execId) throw errdefs.invalidArgument('exec id is required');
    const stdio = req.terminal ? ProcessStdio.terminal(req) : ProcessStdio.pipes(req);
    const spec: Process = { ...req.spec, terminal: req.terminal };
    this.track(
      {
        execId: req.execId,
        pid: 0,
        status: TaskStatus.CREATED,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        terminal: req.terminal,
        exitStatus: 0,
      },
      stdio,
      { spec, console: req.terminal ? this.consoleFor(req.execId) : undefined },
    );
    this.opts.publish({ topic: '/tasks/exec-added', containerId: id, execId: req.execId });
  }

  state(execId: string): ProcessInfo & { id: string; bundle: string } {
    const t = this.proc(execId);
    if (execId === '' && t.info.status !== TaskStatus.STOPPED) {
      const s = this.runtime.state(this.id).status;
      t.info.status = s === 'paused' ? TaskStatus.PAUSED : s === 'created' ? TaskStatus.CREATED : s === 'running' ? TaskStatus.RUNNING : t.info.status;
    }
    return { ...t.info, id: this.id, bundle: this.container!.bundle };
  }

  kill(execId: string, signal: number, all: boolean): void {
    const t = this.proc(execId);
    if (t.info.status === TaskStatus.STOPPED) throw errdefs.notFound(`process ${execId || this.id} has already exited`);
    if (execId === '') this.runtime.kill(this.id, signal, all);
    else if (t.info.pid > 0) this.sys.kill(t.info.pid, signal);
    else throw errdefs.failedPrecondition(`exec ${execId} has not been started`);
  }

  async wait(execId: string): Promise<{ exitStatus: number; exitedAt: Date }> {
    const t = this.proc(execId);
    await t.exited;
    return { exitStatus: t.info.exitStatus, exitedAt: t.info.exitedAt! };
  }

  async delete(execId: string): Promise<{ pid: number; exitStatus: number; exitedAt?: Date }> {
    const t = this.proc(execId);
    if (execId === '') {
      const others = [...this.processes.values()].filter((p) => p.info.execId !== '' && p.info.status !== TaskStatus.STOPPED && p.exitStatus !== undefined);
      if (others.length > 0) throw errdefs.failedPrecondition(`task ${this.id} has running exec processes`);
      if (t.info.status !== TaskStatus.STOPPED && t.info.status !== TaskStatus.CREATED) {
        throw errdefs.failedPrecondition(`task ${this.id} must be stopped before deletion: ${TaskStatus[t.info.status]}`);
      }
      await this.runtime.delete(this.id, true);
      if (t.info.status === TaskStatus.CREATED) await t.exited;
      t.stdio.close();
      t.console?.close();
      if (this.container!.rootfsMounted) this.unmountRootfs(this.container!.bundle);
    } else {
      if (t.exitStatus && t.info.status !== TaskStatus.STOPPED) throw errdefs.failedPrecondition(`exec ${execId} is still running`);
      t.stdio.close();
      t.console?.close();
    }
    this.processes.delete(execId);
    const res = { pid: t.info.pid, exitStatus: t.info.exitStatus, exitedAt: t.info.exitedAt };
    this.opts.publish({
      topic: '/tasks/delete',
      containerId: this.container!.id,
      id: execId || this.container!.id,
      pid: res.pid,
      exitStatus: res.exitStatus,
      exitedAt: res.exitedAt ?? new Date(),
    });
    if (execId === '') this.container = undefined;
    return res;
  }

  private unmountRootfs(bundle: string): void {
    try {
      this.sys.umount(path.join(bundle, 'rootfs'), 2 /* MNT_DETACH */);
    } catch {
      // not mounted
    }
  }

  pids(): number[] {
    return this.runtime.pids(this.id);
  }

  pause(): void {
    this.runtime.pause(this.id);
    this.proc('').info.status = TaskStatus.PAUSED;
    this.opts.publish({ topic: '/tasks/paused', containerId: this.id });
  }

  resume(): void {
    this.runtime.resume(this.id);
    this.proc('').info.status = TaskStatus.RUNNING;
    this.opts.publish({ topic: '/tasks/resumed', containerId: this.id });
  }

  resizePty(execId: string, width: number, height: number): void {
    this.proc(execId).stdio.resize(width, height);
  }

  closeIO(execId: string): void {
    this.proc(execId).stdio.closeStdin();
  }

  update(resources: Resources): void {
    this.runtime.update(this.id, resources);
  }

  stats(): CgroupStats {
    return this.runtime.stats(this.id);
  }

  /** True when nothing is left running or undeleted, so the shim may exit. */
  idle(): boolean {
    return this.processes.size === 0;
  }

  private startOomWatch(): void {
    // memory.oom_control / memory.events have no push interface we can use from Node; poll.
    try {
      this.oomSeen = this.runtime.oomKills(this.id);
    } catch {
      return;
    }
    this.oomTimer = setInterval(() => {
      try {
        const n = this.runtime.oomKills(this.id);
        if (n > this.oomSeen) this.opts.publish({ topic: '/tasks/oom', containerId: this.id });
        this.oomSeen = n;
      } catch {
        this.stopOomWatch();
      }
    }, 250);
    this.oomTimer.unref();
  }

  private stopOomWatch(): void {
    if (this.oomTimer) clearInterval(this.oomTimer);
    this.oomTimer = undefined;
    // one last look: the kill that ended the task may be an OOM
    try {
      if (this.container && this.runtime.oomKills(this.container.id) > this.oomSeen) this.opts.publish({ topic: '/tasks/oom', containerId: this.container.id });
    } catch {
      // cgroup gone
    }
  }
}
