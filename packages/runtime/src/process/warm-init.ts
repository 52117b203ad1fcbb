import { linuxSys, O, type Sys } from '@gantry/linux';
import { StageExecutable, type ExeSealMode } from './exe-guard';
import { spawnStage, stageBooted, type StdioFds } from './spawn-stage';
import type { WarmStage } from './warm-stages';

export interface WarmInitOptions {
  /** The sealed node's bottom overlay layer (see exe-guard): a directory of the caller's, made if missing. */
  bottomDir: string;
  sys?: Sys;
  /** As RuntimeOptions.stageNode. */
  stageNode?: string;
  /** As RuntimeOptions.exeSeal. */
  exeSeal?: ExeSealMode;
  /** A sealed node to use instead (tests). */
  executable?: StageExecutable;
}

/**
 * One init stage started before its container is known, for a caller that will create exactly one
 * container (a warm spare shim): Node's start-up of the stage (60 ms idle, ~220 ms under load) was
 * the longest step of `create`. It is spawned as a cold init stage is, pid 1 of a pid namespace of
 * its own (empty: no container's process can see it, and it can see none), stdio on /dev/null, in
 * no cgroup of a container, holding nothing but its sync socket and the fd socket its fds will
 * come through; booted, it waits for its bootstrap. `create` takes it when the container wants a
 * new pid namespace and no user namespace (the stage is born in those, see userns.ts); otherwise it
 * is ended. It also ends when this process does (its sync socket closes).
 */
export class WarmInitStage {
  private warm: WarmStage | undefined;
  /** Resolves once it has booted (its first message, `booted`), or false if it died first. */
  readonly booted: Promise<boolean>;

  private constructor(
    private readonly sys: Sys,
    warm: WarmStage,
  ) {
    this.warm = warm;
    this.booted = stageBooted(warm.stage, 'init').then(
      () => true,
      () => false,
    );
  }

  /**
   * Start one; undefined when it cannot be spawned (create then starts its own). The node it runs
   * is chosen and sealed as RuntimeOptions' stageNode and exeSeal say (their environment defaults).
   */
  static start(opts: WarmInitOptions): WarmInitStage | undefined {
    const sys = opts.sys ?? linuxSys();
    let mine: number;
    let theirs: number;
    try {
      [mine, theirs] = sys.socketpair();
    } catch {
      return undefined;
    }
    try {
      const executable =
        opts.executable ??
        new StageExecutable(sys, {
          node: opts.stageNode ?? (process.env.GANTRY_RUNTIME_STAGE_NODE || process.execPath),
          seal: opts.exeSeal ?? (process.env.GANTRY_RUNTIME_EXE_SEAL || undefined),
          bottomDir: opts.bottomDir,
        });
      const stage = spawnStage(sys, {
        preserveFds: 0,
        extraFds: [theirs],
        pidNamespace: { kind: 'new' },
        detached: true,
        stdio: ['ignore', 'ignore', 'ignore'],
        executable,
      });
      // it keeps no process alive while it waits (a spare shim exits when its daemon does)
      stage.unref();
      return new WarmInitStage(sys, { stage, fdSocket: mine, stageFdSocket: stage.childFds[0]! });
    } catch {
      sys.close(mine);
      return undefined;
    } finally {
      sys.close(theirs);
    }
  }

  /** The stage's pid while nobody has taken it. */
  get pid(): number | undefined {
    return this.warm?.stage.pid;
  }

  /** The stage, now the caller's, if it is still there and alive; at most once. */
  take(): WarmStage | undefined {
    const w = this.warm;
    this.warm = undefined;
    if (!w) return undefined;
    if (w.stage.child.exitCode !== null || w.stage.child.signalCode !== null) {
      endWarmStage(this.sys, w);
      return undefined;
    }
    w.stage.ref();
    return w;
  }

  /** End it unless it was taken. */
  discard(): void {
    const w = this.take();
    if (w) endWarmStage(this.sys, w);
  }
}

/** End a warm stage (init or exec) that will not be used. */
export function endWarmStage(sys: Sys, warm: WarmStage): void {
  warm.stage.close();
  sys.close(warm.fdSocket);
  try {
    process.kill(warm.stage.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/**
 * Send a warm stage (init or exec) the container's stdio (/dev/null for 'ignore') and then `fds`,
 * one SCM_RIGHTS message each, in the order its bootstrap's `handover` names.
 */
export function handOverFds(sys: Sys, warm: WarmStage, stdio: StdioFds, fds: number[]): void {
  for (const fd of stdio) {
    if (fd !== 'ignore') {
      sys.sendFd(warm.fdSocket, fd, '');
      continue;
    }
    const devNull = sys.open('/dev/null', O.RDWR | O.CLOEXEC);
    try {
      sys.sendFd(warm.fdSocket, devNull, '');
    } finally {
      sys.close(devNull);
    }
  }
  for (const fd of fds) sys.sendFd(warm.fdSocket, fd, '');
}
