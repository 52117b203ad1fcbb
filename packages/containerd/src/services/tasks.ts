import * as fs from 'node:fs';
import { errdefs, traced, writeJsonAtomic } from '@gantry/linux';
import * as path from 'node:path';
import { type protobuf, shim, type tasks, timestampFromDate, types } from '@gantry/api';
import type { DaemonContext } from '../context';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, wrapError } from '../errors';
import { compileFilters } from '../events/filters';
import { requireNamespace, unary } from '../rpc';
import { callShim, type DeadTask, type ShimHandle, type ShimManager, tail } from '../tasks/shim-manager';

export const SPEC_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';

/** What the Tasks service needs to know of a container: its OCI spec (an Any holding JSON). */
export interface ContainerLookup {
  spec(ns: string, id: string): protobuf.Any | undefined;
}

interface OciSpecLike {
  root?: { path: string; readonly?: boolean };
  linux?: { cgroupsPath?: string };
  [k: string]: unknown;
}

function shimOf(shims: ShimManager, ns: string, id: string): ShimHandle {
  const h = shims.get(ns, id);
  if (!h) {
    const dead = shims.deadTask(ns, id);
    if (dead) throw failedPrecondition(`task ${id} is stopped: ${dead.reason}`);
    throw notFound(`task ${id} not found`);
  }
  return h;
}

function deadProcess(d: DeadTask): types.Process {
  return types.Process.fromPartial({
    containerId: d.id,
    id: d.id,
    pid: d.pid,
    status: types.Status.STOPPED,
    exitStatus: d.exitStatus,
    exitedAt: timestampFromDate(d.exitedAt),
  });
}

/** A shim that no longer answers: its task is unreachable. */
function unreachable(e: unknown): boolean {
  return errdefs.isUnavailable(e);
}

async function processOf(h: ShimHandle, execId: string): Promise<types.Process> {
  const s = await callShim(h, h.client.state, { id: h.id, execId }, 5000);
  return types.Process.fromPartial({
    containerId: h.id,
    id: execId || h.id,
    pid: s.pid,
    status: s.status,
    stdin: s.stdin,
    stdout: s.stdout,
    stderr: s.stderr,
    terminal: s.terminal,
    exitStatus: s.exitStatus,
    exitedAt: s.exitedAt,
  });
}

/**
 * containerd.services.tasks.v1.Tasks: each task lives in its own gantry-shim; this service writes
 * the bundle, starts the shim and forwards calls to it.
 */
export function tasksService(ctx: DaemonContext, shims: ShimManager, containers: ContainerLookup): tasks.TasksServer {
  const log = ctx.log;
  // Deletes in flight, by namespace/id: a second Delete of the same task shares the first one's
  // result, and a Create waits for it, instead of finding the old shim half-stopped.
  const deleting = new Map<string, Promise<tasks.DeleteResponse>>();
  // Creates in flight, by namespace/id (see create)
  const creating = new Set<string>();
  async function deleteTask(ns: string, r: tasks.DeleteTaskRequest): Promise<tasks.DeleteResponse> {
    const dead = shims.deadTask(ns, r.containerId);
    if (dead && !shims.get(ns, r.containerId)) {
      shims.forgetDead(ns, r.containerId);
      return { id: dead.id, pid: dead.pid, exitStatus: dead.exitStatus, exitedAt: timestampFromDate(dead.exitedAt) };
    }
    const h = shimOf(shims, ns, r.containerId);
    try {
      const d = await callShim(h, h.client.delete, { id: r.containerId, execId: '' }, 60000);
      await shims.stop(h);
      return { id: r.containerId, pid: d.pid, exitStatus: d.exitStatus, exitedAt: d.exitedAt };
    } catch (e) {
      if (errdefs.isNotFound(e)) {
        // a shim that holds no task: its Create was cut (this daemon was killed under it) and the
        // shim found again at restart. Stop it, or the client's next Create finds "already exists"
        // and the shim is left behind (both seen in the fault test)
        log.warn('shim without a task stopped', { id: r.containerId });
        await shims.stop(h);
        throw e;
      }
      if (!unreachable(e)) throw e;
      await shims.stop(h);
      return { id: r.containerId, pid: 0, exitStatus: 255, exitedAt: timestampFromDate(new Date()) };
    }
  }

  /** Tasks.Create once the id is claimed: the bundle written, the shim started, the task created in it. */
  async function createTask(ns: string, r: tasks.CreateTaskRequest, specAny: protobuf.Any): Promise<tasks.CreateTaskResponse> {
    if (r.checkpoint) throw failedPrecondition('checkpoint restore is not supported');
    let spec: OciSpecLike;
    try {
      spec = JSON.parse(Buffer.from(specAny.value).toString('utf8')) as OciSpecLike;
    } catch (e) {
      throw invalidArgument(`container ${r.containerId} has an invalid spec: ${(e as Error).message}`);
    }
    // With rootfs mounts the shim mounts them at <bundle>/rootfs, as containerd's shims do.
    if (r.rootfs.length > 0) spec.root = { ...(spec.root ?? {}), path: 'rootfs' };
    if (!spec.linux) spec.linux = {};
    if (!spec.linux.cgroupsPath) spec.linux.cgroupsPath = `/${ns}/${r.containerId}`;
    const bundle = shims.bundleDir(ns, r.containerId);
    fs.mkdirSync(bundle, { recursive: true, mode: 0o711 });
    writeJsonAtomic(path.join(bundle, 'config.json'), spec);
    let h: ShimHandle | undefined;
    try {
      h = await traced('containerd.tasks.create.shim-start', () => shims.start(ns, r.containerId, bundle)).catch((e: unknown) => {
        throw wrapError(e, 'failed to start shim');
      });
      const res = await callShim(
        h,
        h.client.create,
        shim.CreateTaskRequest.fromPartial({
          id: r.containerId,
          bundle,
          rootfs: r.rootfs,
          terminal: r.terminal,
          stdin: r.stdin,
          stdout: r.stdout,
          stderr: r.stderr,
          options: r.options,
        }),
        60000,
      ).catch((e: unknown) => {
        // containerd's words; the shim's message (the runtime's own at its end) and code are kept
        throw wrapError(e, 'failed to create shim task');
      });
      return { containerId: r.containerId, pid: res.pid };
    } catch (e) {
      // a shim that went away mid-create: its log says why, and goes with the bundle
      if (h && errdefs.isUnavailable(e))
        log.warn('shim gone during create', { id: r.containerId, shim_pid: h.shimPid, shim_log: tail(path.join(bundle, 'shim.log'), 20) });
      // clean-up trouble must not hide why the create failed
      if (h) await shims.stop(h).catch((err: unknown) => log.warn('cleanup after failed create', { id: r.containerId, error: String(err) }));
      else fs.rmSync(bundle, { recursive: true, force: true });
      throw e;
    }
  }

  return {
    create: unary(log, 'Tasks.Create', async (r: tasks.CreateTaskRequest, md) => {
      const ns = requireNamespace(md);
      const specAny = containers.spec(ns, r.containerId);
      if (!specAny) throw notFound(`container ${r.containerId} not found`);
      const key = `${ns}/${r.containerId}`;
      await deleting.get(key)?.catch(() => undefined);
      // checked and claimed in one step: the shim is known only once it serves, and a second Create
      // meanwhile started a second shim on the same socket, whose console socket bind failed (EADDRINUSE)
      if (creating.has(key) || shims.get(ns, r.containerId) || shims.deadTask(ns, r.containerId)) throw alreadyExists(`task ${r.containerId} already exists`);
      creating.add(key);
      try {
        return await createTask(ns, r, specAny);
      } finally {
        creating.delete(key);
      }
    }),
    start: unary(log, 'Tasks.Start', async (r: tasks.StartRequest, md) => {
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      return { pid: (await callShim(h, h.client.start, { id: r.containerId, execId: r.execId }, 60000)).pid };
    }),
    delete: unary(log, 'Tasks.Delete', async (r: tasks.DeleteTaskRequest, md) => {
      const ns = requireNamespace(md);
      const key = `${ns}/${r.containerId}`;
      const inFlight = deleting.get(key);
      if (inFlight) return inFlight;
      const p = deleteTask(ns, r);
      deleting.set(key, p);
      try {
        return await p;
      } finally {
        deleting.delete(key);
      }
    }),
    deleteProcess: unary(log, 'Tasks.DeleteProcess', async (r: tasks.DeleteProcessRequest, md) => {
      if (!r.execId) throw invalidArgument('exec id is required (use Delete for the task)');
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      const d = await callShim(h, h.client.delete, { id: r.containerId, execId: r.execId }, 30000);
      return { id: r.execId, pid: d.pid, exitStatus: d.exitStatus, exitedAt: d.exitedAt };
    }),
    get: unary(log, 'Tasks.Get', async (r: tasks.GetRequest, md) => {
      const ns = requireNamespace(md);
      const dead = shims.deadTask(ns, r.containerId);
      if (dead && !shims.get(ns, r.containerId) && !r.execId) return { process: deadProcess(dead) };
      const h = shimOf(shims, ns, r.containerId);
      return { process: await processOf(h, r.execId) };
    }),
    list: unary(log, 'Tasks.List', async (r: tasks.ListTasksRequest, md) => {
      const ns = requireNamespace(md);
      const match = compileFilters(r.filter ? [r.filter] : []);
      const out: types.Process[] = [];
      for (const h of shims.list(ns)) {
        let p: types.Process;
        try {
          p = await processOf(h, '');
        } catch {
          continue; // a shim that is going away
        }
        const fields: Record<string, string> = {
          id: p.id,
          container_id: p.containerId,
          pid: String(p.pid),
          status: types.Status[p.status]?.toLowerCase() ?? '',
        };
        if (match((f) => (f.length === 1 ? fields[f[0]!] : undefined))) out.push(p);
      }
      for (const d of shims.deadTasks(ns)) {
        const p = deadProcess(d);
        const fields: Record<string, string> = { id: p.id, container_id: p.containerId, pid: String(p.pid), status: 'stopped' };
        if (match((f) => (f.length === 1 ? fields[f[0]!] : undefined))) out.push(p);
      }
      return { tasks: out };
    }),
    kill: unary(log, 'Tasks.Kill', async (r: tasks.KillRequest, md) => {
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      await callShim(h, h.client.kill, { id: r.containerId, execId: r.execId, signal: r.signal, all: r.all }, 10000);
      return {};
    }),
    exec: unary(log, 'Tasks.Exec', async (r: tasks.ExecProcessRequest, md) => {
      if (!r.execId) throw invalidArgument('exec id is required');
      if (!r.spec) throw invalidArgument('exec spec is required');
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      await callShim(
        h,
        h.client.exec,
        shim.ExecProcessRequest.fromPartial({
          id: r.containerId,
          execId: r.execId,
          terminal: r.terminal,
          stdin: r.stdin,
          stdout: r.stdout,
          stderr: r.stderr,
          spec: r.spec,
        }),
        10000,
      );
      return {};
    }),
    resizePty: unary(log, 'Tasks.ResizePty', async (r: tasks.ResizePtyRequest, md) => {
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      await callShim(h, h.client.resizePty, { id: r.containerId, execId: r.execId, width: r.width, height: r.height }, 5000);
      return {};
    }),
    closeIo: unary(log, 'Tasks.CloseIO', async (r: tasks.CloseIORequest, md) => {
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      await callShim(h, h.client.closeIo, { id: r.containerId, execId: r.execId, stdin: r.stdin }, 5000);
      return {};
    }),
    pause: unary(log, 'Tasks.Pause', async (r: tasks.PauseTaskRequest, md) => {
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      await callShim(h, h.client.pause, { id: r.containerId }, 10000);
      return {};
    }),
    resume: unary(log, 'Tasks.Resume', async (r: tasks.ResumeTaskRequest, md) => {
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      await callShim(h, h.client.resume, { id: r.containerId }, 10000);
      return {};
    }),
    listPids: unary(log, 'Tasks.ListPids', async (r: tasks.ListPidsRequest, md) => {
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      return { processes: (await callShim(h, h.client.pids, { id: r.containerId }, 5000)).processes };
    }),
    checkpoint: unary(log, 'Tasks.Checkpoint', (): tasks.CheckpointTaskResponse => {
      throw failedPrecondition('checkpoint is not supported');
    }),
    update: unary(log, 'Tasks.Update', async (r: tasks.UpdateTaskRequest, md) => {
      if (!r.resources) throw invalidArgument('resources are required');
      const h = shimOf(shims, requireNamespace(md), r.containerId);
      await callShim(h, h.client.update, shim.UpdateTaskRequest.fromPartial({ id: r.containerId, resources: r.resources, annotations: r.annotations }), 10000);
      return {};
    }),
    metrics: unary(log, 'Tasks.Metrics', async (r: tasks.MetricsRequest, md) => {
      const ns = requireNamespace(md);
      const match = compileFilters(r.filters);
      const metrics: types.Metric[] = [];
      for (const h of shims.list(ns)) {
        if (!match((f) => (f.length === 1 && (f[0] === 'id' || f[0] === 'container_id') ? h.id : undefined))) continue;
        try {
          const s = await callShim(h, h.client.stats, { id: h.id }, 5000);
          metrics.push({ timestamp: timestampFromDate(new Date()), id: h.id, data: s.stats });
        } catch {
          // stopped tasks have no cgroup to read
        }
      }
      return { metrics };
    }),
    wait: unary(log, 'Tasks.Wait', async (r: tasks.WaitRequest, md) => {
      const ns = requireNamespace(md);
      const deadResult = (d: DeadTask) => ({ exitStatus: d.exitStatus, exitedAt: timestampFromDate(d.exitedAt) });
      const dead = shims.deadTask(ns, r.containerId);
      if (dead && !shims.get(ns, r.containerId)) return deadResult(dead);
      const h = shimOf(shims, ns, r.containerId);
      try {
        return await callShim(h, h.client.wait, { id: r.containerId, execId: r.execId });
      } catch (e) {
        if (!unreachable(e)) throw e;
        // the shim died while we waited: its task is reported stopped once cleaned up
        for (let i = 0; i < 100; i++) {
          const d = shims.deadTask(ns, r.containerId);
          if (d) return deadResult(d);
          await new Promise((res) => setTimeout(res, 50));
        }
        throw e;
      }
    }),
  };
}
