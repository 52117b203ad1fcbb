/** `docker pause` / `docker unpause`: the task frozen and thawed. */
import { errdefs } from '@gantry/linux';
import { running } from './kill';
import type { ContainerManager } from './manager';
import { setPaused, setUnpaused } from './record';

export async function pause(m: ContainerManager, ref: string): Promise<void> {
  const rec = running(m, ref);
  if (rec.State.Paused) throw errdefs.conflict(`Container ${rec.Id} is already paused`);
  await m.cd.call(m.cd.tasks, m.cd.tasks.pause, { containerId: rec.Id }).catch((e: unknown) => {
    throw errdefs.fromGrpc(e);
  });
  setPaused(rec);
  m.store.save(rec);
  m.ctx.events.emit('container', 'pause', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
}

export async function unpause(m: ContainerManager, ref: string): Promise<void> {
  const rec = m.store.get(ref);
  if (!rec.State.Paused) throw errdefs.conflict(`Container ${rec.Id} is not paused`);
  await m.cd.call(m.cd.tasks, m.cd.tasks.resume, { containerId: rec.Id }).catch((e: unknown) => {
    throw errdefs.fromGrpc(e);
  });
  setUnpaused(rec);
  m.store.save(rec);
  m.ctx.events.emit('container', 'unpause', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
}
