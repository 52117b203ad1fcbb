/** `docker stop`: the stop signal, then SIGKILL after the grace period. */
import { tasks as tpb } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { ContainerConfig } from '@gantry/engine-api';
import { killAndWaitExit, signalNumber } from './kill';
import type { ContainerManager } from './manager';
import { setRestartCancelled } from './record';
import { waitFor } from './wait';

/** Node fires a timer longer than this after 1 ms: a longer grace period would be none at all. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long stop waits before SIGKILL, in ms; undefined: until the container exits (a negative
 * timeout, or one past what a timer can hold, about 24.8 days, which is as good as forever).
 */
export function stopGraceMs(timeoutSec: number): number | undefined {
  const ms = timeoutSec * 1000;
  return timeoutSec < 0 || !(ms <= MAX_TIMER_MS) ? undefined : ms;
}

export async function stop(m: ContainerManager, ref: string, timeoutSec?: number, signal?: string): Promise<void> {
  await m.autoStarts.get(m.store.get(ref).Id);
  const rec = m.store.get(ref);
  clearTimeout(m.restartTimers.get(rec.Id));
  m.restartTimers.delete(rec.Id);
  if (!rec.State.Running) {
    if (rec.State.Restarting) {
      rec.ManuallyStopped = true;
      setRestartCancelled(rec);
      m.store.save(rec);
      return;
    }
    throw errdefs.notModified();
  }
  rec.ManuallyStopped = true;
  m.exitOnNext.add(rec.Id);
  m.store.save(rec);
  const cfg = rec.Config as ContainerConfig & { StopTimeout?: number };
  const sig = signalNumber(signal ?? cfg.StopSignal, 15) ?? 15;
  const timeout = timeoutSec ?? cfg.StopTimeout ?? 10;
  const exited = waitFor(m, rec.Id, 'next-exit');
  if (rec.State.Paused) await m.cd.call(m.cd.tasks, m.cd.tasks.resume, { containerId: rec.Id }).catch(() => undefined);
  await m.cd.call(m.cd.tasks, m.cd.tasks.kill, tpb.KillRequest.fromPartial({ containerId: rec.Id, signal: sig })).catch(() => undefined);
  m.ctx.events.emit('container', 'kill', rec.Id, { image: rec.Image, name: rec.Name.slice(1), signal: String(sig) });
  const graceMs = stopGraceMs(timeout);
  const inTime =
    graceMs === undefined
      ? await exited.then(() => true)
      : await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
  if (!inTime) {
    m.ctx.events.emit('container', 'kill', rec.Id, { image: rec.Image, name: rec.Name.slice(1), signal: '9' });
    await killAndWaitExit(m, rec.Id, exited, 'stop');
  }
  m.ctx.events.emit('container', 'stop', rec.Id, { image: rec.Image, name: rec.Name.slice(1) });
}
