import type { CgroupStats } from '../cgroups/types';
import type { ContainerState, Resources } from '../spec/types';
import { toOciState } from '../state/store';
import type { RuntimeContext } from './context';

export function containerState(ctx: RuntimeContext, id: string): ContainerState {
  const { c, status } = ctx.loadWithStatus(id);
  return toOciState(c, status);
}

export function listContainers(ctx: RuntimeContext): ContainerState[] {
  const out: ContainerState[] = [];
  for (const id of ctx.store.list()) {
    try {
      out.push(containerState(ctx, id));
    } catch {
      // removed while listing
    }
  }
  return out;
}

export function containerPids(ctx: RuntimeContext, id: string): number[] {
  const c = ctx.store.load(id);
  const cg = ctx.cgroup(c);
  return cg.exists() ? cg.pids() : [];
}

export function containerStats(ctx: RuntimeContext, id: string): CgroupStats {
  const c = ctx.requireStatus(id, ['created', 'running', 'paused'], 'get stats of');
  return ctx.cgroup(c).stats();
}

export function oomKillCount(ctx: RuntimeContext, id: string): number {
  const c = ctx.store.load(id);
  return ctx.cgroup(c).oomKillCount();
}

/** Change the cgroup limits of a live container and remember them. */
export function updateContainer(ctx: RuntimeContext, id: string, resources: Resources): void {
  const c = ctx.requireStatus(id, ['created', 'running', 'paused'], 'update');
  ctx.cgroup(c).setResources(resources);
  const linux = (c.spec.linux ??= {});
  const cur = (linux.resources ??= {});
  for (const [key, value] of Object.entries(resources) as [keyof Resources, unknown][]) {
    if (value === undefined) continue;
    if (typeof value === 'object' && !Array.isArray(value) && value !== null) {
      (cur as Record<string, unknown>)[key] = { ...((cur[key] as object | undefined) ?? {}), ...(value as object) };
    } else (cur as Record<string, unknown>)[key] = value;
  }
  ctx.store.save(c);
}
