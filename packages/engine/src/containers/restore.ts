/**
 * gantryd starting again (live-restore) and the event stream coming back: running tasks adopted,
 * exits the stream did not deliver settled, restarts by policy.
 */
import { types } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import { JsonFileWriter, parseLogOpts } from '../logs/json-file';
import { ContainerIO, createFifos } from '../streams/fifo-stdio';
import type { ContainerConfig, HostConfig } from '@gantry/engine-api';
import { restartPending, scheduleRestart, settleExit } from './exit';
import type { ContainerManager } from './manager';
import { NULL_TIME, setAdopted } from './record';
import { restartsOnDaemonStart } from './restart-policy';

/** After gantryd starts: adopt running tasks, settle those that exited meanwhile, restart by policy. */
export async function restore(m: ContainerManager): Promise<void> {
  const running = new Map<string, types.Process>();
  let listed = false;
  let listedAt = 0;
  // gantry-containerd may still be coming up: an unanswered list must not pass for "no tasks"
  for (let delay = 100, deadline = Date.now() + 20000; !listed; delay = Math.min(delay * 2, 2000)) {
    try {
      listedAt = Date.now();
      for (const t of (await m.cd.call(m.cd.tasks, m.cd.tasks.list, { filter: '' }, 10000)).tasks) running.set(t.containerId, t);
      listed = true;
    } catch (e) {
      if (Date.now() > deadline) {
        m.ctx.log.error('could not list tasks for live-restore; container states left as they were', { error: String(e) });
        break;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  for (const rec of m.store.all()) {
    // their exits are settled by reconcile once the event stream is live again
    if (!listed) continue;
    const task = running.get(rec.Id);
    if (rec.State.Status === 'removing') {
      await m.remove(rec.Id, { force: true }).catch(() => undefined);
      continue;
    }
    // The event stream is live before this loop: an exit it delivered may already have been
    // settled and its restart scheduled or done, so the listing is stale for this container.
    if (restartPending(m, rec.Id) || m.pendingStarts.has(rec.Id) || Date.parse(rec.State.StartedAt) >= listedAt) continue;
    if (task && (task.status === types.Status.RUNNING || task.status === types.Status.PAUSED || task.status === types.Status.CREATED)) {
      const cfg = rec.Config as ContainerConfig;
      const tty = cfg.Tty === true;
      const fifos = createFifos(m.fifoDir(rec.Id), 'init', { stdin: cfg.OpenStdin === true, stdout: true, stderr: !tty });
      const log = new JsonFileWriter(rec.LogPath, parseLogOpts(((rec.HostConfig as HostConfig).LogConfig?.Config ?? {}) as Record<string, string>));
      m.ios.set(rec.Id, ContainerIO.open(fifos, { terminal: tty, log, shimHasEnds: true }));
      m.logWriters.set(rec.Id, log);
      m.mounts?.adopt(rec);
      setAdopted(rec, task.pid, task.status === types.Status.PAUSED);
      m.store.save(rec);
      m.health.resume(rec.Id);
      m.ctx.log.info('container adopted', { id: rec.Id, pid: task.pid });
    } else if (rec.State.Running) {
      // it exited while gantryd was down: the shim kept its exit status (255 when the shim is gone too)
      const exitedAt = task?.exitedAt ? new Date(Number(task.exitedAt.seconds) * 1000 + Math.floor(task.exitedAt.nanos / 1e6)) : new Date();
      await settleExit(m, rec.Id, task ? task.exitStatus : 255, exitedAt);
    } else if (rec.State.Restarting) {
      // gantryd went down between an exit and its automatic restart
      if (task) await m.cd.call(m.cd.tasks, m.cd.tasks.delete, { containerId: rec.Id }).catch(() => undefined);
      scheduleRestart(m, rec);
    } else if (
      restartsOnDaemonStart((rec.HostConfig as HostConfig).RestartPolicy, {
        exitCode: rec.State.ExitCode,
        manuallyStopped: rec.ManuallyStopped,
        restartCount: rec.RestartCount,
        hasRun: rec.State.StartedAt !== NULL_TIME && rec.State.Status === 'exited',
      })
    ) {
      scheduleRestart(m, rec);
    }
  }
  m.mounts?.volumes.unmountUnheld();
}

/**
 * After the event stream broke: ask gantry-containerd for every container gantryd thinks is
 * running, and settle the exits the stream did not deliver.
 */
export async function reconcile(m: ContainerManager): Promise<void> {
  for (const rec of m.store.all()) await reconcileOne(m, rec.Id);
}

/** Settle the exit of container `id` if gantryd thinks it runs and gantry-containerd says it stopped. */
export async function reconcileOne(m: ContainerManager, id: string): Promise<void> {
  const rec = m.store.find(id);
  if (!rec?.State.Running || m.pendingStarts.has(rec.Id)) return;
  let exit: { status: number; at: Date } | undefined;
  try {
    const p = (await m.cd.callIdempotent(m.cd.tasks, m.cd.tasks.get, { containerId: rec.Id, execId: '' }, 10000)).process;
    if (p && p.status === types.Status.STOPPED)
      exit = { status: p.exitStatus, at: p.exitedAt ? new Date(Number(p.exitedAt.seconds) * 1000 + Math.floor(p.exitedAt.nanos / 1e6)) : new Date() };
  } catch (e) {
    // the task is gone (its shim died, or it was deleted behind our back): it has exited
    if (errdefs.isNotFound(e)) exit = { status: 255, at: new Date() };
    else m.ctx.log.warn('reconcile: task state unknown', { id: rec.Id, error: String(e) });
  }
  if (exit) await settleExit(m, rec.Id, exit.status, exit.at);
}
