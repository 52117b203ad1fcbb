import { linuxSys } from '@gantry/linux';
import type { Resources } from '../spec/types';
import type { CgroupFs } from './fs';
import type { CgroupManager, CgroupStats } from './types';
import { CgroupError, errnoOf, toCgroupError } from './errors';
import { parseFlatKeyed } from './parse';
import { applyV2Resources } from './v2-resources';
import { setDeviceFilter, type DeviceFilterSys } from './v2-devices';
import { missingSubCgroup, subCgroupDir, type SubCgroupPaths } from './sub-cgroup';
import { readV2Stats } from './v2-stats';
import { collectPids, readControl, readOptional, removeCgroupTree, sleepMs, writeControl, writePid } from './util';

/** Controllers a container may need; only those the parent offers get enabled. */
const V2_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'] as const;

/** How long freeze()/thaw() wait for cgroup.events to confirm (ms). */
const FREEZE_TIMEOUT_MS = 5000;

export interface V2Options {
  /** memory.oom.group: on OOM, kill the whole cgroup instead of one task (what Kubernetes asks for). */
  oomGroup?: boolean;
  /** The kernel seam for the device filter (bpf); default: the real one, taken when first needed. */
  sys?: DeviceFilterSys;
}

/** cgroup v2: a single tree; controllers are delegated level by level via cgroup.subtree_control. */
export class CgroupV2Manager implements CgroupManager {
  readonly version = 2 as const;
  readonly warnings: string[] = [];
  /** This cgroup's directory. */
  readonly dir: string;

  constructor(
    readonly path: string,
    private readonly root: string,
    private readonly fs: CgroupFs,
    private readonly options: V2Options = {},
  ) {
    this.dir = `${root}${path}`;
  }

  create(): void {
    let current = this.root;
    for (const part of this.path.split('/').filter((p) => p !== '')) {
      this.enableControllers(current);
      current = `${current}/${part}`;
      try {
        this.fs.mkdir(current);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw toCgroupError(err, `create cgroup ${current}`, current);
        if (!this.fs.isCgroupDir(current)) throw new CgroupError('INVALID_PATH', `${current} exists and is not a cgroup directory`, current);
      }
    }
    if (this.options.oomGroup !== undefined) {
      const file = `${this.dir}/memory.oom.group`;
      if (this.fs.exists(file)) writeControl(this.fs, file, this.options.oomGroup ? '1' : '0');
      else this.warn('memory.oom.group is not available (memory controller not enabled or kernel < 4.19)');
    }
  }

  /**
   * Delegate to the children of `dir` every wanted controller it has. One write first; if the
   * kernel refuses the set (e.g. a realtime task blocks "cpu"), enable one at a time and keep going.
   */
  private enableControllers(dir: string): void {
    const available = new Set(readControl(this.fs, `${dir}/cgroup.controllers`).trim().split(/\s+/));
    const enabled = new Set((readOptional(this.fs, `${dir}/cgroup.subtree_control`) ?? '').trim().split(/\s+/));
    const missing = V2_CONTROLLERS.filter((c) => available.has(c) && !enabled.has(c));
    if (missing.length === 0) return;
    const file = `${dir}/cgroup.subtree_control`;
    try {
      writeControl(this.fs, file, missing.map((c) => `+${c}`).join(' '));
    } catch {
      for (const c of missing) {
        try {
          writeControl(this.fs, file, `+${c}`);
        } catch (err) {
          this.warn(`cannot enable the ${c} controller in ${dir}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
  }

  addProcess(pid: number, sub?: SubCgroupPaths): void {
    if (sub && sub.size > 0) {
      const other = [...sub.keys()].find((c) => c !== '');
      if (other !== undefined) throw new CgroupError('INVALID_PATH', `bad --cgroup: cgroup v2 has one tree, use --cgroup <path> (not ${other}:...)`);
      const dir = subCgroupDir(this.dir, sub.get('')!);
      if (!this.fs.exists(dir)) throw missingSubCgroup(pid, dir);
      writePid(this.fs, dir, pid);
      return;
    }
    writePid(this.fs, this.dir, pid);
  }

  /**
   * Device rules first: they are replaced as a whole by an eBPF filter, and a filter that cannot
   * be loaded or attached fails the call before any limit is written.
   */
  setResources(resources: Resources): void {
    if (resources.devices?.length) setDeviceFilter(this.options.sys ?? linuxSys(), this.dir, resources.devices);
    applyV2Resources({ fs: this.fs, dir: this.dir, warn: (m) => this.warn(m) }, resources);
  }

  private warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  freeze(): void {
    this.setFrozen(true);
  }

  thaw(): void {
    this.setFrozen(false);
  }

  /** Write cgroup.freeze, then wait for cgroup.events to report the state reached (or thaw and fail). */
  private setFrozen(frozen: boolean): void {
    const file = `${this.dir}/cgroup.freeze`;
    if (!this.fs.exists(file)) throw new CgroupError('UNSUPPORTED', 'cgroup.freeze is not available (kernel < 5.2?)', file);
    writeControl(this.fs, file, frozen ? '1' : '0');
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    for (let delay = 1; this.frozenNow() !== frozen; delay = Math.min(delay * 2, 20)) {
      if (Date.now() > deadline) {
        if (frozen) writeControl(this.fs, file, '0');
        throw new CgroupError('TIMEOUT', `cgroup ${this.path} did not ${frozen ? 'freeze' : 'thaw'}`, file);
      }
      sleepMs(delay);
    }
  }

  private frozenNow(): boolean {
    return parseFlatKeyed(readControl(this.fs, `${this.dir}/cgroup.events`))['frozen'] === 1;
  }

  freezerState(): 'frozen' | 'thawed' {
    return this.frozenNow() ? 'frozen' : 'thawed';
  }

  pids(): number[] {
    const all = new Set<number>();
    collectPids(this.fs, this.dir, all);
    return [...all].sort((a, b) => a - b);
  }

  stats(): CgroupStats {
    return readV2Stats(this.fs, this.dir);
  }

  oomKillCount(): number {
    const events = readOptional(this.fs, `${this.dir}/memory.events`);
    return events === undefined ? 0 : (parseFlatKeyed(events)['oom_kill'] ?? 0);
  }

  exists(): boolean {
    return this.fs.exists(this.dir);
  }

  destroy(): void {
    removeCgroupTree(this.fs, this.dir);
  }
}
