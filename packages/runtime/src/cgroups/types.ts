import type { Resources } from '../spec/types';
import type { SubCgroupPaths } from './sub-cgroup';

/**
 * Statistics of one cgroup, in the shape `runc events --stats` prints under "data"
 * (runc's types.Stats), so callers that parse runc output can parse ours.
 */
export interface CgroupStats {
  cpu: {
    usage: {
      total: number;
      percpu?: number[];
      /** Per-CPU kernel/user time (v1 cpuacct.usage_all); runc spells these in snake_case. */
      percpu_kernel?: number[];
      percpu_user?: number[];
      kernel: number;
      user: number;
    };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids: { current?: number; limit?: number };
  blkio: Record<string, BlkioEntry[]>;
  hugetlb?: Record<string, { usage?: number; max?: number; failcnt: number }>;
}

export interface MemoryEntry {
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** One container's cgroup across every hierarchy (v1) or in the unified tree (v2). */
export interface CgroupManager {
  readonly version: 1 | 2;
  /**
   * Requests that could not be honoured on this host (e.g. a controller that is not mounted; never
   * device rules: those throw when they cannot be enforced). Appended by setResources(); the caller decides whether to print or refuse.
   */
  readonly warnings: string[];
  /** The cgroup path under each hierarchy's root, e.g. "/default/abc". */
  readonly path: string;
  /** Create the cgroup (every v1 controller hierarchy; v2: enable controllers in the parents). */
  create(): void;
  /** Move a process into the cgroup, or into existing sub-cgroups of it (runc exec --cgroup). */
  addProcess(pid: number, sub?: SubCgroupPaths): void;
  /** Write the limits in `resources` (only the fields present). */
  setResources(resources: Resources): void;
  freeze(): void;
  thaw(): void;
  /** 'frozen' | 'thawed' as the freezer reports it. */
  freezerState(): 'frozen' | 'thawed';
  /** Every pid in the cgroup and its descendants. */
  pids(): number[];
  stats(): CgroupStats;
  /** Number of OOM kills seen in this cgroup so far (memory.events oom_kill on v2, memory.oom_control on v1). */
  oomKillCount(): number;
  exists(): boolean;
  /** Remove the cgroup directories (children first); the cgroup must have no processes. */
  destroy(): void;
}
