/** The running task's stdio: its pty resized (`docker run -t` window changes), its stdin closed (attach with stdin-once). */
import { errdefs } from '@gantry/linux';
import type { ContainerManager } from './manager';

export async function resize(m: ContainerManager, ref: string, height: number, width: number): Promise<void> {
  const rec = m.store.get(ref);
  if (!rec.State.Running) throw errdefs.conflict(`Container ${rec.Id} is not running`);
  await m.cd.call(m.cd.tasks, m.cd.tasks.resizePty, { containerId: rec.Id, execId: '', width, height }).catch((e: unknown) => {
    throw errdefs.fromGrpc(e);
  });
}

/** Close the task's stdin (EOF for the container's process); a failure is logged, not thrown. */
export async function closeStdin(m: ContainerManager, id: string): Promise<void> {
  await m.cd.call(m.cd.tasks, m.cd.tasks.closeIo, { containerId: id, execId: '', stdin: true }).then(
    () => undefined,
    (err: unknown) => m.ctx.log.warn('closing stdin failed', { id, error: String(err) }),
  );
}
