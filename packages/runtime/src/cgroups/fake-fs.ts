import * as nodefs from 'node:fs';
import type { CgroupFs } from './fs';

/**
 * An emulation of cgroupfs over an ordinary temp dir, for tests: mkdir fills in the control files a
 * kernel would, writes are logged (the order of writes is often what matters), never create files,
 * and trigger the few kernel reactions the managers wait for (freezer state, cgroup.events,
 * subtree_control); rmdir refuses cgroups with tasks or children, like the kernel.
 */

type Template = Record<string, string>;

/** The files of several templates, later ones winning. */
function merge(...parts: (Template | undefined)[]): Template {
  return parts.reduce<Template>((all, t) => ({ ...all, ...t }), {});
}

const V1_UNLIMITED = '9223372036854771712';
const V1_COMMON: Template = { 'cgroup.procs': '', tasks: '', notify_on_release: '0', 'cgroup.clone_children': '0' };

const V1_TEMPLATES: Record<string, Template> = {
  cpu: {
    'cpu.shares': '1024',
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_quota_us': '-1',
    'cpu.cfs_burst_us': '0',
    'cpu.rt_period_us': '1000000',
    'cpu.rt_runtime_us': '0',
    'cpu.idle': '0',
    'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n',
  },
  cpuacct: {
    'cpuacct.usage': '0',
    'cpuacct.usage_percpu': '0 0 ',
    'cpuacct.stat': 'user 0\nsystem 0\n',
    'cpuacct.usage_all': 'cpu user system\n0 0 0\n1 0 0\n',
  },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  memory: {
    'memory.limit_in_bytes': V1_UNLIMITED,
    'memory.soft_limit_in_bytes': V1_UNLIMITED,
    'memory.usage_in_bytes': '0',
    'memory.max_usage_in_bytes': '0',
    'memory.failcnt': '0',
    'memory.memsw.limit_in_bytes': V1_UNLIMITED,
    'memory.memsw.usage_in_bytes': '0',
    'memory.memsw.max_usage_in_bytes': '0',
    'memory.memsw.failcnt': '0',
    'memory.kmem.limit_in_bytes': V1_UNLIMITED,
    'memory.kmem.usage_in_bytes': '0',
    'memory.kmem.max_usage_in_bytes': '0',
    'memory.kmem.failcnt': '0',
    'memory.kmem.tcp.limit_in_bytes': V1_UNLIMITED,
    'memory.kmem.tcp.usage_in_bytes': '0',
    'memory.kmem.tcp.max_usage_in_bytes': '0',
    'memory.kmem.tcp.failcnt': '0',
    'memory.swappiness': '60',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.stat': 'cache 0\nrss 0\n',
    'memory.use_hierarchy': '1',
  },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  freezer: { 'freezer.state': 'THAWED', 'freezer.self_freezing': '0', 'freezer.parent_freezing': '0' },
  blkio: {
    'blkio.weight': '500',
    'blkio.weight_device': '',
    'blkio.leaf_weight': '500',
    'blkio.leaf_weight_device': '',
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
    'blkio.throttle.io_service_bytes_recursive': 'Total 0\n',
    'blkio.throttle.io_serviced_recursive': 'Total 0\n',
  },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' },
  hugetlb: {
    'hugetlb.2MB.limit_in_bytes': V1_UNLIMITED,
    'hugetlb.2MB.rsvd.limit_in_bytes': V1_UNLIMITED,
    'hugetlb.2MB.usage_in_bytes': '0',
    'hugetlb.2MB.max_usage_in_bytes': '0',
    'hugetlb.2MB.failcnt': '0',
  },
  net_cls: { 'net_cls.classid': '0' },
  net_prio: { 'net_prio.ifpriomap': 'lo 0\n', 'net_prio.prioidx': '1' },
  perf_event: {},
};

const V2_CORE: Template = {
  'cgroup.procs': '',
  'cgroup.threads': '',
  'cgroup.subtree_control': '',
  'cgroup.type': 'domain',
  'cgroup.events': 'populated 0\nfrozen 0\n',
  'cgroup.freeze': '0',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
};

const V2_TEMPLATES: Record<string, Template> = {
  cpu: { 'cpu.weight': '100', 'cpu.max': 'max 100000', 'cpu.max.burst': '0', 'cpu.idle': '0' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '', 'cpuset.cpus.effective': '0-3', 'cpuset.mems.effective': '0' },
  memory: {
    'memory.current': '0',
    'memory.max': 'max',
    'memory.low': '0',
    'memory.high': 'max',
    'memory.min': '0',
    'memory.swap.max': 'max',
    'memory.swap.current': '0',
    'memory.peak': '0',
    'memory.oom.group': '0',
    'memory.stat': 'anon 0\nfile 0\n',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  io: { 'io.weight': 'default 100', 'io.max': '', 'io.stat': '' },
  hugetlb: {
    'hugetlb.2MB.max': 'max',
    'hugetlb.2MB.rsvd.max': 'max',
    'hugetlb.2MB.current': '0',
    'hugetlb.2MB.events': 'max 0\n',
  },
  rdma: { 'rdma.max': '' },
  misc: { 'misc.max': '' },
};

export interface FakeWrite {
  path: string;
  data: string;
}

function errno(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

export class FakeCgroupFs implements CgroupFs {
  /** Every successful write, in order. */
  readonly writes: FakeWrite[] = [];
  /** Every directory rmdir removed, in order. */
  readonly removed: string[] = [];
  /** Reads of freezer.state that answer FREEZING before the freeze "completes" (tests polling). */
  freezingReads = 0;

  private constructor(
    readonly root: string,
    readonly layout: 1 | 2,
  ) {}

  /**
   * A v1 layout: one hierarchy per subsystem, or "cpu,cpuacct" / "net_cls,net_prio" co-mounted with
   * symlinks as distributions do (comount). A name=systemd hierarchy is added to be ignored.
   */
  static v1(root: string, opts: { subsystems?: string[]; comount?: boolean; cpus?: string; mems?: string } = {}): FakeCgroupFs {
    nodefs.mkdirSync(root, { recursive: true });
    root = nodefs.realpathSync(root); // the manager resolves hierarchies through realpath
    const f = new FakeCgroupFs(root, 1);
    const subsystems = opts.subsystems ?? Object.keys(V1_TEMPLATES);
    const groups: string[][] = [];
    for (const s of subsystems) {
      const pair = opts.comount
        ? [
            ['cpu', 'cpuacct'],
            ['net_cls', 'net_prio'],
          ].find((p) => p.includes(s))
        : undefined;
      if (pair && subsystems.includes(pair[0] as string) && subsystems.includes(pair[1] as string)) {
        if (s === pair[0]) groups.push(pair);
      } else {
        groups.push([s]);
      }
    }
    for (const group of groups) {
      const dir = `${root}/${group.join(',')}`;
      nodefs.mkdirSync(dir, { recursive: true });
      f.populate(dir, merge(V1_COMMON, ...group.map((s) => V1_TEMPLATES[s])));
      if (group.length > 1) for (const s of group) nodefs.symlinkSync(group.join(','), `${root}/${s}`);
      if (group.includes('cpuset')) {
        nodefs.writeFileSync(`${dir}/cpuset.cpus`, opts.cpus ?? '0-3');
        nodefs.writeFileSync(`${dir}/cpuset.mems`, opts.mems ?? '0');
      }
      if (group.includes('freezer')) nodefs.rmSync(`${dir}/freezer.state`); // the root cannot be frozen
    }
    nodefs.mkdirSync(`${root}/systemd`);
    f.populate(`${root}/systemd`, V1_COMMON);
    return f;
  }

  /** A v2 layout whose root offers `controllers`. */
  static v2(root: string, opts: { controllers?: string[] } = {}): FakeCgroupFs {
    const f = new FakeCgroupFs(root, 2);
    nodefs.mkdirSync(root, { recursive: true });
    const controllers = opts.controllers ?? ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'];
    f.populate(root, { ...V2_CORE, 'cgroup.controllers': controllers.join(' ') });
    nodefs.rmSync(`${root}/cgroup.freeze`); // the root cannot be frozen
    nodefs.rmSync(`${root}/cgroup.events`);
    return f;
  }

  private populate(dir: string, files: Template): void {
    for (const [name, content] of Object.entries(files)) nodefs.writeFileSync(`${dir}/${name}`, content);
  }

  /** Test helper: set a file's content as the kernel would (e.g. usage counters). */
  set(path: string, content: string): void {
    nodefs.writeFileSync(path, content);
  }

  readFile(path: string): string {
    if (path.endsWith('/freezer.state') && this.freezingReads > 0 && nodefs.readFileSync(path, 'utf8').trim() === 'FROZEN') {
      this.freezingReads--;
      return 'FREEZING\n';
    }
    return nodefs.readFileSync(path, 'utf8');
  }

  writeFile(path: string, data: string): void {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const dir = path.slice(0, path.lastIndexOf('/'));
    if (!nodefs.existsSync(path) || nodefs.statSync(path).isDirectory()) throw errno('ENOENT', path);
    if (name === 'cgroup.subtree_control') {
      this.writeSubtreeControl(dir, data);
    } else if (name === 'cgroup.procs') {
      nodefs.appendFileSync(path, `${data.trim()}\n`);
    } else if (name === 'freezer.state') {
      if (data !== 'FROZEN' && data !== 'THAWED') throw errno('EINVAL', path);
      nodefs.writeFileSync(path, `${data}\n`);
      nodefs.writeFileSync(`${dir}/freezer.self_freezing`, data === 'FROZEN' ? '1\n' : '0\n');
    } else if (name === 'cgroup.freeze') {
      if (data !== '0' && data !== '1') throw errno('EINVAL', path);
      nodefs.writeFileSync(path, data);
      nodefs.writeFileSync(`${dir}/cgroup.events`, `populated 0\nfrozen ${data}\n`);
    } else {
      const fd = nodefs.openSync(path, nodefs.constants.O_WRONLY | nodefs.constants.O_TRUNC);
      try {
        nodefs.writeSync(fd, data);
      } finally {
        nodefs.closeSync(fd);
      }
    }
    this.writes.push({ path, data });
  }

  /** "+a -b": each +controller must be offered in this cgroup's cgroup.controllers (else ENOENT). */
  private writeSubtreeControl(dir: string, data: string): void {
    const offered = new Set(nodefs.readFileSync(`${dir}/cgroup.controllers`, 'utf8').trim().split(/\s+/));
    const enabled = new Set(
      nodefs
        .readFileSync(`${dir}/cgroup.subtree_control`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((s) => s),
    );
    for (const token of data.trim().split(/\s+/)) {
      const c = token.slice(1);
      if (!offered.has(c) || (token[0] !== '+' && token[0] !== '-')) throw errno('ENOENT', `${dir}/cgroup.subtree_control`);
      if (token[0] === '+') enabled.add(c);
      else enabled.delete(c);
    }
    nodefs.writeFileSync(`${dir}/cgroup.subtree_control`, [...enabled].join(' '));
  }

  exists(path: string): boolean {
    return nodefs.existsSync(path);
  }

  mkdir(path: string): void {
    nodefs.mkdirSync(path); // EEXIST / ENOENT as the kernel would
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (this.layout === 2) {
      const controllers = nodefs
        .readFileSync(`${parent}/cgroup.subtree_control`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((s) => s);
      this.populate(path, merge(V2_CORE, { 'cgroup.controllers': controllers.join(' ') }, ...controllers.map((c) => V2_TEMPLATES[c])));
      return;
    }
    const hierarchy = path.slice(this.root.length + 1).split('/')[0] as string;
    this.populate(path, merge(V1_COMMON, ...hierarchy.split(',').map((s) => V1_TEMPLATES[s])));
  }

  rmdir(path: string): void {
    if (!nodefs.existsSync(path)) throw errno('ENOENT', path);
    if (this.subdirs(path).length > 0) throw errno('EBUSY', path);
    if (nodefs.readFileSync(`${path}/cgroup.procs`, 'utf8').trim() !== '') throw errno('EBUSY', path);
    nodefs.rmSync(path, { recursive: true });
    this.removed.push(path);
  }

  subdirs(path: string): string[] {
    return nodefs
      .readdirSync(path, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  }

  entries(path: string): string[] {
    return nodefs.readdirSync(path);
  }

  realpath(path: string): string {
    return nodefs.realpathSync(path);
  }

  isCgroupDir(path: string): boolean {
    try {
      return nodefs.lstatSync(path).isDirectory() && nodefs.existsSync(`${path}/cgroup.procs`);
    } catch {
      return false;
    }
  }

  /** Writes whose path ends with `suffix`, oldest first (e.g. "devices.allow"). */
  writesTo(suffix: string): string[] {
    return this.writes.filter((w) => w.path.endsWith(`/${suffix}`)).map((w) => w.data);
  }
}
