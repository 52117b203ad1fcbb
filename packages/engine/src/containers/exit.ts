/**
 * A container's exit (from the event stream, a reconcile or restore) and what follows it: the
 * record and waiters settled, io and mounts released, then auto-remove or the restart policy.
 */
import { traced } from '@gantry/linux';
import type { HostConfig } from '@gantry/engine-api';
import type { ContainerManager } from './manager';
import { setExited, setOomKilled, setRestarting, type ContainerRecord } from './record';
import { nextRestartDelay, policyRestarts } from './restart-policy';
import { resolveWaiters } from './wait';

/** A start by the user: no pending automatic restart, back-off and RestartCount start over (as dockerd's). */
export function resetRestartManager(m: ContainerManager, rec: ContainerRecord): void {
  clearTimeout(m.restartTimers.get(rec.Id));
  m.restartTimers.delete(rec.Id);
  m.restartDelays.delete(rec.Id);
  m.exitOnNext.delete(rec.Id);
  rec.ManuallyStopped = false;
  rec.RestartCount = 0;
}

/** A /tasks/exit of a container's init process (from the event stream). */
export async function handleTaskExit(m: ContainerManager, e: { containerId: string; pid: number; exitStatus: number; exitedAt: Date }): Promise<void> {
  // the exit of a task whose Create/Start reply has not come back yet: settle it after
  await m.pendingStarts.get(e.containerId);
  const rec = m.store.find(e.containerId);
  if (!rec || !rec.State.Running) return;
  // a late exit of an earlier run (its pid is not the running task's)
  if (e.pid !== 0 && rec.State.Pid !== 0 && e.pid !== rec.State.Pid) return;
  await settleExit(m, rec.Id, e.exitStatus, e.exitedAt);
}

/** A /tasks/oom: as dockerd, OOMKilled is set (kept through the exit that follows) and `oom` emitted. */
export async function handleOom(m: ContainerManager, id: string): Promise<void> {
  await m.pendingStarts.get(id);
  const rec = m.store.find(id);
  if (!rec) return;
  setOomKilled(rec);
  m.store.save(rec);
  m.ctx.events.emit('container', 'oom', id, { image: rec.Image, name: rec.Name.slice(1) });
}

/** Settle one exit of container `id` once, whichever of the event, a reconcile or restore reports it first. */
export async function settleExit(m: ContainerManager, id: string, exitStatus: number, exitedAt: Date): Promise<void> {
  if (m.settling.has(id)) return;
  m.settling.add(id);
  try {
    const rec = m.store.find(id);
    if (rec?.State.Running) await traced('engine.exit', () => onExit(m, id, exitStatus, exitedAt));
  } finally {
    m.settling.delete(id);
  }
}

async function onExit(m: ContainerManager, id: string, exitStatus: number, exitedAt: Date): Promise<void> {
  m.health.stop(id);
  const rec = m.store.find(id);
  if (!rec) return;
  // Deleting the task makes the shim close its FIFO ends: our readers then drain and see EOF. The
  // network's teardown (CNI DEL, ~200 ms under load) runs meanwhile: the task's init has exited,
  // and the shim's delete (the runtime's state, cgroup, rootfs) does not touch the namespace.
  const deleted = m.cd
    .call(m.cd.tasks, m.cd.tasks.delete, { containerId: id })
    .catch(() => undefined)
    .then(() => m.mounts?.stop(rec));
  const networkDown = Promise.resolve(traced('engine.exit.network', () => m.ctx.networks?.down(id))).catch((e: unknown) =>
    m.ctx.log.warn('network teardown failed', { id, error: String(e) }),
  );
  await Promise.all([deleted, networkDown]);
  const io = m.ios.get(id);
  if (io) {
    await Promise.race([io.ended, new Promise((r) => setTimeout(r, 2000))]);
    void io.close(); // output already drained or given up on above: only the stop is needed
    m.ios.delete(id);
  }
  // one open log file per container run otherwise (the soak saw gantryd's fds grow by one per run)
  m.logWriters.get(id)?.close();
  m.logWriters.delete(id);
  // OOMKilled was set by a /tasks/oom of this run (reset at start)
  setExited(rec, exitStatus, exitedAt);
  m.store.save(rec);
  m.ctx.events.emit('container', 'die', id, { image: rec.Image, name: rec.Name.slice(1), exitCode: String(exitStatus) });
  resolveWaiters(m, id, ['not-running', 'next-exit'], exitStatus);
  for (const fn of m.exitListeners) await fn(id).catch((e: unknown) => m.ctx.log.warn('exit listener failed', { id, error: String(e) }));
  const host = rec.HostConfig as HostConfig;
  if (host.AutoRemove) {
    await traced('engine.exit.remove', () => m.remove(id, { force: true, removeVolumes: true })).catch((e: unknown) =>
      m.ctx.log.warn('auto-remove failed', { id, error: String(e) }),
    );
    return;
  }
  if (shouldRestart(m, rec, exitStatus)) scheduleRestart(m, rec);
}

function shouldRestart(m: ContainerManager, rec: ContainerRecord, exitStatus: number): boolean {
  if (m.closing || m.exitOnNext.delete(rec.Id)) return false;
  return policyRestarts((rec.HostConfig as HostConfig).RestartPolicy, {
    exitCode: exitStatus,
    manuallyStopped: rec.ManuallyStopped,
    restartCount: rec.RestartCount,
  });
}

/** An automatic restart is waiting for its timer or is starting the task. */
export function restartPending(m: ContainerManager, id: string): boolean {
  return m.restartTimers.has(id) || m.autoStarts.has(id);
}

/**
 * Docker's back-off: 100 ms doubling (reset after 10 s of running), at most 1 min. At most one
 * restart is pending per container: two for one exit would both start the task and count twice.
 */
export function scheduleRestart(m: ContainerManager, rec: ContainerRecord): void {
  if (restartPending(m, rec.Id)) return;
  const ranMs = Date.parse(rec.State.FinishedAt) - Date.parse(rec.State.StartedAt);
  const delay = nextRestartDelay(m.restartDelays.get(rec.Id) ?? 0, Number.isNaN(ranMs) ? 0 : ranMs);
  m.restartDelays.set(rec.Id, delay);
  setRestarting(rec);
  m.store.save(rec);
  const t = setTimeout(() => {
    m.restartTimers.delete(rec.Id);
    const cur = m.store.find(rec.Id);
    if (!cur || !cur.State.Restarting || cur.State.Running) return;
    cur.RestartCount++;
    const started = m
      .startTask(cur)
      .then(() => m.ctx.events.emit('container', 'restart', cur.Id, { image: cur.Image, name: cur.Name.slice(1) }))
      .then(
        () => undefined,
        (e: unknown) => m.ctx.log.warn('restart failed', { id: cur.Id, error: String(e) }),
      )
      .finally(() => m.autoStarts.delete(cur.Id));
    m.autoStarts.set(cur.Id, started);
  }, delay);
  t.unref();
  m.restartTimers.set(rec.Id, t);
}
