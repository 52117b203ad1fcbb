/** `docker wait` and the waits of stop/rm: promises settled by an exit or a removal. */
import { errdefs } from '@gantry/linux';
import type { ContainerManager } from './manager';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

export interface Waiter {
  condition: WaitCondition;
  resolve: (r: WaitResult) => void;
}

export function resolveWaiters(m: ContainerManager, id: string, conditions: WaitCondition[], code: number): void {
  const list = m.waiters.get(id) ?? [];
  const keep: Waiter[] = [];
  for (const w of list) {
    if (conditions.includes(w.condition)) w.resolve({ StatusCode: code, Error: null });
    else keep.push(w);
  }
  if (keep.length) m.waiters.set(id, keep);
  else m.waiters.delete(id);
}

export function waitFor(m: ContainerManager, id: string, condition: WaitCondition): Promise<WaitResult> {
  return new Promise((resolve) => {
    const list = m.waiters.get(id) ?? [];
    list.push({ condition, resolve });
    m.waiters.set(id, list);
  });
}

/** POST /containers/{id}/wait: resolves with the exit code when `condition` is met. */
export function wait(m: ContainerManager, ref: string, condition: string = 'not-running'): Promise<WaitResult> {
  if (!['not-running', 'next-exit', 'removed', ''].includes(condition)) throw errdefs.invalidArgument(`invalid condition: "${condition}"`);
  const rec = m.store.get(ref);
  const c = (condition || 'not-running') as WaitCondition;
  if (c === 'not-running' && !rec.State.Running && !rec.State.Restarting) return Promise.resolve({ StatusCode: rec.State.ExitCode, Error: null });
  return waitFor(m, rec.Id, c);
}
