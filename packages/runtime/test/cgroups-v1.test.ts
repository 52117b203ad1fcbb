import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CgroupError, CgroupV1Manager, FakeCgroupFs, openCgroup, UNLIMITED } from '../src/cgroups';

let tmp: string;
let root: string;
let fake: FakeCgroupFs;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-cg1-'));
  fake = FakeCgroupFs.v1(path.join(tmp, 'cgroup'), { comount: true });
  root = fake.root;
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function open(cgroupsPath = '/gantry/c1'): CgroupV1Manager {
  const m = openCgroup(cgroupsPath, 'c1', { root, fs: fake });
  expect(m).toBeInstanceOf(CgroupV1Manager);
  return m as CgroupV1Manager;
}
const read = (p: string): string => fs.readFileSync(`${root}/${p}`, 'utf8').trim();

describe('cgroup v1 manager', () => {
  it('detects v1 and creates the cgroup in every managed hierarchy once (co-mounts deduplicated)', () => {
    const m = open();
    m.create();
    for (const h of ['cpu,cpuacct', 'cpuset', 'memory', 'pids', 'freezer', 'blkio', 'devices', 'hugetlb', 'net_cls,net_prio', 'perf_event']) {
      expect(fs.existsSync(`${root}/${h}/gantry/c1/cgroup.procs`)).toBe(true);
    }
    expect(fs.existsSync(`${root}/systemd/gantry/c1/cgroup.procs`)).toBe(true); // joined like runc, no controllers
    expect(fs.existsSync(`${root}/cpu`)).toBe(true); // the symlink, not a second tree
    expect(m.dir('cpu')).toBe(m.dir('cpuacct'));
    expect(m.exists()).toBe(true);
    m.create(); // idempotent
  });

  it('fails with a typed error when there is no v1 hierarchy', () => {
    expect(() => openCgroup('/x', 'x', { root: `${tmp}/nope`, version: 1 })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
    fs.mkdirSync(`${tmp}/empty`);
    expect(() => openCgroup('/x', 'x', { root: `${tmp}/empty`, version: 1 })).toThrow(/no cgroup v1 controller hierarchy/);
  });

  it('copies cpuset.cpus/mems from the parent into each new level', () => {
    open().create();
    expect(read('cpuset/gantry/cpuset.cpus')).toBe('0-3');
    expect(read('cpuset/gantry/c1/cpuset.cpus')).toBe('0-3');
    expect(read('cpuset/gantry/c1/cpuset.mems')).toBe('0');
  });

  it('adds a process to every hierarchy', () => {
    const m = open();
    m.create();
    m.addProcess(4242);
    expect(fake.writesTo('cgroup.procs')).toHaveLength(11); // 10 controller hierarchies + name=systemd
    expect(read('memory/gantry/c1/cgroup.procs')).toBe('4242');
    expect(m.pids()).toEqual([4242]);
    expect(() => m.addProcess(-1)).toThrow(CgroupError);
  });

  it('lists pids of descendants too', () => {
    const m = open();
    m.create();
    fs.mkdirSync(`${root}/pids/gantry/c1/sub`);
    fs.writeFileSync(`${root}/pids/gantry/c1/sub/cgroup.procs`, '7\n8\n');
    fs.writeFileSync(`${root}/pids/gantry/c1/cgroup.procs`, '5\n');
    expect(m.pids()).toEqual([5, 7, 8]);
  });

  it('writes memory limits, swap in the order the kernel accepts, reservation, swappiness, oom_control', () => {
    const m = open();
    m.create();
    m.setResources({ memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, swappiness: 10, disableOOMKiller: true, kernel: 1 } });
    expect(read('memory/gantry/c1/memory.limit_in_bytes')).toBe(String(64 << 20));
    expect(read('memory/gantry/c1/memory.memsw.limit_in_bytes')).toBe(String(128 << 20));
    expect(read('memory/gantry/c1/memory.soft_limit_in_bytes')).toBe(String(32 << 20));
    expect(read('memory/gantry/c1/memory.swappiness')).toBe('10');
    expect(read('memory/gantry/c1/memory.oom_control')).toBe('1');
    expect(read('memory/gantry/c1/memory.kmem.limit_in_bytes')).toBe('9223372036854771712'); // kernel memory ignored
    expect(m.warnings.join('\n')).toMatch(/kernel memory/);
    // Current limit (unlimited) is above the new memsw: memory first, then memsw.
    const order = fake.writes.map((w) => path.basename(w.path)).filter((n) => /^memory\.(memsw\.)?limit_in_bytes$/.test(n));
    expect(order).toEqual(['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']);

    // Raising both from 64M/128M to 256M/512M: memsw must go first.
    fake.writes.length = 0;
    m.setResources({ memory: { limit: 256 << 20, swap: 512 << 20 } });
    expect(fake.writes.map((w) => path.basename(w.path))).toEqual(['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
  });

  it('treats memory -1 as unlimited memory and swap, and validates swap and swappiness', () => {
    const m = open();
    m.create();
    m.setResources({ memory: { limit: -1 } });
    expect(read('memory/gantry/c1/memory.limit_in_bytes')).toBe('-1');
    expect(read('memory/gantry/c1/memory.memsw.limit_in_bytes')).toBe('-1');
    expect(() => m.setResources({ memory: { limit: 100, swap: 50 } })).toThrow(/must be >=/);
    expect(() => m.setResources({ memory: { swappiness: 101 } })).toThrow(/swappiness/);
  });

  it('skips memsw when the kernel has no swap accounting, with a warning', () => {
    const m = open();
    m.create();
    fs.rmSync(`${root}/memory/gantry/c1/memory.memsw.limit_in_bytes`);
    m.setResources({ memory: { limit: 1000, swap: 2000 } });
    expect(read('memory/gantry/c1/memory.limit_in_bytes')).toBe('1000');
    expect(m.warnings.join('\n')).toMatch(/swap accounting/);
  });

  it('writes cpu shares, cfs quota/period, burst, idle, rt and cpuset', () => {
    const m = open();
    m.create();
    m.setResources({
      cpu: { shares: 512, quota: 50000, period: 100000, burst: 1000, realtimePeriod: 900000, realtimeRuntime: 1000, cpus: '1', mems: '0', idle: 0 },
    });
    const d = 'cpu,cpuacct/gantry/c1';
    expect(read(`${d}/cpu.shares`)).toBe('512');
    expect(read(`${d}/cpu.cfs_quota_us`)).toBe('50000');
    expect(read(`${d}/cpu.cfs_period_us`)).toBe('100000');
    expect(read(`${d}/cpu.cfs_burst_us`)).toBe('1000');
    expect(read(`${d}/cpu.rt_period_us`)).toBe('900000');
    expect(read(`${d}/cpu.rt_runtime_us`)).toBe('1000');
    expect(read('cpuset/gantry/c1/cpuset.cpus')).toBe('1');
    expect(read('cpuset/gantry/c1/cpuset.mems')).toBe('0');
  });

  it('reports shares clamped by the kernel', () => {
    const m = open();
    m.create();
    const realWrite = fake.writeFile.bind(fake);
    fake.writeFile = (p, data) => realWrite(p, p.endsWith('cpu.shares') ? '262144' : data);
    expect(() => m.setResources({ cpu: { shares: 1 << 20 } })).toThrow(/maximum allowed is 262144/);
  });

  it('writes pids.max: the limit, or "max" for 0 and -1', () => {
    const m = open();
    m.create();
    m.setResources({ pids: { limit: 20 } });
    expect(read('pids/gantry/c1/pids.max')).toBe('20');
    m.setResources({ pids: { limit: -1 } });
    expect(read('pids/gantry/c1/pids.max')).toBe('max');
    m.setResources({ pids: { limit: 0 } });
    expect(read('pids/gantry/c1/pids.max')).toBe('max');
  });

  it('writes blkio weight and throttles (and uses blkio.bfq.* when CFQ is absent)', () => {
    const m = open();
    m.create();
    m.setResources({
      blockIO: {
        weight: 300,
        leafWeight: 200,
        weightDevice: [{ major: 8, minor: 0, weight: 400, leafWeight: 100 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 2000 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 10 }],
        throttleWriteIOPSDevice: [
          { major: 8, minor: 0, rate: 20 },
          { major: 8, minor: 16, rate: 30 },
        ],
      },
    });
    expect(read('blkio/gantry/c1/blkio.weight')).toBe('300');
    expect(read('blkio/gantry/c1/blkio.leaf_weight')).toBe('200');
    expect(fake.writesTo('blkio.weight_device')).toEqual(['8:0 400']);
    expect(fake.writesTo('blkio.leaf_weight_device')).toEqual(['8:0 100']);
    expect(fake.writesTo('blkio.throttle.read_bps_device')).toEqual(['8:0 1000']);
    expect(fake.writesTo('blkio.throttle.write_bps_device')).toEqual(['8:16 2000']);
    expect(fake.writesTo('blkio.throttle.read_iops_device')).toEqual(['8:0 10']);
    expect(fake.writesTo('blkio.throttle.write_iops_device')).toEqual(['8:0 20', '8:16 30']);

    fs.rmSync(`${root}/blkio/gantry/c1/blkio.weight`);
    fs.writeFileSync(`${root}/blkio/gantry/c1/blkio.bfq.weight`, '100');
    fs.writeFileSync(`${root}/blkio/gantry/c1/blkio.bfq.weight_device`, '');
    m.setResources({ blockIO: { weight: 250, weightDevice: [{ major: 8, minor: 0, weight: 50 }] } });
    expect(read('blkio/gantry/c1/blkio.bfq.weight')).toBe('250');
    expect(fake.writesTo('blkio.bfq.weight_device')).toEqual(['8:0 50']);
  });

  it('writes hugetlb, net_cls and net_prio', () => {
    const m = open();
    m.create();
    m.setResources({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }], network: { classID: 0x100001, priorities: [{ name: 'eth0', priority: 5 }] } });
    expect(read('hugetlb/gantry/c1/hugetlb.2MB.limit_in_bytes')).toBe('4194304');
    expect(read('hugetlb/gantry/c1/hugetlb.2MB.rsvd.limit_in_bytes')).toBe('4194304');
    expect(read('net_cls,net_prio/gantry/c1/net_cls.classid')).toBe(String(0x100001));
    expect(fake.writesTo('net_prio.ifpriomap')).toEqual(['eth0 5']);
    expect(() => m.setResources({ hugepageLimits: [{ pageSize: '../2MB', limit: 1 }] })).toThrow(CgroupError);
  });

  it('writes device rules: deny all first, then the rules in order', () => {
    const m = open();
    m.create();
    m.setResources({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        { allow: true, type: 'c', major: 136, minor: -1, access: 'rw' },
        { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
        { allow: true, type: 'a', major: 7, access: 'r' }, // narrowed "a": must not become allow-all
      ],
    });
    const log = fake.writes.filter((w) => /devices\.(allow|deny)$/.test(w.path)).map((w) => `${path.basename(w.path)} ${w.data}`);
    expect(log).toEqual([
      'devices.deny a',
      'devices.deny a',
      'devices.allow c 1:3 rwm',
      'devices.allow c 136:* rw',
      'devices.deny c 1:3 w',
      'devices.allow b 7:* r',
      'devices.allow c 7:* r',
    ]);
    expect(() => m.setResources({ devices: [{ allow: true, type: 'x', access: 'r' }] })).toThrow(CgroupError);
    expect(() => m.setResources({ devices: [{ allow: true, type: 'c', access: 'xyz' }] })).toThrow(CgroupError);
    // runc drops letters it does not know (runc's own tests use "rwa")
    m.setResources({ devices: [{ allow: false, type: 'c', major: 1, minor: 11, access: 'rwa' }] });
    expect(fake.writes[fake.writes.length - 1]!.data).toBe('c 1:11 rw');
  });

  it('refuses unified on v1, warns for a controller that is not mounted, refuses device rules without the devices controller', () => {
    const m = open();
    m.create();
    expect(() => m.setResources({ unified: { 'memory.high': '1' } })).toThrow(/cgroup v2/);
    const t2 = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-cg1b-'));
    try {
      const f2 = FakeCgroupFs.v1(t2, { subsystems: ['memory', 'freezer', 'cpuset'] });
      const m2 = openCgroup('/x', 'x', { root: f2.root, fs: f2 });
      m2.create();
      m2.setResources({ pids: { limit: 5 }, memory: { limit: 1000 } });
      expect(m2.warnings).toEqual(['pids cgroup controller is not mounted: pids.limit not applied']);
      // Device rules are the one request that is not skipped with a warning: unenforced, they would
      // leave every device node the container can see open to it.
      expect(() => m2.setResources({ devices: [{ allow: false, access: 'rwm' }] })).toThrow(
        expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringMatching(/devices cgroup controller is not mounted/) }),
      );
    } finally {
      fs.rmSync(t2, { recursive: true, force: true });
    }
  });

  it('freezes and thaws through freezer.state, polling past FREEZING', () => {
    const m = open();
    m.create();
    expect(m.freezerState()).toBe('thawed');
    fake.freezingReads = 3;
    m.freeze();
    expect(read('freezer/gantry/c1/freezer.state')).toBe('FROZEN');
    expect(m.freezerState()).toBe('frozen');
    expect(fake.writesTo('freezer.state').length).toBeGreaterThan(1); // re-asked while FREEZING
    m.thaw();
    expect(read('freezer/gantry/c1/freezer.state')).toBe('THAWED');
    expect(m.freezerState()).toBe('thawed');
  });

  it('parses stats from the v1 files', () => {
    const m = open();
    m.create();
    const d = (h: string): string => `${root}/${h}/gantry/c1`;
    fake.set(`${d('cpu,cpuacct')}/cpuacct.usage`, '5000000000\n');
    fake.set(`${d('cpu,cpuacct')}/cpuacct.usage_percpu`, '3000000000 2000000000 \n');
    fake.set(`${d('cpu,cpuacct')}/cpuacct.usage_all`, 'cpu user system\n0 2000 1000\n1 1500 500\n');
    fake.set(`${d('cpu,cpuacct')}/cpuacct.stat`, 'user 300\nsystem 100\n');
    fake.set(`${d('cpu,cpuacct')}/cpu.stat`, 'nr_periods 10\nnr_throttled 2\nthrottled_time 12345\n');
    fake.set(`${d('memory')}/memory.usage_in_bytes`, '1048576\n');
    fake.set(`${d('memory')}/memory.max_usage_in_bytes`, '2097152\n');
    fake.set(`${d('memory')}/memory.failcnt`, '3\n');
    fake.set(`${d('memory')}/memory.limit_in_bytes`, '67108864\n');
    fake.set(`${d('memory')}/memory.memsw.usage_in_bytes`, '1148576\n');
    fake.set(`${d('memory')}/memory.stat`, 'cache 4096\nrss 8192\nhierarchical_memory_limit 67108864\n');
    fake.set(`${d('memory')}/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    fake.set(`${d('pids')}/pids.current`, '3\n');
    fake.set(`${d('pids')}/pids.max`, '20\n');
    fake.set(
      `${d('blkio')}/blkio.throttle.io_service_bytes_recursive`,
      '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\nTotal 12288\n',
    );
    fake.set(`${d('blkio')}/blkio.throttle.io_serviced_recursive`, '8:0 Read 1\n8:0 Write 2\nTotal 3\n');
    fake.set(`${d('hugetlb')}/hugetlb.2MB.usage_in_bytes`, '2097152\n');
    fake.set(`${d('hugetlb')}/hugetlb.2MB.failcnt`, '1\n');
    const s = m.stats();
    expect(s.cpu.usage).toEqual({ total: 5e9, percpu: [3e9, 2e9], percpu_user: [2000, 1500], percpu_kernel: [1000, 500], user: 3e9, kernel: 1e9 });
    expect(s.cpu.throttling).toEqual({ periods: 10, throttledPeriods: 2, throttledTime: 12345 });
    expect(s.memory.usage).toEqual({ usage: 1048576, max: 2097152, failcnt: 3, limit: 67108864 });
    expect(s.memory.swap.usage).toBe(1148576);
    expect(s.memory.swap.limit).toBe(9223372036854771712);
    expect(s.memory.kernel.limit).toBe(9223372036854771712);
    expect(s.memory.kernelTCP.usage).toBe(0);
    expect(s.memory.cache).toBe(4096);
    expect(s.memory.raw).toEqual({ cache: 4096, rss: 8192, hierarchical_memory_limit: 67108864 });
    expect(s.pids).toEqual({ current: 3, limit: 20 });
    expect(s.blkio['ioServiceBytesRecursive']).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 4096 },
      { major: 8, minor: 0, op: 'Write', value: 8192 },
      { major: 8, minor: 0, op: 'Sync', value: 0 },
      { major: 8, minor: 0, op: 'Async', value: 12288 },
      { major: 8, minor: 0, op: 'Total', value: 12288 },
    ]);
    expect(s.blkio['ioServicedRecursive']).toHaveLength(2);
    expect(s.hugetlb).toEqual({ '2MB': { usage: 2097152, max: 0, failcnt: 1 } });
    expect(m.oomKillCount()).toBe(2);
    expect(UNLIMITED).toBe(2 ** 64);
  });

  it('prefers CFQ/BFQ blkio files when they have data', () => {
    const m = open();
    m.create();
    const d = `${root}/blkio/gantry/c1`;
    fs.writeFileSync(`${d}/blkio.io_service_bytes_recursive`, '8:0 Read 1\nTotal 1\n');
    fs.writeFileSync(`${d}/blkio.sectors_recursive`, '8:0 42\n');
    const s = m.stats();
    expect(s.blkio['ioServiceBytesRecursive']).toEqual([{ major: 8, minor: 0, op: 'Read', value: 1 }]);
    expect(s.blkio['sectorsRecursive']).toEqual([{ major: 8, minor: 0, op: '', value: 42 }]);
  });

  it('destroys children first in every hierarchy, retries EBUSY, and is idempotent', () => {
    const m = open();
    m.create();
    fs.mkdirSync(`${root}/memory/gantry/c1/sub`);
    fs.writeFileSync(`${root}/memory/gantry/c1/sub/cgroup.procs`, '');
    let busy = 2;
    const realRmdir = fake.rmdir.bind(fake);
    fake.rmdir = (p) => {
      if (p.endsWith('/pids/gantry/c1') && busy-- > 0) throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' });
      realRmdir(p);
    };
    m.destroy();
    const removed = fake.removed.map((p) => p.slice(root.length + 1));
    expect(removed.indexOf('memory/gantry/c1/sub')).toBeLessThan(removed.indexOf('memory/gantry/c1'));
    expect(removed).toHaveLength(12);
    expect(removed).toContain('systemd/gantry/c1');
    expect(removed).toContain('pids/gantry/c1');
    expect(fs.existsSync(`${root}/memory/gantry`)).toBe(true); // the shared parent stays
    expect(m.exists()).toBe(false);
    m.destroy();
  });

  it('refuses to destroy a cgroup that still has tasks, and never removes a non-cgroup directory', () => {
    const m = open();
    m.create();
    fs.writeFileSync(`${root}/memory/gantry/c1/cgroup.procs`, '99\n'); // a task still inside
    expect(() => m.destroy()).toThrow(expect.objectContaining({ code: 'BUSY' }));
    expect(fs.existsSync(`${root}/memory/gantry/c1`)).toBe(true);
    expect(fs.existsSync(`${root}/pids/gantry/c1`)).toBe(false); // the other hierarchies were still cleaned
    const m2 = open('/plain');
    fs.mkdirSync(`${root}/memory/plain`);
    fs.writeFileSync(`${root}/memory/plain/data.txt`, 'keep');
    expect(() => m2.destroy()).toThrow(/not a cgroup directory/);
    expect(fs.readFileSync(`${root}/memory/plain/data.txt`, 'utf8')).toBe('keep');
  });
});
