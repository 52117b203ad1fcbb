import type { RuntimeContext } from './context';

export function pauseContainer(ctx: RuntimeContext, id: string): void {
  const c = ctx.requireStatus(id, ['running', 'created'], 'pause');
  ctx.cgroup(c).freeze();
}

export function resumeContainer(ctx: RuntimeContext, id: string): void {
  const c = ctx.requireStatus(id, ['paused'], 'resume');
  ctx.cgroup(c).thaw();
}
