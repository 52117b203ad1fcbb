import { traced } from '@gantry/linux';
import type { CgroupStats } from './cgroups/types';
import { RuntimeContext, type RuntimeOptions } from './container/context';
import { createContainer, type CreateOptions, type Created } from './container/create';
import { deleteContainer } from './container/delete';
import { execInContainer, type ExecOptions, type Executed } from './container/exec';
import { killContainer } from './container/kill';
import { pauseContainer, resumeContainer } from './container/pause';
import { containerPids, containerState, containerStats, listContainers, oomKillCount, updateContainer } from './container/query';
import { startContainer } from './container/start';
import type { ContainerState, Resources } from './spec/types';

/**
 * gantry-runtime as a library: the same operations as the CLI, without a second process.
 * One instance per state root.
 */
export class Runtime {
  readonly ctx: RuntimeContext;
  constructor(opts: RuntimeOptions = {}) {
    this.ctx = new RuntimeContext(opts);
  }
  create(id: string, opts: CreateOptions): Promise<Created> {
    return traced('runtime.create', () => createContainer(this.ctx, id, opts));
  }
  start(id: string): Promise<void> {
    return traced('runtime.start', () => startContainer(this.ctx, id));
  }
  state(id: string): ContainerState {
    return containerState(this.ctx, id);
  }
  list(): ContainerState[] {
    return listContainers(this.ctx);
  }
  kill(id: string, signal: number, all = false): void {
    killContainer(this.ctx, id, signal, all);
  }
  delete(id: string, force = false): Promise<void> {
    return traced('runtime.delete', () => deleteContainer(this.ctx, id, force));
  }
  /** Unless `detach`, this process becomes a child subreaper: the program is reparented to it. */
  exec(id: string, opts: ExecOptions): Promise<Executed> {
    return traced('runtime.exec', () => execInContainer(this.ctx, id, opts));
  }
  /** Whether `pid` is an exec'd program this runtime reaps (a stray-zombie reaper must leave it). */
  awaits(pid: number): boolean {
    return this.ctx.orphans.has(pid);
  }
  pause(id: string): void {
    pauseContainer(this.ctx, id);
  }
  resume(id: string): void {
    resumeContainer(this.ctx, id);
  }
  update(id: string, resources: Resources): void {
    updateContainer(this.ctx, id, resources);
  }
  stats(id: string): CgroupStats {
    return containerStats(this.ctx, id);
  }
  pids(id: string): number[] {
    return containerPids(this.ctx, id);
  }
  oomKills(id: string): number {
    return oomKillCount(this.ctx, id);
  }
}
