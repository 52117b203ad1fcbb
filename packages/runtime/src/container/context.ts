import * as fs from 'node:fs';
import { linuxSys, type Sys } from '@gantry/linux';
import { openCgroup } from '../cgroups';
import type { CgroupManager } from '../cgroups/types';
import { StateError } from '../errors';
import { StageExecutable, type ExeSealMode } from '../process/exe-guard';
import { OrphanWaiter } from '../process/orphans';
import { SeccompPrograms } from './seccomp-programs';
import { WarmStages } from '../process/warm-stages';
import type { WarmInitStage } from '../process/warm-init';
import type { ContainerState } from '../spec/types';
import { EXEC_FIFO, StateStore, processStartTime, processStateLetter, type StoredContainer } from '../state/store';
import * as path from 'node:path';

export interface RuntimeOptions {
  /** State directory (runc's --root). */
  root?: string;
  sys?: Sys;
  /** cgroupfs mount point; tests point it at a fake tree. */
  cgroupRoot?: string;
  /** runc's --systemd-cgroup: cgroupsPath is "slice:prefix:name". */
  systemdCgroup?: boolean;
  /**
   * The node executable the init and exec stages run. Default: $GANTRY_RUNTIME_STAGE_NODE, else
   * this process's own (process.execPath).
   */
  stageNode?: string;
  /**
   * How stages are kept off the host's node file (CVE-2019-5736): 'overlay' or 'copy', with no
   * fallback. Default: $GANTRY_RUNTIME_EXE_SEAL, else overlay then copy (src/process/exe-guard.ts).
   */
  exeSeal?: ExeSealMode;
  /** Where warnings go (runc logs them at level warning); default: nowhere. */
  warn?: (message: string) => void;
  /** Warnings runc itself does not print (e.g. skipped ambient capabilities); default: nowhere. */
  warnQuietly?: (message: string) => void;
  /** Where debug messages go (the CLI's --debug); default: nowhere. */
  debug?: (message: string) => void;
  /**
   * Keep a warm exec stage per container exec'd into, ended after this many ms without an exec
   * (process/warm-stages.ts); for a long-lived caller (a shim). Default: none, each exec starts its own.
   */
  warmExecIdleMs?: number;
  /**
   * An init stage started ahead (process/warm-init.ts) for the next `create`, which takes it when
   * the container can use it and ends it otherwise; for a caller that creates one container (a warm
   * spare shim, started before its task was known).
   */
  warmInit?: WarmInitStage;
  /**
   * Where compiled seccomp programs are kept for the next process (container/seccomp-programs.ts);
   * for callers that start one process per container (shims). Default: none, each process compiles.
   */
  seccompCacheDir?: string;
}

/** What every operation needs: the state store, the kernel seam and how to reach a container's cgroup. */
export class RuntimeContext {
  readonly store: StateStore;
  readonly sys: Sys;
  readonly cgroupRoot?: string;
  /** The node the stages run, sealed on first use. */
  readonly stageExecutable: StageExecutable;
  /** exec'd programs this process reaps (they are reparented to it when their exec stage exits). */
  readonly orphans: OrphanWaiter;
  /** Exec stages started ahead (`warmExecIdleMs`), or undefined. */
  readonly warmStages?: WarmStages;
  /** The next create's init stage, started ahead, or undefined. */
  readonly warmInit?: WarmInitStage;
  /** exec's seccomp filters, compiled once each. */
  readonly seccompPrograms: SeccompPrograms;
  readonly warn: (message: string) => void;
  readonly warnQuietly: (message: string) => void;
  readonly debug: (message: string) => void;
  constructor(opts: RuntimeOptions = {}) {
    this.store = new StateStore(opts.root);
    this.sys = opts.sys ?? linuxSys();
    this.cgroupRoot = opts.cgroupRoot;
    this.stageExecutable = new StageExecutable(this.sys, {
      node: opts.stageNode ?? (process.env.GANTRY_RUNTIME_STAGE_NODE || process.execPath),
      seal: opts.exeSeal ?? (process.env.GANTRY_RUNTIME_EXE_SEAL || undefined),
      bottomDir: path.resolve(this.store.root),
    });
    this.orphans = new OrphanWaiter(this.sys);
    this.seccompPrograms = new SeccompPrograms(this.sys, { cacheDir: opts.seccompCacheDir });
    if (opts.warmExecIdleMs !== undefined && opts.warmExecIdleMs > 0) this.warmStages = new WarmStages(this.sys, this.stageExecutable, opts.warmExecIdleMs);
    this.warmInit = opts.warmInit;
    this.warn = opts.warn ?? (() => undefined);
    this.warnQuietly = opts.warnQuietly ?? (() => undefined);
    this.debug = opts.debug ?? (() => undefined);
  }

  cgroup(c: Pick<StoredContainer, 'id' | 'cgroupPath'>): CgroupManager {
    return openCgroup(c.cgroupPath, c.id, { root: this.cgroupRoot, sys: this.sys });
  }

  /** The live status: recorded state refined by whether the init process still exists and the freezer. */
  status(c: StoredContainer): ContainerState['status'] {
    if (c.pid <= 0) return c.recorded === 'creating' ? 'creating' : 'stopped';
    const start = processStartTime(c.pid);
    if (start === undefined || start !== c.pidStartTime) return 'stopped';
    const letter = processStateLetter(c.pid);
    if (letter === 'Z' || letter === 'X') return 'stopped';
    if (c.recorded === 'creating') return 'creating';
    if (fs.existsSync(path.join(this.store.dir(c.id), EXEC_FIFO))) return 'created';
    try {
      if (this.cgroup(c).freezerState() === 'frozen') return 'paused';
    } catch {
      // no freezer reachable: cannot be paused
    }
    return 'running';
  }

  loadWithStatus(id: string): { c: StoredContainer; status: ContainerState['status'] } {
    const c = this.store.load(id);
    return { c, status: this.status(c) };
  }

  requireStatus(id: string, allowed: ContainerState['status'][], action: string): StoredContainer {
    const { c, status } = this.loadWithStatus(id);
    if (!allowed.includes(status)) throw new StateError(`cannot ${action} container ${id}: container is ${status}`);
    return c;
  }
}

export function isAlive(pid: number, startTime: string): boolean {
  return processStartTime(pid) === startTime && !['Z', 'X', undefined].includes(processStateLetter(pid));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
