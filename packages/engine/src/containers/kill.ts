/** `docker kill`, and the SIGKILL-and-wait that stop and rm -f end with. */
import { isUnavailable, tasks as tpb } from '@gantry/api';
import { errdefs, parseSignal } from '@gantry/linux';
import type { ContainerConfig } from '@gantry/engine-api';
import type { ContainerManager } from './manager';
import type { ContainerRecord } from './record';

/** "TERM", "SIGTERM", "15" → 15 (the runtime's parser); `fallback` when none is given. */
export function signalNumber(s: string | undefined, fallback = 15): number | undefined {
  return s ? parseSignal(s) : fallback;
}

export function running(m: ContainerManager, ref: string): ContainerRecord {
  const rec = m.store.get(ref);
  if (!rec.State.Running) throw errdefs.conflict(`Container ${rec.Id} is not running`);
  return rec;
}

export async function kill(m: ContainerManager, ref: string, signal?: string): Promise<void> {
  const rec = running(m, ref);
  const sig = signalNumber(signal, 9);
  if (sig === undefined) throw errdefs.invalidArgument(`Invalid signal: ${signal}`);
  // as dockerd: any kill marks it stopped by the user; SIGKILL or the stop signal also cancels the restart policy
  const stopSig = (rec.Config as ContainerConfig).StopSignal;
  if (sig === 9 || !stopSig || signalNumber(stopSig) === sig) m.exitOnNext.add(rec.Id);
  rec.ManuallyStopped = true;
  m.store.save(rec);
  await m.cd.call(m.cd.tasks, m.cd.tasks.kill, tpb.KillRequest.fromPartial({ containerId: rec.Id, signal: sig, all: sig === 9 })).catch((e: unknown) => {
    throw errdefs.fromGrpc(e);
  });
  m.ctx.events.emit('container', 'kill', rec.Id, { image: rec.Image, name: rec.Name.slice(1), signal: String(sig) });
}

/**
 * SIGKILL every process of the container's task and wait for its exit (`exited`, registered before).
 * A kill cut by a gantry-containerd restart is sent again once the daemon is back (a second SIGKILL
 * is harmless); a kill refused (the task is gone or finished) is settled from gantry-containerd's
 * view. The wait is bounded: before, a kill lost with the connection left `docker rm -f` waiting
 * for an exit that never came (found by the fault test).
 */
export async function killAndWaitExit(m: ContainerManager, id: string, exited: Promise<unknown>, what: 'stop' | 'remove', timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    try {
      await m.cd.call(
        m.cd.tasks,
        m.cd.tasks.kill,
        tpb.KillRequest.fromPartial({ containerId: id, signal: 9, all: true }),
        Math.max(deadline - Date.now(), 1000),
      );
      break;
    } catch (e) {
      if (!isUnavailable(e) && errdefs.kindOf(e) !== 'deadline-exceeded') {
        await m.reconcileOne(id);
        break;
      }
      if (Date.now() > deadline || m.closing)
        throw errdefs.internal(`cannot ${what} container ${id}: gantry-containerd did not take the kill: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([
    exited.then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(deadline - Date.now(), 5000)))),
  ]);
  clearTimeout(timer);
  if (inTime) return;
  // the exit event may have been lost with the event stream: ask gantry-containerd
  await m.reconcileOne(id);
  if (m.store.find(id)?.State.Running)
    throw errdefs.internal(`cannot ${what} container ${id}: it did not exit within ${Math.round(timeoutMs / 1000)} s of SIGKILL`);
}
