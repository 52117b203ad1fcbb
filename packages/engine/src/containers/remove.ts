/** `docker rm`: kill if forced, then task, containerd container, snapshot, networks, record and volumes. */
import { errdefs } from '@gantry/linux';
import { SNAPSHOTTER } from './containerd-objects';
import { killAndWaitExit } from './kill';
import type { ContainerManager } from './manager';
import { setRemoving } from './record';
import { resolveWaiters, waitFor } from './wait';

export async function remove(m: ContainerManager, ref: string, opts: { force?: boolean; removeVolumes?: boolean }): Promise<void> {
  await m.autoStarts.get(m.store.get(ref).Id);
  const rec = m.store.get(ref);
  if (rec.State.Status === 'removing') return;
  if (rec.State.Running || rec.State.Restarting) {
    if (!opts.force) {
      throw errdefs.conflict(
        `cannot remove container "${rec.Name}": container is ${rec.State.Paused ? 'paused' : 'running'}: stop the container before removing or force remove`,
      );
    }
    clearTimeout(m.restartTimers.get(rec.Id));
    rec.ManuallyStopped = true;
    m.exitOnNext.add(rec.Id);
    m.store.save(rec);
    if (rec.State.Running) {
      const exited = waitFor(m, rec.Id, 'next-exit');
      if (rec.State.Paused) await m.cd.call(m.cd.tasks, m.cd.tasks.resume, { containerId: rec.Id }).catch(() => undefined);
      await killAndWaitExit(m, rec.Id, exited, 'remove');
    }
  }
  const cur = m.store.find(rec.Id);
  if (!cur) return;
  setRemoving(cur);
  m.store.save(cur);
  // each sent again if gantry-containerd is killed under it: a task, record or snapshot left
  // behind would outlive the container
  await m.cd.callIdempotent(m.cd.tasks, m.cd.tasks.delete, { containerId: rec.Id }).catch(() => undefined);
  await m.cd.callIdempotent(m.cd.containers, m.cd.containers.delete, { id: rec.Id }).catch((e: unknown) => {
    if (!errdefs.isNotFound(e)) throw errdefs.fromGrpc(e);
  });
  await m.cd.callIdempotent(m.cd.snapshots, m.cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: rec.SnapshotKey }).catch(() => undefined);
  await m.ctx.networks?.forget(rec.Id).catch((e: unknown) => m.ctx.log.warn('network teardown failed', { id: rec.Id, error: String(e) }));
  m.store.remove(rec.Id);
  m.mounts?.removed(rec, opts.removeVolumes ?? false);
  m.restartDelays.delete(rec.Id);
  m.exitOnNext.delete(rec.Id);
  m.ctx.events.emit('container', 'destroy', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
  resolveWaiters(m, rec.Id, ['removed', 'not-running', 'next-exit'], rec.State.ExitCode);
}
