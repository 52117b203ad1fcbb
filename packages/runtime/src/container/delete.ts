import { StateError } from '../errors';
import { runHooks } from '../hooks';
import { toOciState } from '../state/store';
import { isAlive, sleep, type RuntimeContext } from './context';
import { killContainer } from './kill';

async function waitGone(pid: number, startTime: string, cgroupEmpty: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (!isAlive(pid, startTime) && cgroupEmpty()) return;
    await sleep(i < 50 ? 2 : 10);
  }
  throw new StateError(`container processes did not exit after SIGKILL`);
}

/** Delete a container: with `force` kill it first; remove its cgroup and state, run poststop hooks. */
export async function deleteContainer(ctx: RuntimeContext, id: string, force = false): Promise<void> {
  const { c, status } = ctx.loadWithStatus(id);
  ctx.warmStages?.discard(id);
  // Like runc, a created container (its program never started) is deleted without --force.
  if (status !== 'stopped' && status !== 'creating' && status !== 'created' && !force) {
    throw new StateError(`cannot delete container ${id} that is not stopped: ${status}`);
  }
  const cg = ctx.cgroup(c);
  if (status !== 'stopped') {
    if (status === 'paused') cg.thaw();
    killContainer(ctx, id, 9, true);
    try {
      ctx.sys.kill(c.pid, 9);
    } catch {
      // gone already
    }
  }
  const empty = () => !cg.exists() || cg.pids().length === 0;
  if (!empty() && c.spec.linux?.namespaces?.some((n) => n.type === 'pid' && !n.path)) {
    // The container had its own pid namespace; anything left in the cgroup is stray: kill it.
    killContainer(ctx, id, 9, true);
  }
  await waitGone(c.pid, c.pidStartTime, empty);
  cg.destroy();
  const hooks = c.spec.hooks?.poststop;
  ctx.store.remove(id);
  if (hooks?.length) {
    try {
      runHooks('poststop', hooks, toOciState(c, 'stopped'));
    } catch (e) {
      process.emitWarning((e as Error).message);
    }
  }
}
