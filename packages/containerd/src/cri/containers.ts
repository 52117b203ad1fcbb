/**
 * CRI containers on gantry-containerd's containers, snapshots and tasks: create prepares the
 * rootfs snapshot and stores the spec, start runs the task with its output going through the
 * daemon into the CRI log, an exit is settled from the `/tasks/exit` event.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containers as cpb, cri, events as epb, tasks as tpb, types } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { Spec } from '@gantry/runtime';
import { RUNTIME_NAME, SNAPSHOTTER, SPEC_TYPE } from './clients';
import { CriLogFile, FifoReader, makeFifo, type Stream } from './container-log';
import type { CriContext } from './context';
import { hostDeviceLookup } from './devices';
import { matchLabels } from './filters';
import { sandboxConfigOf } from './pod-sandboxes';
import { containerSpec, needsUserDb, nsMode, resourcesOf } from './spec';
import { isPidHolder, startPidHolder } from './pod-namespaces';
import { readUserDb } from './users';
import { newId, nowNs, type ContainerRecord, type SandboxRecord } from './store';

const isNotFound = (e: unknown) => (e as { code?: unknown } | null)?.code === 5;

export function containerConfigOf(r: ContainerRecord): cri.ContainerConfig {
  return cri.ContainerConfig.fromJSON(r.config);
}

const STATE: Record<ContainerRecord['state'], cri.ContainerState> = {
  created: cri.ContainerState.CONTAINER_CREATED,
  running: cri.ContainerState.CONTAINER_RUNNING,
  exited: cri.ContainerState.CONTAINER_EXITED,
  unknown: cri.ContainerState.CONTAINER_UNKNOWN,
};

interface LiveIO {
  log: CriLogFile;
  reader: FifoReader;
}

export class Containers {
  private readonly io = new Map<string, LiveIO>();
  private readonly exitWaiters = new Map<string, (() => void)[]>();
  /** Attach: who else reads a container's output besides its log. */
  private readonly followers = new Map<string, Set<{ data: (s: Stream, d: Buffer) => void; end: () => void }>>();

  constructor(private readonly c: CriContext) {}

  private fifoDir(id: string): string {
    return path.join(this.c.stateDir, 'containers', id);
  }

  private fifos(id: string, tty: boolean): { stream: Stream; path: string }[] {
    const dir = this.fifoDir(id);
    return [{ stream: 'stdout' as const, path: path.join(dir, 'stdout') }, ...(tty ? [] : [{ stream: 'stderr' as const, path: path.join(dir, 'stderr') }])];
  }

  /** The stdin FIFO of a container created with `stdin` (the shim holds a writer: it sees EOF only through CloseIO). */
  stdinFifo(id: string): string {
    return path.join(this.fifoDir(id), 'stdin');
  }

  private output(id: string, log: CriLogFile, s: Stream, d: Buffer): void {
    log.write(s, d);
    for (const f of this.followers.get(id) ?? []) f.data(s, d);
  }

  /** Output of a running container from now on; `end` when it exits. Returns the unsubscribe. */
  follow(id: string, data: (s: Stream, d: Buffer) => void, end: () => void): () => void {
    const f = { data, end };
    const set = this.followers.get(id) ?? new Set();
    this.followers.set(id, set);
    set.add(f);
    return () => {
      set.delete(f);
      if (set.size === 0 && this.followers.get(id) === set) this.followers.delete(id);
    };
  }

  private emit(rec: ContainerRecord, type: cri.ContainerEventType, sandbox?: SandboxRecord, sandboxStatus?: cri.PodSandboxStatus): void {
    this.c.events.emit(
      cri.ContainerEventResponse.fromPartial({
        containerId: rec.id,
        containerEventType: type,
        createdAt: BigInt(nowNs()),
        ...(sandboxStatus && { podSandboxStatus: sandboxStatus }),
        containersStatuses: type === cri.ContainerEventType.CONTAINER_DELETED_EVENT ? [] : [this.statusOf(rec)],
      }),
    );
    void sandbox;
  }

  async create(req: cri.CreateContainerRequest, sandboxStatus: (s: SandboxRecord) => cri.PodSandboxStatus): Promise<cri.CreateContainerResponse> {
    const sandbox = this.c.store.sandbox(req.podSandboxId);
    const config = req.config;
    if (!config?.metadata?.name) throw errdefs.invalidArgument('container config must include metadata with a name');
    if (!config.image?.image) throw errdefs.invalidArgument('container config must include an image');
    if (sandbox.state !== 'ready') throw errdefs.failedPrecondition(`sandbox ${sandbox.id} is not ready`);
    const meta = config.metadata;
    const clash = this.c.store.listContainers().find((r) => {
      const m = containerConfigOf(r).metadata;
      return r.sandboxId === sandbox.id && m?.name === meta.name && m.attempt === meta.attempt;
    });
    if (clash)
      throw errdefs.alreadyExists(`failed to reserve container name "${meta.name}_${meta.attempt}" in sandbox ${sandbox.id}: it is reserved for ${clash.id}`);
    const image = await this.c.images.find(config.image.image);
    if (!image) throw errdefs.notFound(`failed to get image ${JSON.stringify(config.image.image)}: not found`);
    if (nsMode(config.linux?.securityContext?.namespaceOptions, 'pid') === cri.NamespaceMode.POD && !(sandbox.pidHolder && isPidHolder(sandbox.pidHolder))) {
      sandbox.pidHolder = await startPidHolder();
      this.c.store.saveSandbox(sandbox);
    }
    const id = newId();
    const logDir = sandboxConfigOf(sandbox).logDirectory;
    const logPath = config.logPath ? (logDir ? path.join(logDir, config.logPath) : config.logPath) : '';
    const imageConfig = image.config.config ?? {};
    let snapshotMade = false;
    let spec: Spec;
    try {
      const mounts = await this.c.cd.prepareContainerSnapshot(SNAPSHOTTER, id, image.chainId);
      snapshotMade = true;
      const sc = config.linux?.securityContext;
      const userDb = needsUserDb(sc, imageConfig) ? readUserDb(mounts, path.join(this.c.stateDir, 'tmp')) : undefined;
      spec = containerSpec({
        id,
        sandbox,
        sandboxConfig: sandboxConfigOf(sandbox),
        config,
        image: imageConfig,
        devices: hostDeviceLookup,
        ...(userDb && { userDb }),
      });
      await this.c.cd.call(this.c.cd.containers, this.c.cd.containers.create, {
        container: cpb.Container.fromPartial({
          id,
          image: image.repoTags[0] ?? image.id,
          labels: { 'io.cri-containerd.kind': 'container', 'io.kubernetes.pod.uid': sandboxConfigOf(sandbox).metadata?.uid ?? '' },
          runtime: { name: RUNTIME_NAME },
          spec: { typeUrl: SPEC_TYPE, value: Buffer.from(JSON.stringify(spec)) },
          snapshotter: SNAPSHOTTER,
          snapshotKey: id,
          sandbox: sandbox.id,
        }),
      });
    } catch (e) {
      if (snapshotMade) await this.c.cd.call(this.c.cd.snapshots, this.c.cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: id }).catch(() => undefined);
      throw e;
    }
    const rec: ContainerRecord = {
      id,
      sandboxId: sandbox.id,
      config: cri.ContainerConfig.toJSON(config),
      image: config.image.image,
      imageRef: image.id,
      state: 'created',
      createdAt: nowNs(),
      startedAt: '0',
      finishedAt: '0',
      exitCode: 0,
      reason: '',
      message: '',
      pid: 0,
      logPath,
      spec,
    };
    this.c.store.saveContainer(rec);
    this.emit(rec, cri.ContainerEventType.CONTAINER_CREATED_EVENT, sandbox, sandboxStatus(sandbox));
    return { containerId: id };
  }

  async start(id: string): Promise<void> {
    const rec = this.c.store.container(id);
    if (rec.state !== 'created') throw errdefs.failedPrecondition(`container ${rec.id} is in ${rec.state} state, not created`);
    const sandbox = this.c.store.sandbox(rec.sandboxId);
    if (sandbox.state !== 'ready') throw errdefs.failedPrecondition(`sandbox ${sandbox.id} of container ${rec.id} is not ready`);
    const config = containerConfigOf(rec);
    const fifos = this.fifos(rec.id, config.tty);
    for (const f of fifos) makeFifo(f.path);
    if (config.stdin) makeFifo(this.stdinFifo(rec.id));
    const log = new CriLogFile(rec.logPath);
    const reader = new FifoReader(fifos, (s, d) => this.output(rec.id, log, s, d), false);
    this.io.set(rec.id, { log, reader });
    try {
      const mounts = (await this.c.cd.call(this.c.cd.snapshots, this.c.cd.snapshots.mounts, { snapshotter: SNAPSHOTTER, key: rec.id })).mounts;
      const created = await this.c.cd.call(
        this.c.cd.tasks,
        this.c.cd.tasks.create,
        tpb.CreateTaskRequest.fromPartial({
          containerId: rec.id,
          rootfs: mounts,
          stdin: config.stdin ? this.stdinFifo(rec.id) : '',
          stdout: fifos[0]!.path,
          stderr: fifos[1]?.path ?? '',
          terminal: config.tty,
        }),
      );
      reader.shimOpened();
      rec.pid = created.pid;
      await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.start, { containerId: rec.id, execId: '' });
    } catch (e) {
      reader.shimOpened();
      log.close();
      this.io.delete(rec.id);
      await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.delete, { containerId: rec.id }).catch(() => undefined);
      rec.state = 'exited';
      rec.exitCode = 128;
      rec.reason = 'StartError';
      rec.message = (e as Error).message;
      rec.finishedAt = nowNs();
      this.c.store.saveContainer(rec);
      throw e;
    }
    // the exit event may have come while Start was in flight: do not turn an exited record back
    const now = this.c.store.container(rec.id);
    if (now.state === 'created') {
      rec.state = 'running';
      rec.startedAt = nowNs();
      this.c.store.saveContainer(rec);
    }
    this.emit(this.c.store.container(rec.id), cri.ContainerEventType.CONTAINER_STARTED_EVENT);
  }

  /** `/tasks/exit` of a container's init process: record the exit, finish its log, delete its task. */
  async onExit(e: epb.TaskExit): Promise<void> {
    if (e.id !== e.containerId) return; // an exec's exit
    let rec: ContainerRecord;
    try {
      rec = this.c.store.container(e.containerId);
    } catch {
      return;
    }
    if (rec.state === 'exited') return;
    if (rec.state === 'created' && rec.startedAt === '0') rec.startedAt = nowNs();
    rec.state = 'exited';
    rec.exitCode = e.exitStatus;
    rec.finishedAt = e.exitedAt ? (e.exitedAt.seconds * 1_000_000_000n + BigInt(e.exitedAt.nanos)).toString() : nowNs();
    rec.reason = rec.reason || (e.exitStatus === 0 ? 'Completed' : 'Error');
    rec.pid = 0;
    this.c.store.saveContainer(rec);
    await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.delete, { containerId: rec.id }).catch(() => undefined);
    const io = this.io.get(rec.id);
    if (io) {
      await Promise.race([io.reader.ended, new Promise((r) => setTimeout(r, 2000).unref())]);
      io.log.flush();
      io.log.close();
      this.io.delete(rec.id);
    }
    for (const f of this.followers.get(rec.id) ?? []) f.end();
    this.followers.delete(rec.id);
    this.emit(rec, cri.ContainerEventType.CONTAINER_STOPPED_EVENT);
    for (const w of this.exitWaiters.get(rec.id) ?? []) w();
    this.exitWaiters.delete(rec.id);
  }

  private waitExit(id: string, ms: number): Promise<boolean> {
    if (this.c.store.container(id).state !== 'running') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      const list = this.exitWaiters.get(id) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.exitWaiters.set(id, list);
    });
  }

  async stop(id: string, timeoutSec: number): Promise<void> {
    const rec = this.c.store.container(id);
    if (rec.state !== 'running') return;
    if (timeoutSec > 0) {
      await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.kill, { containerId: rec.id, execId: '', signal: 15, all: false }).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      if (await this.waitExit(rec.id, timeoutSec * 1000)) return;
    }
    await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.kill, { containerId: rec.id, execId: '', signal: 9, all: true }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    if (!(await this.waitExit(rec.id, 30_000))) throw new errdefs.KindError('deadline-exceeded', `container ${rec.id} did not exit 30 s after SIGKILL`);
  }

  async remove(id: string): Promise<void> {
    let rec: ContainerRecord;
    try {
      rec = this.c.store.container(id);
    } catch (e) {
      if (errdefs.isNotFound(e)) return; // removing what is gone succeeds (kubelet's contract)
      throw e;
    }
    if (rec.state === 'running') await this.stop(rec.id, 0);
    await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.delete, { containerId: rec.id }).catch(() => undefined);
    await this.c.cd.call(this.c.cd.containers, this.c.cd.containers.delete, { id: rec.id }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    await this.c.cd.call(this.c.cd.snapshots, this.c.cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: rec.id }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    fs.rmSync(this.fifoDir(rec.id), { recursive: true, force: true });
    this.c.store.deleteContainer(rec.id);
    this.emit(rec, cri.ContainerEventType.CONTAINER_DELETED_EVENT);
  }

  statusOf(rec: ContainerRecord): cri.ContainerStatus {
    const config = containerConfigOf(rec);
    return cri.ContainerStatus.fromPartial({
      id: rec.id,
      metadata: config.metadata,
      state: STATE[rec.state],
      createdAt: BigInt(rec.createdAt),
      startedAt: BigInt(rec.startedAt),
      finishedAt: BigInt(rec.finishedAt),
      exitCode: rec.exitCode,
      image: { image: rec.image, annotations: config.image?.annotations ?? {} },
      imageRef: rec.imageRef,
      reason: rec.reason,
      message: rec.message,
      labels: config.labels,
      annotations: config.annotations,
      mounts: config.mounts,
      logPath: rec.logPath,
      ...(config.linux?.resources && { resources: { linux: config.linux.resources } }),
    });
  }

  status(id: string, verbose: boolean): cri.ContainerStatusResponse {
    const rec = this.c.store.container(id);
    const info: Record<string, string> = {};
    if (verbose)
      info.info = JSON.stringify({
        sandboxID: rec.sandboxId,
        pid: rec.pid,
        runtimeSpec: rec.spec,
        snapshotKey: rec.id,
        snapshotter: SNAPSHOTTER,
        config: rec.config,
      });
    return { status: this.statusOf(rec), info };
  }

  list(filter: cri.ContainerFilter | undefined): cri.Container[] {
    return this.c.store
      .listContainers()
      .filter((r) => {
        if (!filter) return true;
        if (filter.id && !r.id.startsWith(filter.id)) return false;
        if (filter.podSandboxId && !r.sandboxId.startsWith(filter.podSandboxId)) return false;
        if (filter.state && STATE[r.state] !== filter.state.state) return false;
        return matchLabels(containerConfigOf(r).labels, filter.labelSelector);
      })
      .map((r) => {
        const config = containerConfigOf(r);
        return cri.Container.fromPartial({
          id: r.id,
          podSandboxId: r.sandboxId,
          metadata: config.metadata,
          image: { image: r.image, annotations: {} },
          imageRef: r.imageRef,
          state: STATE[r.state],
          createdAt: BigInt(r.createdAt),
          labels: config.labels,
          annotations: config.annotations,
        });
      });
  }

  async updateResources(req: cri.UpdateContainerResourcesRequest): Promise<void> {
    const rec = this.c.store.container(req.containerId);
    if (!req.linux) return;
    const config = containerConfigOf(rec);
    const resources = resourcesOf(req.linux);
    if (rec.state === 'running')
      await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.update, {
        containerId: rec.id,
        resources: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from(JSON.stringify(resources)) },
        annotations: {},
      });
    else if (rec.state !== 'created') throw errdefs.failedPrecondition(`container ${rec.id} is not running or created`);
    config.linux = { ...(config.linux ?? cri.LinuxContainerConfig.fromPartial({})), resources: req.linux };
    rec.config = cri.ContainerConfig.toJSON(config);
    const spec = rec.spec as Spec;
    if (spec.linux) spec.linux.resources = { ...spec.linux.resources, ...resources };
    this.c.store.saveContainer(rec);
  }

  reopenLog(id: string): void {
    const rec = this.c.store.container(id);
    if (rec.state !== 'running') throw errdefs.failedPrecondition(`container ${rec.id} is not running`);
    const io = this.io.get(rec.id);
    if (!io) throw errdefs.failedPrecondition(`container ${rec.id} has no log open`);
    io.log.reopen();
  }

  /** After a daemon restart: running containers whose task is gone are settled; live ones get their log readers back. */
  async recover(): Promise<void> {
    for (const rec of this.c.store.listContainers()) {
      if (rec.state !== 'running') continue;
      let task: tpb.GetResponse | undefined;
      try {
        task = await this.c.cd.call(this.c.cd.tasks, this.c.cd.tasks.get, { containerId: rec.id, execId: '' });
      } catch {
        task = undefined;
      }
      const status = task?.process?.status;
      if (task?.process && status !== types.Status.STOPPED) {
        const config = containerConfigOf(rec);
        const fifos = this.fifos(rec.id, config.tty).filter((f) => fs.existsSync(f.path));
        const log = new CriLogFile(rec.logPath);
        this.io.set(rec.id, { log, reader: new FifoReader(fifos, (s, d) => this.output(rec.id, log, s, d), true) });
        continue;
      }
      await this.onExit(
        epb.TaskExit.fromPartial({ containerId: rec.id, id: rec.id, exitStatus: task?.process?.exitStatus ?? 255, exitedAt: task?.process?.exitedAt }),
      );
      if (!task) {
        rec.reason = 'Unknown';
        this.c.store.saveContainer(rec);
      }
    }
  }

  /** Close the log files (daemon shutdown); tasks keep running in their shims. */
  close(): void {
    for (const io of this.io.values()) io.log.close();
    this.io.clear();
  }
}
