import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF, FakeSys } from '@gantry/linux';
import {
  blkioToIoWeight,
  CgroupError,
  CgroupV2Manager,
  DEVICE_FILTER_LICENSE,
  DEVICE_FILTER_NAME,
  detectCgroupVersion,
  FakeCgroupFs,
  openCgroup,
  sharesToWeight,
  swapToV2,
  UNLIMITED,
} from '../src/cgroups';
import type { DeviceCgroupRule } from '../src/spec/types';
import { runDeviceFilter } from './bpf-interpreter';

let tmp: string;
let root: string;
let fake: FakeCgroupFs;
let sys: TrackingSys;

/** FakeSys that also knows which of the fds it handed out are still open. */
class TrackingSys extends FakeSys {
  readonly live = new Set<number>();
  private track(fd: number): number {
    this.live.add(fd);
    return fd;
  }
  override open(p: string, flags: number, mode?: number): number {
    return this.track(super.open(p, flags, mode));
  }
  override bpfProgLoad(prog: Parameters<FakeSys['bpfProgLoad']>[0]): number {
    return this.track(super.bpfProgLoad(prog));
  }
  override bpfProgGetFdById(id: number): number {
    return this.track(super.bpfProgGetFdById(id));
  }
  override close(fd: number): void {
    super.close(fd);
    if (!this.live.delete(fd)) throw new Error(`close of fd ${fd} that is not open`);
  }
}

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-cg2-'));
  root = path.join(tmp, 'cgroup');
  fake = FakeCgroupFs.v2(root, { controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids'] });
  sys = new TrackingSys();
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function open(cgroupsPath = '/gantry/c1', opts: { oomGroup?: boolean } = {}): CgroupV2Manager {
  const m = openCgroup(cgroupsPath, 'c1', { root, fs: fake, sys, ...opts });
  expect(m).toBeInstanceOf(CgroupV2Manager);
  return m as CgroupV2Manager;
}
const read = (p: string): string => fs.readFileSync(`${root}/${p}`, 'utf8').trim();

describe('conversions (runc formulas)', () => {
  it('maps cpu shares to cpu.weight', () => {
    expect(sharesToWeight(0)).toBe(0);
    expect(sharesToWeight(1)).toBe(1);
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(3)).toBe(2);
    expect(sharesToWeight(1024)).toBe(100);
    expect(sharesToWeight(262143)).toBe(10000);
    expect(sharesToWeight(1 << 20)).toBe(10000);
  });
  it('maps blkio weight to io.weight', () => {
    expect(blkioToIoWeight(10)).toBe(1);
    expect(blkioToIoWeight(500)).toBe(4950);
    expect(blkioToIoWeight(1000)).toBe(10000);
  });
  it('converts OCI memory+swap to swap.max', () => {
    expect(swapToV2(undefined, 100)).toBeUndefined();
    expect(swapToV2(0, 100)).toBeUndefined();
    expect(swapToV2(300, 100)).toBe(200);
    expect(swapToV2(100, 100)).toBe(0);
    expect(swapToV2(-1, 100)).toBe(-1);
    expect(swapToV2(undefined, -1)).toBe(-1);
    expect(() => swapToV2(50, 100)).toThrow(CgroupError);
    expect(() => swapToV2(50, undefined)).toThrow(CgroupError);
  });
});

describe('cgroup v2 manager', () => {
  it('detects v2 and enables only the offered controllers at each ancestor', () => {
    expect(detectCgroupVersion(root, fake)).toBe(2);
    // The root offers perf_event (not wanted) and lacks io/cpuset/hugetlb/rdma/misc (wanted, not offered).
    fs.writeFileSync(`${root}/cgroup.controllers`, 'cpu memory pids perf_event');
    const m = open('/gantry/c1', { oomGroup: true });
    m.create();
    expect(read('cgroup.subtree_control')).toBe('cpu memory pids');
    expect(read('gantry/cgroup.controllers')).toBe('cpu memory pids');
    expect(read('gantry/cgroup.subtree_control')).toBe('cpu memory pids');
    expect(read('gantry/c1/cgroup.controllers')).toBe('cpu memory pids');
    expect(read('gantry/c1/cgroup.subtree_control')).toBe(''); // leaf: nothing delegated below
    expect(read('gantry/c1/memory.oom.group')).toBe('1');
    expect(fake.writesTo('cgroup.subtree_control')).toEqual(['+cpu +memory +pids', '+cpu +memory +pids']);
    expect(m.warnings).toEqual([]);
    fake.writes.length = 0;
    m.create(); // idempotent, no rewrites of already-enabled controllers
    expect(fake.writesTo('cgroup.subtree_control')).toEqual([]);
  });

  it('enables controllers one by one when the set is refused', () => {
    fs.writeFileSync(`${root}/cgroup.controllers`, 'cpu memory pids');
    const realWrite = fake.writeFile.bind(fake);
    fake.writeFile = (p, data) => {
      if (p.endsWith('cgroup.subtree_control') && (data.includes(' ') || data === '+cpu')) throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' });
      realWrite(p, data);
    };
    const m = open('/c1');
    m.create();
    expect(read('cgroup.subtree_control')).toBe('memory pids');
    expect(m.warnings.join('\n')).toMatch(/cannot enable the cpu controller/);
  });

  it('writes memory.max/low/swap.max with swap converted', () => {
    const m = open();
    m.create();
    fake.writes.length = 0;
    m.setResources({ memory: { limit: 64 << 20, swap: 96 << 20, reservation: 32 << 20 } });
    expect(read('gantry/c1/memory.max')).toBe(String(64 << 20));
    expect(read('gantry/c1/memory.swap.max')).toBe(String(32 << 20));
    expect(read('gantry/c1/memory.low')).toBe(String(32 << 20));
    expect(fake.writes.map((w) => path.basename(w.path))).toEqual(['memory.swap.max', 'memory.max', 'memory.low']);
    m.setResources({ memory: { limit: -1 } });
    expect(read('gantry/c1/memory.max')).toBe('max');
    expect(read('gantry/c1/memory.swap.max')).toBe('max');
    m.setResources({ memory: { disableOOMKiller: true, swappiness: 10 } });
    expect(m.warnings.join('\n')).toMatch(/OOM killer cannot be disabled/);
    expect(m.warnings.join('\n')).toMatch(/swappiness/);
  });

  it('writes cpu.weight, cpu.max, burst, idle and cpuset', () => {
    const m = open();
    m.create();
    m.setResources({ cpu: { shares: 1024, quota: 50000, period: 200000, burst: 1000, idle: 0, cpus: '0-1', mems: '0' } });
    expect(read('gantry/c1/cpu.weight')).toBe('100');
    expect(read('gantry/c1/cpu.max')).toBe('50000 200000');
    expect(read('gantry/c1/cpu.max.burst')).toBe('1000');
    expect(read('gantry/c1/cpu.idle')).toBe('0');
    expect(read('gantry/c1/cpuset.cpus')).toBe('0-1');
    expect(read('gantry/c1/cpuset.mems')).toBe('0');
    m.setResources({ cpu: { quota: -1 } });
    expect(read('gantry/c1/cpu.max')).toBe('max 100000');
    expect(() => m.setResources({ cpu: { realtimeRuntime: 10 } })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
  });

  it('writes pids.max, io.weight/io.max and hugetlb', () => {
    const m = open();
    m.create();
    m.setResources({
      pids: { limit: 20 },
      blockIO: {
        weight: 500,
        weightDevice: [{ major: 8, minor: 0, weight: 1000 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2000 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 10 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 20 }],
      },
      hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }],
    });
    expect(read('gantry/c1/pids.max')).toBe('20');
    expect(fake.writesTo('io.weight')).toEqual(['4950', '8:0 10000']);
    expect(fake.writesTo('io.max')).toEqual(['8:0 rbps=1000', '8:0 wbps=2000', '8:0 riops=10', '8:0 wiops=20']);
    expect(read('gantry/c1/hugetlb.2MB.max')).toBe('2097152');
    expect(read('gantry/c1/hugetlb.2MB.rsvd.max')).toBe('2097152');
    m.setResources({ pids: { limit: -1 } });
    expect(read('gantry/c1/pids.max')).toBe('max');
  });

  it('writes unified verbatim, last, and rejects hostile keys before writing anything', () => {
    const m = open();
    m.create();
    m.setResources({ memory: { limit: 1000 }, unified: { 'memory.max': '2000', 'memory.high': '1500' } });
    expect(read('gantry/c1/memory.max')).toBe('2000');
    expect(read('gantry/c1/memory.high')).toBe('1500');
    for (const key of ['../memory.max', 'memory.max/../x', '..', 'a/b', 'memory..max', '', 'nodot']) {
      fake.writes.length = 0;
      expect(() => m.setResources({ unified: { 'memory.high': '1', [key]: '1' } })).toThrow(expect.objectContaining({ code: 'INVALID_RESOURCE' }));
      expect(fake.writes).toEqual([]);
    }
    expect(() => m.setResources({ unified: { 'rdma.max': 'x' } })).toThrow(/rdma controller/);
  });

  it('warns when a controller is not available in the cgroup', () => {
    fs.writeFileSync(`${root}/cgroup.controllers`, 'memory');
    const m = open();
    m.create();
    m.setResources({ pids: { limit: 5 }, memory: { limit: 100 } });
    expect(m.warnings).toEqual(['pids controller is not available in this cgroup: pids.limit not applied']);
    expect(read('gantry/c1/memory.max')).toBe('100');
  });

  it('freezes via cgroup.freeze and waits for cgroup.events', () => {
    const m = open();
    m.create();
    expect(m.freezerState()).toBe('thawed');
    m.freeze();
    expect(read('gantry/c1/cgroup.freeze')).toBe('1');
    expect(m.freezerState()).toBe('frozen');
    m.thaw();
    expect(read('gantry/c1/cgroup.freeze')).toBe('0');
    expect(m.freezerState()).toBe('thawed');
  });

  it('adds processes and lists pids of descendants', () => {
    const m = open();
    m.create();
    m.addProcess(10);
    fs.mkdirSync(`${root}/gantry/c1/sub`);
    fs.writeFileSync(`${root}/gantry/c1/sub/cgroup.procs`, '12\n11\n');
    expect(m.pids()).toEqual([10, 11, 12]);
  });

  it('parses stats from the v2 files', () => {
    const m = open();
    m.create();
    const d = `${root}/gantry/c1`;
    fake.set(`${d}/cpu.stat`, 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 7\nnr_throttled 3\nthrottled_usec 40\n');
    fake.set(`${d}/memory.current`, '4096\n');
    fake.set(`${d}/memory.peak`, '8192\n');
    fake.set(`${d}/memory.max`, '67108864\n');
    fake.set(`${d}/memory.swap.current`, '1024\n');
    fake.set(`${d}/memory.swap.max`, '1000\n');
    fake.set(`${d}/memory.stat`, 'anon 100\nfile 200\n');
    fake.set(`${d}/memory.events`, 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
    fake.set(`${d}/pids.current`, '2\n');
    fake.set(`${d}/io.stat`, '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n');
    fake.set(`${d}/hugetlb.2MB.current`, '2097152\n');
    fake.set(`${d}/hugetlb.2MB.events`, 'max 5\n');
    const s = m.stats();
    expect(s.cpu.usage).toEqual({ total: 2e6, user: 1.5e6, kernel: 5e5 });
    expect(s.cpu.throttling).toEqual({ periods: 7, throttledPeriods: 3, throttledTime: 40000 });
    expect(s.memory.usage).toEqual({ usage: 4096, max: 8192, limit: 67108864, failcnt: 0 });
    expect(s.memory.swap).toEqual({ usage: 5120, limit: 67109864, failcnt: 0 });
    expect(s.memory.cache).toBe(200);
    expect(s.memory.raw).toEqual({ anon: 100, file: 200 });
    expect(s.pids).toEqual({ current: 2 }); // "max": no limit reported
    expect(s.blkio).toEqual({
      ioServiceBytesRecursive: [
        { major: 8, minor: 0, op: 'Read', value: 100 },
        { major: 8, minor: 0, op: 'Write', value: 200 },
      ],
      ioServicedRecursive: [
        { major: 8, minor: 0, op: 'Read', value: 1 },
        { major: 8, minor: 0, op: 'Write', value: 2 },
      ],
    });
    expect(s.hugetlb).toEqual({ '2MB': { usage: 2097152, failcnt: 5 } });
    expect(m.oomKillCount()).toBe(1);
    fake.set(`${d}/memory.max`, 'max\n');
    expect(m.stats().memory.usage.limit).toBe(UNLIMITED);
    expect(m.stats().memory.swap.limit).toBe(UNLIMITED);
  });

  it('destroys children first and is idempotent', () => {
    const m = open();
    m.create();
    fake.mkdir(`${root}/gantry/c1/a`);
    fake.mkdir(`${root}/gantry/c1/a/b`);
    m.destroy();
    expect(fake.removed.map((p) => p.slice(root.length))).toEqual(['/gantry/c1/a/b', '/gantry/c1/a', '/gantry/c1']);
    expect(fs.existsSync(`${root}/gantry`)).toBe(true);
    expect(m.exists()).toBe(false);
    m.destroy();
  });
});

describe('cgroup v2 device rules (eBPF filter through the Sys seam)', () => {
  const denyAll: DeviceCgroupRule = { allow: false, access: 'rwm' };
  const devNull: DeviceCgroupRule = { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' };
  const devZero: DeviceCgroupRule = { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' };
  const dir = (): string => `${root}/gantry/c1`;
  const attached = () => sys.bpfAttachedAt(dir(), BPF.CGROUP_DEVICE);
  const bpfOps = (): string[] => sys.calls.filter((c) => c.op.startsWith('bpf')).map((c) => c.op);
  /** Every fd the manager opened was closed. */
  const expectNoLeakedFds = (): void => {
    expect(sys.openBpfFds()).toEqual([]);
    expect([...sys.live]).toEqual([]);
  };

  it('attaches a filter built from the rules, with no warning and no cgroupfs write', () => {
    const m = open();
    m.create();
    fake.writes.length = 0;
    m.setResources({ devices: [denyAll, devNull] });
    expect(m.warnings).toEqual([]);
    expect(fake.writes).toEqual([]);
    expect(sys.callsOf('open')).toEqual([[dir(), expect.any(Number), 0]]);
    const [prog, ...more] = attached();
    expect(more).toEqual([]);
    expect(prog).toMatchObject({ type: BPF.PROG_TYPE_CGROUP_DEVICE, license: DEVICE_FILTER_LICENSE, name: DEVICE_FILTER_NAME });
    expect(sys.callsOf('bpfProgAttach')).toEqual([[dir(), prog!.id, BPF.CGROUP_DEVICE, BPF.F_ALLOW_MULTI]]);
    expect(runDeviceFilter(prog!.insns, { type: 'c', major: 1, minor: 3, access: 'rw' })).toBe(true);
    expect(runDeviceFilter(prog!.insns, { type: 'c', major: 1, minor: 5, access: 'r' })).toBe(false);
    expect(runDeviceFilter(prog!.insns, { type: 'b', major: 8, minor: 0, access: 'r' })).toBe(false);
    expectNoLeakedFds();
  });

  it('replaces the filter on update: the new one is attached before the old one is detached', () => {
    const m = open();
    m.create();
    m.setResources({ devices: [denyAll, devNull] });
    const [first] = attached();
    sys.calls.length = 0;
    m.setResources({ devices: [denyAll, devNull, devZero] });
    expect(bpfOps()).toEqual(['bpfProgLoad', 'bpfProgQuery', 'bpfProgAttach', 'bpfProgGetFdById', 'bpfProgDetach']);
    expect(sys.callsOf('bpfProgGetFdById')).toEqual([[first!.id]]);
    const now = attached();
    expect(now.map((p) => p.id)).not.toContain(first!.id);
    expect(now).toHaveLength(1);
    expect(runDeviceFilter(now[0]!.insns, { type: 'c', major: 1, minor: 5, access: 'r' })).toBe(true);
    expectNoLeakedFds();
  });

  it('leaves the filter alone when an update has no device rules', () => {
    const m = open();
    m.create();
    m.setResources({ devices: [denyAll, devNull] });
    sys.calls.length = 0;
    m.setResources({ pids: { limit: 3 } });
    m.setResources({ devices: [] });
    expect(bpfOps()).toEqual([]);
    expect(attached()).toHaveLength(1);
  });

  it('fails, before writing any limit, when the program cannot be loaded', () => {
    const m = open();
    m.create();
    fake.writes.length = 0;
    sys.failOn('bpfProgLoad', 1 /* EPERM */);
    let err: unknown;
    try {
      m.setResources({ devices: [denyAll, devNull], pids: { limit: 5 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CgroupError);
    expect(err).toMatchObject({ code: 'UNSUPPORTED', errno: 'EPERM', file: dir() });
    expect((err as Error).message).toMatch(/cannot load the cgroup v2 device filter .*device rules cannot be enforced.*EPERM/);
    expect(fake.writes).toEqual([]);
    expect(attached()).toEqual([]);
    expectNoLeakedFds();
  });

  it('fails when the program cannot be attached, and keeps the previous filter', () => {
    const m = open();
    m.create();
    m.setResources({ devices: [denyAll, devNull] });
    const before = attached();
    sys.failOn('bpfProgAttach', 1 /* EPERM */);
    expect(() => m.setResources({ devices: [denyAll, devNull, devZero] })).toThrow(/cannot attach the device filter/);
    expect(attached()).toEqual(before);
    expectNoLeakedFds();
  });

  it('skips a previous filter that is already gone', () => {
    const m = open();
    m.create();
    m.setResources({ devices: [denyAll, devNull] });
    sys.failOn('bpfProgGetFdById', 2 /* ENOENT */);
    m.setResources({ devices: [denyAll, devZero] });
    expect(sys.callsOf('bpfProgDetach')).toEqual([]);
    sys.failOn('bpfProgDetach', 2 /* ENOENT */);
    m.setResources({ devices: [denyAll, devNull] });
    expectNoLeakedFds();
    sys.failOn('bpfProgDetach', 16 /* EBUSY */);
    expect(() => m.setResources({ devices: [denyAll] })).toThrow(/cannot detach the previous device filter/);
  });

  it('refuses invalid rules without touching the kernel', () => {
    const m = open();
    m.create();
    expect(() => m.setResources({ devices: [{ allow: true, type: 'q' }] })).toThrow(expect.objectContaining({ code: 'INVALID_RESOURCE' }));
    expect(sys.calls).toEqual([]);
  });

  it('fails when the cgroup directory cannot be opened', () => {
    const m = open();
    sys.failOn('open', 2 /* ENOENT */);
    expect(() => m.setResources({ devices: [denyAll] })).toThrow(expect.objectContaining({ code: 'IO', errno: 'ENOENT' }));
    expect(bpfOps()).toEqual([]);
  });
});
