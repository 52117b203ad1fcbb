import type { Sys } from '@gantry/linux';
import type { StageExecutable } from './exe-guard';
import { spawnStage, type StageHandle } from './spawn-stage';
import { endWarmStage } from './warm-init';

/** An exec stage started ahead of an exec, and the socket its fds will come through (SCM_RIGHTS). */
export interface WarmStage {
  stage: StageHandle;
  /** Our end of the fd socket (-1 once closed). */
  fdSocket: number;
  /** The stage's end, as an fd of the stage. */
  stageFdSocket: number;
}

/**
 * Exec stages started before they are needed, at most one per container: Node's start-up of the
 * stage (~50-90 ms here) was the largest part of `docker exec`. After an exec in a container, the
 * next exec's stage is started (see execInContainer) and waits, booted, for its bootstrap; if no
 * exec comes within `idleMs`, it is ended (a container that is never exec'd into costs nothing,
 * one that is costs one idle Node process for a while).
 *
 * Confinement is the cold stage's: a warm stage is spawned in the host's pid namespace (no process
 * of the container can see it), holds no fd of the container (stdio /dev/null, nothing else but
 * its two sockets) and joins nothing while it waits. Once taken, the container's stdio, namespace,
 * console and seccomp-agent fds come over the fd socket, the runtime puts it in the container's
 * cgroup, and from there on it is the cold stage (runExec): it joins the mount namespace before
 * the program, the first of it the container can see, exists.
 */
export class WarmStages {
  private readonly stages = new Map<string, { warm: WarmStage; timer: NodeJS.Timeout }>();

  constructor(
    private readonly sys: Sys,
    private readonly executable: StageExecutable,
    private readonly idleMs: number,
  ) {}

  /** The pid of the container's warm stage, if it has one. */
  pidOf(id: string): number | undefined {
    return this.stages.get(id)?.warm.stage.pid;
  }

  /** The container's warm stage, now the caller's (its exec, or its end), or undefined. */
  take(id: string): WarmStage | undefined {
    const e = this.stages.get(id);
    if (!e) return undefined;
    this.stages.delete(id);
    clearTimeout(e.timer);
    e.warm.stage.ref();
    return e.warm;
  }

  /** Start the next exec's stage for `id`, unless there is one. Failing to is not an error: exec starts one itself. */
  prepare(id: string): void {
    if (this.stages.has(id)) return;
    const [mine, theirs] = this.sys.socketpair();
    let stage: StageHandle;
    try {
      stage = spawnStage(this.sys, {
        preserveFds: 0,
        extraFds: [theirs],
        pidNamespace: { kind: 'host' },
        detached: true,
        stdio: ['ignore', 'ignore', 'ignore'],
        executable: this.executable,
      });
    } catch {
      this.sys.close(mine);
      return;
    } finally {
      this.sys.close(theirs);
    }
    // a warm stage keeps no process alive (a shim exits when it is done, whatever waits here)
    stage.unref();
    const warm = { stage, fdSocket: mine, stageFdSocket: stage.childFds[0]! };
    const timer = setTimeout(() => this.discard(id), this.idleMs);
    timer.unref();
    this.stages.set(id, { warm, timer });
    // killed from outside, or failed to boot: the next exec starts its own
    stage.child.once('exit', () => {
      if (this.stages.get(id)?.warm === warm) this.discard(id);
    });
  }

  /** End the container's warm stage (the container is deleted, or no exec came). */
  discard(id: string): void {
    const warm = this.take(id);
    if (warm) this.end(warm);
  }

  /** End a warm stage that was taken and not used. */
  end(warm: WarmStage): void {
    endWarmStage(this.sys, warm);
  }
}
