import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { tasks as tpb, types } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { EngineContext } from '../context';
import { ALL_CAPABILITIES } from './capabilities';
import { startFailure } from './start-error';
import { ContainerIO, createFifos, removeFifos, type StdioFifos } from '../streams/fifo-stdio';
import type { ContainerManager } from './manager';
import type { ContainerConfig, ExecInspectResponse, IdResponse } from '@gantry/engine-api';
import { decode } from './decode';
import { EXEC_BODY } from './validate';

interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  Env?: string[];
  Cmd?: string[];
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
  ConsoleSize?: [number, number] | null;
}

export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Config: ExecConfig;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  io?: ContainerIO;
  fifos?: StdioFifos;
  exited: Promise<void>;
  markExited: () => void;
  /** Resolves once ExitCode is known (before the exec's output is torn down). */
  codeKnown: Promise<void>;
  markCodeKnown: () => void;
  /** Why the process could not be started, for a client already attached (written to its stdout). */
  startError?: string;
  /** Set while Tasks.Exec/Start run: an exit event that overtakes their reply waits for it. */
  starting?: Promise<void>;
  /** Its exit has been (or is being) settled. */
  settled?: boolean;
}

/** The process id of an exec in gantry-containerd (containerd limits exec ids to 76 characters). */
function taskExecId(id: string): string {
  return `exec-${id.slice(0, 16)}`;
}

/** `docker exec`: one more process in a running container, through Tasks.Exec. */
export class ExecManager {
  private readonly execs = new Map<string, ExecRecord>();
  /** `<container id>/<task exec id>` → the exec, for exit events. */
  private readonly byTaskExec = new Map<string, ExecRecord>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly mgr: ContainerManager,
  ) {
    // an exec whose exit event never comes (its shim died with the container) is settled from the task state
    mgr.onContainerExit((id) => this.reconcile(id));
  }

  /** A /tasks/exit with an exec id (from the event stream). */
  async handleExit(containerId: string, execId: string, exitStatus: number): Promise<void> {
    const e = this.byTaskExec.get(`${containerId}/${execId}`);
    if (!e) return;
    await e.starting;
    await this.finish(e, exitStatus);
  }

  /** Settle running execs (of one container, or all) whose exits the event stream did not deliver. */
  async reconcile(containerId?: string): Promise<void> {
    for (const e of [...this.byTaskExec.values()]) {
      if (e.settled || !e.Running || (containerId && e.ContainerID !== containerId)) continue;
      try {
        const p = (await this.ctx.cd.call(this.ctx.cd.tasks, this.ctx.cd.tasks.get, { containerId: e.ContainerID, execId: taskExecId(e.ID) }, 10000)).process;
        if (p && p.status === types.Status.STOPPED) await this.finish(e, p.exitStatus);
      } catch (err) {
        if (errdefs.isNotFound(err)) await this.finish(e, 255);
      }
    }
  }

  private async finish(e: ExecRecord, code: number): Promise<void> {
    if (e.settled || !e.Running) return;
    e.settled = true;
    const rec = this.mgr.store.find(e.ContainerID);
    const execId = taskExecId(e.ID);
    // known before the output stream ends: the CLI inspects the exit code right after
    e.Running = false;
    e.ExitCode = code;
    e.markCodeKnown();
    await this.ctx.cd.call(this.ctx.cd.tasks, this.ctx.cd.tasks.deleteProcess, { containerId: e.ContainerID, execId }).catch(() => undefined);
    if (e.io) {
      await Promise.race([e.io.ended, new Promise((r) => setTimeout(r, 2000))]);
      void e.io.close(); // output already drained or given up on above: only the stop is needed
    }
    if (e.fifos) removeFifos(e.fifos);
    this.byTaskExec.delete(`${e.ContainerID}/${execId}`);
    e.markExited();
    this.ctx.events.emit('container', 'exec_die', e.ContainerID, { execID: e.ID, exitCode: String(code), name: rec ? rec.Name.slice(1) : '' });
    // keep finished execs for inspect a while, then forget them
    setTimeout(() => this.execs.delete(e.ID), 5 * 60_000).unref();
  }

  idsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.ContainerID === containerId).map((e) => e.ID);
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw errdefs.notFound(`No such exec instance: ${id}`);
    return e;
  }

  create(ref: string, body: unknown): IdResponse {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw errdefs.invalidArgument('json: cannot unmarshal into Go value of type container.ExecOptions');
    const cfg = decode(body, EXEC_BODY, 'ExecOptions') as ExecConfig;
    if (!Array.isArray(cfg.Cmd) || cfg.Cmd.length === 0 || cfg.Cmd.some((a) => typeof a !== 'string'))
      throw errdefs.invalidArgument('No exec command specified');
    const rec = this.mgr.store.get(ref);
    if (!rec.State.Running) throw errdefs.conflict(`container ${rec.Id} is not running`);
    if (rec.State.Paused) throw errdefs.conflict(`container ${rec.Id} is paused, unpause the container before exec`);
    const id = randomBytes(32).toString('hex');
    let markExited!: () => void;
    const exited = new Promise<void>((r) => (markExited = r));
    let markCodeKnown!: () => void;
    const codeKnown = new Promise<void>((r) => (markCodeKnown = r));
    this.execs.set(id, { ID: id, ContainerID: rec.Id, Config: cfg, Running: false, ExitCode: null, Pid: 0, exited, markExited, codeKnown, markCodeKnown });
    this.ctx.events.emit('container', `exec_create: ${cfg.Cmd.join(' ')}`, rec.Id, { execID: id, name: rec.Name.slice(1) });
    return { Id: id };
  }

  /** Start the exec; with `detach` return at once, otherwise the caller serves its IO. */
  async start(id: string, opts: { detach: boolean; tty?: boolean; beforeStart?: (e: ExecRecord) => void }): Promise<ExecRecord> {
    const e = this.get(id);
    if (e.Running || e.ExitCode !== null) throw errdefs.conflict(`Error: Exec command ${id} has already run`);
    const rec = this.mgr.store.get(e.ContainerID);
    if (!rec.State.Running) throw errdefs.conflict(`container ${rec.Id} is not running`);
    const ccfg = rec.Config as ContainerConfig;
    const tty = opts.tty ?? e.Config.Tty === true;
    const fifos = createFifos(path.join(this.mgr.store.containerDir(rec.Id), 'fifos'), `exec-${id.slice(0, 16)}`, {
      stdin: !opts.detach && e.Config.AttachStdin === true,
      stdout: true,
      stderr: !tty,
    });
    const io = ContainerIO.open(fifos, { terminal: tty });
    e.io = io;
    e.fifos = fifos;
    // the container's process spec is the base, as dockerd does: env, user, cwd overridden
    const specJson = await this.ctx.cd.call(this.ctx.cd.containers, this.ctx.cd.containers.get, { id: rec.Id }).catch((err: unknown) => {
      throw errdefs.fromGrpc(err);
    });
    const spec = JSON.parse(Buffer.from(specJson.container!.spec!.value).toString('utf8')) as {
      process: Record<string, unknown> & { env?: string[]; user: { uid: number; gid: number } };
    };
    const proc = {
      ...spec.process,
      args: e.Config.Cmd,
      terminal: tty,
      env: [...(spec.process.env ?? []), ...(e.Config.Env ?? [])],
      cwd: e.Config.WorkingDir || spec.process.cwd || ccfg.WorkingDir || '/',
    } as Record<string, unknown>;
    if (e.Config.User) {
      const m = /^(\d+)(?::(\d+))?$/.exec(e.Config.User);
      if (m) proc.user = { uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : 0 };
      else if (e.Config.User !== 'root') throw errdefs.invalidArgument(`exec user ${e.Config.User}: only numeric uid[:gid] or root are supported`);
      else proc.user = { uid: 0, gid: 0 };
    }
    // as dockerd: a privileged exec gets every capability, whatever the container has
    if (e.Config.Privileged === true)
      proc.capabilities = { bounding: [...ALL_CAPABILITIES], effective: [...ALL_CAPABILITIES], permitted: [...ALL_CAPABILITIES] };
    if (e.Config.ConsoleSize) proc.consoleSize = { height: e.Config.ConsoleSize[0], width: e.Config.ConsoleSize[1] };
    const execId = taskExecId(id);
    let attached = false;
    let started!: () => void;
    e.starting = new Promise<void>((r) => (started = r));
    this.byTaskExec.set(`${rec.Id}/${execId}`, e);
    try {
      await this.ctx.cd.call(
        this.ctx.cd.tasks,
        this.ctx.cd.tasks.exec,
        tpb.ExecProcessRequest.fromPartial({
          containerId: rec.Id,
          execId,
          stdin: fifos.stdin,
          stdout: fifos.stdout,
          stderr: fifos.stderr,
          terminal: tty,
          spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify(proc)) },
        }),
      );
      // the client is attached before the process runs, so no early output is lost
      if (opts.beforeStart) {
        opts.beforeStart(e);
        attached = true;
      }
      const startedProc = await this.ctx.cd.call(this.ctx.cd.tasks, this.ctx.cd.tasks.start, { containerId: rec.Id, execId }, 60000);
      io.ready();
      e.Pid = startedProc.pid;
      e.Running = true;
    } catch (err) {
      // As dockerd: the runtime's message as containerd words it ("OCI runtime exec failed: ..."),
      // 127 for a program that is not there, 126 for one that cannot run, 128 otherwise. A client
      // already attached reads it on its stdout (the HTTP answer is long gone), others get it as
      // the error response.
      const failed = startFailure(err);
      this.byTaskExec.delete(`${rec.Id}/${execId}`);
      e.settled = true;
      e.ExitCode = failed.exitCode;
      if (attached) e.startError = failed.error.message;
      e.markCodeKnown();
      void io.close();
      removeFifos(fifos);
      await this.ctx.cd.call(this.ctx.cd.tasks, this.ctx.cd.tasks.deleteProcess, { containerId: rec.Id, execId }).catch(() => undefined);
      e.markExited();
      this.ctx.log.debug('exec failed to start', { exec: id, error: failed.error.message });
      if (attached) return e;
      throw failed.error;
    } finally {
      e.starting = undefined;
      started();
    }
    this.ctx.events.emit('container', `exec_start: ${e.Config.Cmd!.join(' ')}`, rec.Id, { execID: id, name: rec.Name.slice(1) });
    return e;
  }

  async resize(id: string, h: number, w: number): Promise<void> {
    const e = this.get(id);
    if (!e.Running) throw errdefs.conflict(`exec ${id} is not running`);
    await this.ctx.cd
      .call(this.ctx.cd.tasks, this.ctx.cd.tasks.resizePty, { containerId: e.ContainerID, execId: taskExecId(id), width: w, height: h })
      .catch((err: unknown) => {
        throw errdefs.fromGrpc(err);
      });
  }

  /** Close the exec's stdin (attach with stdin-once reached EOF); a failure is logged, not thrown. */
  async closeStdin(e: ExecRecord): Promise<void> {
    await this.ctx.cd.call(this.ctx.cd.tasks, this.ctx.cd.tasks.closeIo, { containerId: e.ContainerID, execId: taskExecId(e.ID), stdin: true }).then(
      () => undefined,
      (err: unknown) => this.ctx.log.warn('closing stdin failed', { exec: e.ID, error: String(err) }),
    );
  }

  inspect(id: string): ExecInspectResponse {
    const e = this.get(id);
    return {
      ID: e.ID,
      Running: e.Running,
      ExitCode: e.ExitCode,
      ProcessConfig: {
        tty: e.Config.Tty === true,
        entrypoint: e.Config.Cmd?.[0] ?? '',
        arguments: e.Config.Cmd?.slice(1) ?? [],
        privileged: e.Config.Privileged === true,
        user: e.Config.User ?? '',
      },
      OpenStdin: e.Config.AttachStdin === true,
      OpenStderr: e.Config.AttachStderr === true,
      OpenStdout: e.Config.AttachStdout === true,
      CanRemove: false,
      ContainerID: e.ContainerID,
      DetachKeys: e.Config.DetachKeys ?? '',
      Pid: e.Pid,
    };
  }
}
