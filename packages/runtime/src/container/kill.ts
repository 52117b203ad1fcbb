import { StateError } from '../errors';
import type { RuntimeContext } from './context';

/** Send a signal to the container's init, or with `all` to every process in its cgroup. */
export function killContainer(ctx: RuntimeContext, id: string, signal: number, all = false): void {
  const { c, status } = ctx.loadWithStatus(id);
  if (status === 'stopped' && !all) throw new StateError(`container ${id} is not running`);
  if (all) {
    const cg = ctx.cgroup(c);
    if (!cg.exists()) return;
    // Freeze first so nothing forks between listing and signalling.
    const frozen = signal === 9 && status !== 'paused';
    if (frozen) cg.freeze();
    try {
      for (const pid of cg.pids()) {
        try {
          ctx.sys.kill(pid, signal);
        } catch {
          // exited meanwhile
        }
      }
    } finally {
      if (frozen) cg.thaw();
    }
    return;
  }
  ctx.sys.kill(c.pid, signal);
}
