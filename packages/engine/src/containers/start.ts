/** `docker start`: FIFOs and json-file log, mounts and networks up, then the task created and started. */
import { isUnavailable, tasks as tpb, types } from '@gantry/api';
import { errdefs, traced } from '@gantry/linux';
import { oneLine } from '../one-line';
import { JsonFileWriter, parseLogOpts } from '../logs/json-file';
import { ContainerIO, createFifos, removeFifos, type StdioFifos } from '../streams/fifo-stdio';
import { CutByRestart, MAX_ATTEMPTS_ACROSS_RESTARTS, SNAPSHOTTER } from './containerd-objects';
import type { ContainerConfig, HostConfig } from '@gantry/engine-api';
import { resetRestartManager } from './exit';
import type { ContainerManager } from './manager';
import { setRunning, setStartFailed, type ContainerRecord } from './record';
import { EXIT_START_FAILED, startFailure, type StartFailure } from './start-error';

export async function start(m: ContainerManager, ref: string): Promise<void> {
  let rec = m.store.get(ref);
  // One start at a time (dockerd holds the container's lock): a second `docker start` meanwhile
  // waits for the first, then finds the container running. Two at once both created the task: the
  // second failed (task already exists, or a duplicate IP) and its clean-up deleted the first's.
  for (let p = m.pendingStarts.get(rec.Id); p; p = m.pendingStarts.get(rec.Id)) {
    await p;
    rec = m.store.get(ref);
  }
  if (rec.State.Running) {
    if (rec.State.Paused) throw errdefs.conflict(`cannot start a paused container, try unpause instead`);
    throw errdefs.notModified();
  }
  if (rec.State.Status === 'removing' || rec.State.Dead) throw errdefs.conflict(`container ${rec.Id} is marked for removal and cannot be started`);
  resetRestartManager(m, rec);
  await startTask(m, rec).catch(async (e: unknown) => {
    // as dockerd: a --rm container that cannot start is removed (docker run waits for that)
    if ((rec.HostConfig as HostConfig).AutoRemove) await m.remove(rec.Id, { force: true }).catch(() => undefined);
    throw e;
  });
}

export async function startTask(m: ContainerManager, rec: ContainerRecord): Promise<void> {
  let done!: () => void;
  const pending = new Promise<void>((r) => (done = r));
  m.pendingStarts.set(rec.Id, pending);
  let recovered: boolean;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        recovered = (await createAndStartTask(m, rec, attempt < MAX_ATTEMPTS_ACROSS_RESTARTS)) || attempt > 1;
        break;
      } catch (e) {
        if (!(e instanceof CutByRestart)) throw e;
        // gantry-containerd died under the task's preparation or Tasks.Create: its task is deleted
        // (createAndStartTask waited for the restarted daemon); nothing of the container ran yet
        m.ctx.log.warn('task create cut by a gantry-containerd restart; creating it again', { id: rec.Id, attempt });
      }
    }
  } finally {
    if (m.pendingStarts.get(rec.Id) === pending) m.pendingStarts.delete(rec.Id);
    done();
  }
  // a start that outlived a gantry-containerd restart: the exit may have been published before the
  // event stream was back, and the reconcile that followed skipped this (then pending) start
  if (recovered) await m.reconcileOne(rec.Id);
}

/**
 * Tasks.Start's reply was lost with the connection (gantry-containerd killed under it): once the
 * restarted daemon answers, its view of the task says whether the start happened (the task runs,
 * or already exited); a task still CREATED is started now; anything else fails with `cause`.
 */
async function recoverDroppedStart(m: ContainerManager, id: string, cause: unknown): Promise<void> {
  const p = (await m.cd.callIdempotent(m.cd.tasks, m.cd.tasks.get, { containerId: id, execId: '' }).catch(() => undefined))?.process;
  if (p?.status === types.Status.CREATED) {
    await m.cd.call(m.cd.tasks, m.cd.tasks.start, { containerId: id, execId: '' }, 60000);
    return;
  }
  if (p && (p.status === types.Status.RUNNING || p.status === types.Status.PAUSED || p.status === types.Status.STOPPED)) return;
  throw cause;
}

/** Returns true when a gantry-containerd restart was lived through (see startTask). */
async function createAndStartTask(m: ContainerManager, rec: ContainerRecord, mayRetryCreate: boolean): Promise<boolean> {
  const cfg = rec.Config as ContainerConfig;
  const tty = cfg.Tty === true;
  const fifos: StdioFifos = createFifos(m.fifoDir(rec.Id), 'init', { stdin: cfg.OpenStdin === true, stdout: true, stderr: !tty });
  const logOpts = ((rec.HostConfig as HostConfig).LogConfig?.Config ?? {}) as Record<string, string>;
  const log = new JsonFileWriter(rec.LogPath, parseLogOpts(logOpts));
  const io = ContainerIO.open(fifos, { terminal: tty, log });
  m.ios.set(rec.Id, io);
  m.ioWatchers.get(rec.Id)?.(io);
  m.logWriters.set(rec.Id, log);
  // which step failed decides how dockerd words the error (see below)
  let step: 'prepare' | 'create' | 'start' = 'prepare';
  let networkUp: Promise<void> | undefined;
  try {
    // a task left from an earlier run (exited, not deleted) is in the way
    await m.cd.call(m.cd.tasks, m.cd.tasks.delete, { containerId: rec.Id }).catch(() => undefined);
    m.mounts?.start(rec);
    const mounts = (await m.cd.call(m.cd.snapshots, m.cd.snapshots.mounts, { snapshotter: SNAPSHOTTER, key: rec.SnapshotKey })).mounts;
    // The network's interfaces (CNI, ~200 ms under load) are set up while the task is created: the
    // init joins the namespace by path, so only the namespace must exist first; Tasks.Start, the
    // first moment the container's program runs, waits for the rest.
    let namespaceReady = (): void => undefined;
    const namespace = new Promise<void>((resolve) => (namespaceReady = resolve));
    networkUp = Promise.resolve(traced('engine.start.network', () => m.ctx.networks?.up(rec.Id, { namespaceReady })));
    networkUp.catch(() => undefined); // awaited below; a failure meanwhile is not unhandled
    await Promise.race([namespace, networkUp]);
    step = 'create';
    const creating = m.cd.call(
      m.cd.tasks,
      m.cd.tasks.create,
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
    creating.catch(() => undefined); // awaited below, after the network
    try {
      await networkUp;
    } catch (e) {
      step = 'prepare';
      await creating.catch(() => undefined);
      throw e;
    }
    const created = await creating;
    io.ready();
    step = 'start';
    let recovered = false;
    await m.cd.call(m.cd.tasks, m.cd.tasks.start, { containerId: rec.Id, execId: '' }, 60000).catch(async (e: unknown) => {
      if (!isUnavailable(e)) throw e;
      recovered = true;
      await recoverDroppedStart(m, rec.Id, e);
    });
    setRunning(rec, created.pid);
    m.store.save(rec);
    m.ctx.events.emit('container', 'start', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
    m.health.start(rec.Id);
    return recovered;
  } catch (e) {
    void io.close(); // no output to wait for: the task did not start
    m.ios.delete(rec.Id);
    m.logWriters.delete(rec.Id);
    log.close();
    removeFifos(fifos);
    await deleteTaskOnceReachable(m, rec.Id);
    m.mounts?.stop(rec);
    await networkUp?.catch(() => undefined); // a set-up still under way is undone once it is done
    await m.ctx.networks?.down(rec.Id).catch(() => undefined);
    if (mayRetryCreate && step !== 'start' && isUnavailable(e) && !m.closing) throw new CutByRestart();
    // As dockerd: a task that could not be created or started is worded and classified from
    // containerd's message, the runtime's own at its end (126/127 and 400 for a command that
    // cannot run, 128 otherwise); the container keeps its state (created, or exited).
    const failed: StartFailure =
      step === 'prepare'
        ? { error: errdefs.fromGrpc(e), exitCode: EXIT_START_FAILED }
        : startFailure(e, step === 'create' ? 'failed to create task for container' : undefined);
    setStartFailed(rec, oneLine(failed.error.message), failed.exitCode);
    m.store.save(rec);
    throw failed.error;
  }
}

/**
 * Delete a task whose start failed. When gantry-containerd died under the start (UNAVAILABLE), wait
 * for the supervisor to restart it (bounded): otherwise the task stays CREATED with its shim and a
 * waiting init process while the container shows "created" (found by the fault test).
 */
async function deleteTaskOnceReachable(m: ContainerManager, id: string, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    try {
      await m.cd.call(m.cd.tasks, m.cd.tasks.delete, { containerId: id }, 10000);
      return;
    } catch (e) {
      const kind = errdefs.kindOf(e);
      if ((kind !== 'unavailable' && kind !== 'deadline-exceeded') || m.closing || Date.now() > deadline) return;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2000);
  }
}
