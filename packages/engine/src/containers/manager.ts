import * as fs from 'node:fs';
import * as path from 'node:path';
import { containers as cpb, isUnavailable, snapshots as spb, tasks as tpb, types } from '@gantry/api';
import { errdefs, parseSignal, traced } from '@gantry/linux';
import type { EngineContext } from '../context';
import { oneLine } from '../one-line';
import { JsonFileWriter, jsonLogPath, parseLogOpts } from '../logs/json-file';
import { noSuchImage } from '../images/catalog';
import { ContainerIO, createFifos, removeFifos, type StdioFifos } from '../streams/fifo-stdio';
import type { ContainerConfig, HostConfig } from './docker-types';
import { resolveImage, type ResolvedImage } from './image-config';
import { initialState, NULL_TIME, type ContainerRecord } from './record';
import { HealthMonitor } from './health';
import { EXIT_START_FAILED, startFailure, type StartFailure } from './start-error';
import { nextRestartDelay, policyRestarts, restartsOnDaemonStart } from './restart-policy';
import { buildSpec, mergeImageConfig } from './spec';
import type { ContainerStore } from './store';
import { validateCreate } from './validate';
import { userResolver } from './users';
import type { ContainerMounts, PreparedMounts } from '../volumes/container-mounts';
import type { EndpointConfig } from '../networks/controller';
import { writeEtcFile } from '../networks/etc-files';
import type { PortBinding } from '@gantry/network';

const SPEC_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
const RUNTIME_NAME = 'io.containerd.gantry.v1';
const SNAPSHOTTER = 'overlayfs';

/** "TERM", "SIGTERM", "15" → 15 (the runtime's parser); `fallback` when none is given. */
export function signalNumber(s: string | undefined, fallback = 15): number | undefined {
  return s ? parseSignal(s) : fallback;
}

/** Node fires a timer longer than this after 1 ms: a longer grace period would be none at all. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A call of a container or task create was cut by a gantry-containerd restart (UNAVAILABLE) and
 * what it made was undone: nothing of the container ran, so the caller makes it once more.
 */
class CutByRestart extends Error {}

/** How many times a create cut by gantry-containerd restarts is tried (kills can come in a row). */
const MAX_ATTEMPTS_ACROSS_RESTARTS = 3;

/**
 * How long stop waits before SIGKILL, in ms; undefined: until the container exits (a negative
 * timeout, or one past what a timer can hold, about 24.8 days, which is as good as forever).
 */
export function stopGraceMs(timeoutSec: number): number | undefined {
  const ms = timeoutSec * 1000;
  return timeoutSec < 0 || !(ms <= MAX_TIMER_MS) ? undefined : ms;
}

type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (r: { StatusCode: number; Error: { Message: string } | null }) => void;
}

/**
 * Docker's container lifecycle over gantry-containerd: a container is a containerd container
 * (spec + overlayfs snapshot) plus, while it runs, a task whose stdio are FIFOs gantryd logs.
 * Exits and OOMs come from gantry-containerd's event stream (EventMonitor, which calls
 * handleTaskExit/handleOom and reconcile after a reconnect); restart policies and auto-remove act on them.
 */
export class ContainerManager {
  private readonly ios = new Map<string, ContainerIO>();
  /** The json-file writer of each running container's io (ContainerIO flushes it, never closes it). */
  private readonly logWriters = new Map<string, JsonFileWriter>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** The last automatic-restart delay per container (Docker's back-off). */
  private readonly restartDelays = new Map<string, number>();
  /** Containers whose next exit must not restart them (docker stop/kill, rm -f). */
  private readonly exitOnNext = new Set<string>();
  /** Automatic restarts under way: stop and rm wait for them rather than race them. */
  private readonly autoStarts = new Map<string, Promise<void>>();
  /** Task creates/starts under way: an exit event that overtakes their reply waits for them. */
  private readonly pendingStarts = new Map<string, Promise<void>>();
  /** Exits being handled, so an event and a reconcile do not settle the same exit twice. */
  private readonly settling = new Set<string>();
  private readonly exitListeners: ((id: string) => Promise<void>)[] = [];
  private closing = false;
  readonly health: HealthMonitor;

  constructor(
    private readonly ctx: EngineContext,
    readonly store: ContainerStore,
    /** Volumes and bind mounts: planned at create, held while running, released at exit. */
    private readonly mounts?: ContainerMounts,
  ) {
    this.health = new HealthMonitor(ctx, store);
  }

  private get cd() {
    return this.ctx.cd;
  }

  private fifoDir(id: string): string {
    return path.join(this.store.containerDir(id), 'fifos');
  }

  /** Called after a container's exit has been recorded (execs settle what died with it). */
  onContainerExit(fn: (id: string) => Promise<void>): void {
    this.exitListeners.push(fn);
  }

  io(id: string): ContainerIO | undefined {
    return this.ios.get(id);
  }

  // ---- create ----

  async create(body: unknown, name: string | null): Promise<{ Id: string; Warnings: string[] }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.createOnce(body, name, attempt < MAX_ATTEMPTS_ACROSS_RESTARTS);
      } catch (e) {
        if (!(e instanceof CutByRestart)) throw e;
        this.ctx.log.warn('container create cut by a gantry-containerd restart; creating it again', { name, attempt });
      }
    }
  }

  private async createOnce(body: unknown, name: string | null, mayRetry: boolean): Promise<{ Id: string; Warnings: string[] }> {
    const v = validateCreate(body, name);
    const config = v.config as ContainerConfig & Record<string, unknown>;
    if (!config.Image) throw errdefs.invalidArgument('No image specified');
    const image: ResolvedImage = await traced('engine.create.image', () => resolveImage(this.cd, String(config.Image))).catch((e: unknown) => {
      if (errdefs.ownKind(e) === 'not-found') throw noSuchImage(String(config.Image));
      if (mayRetry && isUnavailable(e) && !this.closing) throw new CutByRestart();
      throw e;
    });
    const id = this.store.newId();
    const containerName = this.store.claimName(v.name);
    const hostConfig = v.hostConfig as HostConfig & Record<string, unknown>;
    const dir = this.store.containerDir(id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
    let hostname = config.Hostname || id.slice(0, 12);
    let snapshotMade = false;
    let prepared: PreparedMounts | undefined;
    try {
      const net = traced('engine.create.network', () => this.prepareNetwork(id, dir, v.endpoints, config, hostConfig, image.config.config?.ExposedPorts));
      if (net) hostname = net.hostname;
      const etc = net ? net.etc : this.writeEtcFiles(dir, hostname);
      // gc.root keeps the snapshot until the container record names it (an empty label value is no
      // label in containerd: a collection between the two calls removed it)
      const mounts = (
        await this.cd.call(
          this.cd.snapshots,
          this.cd.snapshots.prepare,
          spb.PrepareSnapshotRequest.fromPartial({
            snapshotter: SNAPSHOTTER,
            key: id,
            parent: image.chainId,
            labels: { 'containerd.io/gc.root': new Date().toISOString() },
          }),
        )
      ).mounts;
      snapshotMade = true;
      prepared = this.mounts?.prepare(hostConfig, Object.keys({ ...(image.config.config?.Volumes ?? {}), ...(config.Volumes ?? {}) }));
      const spec = await traced('engine.create.spec', async () =>
        buildSpec({
          id,
          config,
          hostConfig,
          image: { config: image.config.config ?? {} },
          rootfsPath: 'rootfs',
          hostname,
          etcFiles: etc,
          networkNamespacePath: net?.netnsPath,
          namespacePath: net ? (type, ref) => this.joinNamespace(type, ref) : undefined,
          resolveUser: await userResolver(this.cd, mounts, this.ctx.dataRoot),
          volumeSource: prepared?.volumeSource,
          configVolumes: prepared?.configVolumes,
        }),
      );
      prepared?.copyUp(mounts);
      const effective = {
        ...config,
        Hostname: hostname,
        Image: String(config.Image),
        Env: spec.process?.env ?? [],
        Cmd: config.Cmd ?? image.config.config?.Cmd,
        Entrypoint: config.Entrypoint ?? image.config.config?.Entrypoint,
        WorkingDir: config.WorkingDir || image.config.config?.WorkingDir || '',
        Labels: { ...(image.config.config?.Labels ?? {}), ...(config.Labels ?? {}) },
        Healthcheck: mergeImageConfig(config, image.config.config ?? {}).Healthcheck,
      };
      await this.cd.call(this.cd.containers, this.cd.containers.create, {
        container: cpb.Container.fromPartial({
          id,
          image: image.name,
          labels: { 'io.gantry.name': containerName.slice(1) },
          runtime: { name: RUNTIME_NAME },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
          snapshotter: SNAPSHOTTER,
          snapshotKey: id,
        }),
      });
      const args = spec.process?.args ?? [];
      const rec: ContainerRecord = {
        Id: id,
        Name: containerName,
        Created: new Date().toISOString(),
        Path: args[0] ?? '',
        Args: args.slice(1),
        Image: String(config.Image),
        ImageID: image.id,
        Config: effective,
        HostConfig: hostConfig,
        State: initialState(),
        RestartCount: 0,
        LogPath: jsonLogPath(this.ctx.dataRoot, id),
        ManuallyStopped: false,
        SnapshotKey: id,
        ...(prepared ? { MountPoints: prepared.mountPoints } : {}),
      };
      this.store.save(rec);
      this.ctx.events.emit('container', 'create', id, { image: rec.Image, name: containerName.slice(1) });
      return { Id: id, Warnings: [] };
    } catch (e) {
      if (snapshotMade) await this.cd.call(this.cd.snapshots, this.cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: id }).catch(() => undefined);
      await this.cd.call(this.cd.containers, this.cd.containers.delete, { id }).catch(() => undefined);
      prepared?.rollback();
      await this.ctx.networks?.forget(id).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
      if (mayRetry && isUnavailable(e) && !this.closing) throw new CutByRestart();
      throw errdefs.fromGrpc(e);
    }
  }

  /** The container's networks (validated, its /etc files written) when gantryd manages networking. */
  // the decoded endpoints (validateCreate), never the raw body: only typed fields reach the network code
  private prepareNetwork(
    id: string,
    dir: string,
    endpoints: Record<string, EndpointConfig>,
    config: ContainerConfig,
    hc: HostConfig,
    imageExposed: Record<string, unknown> = {},
  ) {
    const nets = this.ctx.networks;
    if (!nets) return undefined;
    const exposed = { ...imageExposed, ...(config.ExposedPorts ?? {}) } as Record<string, unknown>;
    const p = nets.prepare({
      id,
      dir,
      hostname: config.Hostname ?? '',
      domainname: config.Domainname,
      networkMode: config.NetworkDisabled ? 'none' : hc.NetworkMode,
      endpoints,
      extraHosts: hc.ExtraHosts,
      dns: hc.Dns,
      dnsSearch: hc.DnsSearch,
      dnsOptions: hc.DnsOptions,
      portBindings: hc.PortBindings as Record<string, PortBinding[] | null> | undefined,
      exposed,
      publishAll: hc.PublishAllPorts,
    });
    const hostname = p.hostname || id.slice(0, 12);
    return {
      hostname,
      netnsPath: typeof p.netns === 'object' ? p.netns.path : undefined,
      etc: { hosts: path.join(dir, 'hosts'), resolvConf: path.join(dir, 'resolv.conf'), hostname: path.join(dir, 'hostname') },
    };
  }

  private joinNamespace(type: 'network' | 'ipc' | 'pid', ref: string): string {
    if (type !== 'network') throw new Error(`joining another container's ${type} namespace is not supported yet`);
    return this.ctx.networks!.joinPath(ref);
  }

  /** /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, bind-mounted from its directory. */
  private writeEtcFiles(dir: string, hostname: string): { hosts: string; resolvConf: string; hostname: string } {
    const hostnameFile = path.join(dir, 'hostname');
    const hostsFile = path.join(dir, 'hosts');
    const resolvFile = path.join(dir, 'resolv.conf');
    writeEtcFile(hostnameFile, `${hostname}\n`);
    writeEtcFile(hostsFile, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`);
    let resolv = 'nameserver 127.0.0.1\n';
    try {
      resolv = fs.readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      // no host resolver configuration
    }
    writeEtcFile(resolvFile, resolv);
    return { hosts: hostsFile, resolvConf: resolvFile, hostname: hostnameFile };
  }

  // ---- start / exit ----

  async start(ref: string): Promise<void> {
    const rec = this.store.get(ref);
    if (rec.State.Running) {
      if (rec.State.Paused) throw errdefs.conflict(`cannot start a paused container, try unpause instead`);
      throw errdefs.notModified();
    }
    if (rec.State.Status === 'removing' || rec.State.Dead) throw errdefs.conflict(`container ${rec.Id} is marked for removal and cannot be started`);
    this.resetRestartManager(rec);
    await this.startTask(rec).catch(async (e: unknown) => {
      // as dockerd: a --rm container that cannot start is removed (docker run waits for that)
      if ((rec.HostConfig as HostConfig).AutoRemove) await this.remove(rec.Id, { force: true }).catch(() => undefined);
      throw e;
    });
  }

  /** A start by the user: no pending automatic restart, back-off and RestartCount start over (as dockerd's). */
  private resetRestartManager(rec: ContainerRecord): void {
    clearTimeout(this.restartTimers.get(rec.Id));
    this.restartTimers.delete(rec.Id);
    this.restartDelays.delete(rec.Id);
    this.exitOnNext.delete(rec.Id);
    rec.ManuallyStopped = false;
    rec.RestartCount = 0;
  }

  private async startTask(rec: ContainerRecord): Promise<void> {
    let done!: () => void;
    const pending = new Promise<void>((r) => (done = r));
    this.pendingStarts.set(rec.Id, pending);
    let recovered: boolean;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          recovered = (await this.createAndStartTask(rec, attempt < MAX_ATTEMPTS_ACROSS_RESTARTS)) || attempt > 1;
          break;
        } catch (e) {
          if (!(e instanceof CutByRestart)) throw e;
          // gantry-containerd died under the task's preparation or Tasks.Create: its task is deleted
          // (createAndStartTask waited for the restarted daemon); nothing of the container ran yet
          this.ctx.log.warn('task create cut by a gantry-containerd restart; creating it again', { id: rec.Id, attempt });
        }
      }
    } finally {
      if (this.pendingStarts.get(rec.Id) === pending) this.pendingStarts.delete(rec.Id);
      done();
    }
    // a start that outlived a gantry-containerd restart: the exit may have been published before the
    // event stream was back, and the reconcile that followed skipped this (then pending) start
    if (recovered) await this.reconcileOne(rec.Id);
  }

  /**
   * Tasks.Start's reply was lost with the connection (gantry-containerd killed under it): once the
   * restarted daemon answers, its view of the task says whether the start happened (the task runs,
   * or already exited); a task still CREATED is started now; anything else fails with `cause`.
   */
  private async recoverDroppedStart(id: string, cause: unknown): Promise<void> {
    const p = (await this.cd.callIdempotent(this.cd.tasks, this.cd.tasks.get, { containerId: id, execId: '' }).catch(() => undefined))?.process;
    if (p?.status === types.Status.CREATED) {
      await this.cd.call(this.cd.tasks, this.cd.tasks.start, { containerId: id, execId: '' }, 60000);
      return;
    }
    if (p && (p.status === types.Status.RUNNING || p.status === types.Status.PAUSED || p.status === types.Status.STOPPED)) return;
    throw cause;
  }

  /** Returns true when a gantry-containerd restart was lived through (see startTask). */
  private async createAndStartTask(rec: ContainerRecord, mayRetryCreate: boolean): Promise<boolean> {
    const cfg = rec.Config as ContainerConfig;
    const tty = cfg.Tty === true;
    const fifos: StdioFifos = createFifos(this.fifoDir(rec.Id), 'init', { stdin: cfg.OpenStdin === true, stdout: true, stderr: !tty });
    const logOpts = ((rec.HostConfig as HostConfig).LogConfig?.Config ?? {}) as Record<string, string>;
    const log = new JsonFileWriter(rec.LogPath, parseLogOpts(logOpts));
    const io = ContainerIO.open(fifos, { terminal: tty, log });
    this.ios.set(rec.Id, io);
    this.logWriters.set(rec.Id, log);
    // which step failed decides how dockerd words the error (see below)
    let step: 'prepare' | 'create' | 'start' = 'prepare';
    try {
      // a task left from an earlier run (exited, not deleted) is in the way
      await this.cd.call(this.cd.tasks, this.cd.tasks.delete, { containerId: rec.Id }).catch(() => undefined);
      this.mounts?.start(rec);
      const mounts = (await this.cd.call(this.cd.snapshots, this.cd.snapshots.mounts, { snapshotter: SNAPSHOTTER, key: rec.SnapshotKey })).mounts;
      await traced('engine.start.network', () => this.ctx.networks?.up(rec.Id));
      step = 'create';
      const created = await this.cd.call(
        this.cd.tasks,
        this.cd.tasks.create,
        tpb.CreateTaskRequest.fromPartial({
          containerId: rec.Id,
          rootfs: mounts,
          stdin: fifos.stdin,
          stdout: fifos.stdout,
          stderr: fifos.stderr,
          terminal: tty,
        }),
        120000,
      );
      io.ready();
      step = 'start';
      let recovered = false;
      await this.cd.call(this.cd.tasks, this.cd.tasks.start, { containerId: rec.Id, execId: '' }, 60000).catch(async (e: unknown) => {
        if (!isUnavailable(e)) throw e;
        recovered = true;
        await this.recoverDroppedStart(rec.Id, e);
      });
      rec.State = {
        ...rec.State,
        Status: 'running',
        Running: true,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: created.pid,
        ExitCode: 0,
        Error: '',
        StartedAt: new Date().toISOString(),
        FinishedAt: NULL_TIME,
      };
      this.store.save(rec);
      this.ctx.events.emit('container', 'start', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
      this.health.start(rec.Id);
      return recovered;
    } catch (e) {
      void io.close(); // no output to wait for: the task did not start
      this.ios.delete(rec.Id);
      this.logWriters.delete(rec.Id);
      log.close();
      removeFifos(fifos);
      await this.deleteTaskOnceReachable(rec.Id);
      this.mounts?.stop(rec);
      await this.ctx.networks?.down(rec.Id).catch(() => undefined);
      if (mayRetryCreate && step !== 'start' && isUnavailable(e) && !this.closing) throw new CutByRestart();
      // As dockerd: a task that could not be created or started is worded and classified from
      // containerd's message, the runtime's own at its end (126/127 and 400 for a command that
      // cannot run, 128 otherwise); the container keeps its state (created, or exited).
      const failed: StartFailure =
        step === 'prepare'
          ? { error: errdefs.fromGrpc(e), exitCode: EXIT_START_FAILED }
          : startFailure(e, step === 'create' ? 'failed to create task for container' : undefined);
      rec.State = {
        ...rec.State,
        Error: oneLine(failed.error.message),
        ExitCode: failed.exitCode,
        Status: rec.State.Status === 'created' ? 'created' : 'exited',
      };
      this.store.save(rec);
      throw failed.error;
    }
  }

  /**
   * Delete a task whose start failed. When gantry-containerd died under the start (UNAVAILABLE), wait
   * for the supervisor to restart it (bounded): otherwise the task stays CREATED with its shim and a
   * waiting init process while the container shows "created" (found by the fault test).
   */
  private async deleteTaskOnceReachable(id: string, timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 100;
    for (;;) {
      try {
        await this.cd.call(this.cd.tasks, this.cd.tasks.delete, { containerId: id }, 10000);
        return;
      } catch (e) {
        const kind = errdefs.kindOf(e);
        if ((kind !== 'unavailable' && kind !== 'deadline-exceeded') || this.closing || Date.now() > deadline) return;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }

  /** A /tasks/exit of a container's init process (from the event stream). */
  async handleTaskExit(e: { containerId: string; pid: number; exitStatus: number; exitedAt: Date }): Promise<void> {
    // the exit of a task whose Create/Start reply has not come back yet: settle it after
    await this.pendingStarts.get(e.containerId);
    const rec = this.store.find(e.containerId);
    if (!rec || !rec.State.Running) return;
    // a late exit of an earlier run (its pid is not the running task's)
    if (e.pid !== 0 && rec.State.Pid !== 0 && e.pid !== rec.State.Pid) return;
    await this.settleExit(rec.Id, e.exitStatus, e.exitedAt);
  }

  /** A /tasks/oom: as dockerd, OOMKilled is set (kept through the exit that follows) and `oom` emitted. */
  async handleOom(id: string): Promise<void> {
    await this.pendingStarts.get(id);
    const rec = this.store.find(id);
    if (!rec) return;
    rec.State = { ...rec.State, OOMKilled: true };
    this.store.save(rec);
    this.ctx.events.emit('container', 'oom', id, { image: rec.Image, name: rec.Name.slice(1) });
  }

  /**
   * After the event stream broke: ask gantry-containerd for every container gantryd thinks is
   * running, and settle the exits the stream did not deliver.
   */
  async reconcile(): Promise<void> {
    for (const rec of this.store.all()) await this.reconcileOne(rec.Id);
  }

  /** Settle the exit of container `id` if gantryd thinks it runs and gantry-containerd says it stopped. */
  private async reconcileOne(id: string): Promise<void> {
    const rec = this.store.find(id);
    if (!rec?.State.Running || this.pendingStarts.has(rec.Id)) return;
    let exit: { status: number; at: Date } | undefined;
    try {
      const p = (await this.cd.callIdempotent(this.cd.tasks, this.cd.tasks.get, { containerId: rec.Id, execId: '' }, 10000)).process;
      if (p && p.status === types.Status.STOPPED)
        exit = { status: p.exitStatus, at: p.exitedAt ? new Date(Number(p.exitedAt.seconds) * 1000 + Math.floor(p.exitedAt.nanos / 1e6)) : new Date() };
    } catch (e) {
      // the task is gone (its shim died, or it was deleted behind our back): it has exited
      if (errdefs.isNotFound(e)) exit = { status: 255, at: new Date() };
      else this.ctx.log.warn('reconcile: task state unknown', { id: rec.Id, error: String(e) });
    }
    if (exit) await this.settleExit(rec.Id, exit.status, exit.at);
  }

  private async settleExit(id: string, exitStatus: number, exitedAt: Date): Promise<void> {
    if (this.settling.has(id)) return;
    this.settling.add(id);
    try {
      const rec = this.store.find(id);
      if (rec?.State.Running) await traced('engine.exit', () => this.onExit(id, exitStatus, exitedAt));
    } finally {
      this.settling.delete(id);
    }
  }

  private async onExit(id: string, exitStatus: number, exitedAt: Date): Promise<void> {
    this.health.stop(id);
    const rec = this.store.find(id);
    if (!rec) return;
    // Deleting the task makes the shim close its FIFO ends: our readers then drain and see EOF.
    await this.cd.call(this.cd.tasks, this.cd.tasks.delete, { containerId: id }).catch(() => undefined);
    this.mounts?.stop(rec);
    await traced('engine.exit.network', () => this.ctx.networks?.down(id))?.catch((e: unknown) =>
      this.ctx.log.warn('network teardown failed', { id, error: String(e) }),
    );
    const io = this.ios.get(id);
    if (io) {
      await Promise.race([io.ended, new Promise((r) => setTimeout(r, 2000))]);
      void io.close(); // output already drained or given up on above: only the stop is needed
      this.ios.delete(id);
    }
    // one open log file per container run otherwise (the soak saw gantryd's fds grow by one per run)
    this.logWriters.get(id)?.close();
    this.logWriters.delete(id);
    // OOMKilled was set by a /tasks/oom of this run (reset at start)
    rec.State = {
      ...rec.State,
      Status: 'exited',
      Running: false,
      Paused: false,
      Restarting: false,
      Pid: 0,
      ExitCode: exitStatus,
      FinishedAt: exitedAt.toISOString(),
    };
    this.store.save(rec);
    this.ctx.events.emit('container', 'die', id, { image: rec.Image, name: rec.Name.slice(1), exitCode: String(exitStatus) });
    this.resolveWaiters(id, ['not-running', 'next-exit'], exitStatus);
    for (const fn of this.exitListeners) await fn(id).catch((e: unknown) => this.ctx.log.warn('exit listener failed', { id, error: String(e) }));
    const host = rec.HostConfig as HostConfig;
    if (host.AutoRemove) {
      await traced('engine.exit.remove', () => this.remove(id, { force: true, removeVolumes: true })).catch((e: unknown) =>
        this.ctx.log.warn('auto-remove failed', { id, error: String(e) }),
      );
      return;
    }
    if (this.shouldRestart(rec, exitStatus)) this.scheduleRestart(rec);
  }

  private shouldRestart(rec: ContainerRecord, exitStatus: number): boolean {
    if (this.closing || this.exitOnNext.delete(rec.Id)) return false;
    return policyRestarts((rec.HostConfig as HostConfig).RestartPolicy, {
      exitCode: exitStatus,
      manuallyStopped: rec.ManuallyStopped,
      restartCount: rec.RestartCount,
    });
  }

  /** An automatic restart is waiting for its timer or is starting the task. */
  private restartPending(id: string): boolean {
    return this.restartTimers.has(id) || this.autoStarts.has(id);
  }

  /**
   * Docker's back-off: 100 ms doubling (reset after 10 s of running), at most 1 min. At most one
   * restart is pending per container: two for one exit would both start the task and count twice.
   */
  private scheduleRestart(rec: ContainerRecord): void {
    if (this.restartPending(rec.Id)) return;
    const ranMs = Date.parse(rec.State.FinishedAt) - Date.parse(rec.State.StartedAt);
    const delay = nextRestartDelay(this.restartDelays.get(rec.Id) ?? 0, Number.isNaN(ranMs) ? 0 : ranMs);
    this.restartDelays.set(rec.Id, delay);
    rec.State = { ...rec.State, Status: 'restarting', Restarting: true };
    this.store.save(rec);
    const t = setTimeout(() => {
      this.restartTimers.delete(rec.Id);
      const cur = this.store.find(rec.Id);
      if (!cur || !cur.State.Restarting || cur.State.Running) return;
      cur.RestartCount++;
      const started = this.startTask(cur)
        .then(() => this.ctx.events.emit('container', 'restart', cur.Id, { image: cur.Image, name: cur.Name.slice(1) }))
        .then(
          () => undefined,
          (e: unknown) => this.ctx.log.warn('restart failed', { id: cur.Id, error: String(e) }),
        )
        .finally(() => this.autoStarts.delete(cur.Id));
      this.autoStarts.set(cur.Id, started);
    }, delay);
    t.unref();
    this.restartTimers.set(rec.Id, t);
  }

  // ---- signals, stop, pause ----

  private running(ref: string): ContainerRecord {
    const rec = this.store.get(ref);
    if (!rec.State.Running) throw errdefs.conflict(`Container ${rec.Id} is not running`);
    return rec;
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const rec = this.running(ref);
    const sig = signalNumber(signal, 9);
    if (sig === undefined) throw errdefs.invalidArgument(`Invalid signal: ${signal}`);
    // as dockerd: any kill marks it stopped by the user; SIGKILL or the stop signal also cancels the restart policy
    const stopSig = (rec.Config as ContainerConfig).StopSignal;
    if (sig === 9 || !stopSig || signalNumber(stopSig) === sig) this.exitOnNext.add(rec.Id);
    rec.ManuallyStopped = true;
    this.store.save(rec);
    await this.cd
      .call(this.cd.tasks, this.cd.tasks.kill, tpb.KillRequest.fromPartial({ containerId: rec.Id, signal: sig, all: sig === 9 }))
      .catch((e: unknown) => {
        throw errdefs.fromGrpc(e);
      });
    this.ctx.events.emit('container', 'kill', rec.Id, { image: rec.Image, name: rec.Name.slice(1), signal: String(sig) });
  }

  /**
   * SIGKILL every process of the container's task and wait for its exit (`exited`, registered before).
   * A kill cut by a gantry-containerd restart is sent again once the daemon is back (a second SIGKILL
   * is harmless); a kill refused (the task is gone or finished) is settled from gantry-containerd's
   * view. The wait is bounded: before, a kill lost with the connection left `docker rm -f` waiting
   * for an exit that never came (found by the fault test).
   */
  private async killAndWaitExit(id: string, exited: Promise<unknown>, what: 'stop' | 'remove', timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        await this.cd.call(
          this.cd.tasks,
          this.cd.tasks.kill,
          tpb.KillRequest.fromPartial({ containerId: id, signal: 9, all: true }),
          Math.max(deadline - Date.now(), 1000),
        );
        break;
      } catch (e) {
        if (!isUnavailable(e) && errdefs.kindOf(e) !== 'deadline-exceeded') {
          await this.reconcileOne(id);
          break;
        }
        if (Date.now() > deadline || this.closing)
          throw errdefs.internal(`cannot ${what} container ${id}: gantry-containerd did not take the kill: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(deadline - Date.now(), 5000)))),
    ]);
    clearTimeout(timer);
    if (inTime) return;
    // the exit event may have been lost with the event stream: ask gantry-containerd
    await this.reconcileOne(id);
    if (this.store.find(id)?.State.Running)
      throw errdefs.internal(`cannot ${what} container ${id}: it did not exit within ${Math.round(timeoutMs / 1000)} s of SIGKILL`);
  }

  async stop(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    await this.autoStarts.get(this.store.get(ref).Id);
    const rec = this.store.get(ref);
    clearTimeout(this.restartTimers.get(rec.Id));
    this.restartTimers.delete(rec.Id);
    if (!rec.State.Running) {
      if (rec.State.Restarting) {
        rec.ManuallyStopped = true;
        rec.State = { ...rec.State, Status: 'exited', Restarting: false };
        this.store.save(rec);
        return;
      }
      throw errdefs.notModified();
    }
    rec.ManuallyStopped = true;
    this.exitOnNext.add(rec.Id);
    this.store.save(rec);
    const cfg = rec.Config as ContainerConfig & { StopTimeout?: number };
    const sig = signalNumber(signal ?? cfg.StopSignal, 15) ?? 15;
    const timeout = timeoutSec ?? cfg.StopTimeout ?? 10;
    const exited = this.waitFor(rec.Id, 'next-exit');
    if (rec.State.Paused) await this.cd.call(this.cd.tasks, this.cd.tasks.resume, { containerId: rec.Id }).catch(() => undefined);
    await this.cd.call(this.cd.tasks, this.cd.tasks.kill, tpb.KillRequest.fromPartial({ containerId: rec.Id, signal: sig })).catch(() => undefined);
    this.ctx.events.emit('container', 'kill', rec.Id, { image: rec.Image, name: rec.Name.slice(1), signal: String(sig) });
    const graceMs = stopGraceMs(timeout);
    const inTime =
      graceMs === undefined
        ? await exited.then(() => true)
        : await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
    if (!inTime) {
      this.ctx.events.emit('container', 'kill', rec.Id, { image: rec.Image, name: rec.Name.slice(1), signal: '9' });
      await this.killAndWaitExit(rec.Id, exited, 'stop');
    }
    this.ctx.events.emit('container', 'stop', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
  }

  async restart(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    await this.autoStarts.get(this.store.get(ref).Id);
    const rec = this.store.get(ref);
    if (rec.State.Running) await this.stop(ref, timeoutSec, signal);
    const cur = this.store.get(rec.Id);
    this.resetRestartManager(cur);
    await this.startTask(cur);
    this.ctx.events.emit('container', 'restart', cur.Id, { image: cur.Image, name: cur.Name.slice(1) });
  }

  async pause(ref: string): Promise<void> {
    const rec = this.running(ref);
    if (rec.State.Paused) throw errdefs.conflict(`Container ${rec.Id} is already paused`);
    await this.cd.call(this.cd.tasks, this.cd.tasks.pause, { containerId: rec.Id }).catch((e: unknown) => {
      throw errdefs.fromGrpc(e);
    });
    rec.State = { ...rec.State, Paused: true, Status: 'paused' };
    this.store.save(rec);
    this.ctx.events.emit('container', 'pause', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
  }

  async unpause(ref: string): Promise<void> {
    const rec = this.store.get(ref);
    if (!rec.State.Paused) throw errdefs.conflict(`Container ${rec.Id} is not paused`);
    await this.cd.call(this.cd.tasks, this.cd.tasks.resume, { containerId: rec.Id }).catch((e: unknown) => {
      throw errdefs.fromGrpc(e);
    });
    rec.State = { ...rec.State, Paused: false, Status: 'running' };
    this.store.save(rec);
    this.ctx.events.emit('container', 'unpause', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
  }

  // ---- wait / remove ----

  private resolveWaiters(id: string, conditions: WaitCondition[], code: number): void {
    const list = this.waiters.get(id) ?? [];
    const keep: Waiter[] = [];
    for (const w of list) {
      if (conditions.includes(w.condition)) w.resolve({ StatusCode: code, Error: null });
      else keep.push(w);
    }
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  private waitFor(id: string, condition: WaitCondition): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push({ condition, resolve });
      this.waiters.set(id, list);
    });
  }

  /** POST /containers/{id}/wait: resolves with the exit code when `condition` is met. */
  wait(ref: string, condition: string = 'not-running'): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    if (!['not-running', 'next-exit', 'removed', ''].includes(condition)) throw errdefs.invalidArgument(`invalid condition: "${condition}"`);
    const rec = this.store.get(ref);
    const c = (condition || 'not-running') as WaitCondition;
    if (c === 'not-running' && !rec.State.Running && !rec.State.Restarting) return Promise.resolve({ StatusCode: rec.State.ExitCode, Error: null });
    return this.waitFor(rec.Id, c);
  }

  async remove(ref: string, opts: { force?: boolean; removeVolumes?: boolean }): Promise<void> {
    await this.autoStarts.get(this.store.get(ref).Id);
    const rec = this.store.get(ref);
    if (rec.State.Status === 'removing') return;
    if (rec.State.Running || rec.State.Restarting) {
      if (!opts.force) {
        throw errdefs.conflict(
          `cannot remove container "${rec.Name}": container is ${rec.State.Paused ? 'paused' : 'running'}: stop the container before removing or force remove`,
        );
      }
      clearTimeout(this.restartTimers.get(rec.Id));
      rec.ManuallyStopped = true;
      this.exitOnNext.add(rec.Id);
      this.store.save(rec);
      if (rec.State.Running) {
        const exited = this.waitFor(rec.Id, 'next-exit');
        if (rec.State.Paused) await this.cd.call(this.cd.tasks, this.cd.tasks.resume, { containerId: rec.Id }).catch(() => undefined);
        await this.killAndWaitExit(rec.Id, exited, 'remove');
      }
    }
    const cur = this.store.find(rec.Id);
    if (!cur) return;
    cur.State = { ...cur.State, Status: 'removing' };
    this.store.save(cur);
    // each sent again if gantry-containerd is killed under it: a task, record or snapshot left
    // behind would outlive the container
    await this.cd.callIdempotent(this.cd.tasks, this.cd.tasks.delete, { containerId: rec.Id }).catch(() => undefined);
    await this.cd.callIdempotent(this.cd.containers, this.cd.containers.delete, { id: rec.Id }).catch((e: unknown) => {
      if (!errdefs.isNotFound(e)) throw errdefs.fromGrpc(e);
    });
    await this.cd.callIdempotent(this.cd.snapshots, this.cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: rec.SnapshotKey }).catch(() => undefined);
    await this.ctx.networks?.forget(rec.Id).catch((e: unknown) => this.ctx.log.warn('network teardown failed', { id: rec.Id, error: String(e) }));
    this.store.remove(rec.Id);
    this.mounts?.removed(rec, opts.removeVolumes ?? false);
    this.restartDelays.delete(rec.Id);
    this.exitOnNext.delete(rec.Id);
    this.ctx.events.emit('container', 'destroy', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
    this.resolveWaiters(rec.Id, ['removed', 'not-running', 'next-exit'], rec.State.ExitCode);
  }

  rename(ref: string, newName: string): void {
    const rec = this.store.get(ref);
    const name = this.store.claimName(newName);
    const old = rec.Name;
    rec.Name = name;
    this.store.save(rec);
    this.ctx.events.emit('container', 'rename', rec.Id, { oldName: old, name: name.slice(1) });
  }

  // ---- live restore ----

  /** After gantryd starts: adopt running tasks, settle those that exited meanwhile, restart by policy. */
  async restore(): Promise<void> {
    const running = new Map<string, types.Process>();
    let listed = false;
    let listedAt = 0;
    // gantry-containerd may still be coming up: an unanswered list must not pass for "no tasks"
    for (let delay = 100, deadline = Date.now() + 20000; !listed; delay = Math.min(delay * 2, 2000)) {
      try {
        listedAt = Date.now();
        for (const t of (await this.cd.call(this.cd.tasks, this.cd.tasks.list, { filter: '' }, 10000)).tasks) running.set(t.containerId, t);
        listed = true;
      } catch (e) {
        if (Date.now() > deadline) {
          this.ctx.log.error('could not list tasks for live-restore; container states left as they were', { error: String(e) });
          break;
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    for (const rec of this.store.all()) {
      // their exits are settled by reconcile once the event stream is live again
      if (!listed) continue;
      const task = running.get(rec.Id);
      if (rec.State.Status === 'removing') {
        await this.remove(rec.Id, { force: true }).catch(() => undefined);
        continue;
      }
      // The event stream is live before this loop: an exit it delivered may already have been
      // settled and its restart scheduled or done, so the listing is stale for this container.
      if (this.restartPending(rec.Id) || this.pendingStarts.has(rec.Id) || Date.parse(rec.State.StartedAt) >= listedAt) continue;
      if (task && (task.status === types.Status.RUNNING || task.status === types.Status.PAUSED || task.status === types.Status.CREATED)) {
        const cfg = rec.Config as ContainerConfig;
        const tty = cfg.Tty === true;
        const fifos = createFifos(this.fifoDir(rec.Id), 'init', { stdin: cfg.OpenStdin === true, stdout: true, stderr: !tty });
        const log = new JsonFileWriter(rec.LogPath, parseLogOpts(((rec.HostConfig as HostConfig).LogConfig?.Config ?? {}) as Record<string, string>));
        this.ios.set(rec.Id, ContainerIO.open(fifos, { terminal: tty, log, shimHasEnds: true }));
        this.logWriters.set(rec.Id, log);
        this.mounts?.adopt(rec);
        rec.State = {
          ...rec.State,
          Running: true,
          Paused: task.status === types.Status.PAUSED,
          Status: task.status === types.Status.PAUSED ? 'paused' : 'running',
          Pid: task.pid,
        };
        this.store.save(rec);
        this.health.resume(rec.Id);
        this.ctx.log.info('container adopted', { id: rec.Id, pid: task.pid });
      } else if (rec.State.Running) {
        // it exited while gantryd was down: the shim kept its exit status (255 when the shim is gone too)
        const exitedAt = task?.exitedAt ? new Date(Number(task.exitedAt.seconds) * 1000 + Math.floor(task.exitedAt.nanos / 1e6)) : new Date();
        await this.settleExit(rec.Id, task ? task.exitStatus : 255, exitedAt);
      } else if (rec.State.Restarting) {
        // gantryd went down between an exit and its automatic restart
        if (task) await this.cd.call(this.cd.tasks, this.cd.tasks.delete, { containerId: rec.Id }).catch(() => undefined);
        this.scheduleRestart(rec);
      } else if (
        restartsOnDaemonStart((rec.HostConfig as HostConfig).RestartPolicy, {
          exitCode: rec.State.ExitCode,
          manuallyStopped: rec.ManuallyStopped,
          restartCount: rec.RestartCount,
          hasRun: rec.State.StartedAt !== NULL_TIME && rec.State.Status === 'exited',
        })
      ) {
        this.scheduleRestart(rec);
      }
    }
    this.mounts?.volumes.unmountUnheld();
  }

  close(): void {
    this.closing = true;
    this.health.stopAll();
    for (const t of this.restartTimers.values()) clearTimeout(t);
    for (const io of this.ios.values()) void io.close(); // shutting down: not waiting for the shims' EOF
    this.ios.clear();
    for (const log of this.logWriters.values()) log.close();
    this.logWriters.clear();
  }
}
