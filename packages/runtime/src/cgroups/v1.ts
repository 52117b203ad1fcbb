import type { Resources } from '../spec/types';
import type { CgroupFs } from './fs';
import type { CgroupManager, CgroupStats } from './types';
import { CgroupError, errnoOf, toCgroupError } from './errors';
import { parseFlatKeyed } from './parse';
import { applyV1Resources } from './v1-resources';
import { missingSubCgroup, subCgroupDir, type SubCgroupPaths } from './sub-cgroup';
import { readV1Stats } from './v1-stats';
import { collectPids, readControl, readOptional, removeCgroupTree, sleepMs, writeControl, writePid } from './util';

/** The v1 controllers Gantry manages; named hierarchies (name=systemd) and others are left alone. */
const V1_SUBSYSTEMS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'freezer', 'blkio', 'devices', 'hugetlb', 'net_cls', 'net_prio', 'perf_event'] as const;

/**
 * Hierarchies without controllers that a container joins too, as runc does: systemd's named one
 * and, on hybrid hosts, the cgroup2 tree at unified/ (tools read a container's cgroup from there).
 */
const NAMED_HIERARCHIES = ['systemd', 'unified'];

/** How long freeze() keeps asking the kernel before giving up and thawing. */
const FREEZE_ATTEMPTS = 1000;

/**
 * cgroup v1: one directory per hierarchy. Co-mounted controllers ("cpu,cpuacct", with "cpu" and
 * "cpuacct" symlinks to it) share one directory, found once through realpath.
 */
export class CgroupV1Manager implements CgroupManager {
  readonly version = 1 as const;
  readonly warnings: string[] = [];
  /** subsystem → this cgroup's directory in its hierarchy. */
  private readonly dirs = new Map<string, string>();
  /** This cgroup's directory in each distinct hierarchy, in discovery order. */
  private readonly hierarchyDirs: string[] = [];

  constructor(
    readonly path: string,
    private readonly root: string,
    private readonly fs: CgroupFs,
  ) {
    const mounts = new Map<string, string>(); // realpath of hierarchy root → cgroup dir
    const wanted = new Set<string>(V1_SUBSYSTEMS);
    let entries: string[];
    try {
      entries = fs.entries(root).sort();
    } catch (err) {
      throw new CgroupError('UNSUPPORTED', `cannot list cgroup root ${root}: ${err instanceof Error ? err.message : String(err)}`, root);
    }
    for (const entry of entries) {
      const subsystems = entry.split(',').filter((s) => wanted.has(s));
      const mount = `${root}/${entry}`;
      if ((subsystems.length === 0 && !NAMED_HIERARCHIES.includes(entry)) || !fs.exists(`${mount}/cgroup.procs`)) continue;
      const real = fs.realpath(mount);
      let dir = mounts.get(real);
      if (dir === undefined) {
        dir = `${real}${path}`;
        mounts.set(real, dir);
        this.hierarchyDirs.push(dir);
      }
      for (const s of subsystems) if (!this.dirs.has(s)) this.dirs.set(s, dir);
    }
    if (this.hierarchyDirs.length === 0) {
      throw new CgroupError('UNSUPPORTED', `no cgroup v1 controller hierarchy found under ${root}`, root);
    }
  }

  /** This cgroup's directory for `subsystem`, or undefined when that controller is not mounted. */
  dir(subsystem: string): string | undefined {
    return this.dirs.get(subsystem);
  }

  create(): void {
    const cpusetDir = this.dirs.get('cpuset');
    for (const dir of this.hierarchyDirs) {
      const hierarchyRoot = dir.slice(0, dir.length - this.path.length);
      let current = hierarchyRoot;
      for (const part of this.path.split('/').filter((p) => p !== '')) {
        const parent = current;
        current = `${current}/${part}`;
        this.mkdirLevel(current);
        if (dir === cpusetDir) this.inheritCpuset(parent, current);
      }
    }
  }

  private mkdirLevel(dir: string): void {
    try {
      this.fs.mkdir(dir);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw toCgroupError(err, `create cgroup ${dir}`, dir);
      if (!this.fs.isCgroupDir(dir)) throw new CgroupError('INVALID_PATH', `${dir} exists and is not a cgroup directory`, dir);
    }
  }

  /** A new cpuset cgroup starts with empty cpus/mems, and tasks cannot join it until both are set. */
  private inheritCpuset(parent: string, dir: string): void {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (readControl(this.fs, `${dir}/${file}`).trim() !== '') continue;
      writeControl(this.fs, `${dir}/${file}`, readControl(this.fs, `${parent}/${file}`).trim());
    }
  }

  addProcess(pid: number, sub?: SubCgroupPaths): void {
    const dirs = sub && sub.size > 0 ? this.subDirs(sub) : this.hierarchyDirs;
    for (const dir of dirs) {
      if (sub && !this.fs.exists(dir)) throw missingSubCgroup(pid, dir);
      writePid(this.fs, dir, pid);
    }
  }

  /** Each hierarchy's directory for `exec --cgroup`: a controller's own sub path, else the one for all. */
  private subDirs(sub: SubCgroupPaths): string[] {
    for (const controller of sub.keys()) {
      if (controller !== '' && !this.dirs.has(controller)) throw new CgroupError('INVALID_PATH', `bad --cgroup: unknown controller ${controller}`);
    }
    return this.hierarchyDirs.map((dir) => {
      const controllers = [...this.dirs].filter(([, d]) => d === dir).map(([c]) => c);
      const rel = controllers.map((c) => sub.get(c)).find((v) => v !== undefined) ?? sub.get('');
      return rel === undefined ? dir : subCgroupDir(dir, rel);
    });
  }

  setResources(resources: Resources): void {
    applyV1Resources({ fs: this.fs, dir: (s) => this.dirs.get(s), warn: (m) => this.warn(m) }, resources);
  }

  private warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  private freezerFile(): string {
    const dir = this.dirs.get('freezer');
    if (dir === undefined) throw new CgroupError('UNSUPPORTED', `freezer cgroup controller is not mounted under ${this.root}`);
    return `${dir}/freezer.state`;
  }

  /**
   * Write FROZEN until the kernel reports FROZEN. A task in an uninterruptible sleep can keep the
   * cgroup FREEZING for a while, so re-ask, thaw briefly now and then, and give up (thawed) at the end.
   */
  freeze(): void {
    const file = this.freezerFile();
    for (let i = 0; i < FREEZE_ATTEMPTS; i++) {
      if (i % 50 === 49) {
        writeControl(this.fs, file, 'THAWED');
        sleepMs(10);
      }
      writeControl(this.fs, file, 'FROZEN');
      const state = readControl(this.fs, file).trim();
      if (state === 'FROZEN') return;
      if (state !== 'FREEZING') {
        writeControl(this.fs, file, 'THAWED');
        throw new CgroupError('IO', `unexpected freezer state ${JSON.stringify(state)} while freezing`, file);
      }
      if (i % 25 === 24) sleepMs(1);
    }
    writeControl(this.fs, file, 'THAWED');
    throw new CgroupError('TIMEOUT', `cgroup ${this.path} did not freeze`, file);
  }

  thaw(): void {
    writeControl(this.fs, this.freezerFile(), 'THAWED');
  }

  freezerState(): 'frozen' | 'thawed' {
    const file = this.freezerFile();
    for (;;) {
      const state = readControl(this.fs, file).trim();
      if (state === 'FREEZING') {
        sleepMs(1);
        continue;
      }
      if (state !== 'FROZEN') return 'thawed';
      // FROZEN only because an ancestor is frozen does not make this cgroup "paused".
      const self = readOptional(this.fs, file.replace(/freezer\.state$/, 'freezer.self_freezing'));
      return self === undefined || self.trim() === '1' ? 'frozen' : 'thawed';
    }
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const dir of this.hierarchyDirs) collectPids(this.fs, dir, all);
    return [...all].sort((a, b) => a - b);
  }

  stats(): CgroupStats {
    return readV1Stats(this.fs, (s) => this.dirs.get(s));
  }

  oomKillCount(): number {
    const dir = this.dirs.get('memory');
    const content = dir === undefined ? undefined : readOptional(this.fs, `${dir}/memory.oom_control`);
    return content === undefined ? 0 : (parseFlatKeyed(content)['oom_kill'] ?? 0);
  }

  exists(): boolean {
    return this.hierarchyDirs.some((dir) => this.fs.exists(dir));
  }

  /** Remove the cgroup from every hierarchy; tries them all before reporting the first failure. */
  destroy(): void {
    let first: { error: unknown } | undefined;
    for (const dir of this.hierarchyDirs) {
      try {
        removeCgroupTree(this.fs, dir);
      } catch (err) {
        first ??= { error: err };
      }
    }
    if (first) throw first.error;
  }
}
