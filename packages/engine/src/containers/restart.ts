/** `docker restart`: stop if running, then start with the restart manager reset. */
import { resetRestartManager } from './exit';
import type { ContainerManager } from './manager';
import { stop } from './stop';

export async function restart(m: ContainerManager, ref: string, timeoutSec?: number, signal?: string): Promise<void> {
  await m.autoStarts.get(m.store.get(ref).Id);
  const rec = m.store.get(ref);
  if (rec.State.Running) await stop(m, ref, timeoutSec, signal);
  const cur = m.store.get(rec.Id);
  resetRestartManager(m, cur);
  await m.startTask(cur);
  m.ctx.events.emit('container', 'restart', cur.Id, { image: cur.Image, name: cur.Name.slice(1) });
}
