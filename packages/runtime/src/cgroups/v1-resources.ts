import type { BlockIOResources, CpuResources, MemoryResources, Resources } from '../spec/types';
import type { CgroupFs } from './fs';
import { deviceLines } from './devices';
import { CgroupError, errnoOf } from './errors';
import { parseUint } from './parse';
import { readControl, writeControl } from './util';

/** What the v1 resource writers need from the manager. */
export interface V1Context {
  fs: CgroupFs;
  /** This cgroup's directory in the hierarchy holding `subsystem`, if that hierarchy is mounted. */
  dir(subsystem: string): string | undefined;
  warn(message: string): void;
}

/** Write the v1 control files for every field present in `r`; absent fields are left alone. */
export function applyV1Resources(ctx: V1Context, r: Resources): void {
  if (r.unified && Object.keys(r.unified).length > 0) {
    throw new CgroupError('INVALID_RESOURCE', 'invalid configuration: resources.unified requires cgroup v2, this host uses cgroup v1');
  }
  if (r.memory) setMemory(ctx, r.memory);
  if (r.cpu) setCpu(ctx, r.cpu);
  if (r.pids) setPids(ctx, r.pids.limit);
  if (r.blockIO) setBlkio(ctx, r.blockIO);
  if (r.hugepageLimits?.length) setHugetlb(ctx, r.hugepageLimits);
  if (r.network) setNetwork(ctx, r.network);
  if (r.devices?.length) setDevices(ctx, r);
}

/** The directory for `subsystem`, or a warning (the limit cannot be enforced) and undefined. */
function controller(ctx: V1Context, subsystem: string, what: string): string | undefined {
  const dir = ctx.dir(subsystem);
  if (dir === undefined) ctx.warn(`${subsystem} cgroup controller is not mounted: ${what} not applied`);
  return dir;
}

const set = (n: number | undefined): n is number => n !== undefined && n !== 0;

function setMemory(ctx: V1Context, m: MemoryResources): void {
  if (m.kernel !== undefined || m.kernelTCP !== undefined) {
    ctx.warn('kernel memory limits (memory.kernel, memory.kernelTCP) are deprecated and ignored');
  }
  const needed = set(m.limit) || set(m.swap) || set(m.reservation) || m.disableOOMKiller !== undefined || m.swappiness !== undefined;
  const dir = needed ? controller(ctx, 'memory', 'memory limits') : undefined;
  if (dir === undefined) return;
  const { fs } = ctx;
  const memsw = `${dir}/memory.memsw.limit_in_bytes`;
  const hasMemsw = fs.exists(memsw);
  let swap = m.swap;
  // Unlimited memory with swap unspecified means unlimited memory+swap too (as runc does).
  if (m.limit === -1 && !set(swap) && hasMemsw) swap = -1;
  if (set(swap) && !hasMemsw) {
    ctx.warn('swap accounting is not enabled in this kernel (no memory.memsw.*): memory.swap not applied');
    swap = undefined;
  }
  if (set(m.limit) && m.limit > 0 && set(swap) && swap > 0 && swap < m.limit) {
    throw new CgroupError('INVALID_RESOURCE', `memory.swap (${swap}) must be >= memory.limit (${m.limit}): it is memory+swap`);
  }
  const writeLimit = (): void => {
    if (set(m.limit)) writeMemoryLimit(fs, dir, m.limit);
  };
  const writeSwap = (): void => {
    if (set(swap)) writeControl(fs, memsw, String(swap));
  };
  // The kernel requires memsw >= memory at every step, so the order depends on the current limit.
  if (set(m.limit) && set(swap)) {
    const current = parseUint(readControl(fs, `${dir}/memory.limit_in_bytes`));
    if (swap === -1 || current < swap) {
      writeSwap();
      writeLimit();
    } else {
      writeLimit();
      writeSwap();
    }
  } else {
    writeLimit();
    writeSwap();
  }
  if (set(m.reservation)) writeControl(fs, `${dir}/memory.soft_limit_in_bytes`, String(m.reservation));
  if (m.disableOOMKiller !== undefined) writeControl(fs, `${dir}/memory.oom_control`, m.disableOOMKiller ? '1' : '0');
  if (m.swappiness !== undefined && m.swappiness !== -1) {
    if (!Number.isInteger(m.swappiness) || m.swappiness < 0 || m.swappiness > 100) {
      throw new CgroupError('INVALID_RESOURCE', `invalid memory.swappiness ${m.swappiness} (valid range is 0-100)`);
    }
    writeControl(fs, `${dir}/memory.swappiness`, String(m.swappiness));
  }
}

/** EBUSY here means the new limit is below what the cgroup already uses: say so. */
function writeMemoryLimit(fs: CgroupFs, dir: string, limit: number): void {
  try {
    writeControl(fs, `${dir}/memory.limit_in_bytes`, String(limit));
  } catch (err) {
    if (errnoOf(err) !== 'EBUSY') throw err;
    const usage = readControl(fs, `${dir}/memory.usage_in_bytes`).trim();
    throw new CgroupError('BUSY', `cannot set memory limit to ${limit}: current usage is ${usage}`, `${dir}/memory.limit_in_bytes`, 'EBUSY');
  }
}

/**
 * Write `first`; if the kernel rejects it with EINVAL because it conflicts with the old `second`
 * value, write `second` and retry `first` (cfs period/quota and rt period/runtime constrain each other).
 */
function writePair(fs: CgroupFs, first: [string, number | undefined], second: [string, number | undefined]): void {
  let retryFirst = false;
  if (set(first[1])) {
    try {
      writeControl(fs, first[0], String(first[1]));
    } catch (err) {
      if (errnoOf(err) !== 'EINVAL' || !set(second[1])) throw err;
      retryFirst = true;
    }
  }
  if (set(second[1])) writeControl(fs, second[0], String(second[1]));
  if (retryFirst) writeControl(fs, first[0], String(first[1]));
}

function setCpu(ctx: V1Context, c: CpuResources): void {
  const { fs } = ctx;
  const cpuNeeded =
    set(c.shares) || set(c.quota) || set(c.period) || c.burst !== undefined || c.idle !== undefined || set(c.realtimePeriod) || set(c.realtimeRuntime);
  const dir = cpuNeeded ? controller(ctx, 'cpu', 'cpu limits') : undefined;
  if (dir !== undefined) {
    if (set(c.shares)) {
      writeControl(fs, `${dir}/cpu.shares`, String(c.shares));
      // The kernel clamps out-of-range shares silently; read back so the caller learns the bound.
      const actual = parseUint(readControl(fs, `${dir}/cpu.shares`));
      if (actual !== c.shares) {
        const bound = c.shares > actual ? 'maximum' : 'minimum';
        throw new CgroupError('INVALID_RESOURCE', `cpu.shares ${c.shares} out of range: the ${bound} allowed is ${actual}`);
      }
    }
    writePair(fs, [`${dir}/cpu.cfs_period_us`, c.period], [`${dir}/cpu.cfs_quota_us`, c.quota]);
    if (c.burst !== undefined) {
      if (fs.exists(`${dir}/cpu.cfs_burst_us`)) writeControl(fs, `${dir}/cpu.cfs_burst_us`, String(c.burst));
      else ctx.warn('cpu.cfs_burst_us is not supported by this kernel: cpu.burst not applied');
    }
    if (c.idle !== undefined) writeControl(fs, `${dir}/cpu.idle`, String(c.idle));
    writePair(fs, [`${dir}/cpu.rt_period_us`, c.realtimePeriod], [`${dir}/cpu.rt_runtime_us`, c.realtimeRuntime]);
  }
  if (c.cpus || c.mems) {
    const cpuset = controller(ctx, 'cpuset', 'cpu.cpus/cpu.mems');
    if (cpuset === undefined) return;
    if (c.cpus) writeControl(fs, `${cpuset}/cpuset.cpus`, c.cpus);
    if (c.mems) writeControl(fs, `${cpuset}/cpuset.mems`, c.mems);
  }
}

/** pids.limit > 0 is the limit; 0 and negative values mean "no limit" (Docker's and runc's reading). */
export function pidsMaxValue(limit: number): string {
  return limit > 0 ? String(Math.trunc(limit)) : 'max';
}

function setPids(ctx: V1Context, limit: number): void {
  const dir = controller(ctx, 'pids', 'pids.limit');
  if (dir !== undefined) writeControl(ctx.fs, `${dir}/pids.max`, pidsMaxValue(limit));
}

function setBlkio(ctx: V1Context, b: BlockIOResources): void {
  const dir = controller(ctx, 'blkio', 'blockIO limits');
  if (dir === undefined) return;
  const { fs } = ctx;
  // Kernels with BFQ and without CFQ expose the weight only as blkio.bfq.weight.
  const bfq = !fs.exists(`${dir}/blkio.weight`) && fs.exists(`${dir}/blkio.bfq.weight`);
  const weightFile = bfq ? 'blkio.bfq.weight' : 'blkio.weight';
  const weightDeviceFile = bfq ? 'blkio.bfq.weight_device' : 'blkio.weight_device';
  if (set(b.weight)) writeControl(fs, `${dir}/${weightFile}`, String(b.weight));
  if (set(b.leafWeight)) writeControl(fs, `${dir}/blkio.leaf_weight`, String(b.leafWeight));
  for (const d of b.weightDevice ?? []) {
    if (set(d.weight)) writeControl(fs, `${dir}/${weightDeviceFile}`, `${d.major}:${d.minor} ${d.weight}`);
    if (set(d.leafWeight)) writeControl(fs, `${dir}/blkio.leaf_weight_device`, `${d.major}:${d.minor} ${d.leafWeight}`);
  }
  const throttles: [keyof BlockIOResources, string][] = [
    ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
    ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
    ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
    ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
  ];
  for (const [field, file] of throttles) {
    for (const d of (b[field] ?? []) as { major: number; minor: number; rate: number }[]) {
      writeControl(fs, `${dir}/${file}`, `${d.major}:${d.minor} ${d.rate}`);
    }
  }
}

/** Page sizes as the kernel names them in file names ("2MB", "1GB"); anything else could escape the dir. */
export function checkPageSize(pageSize: string): void {
  if (!/^\d+[KMG]B$/.test(pageSize)) {
    throw new CgroupError('INVALID_RESOURCE', `invalid hugepage size ${JSON.stringify(pageSize)}`);
  }
}

function setHugetlb(ctx: V1Context, limits: { pageSize: string; limit: number }[]): void {
  const dir = controller(ctx, 'hugetlb', 'hugepageLimits');
  if (dir === undefined) return;
  for (const { pageSize, limit } of limits) {
    checkPageSize(pageSize);
    writeControl(ctx.fs, `${dir}/hugetlb.${pageSize}.limit_in_bytes`, String(limit));
    // Kernels >= 5.7 also account reservations; limit them alike, as runc does.
    const rsvd = `${dir}/hugetlb.${pageSize}.rsvd.limit_in_bytes`;
    if (ctx.fs.exists(rsvd)) writeControl(ctx.fs, rsvd, String(limit));
  }
}

function setNetwork(ctx: V1Context, n: NonNullable<Resources['network']>): void {
  if (n.classID !== undefined) {
    const dir = controller(ctx, 'net_cls', 'network.classID');
    if (dir !== undefined) writeControl(ctx.fs, `${dir}/net_cls.classid`, String(n.classID));
  }
  if (n.priorities?.length) {
    const dir = controller(ctx, 'net_prio', 'network.priorities');
    if (dir === undefined) return;
    for (const { name, priority } of n.priorities) {
      if (!/^[^\s/]+$/.test(name)) throw new CgroupError('INVALID_RESOURCE', `invalid interface name ${JSON.stringify(name)}`);
      writeControl(ctx.fs, `${dir}/net_prio.ifpriomap`, `${name} ${priority}`);
    }
  }
}

/**
 * Deny everything first, then replay the rules in order, so the result is exactly the rule list.
 * Without the devices hierarchy the rules cannot be
 * enforced and the container would reach every device node it can see: that is an error, not a
 * warning (runc treats a missing devices subsystem as fatal too).
 */
function setDevices(ctx: V1Context, r: Resources): void {
  const lines = (r.devices ?? []).flatMap(deviceLines); // validate all before touching the kernel
  const dir = ctx.dir('devices');
  if (dir === undefined) {
    throw new CgroupError('UNSUPPORTED', 'the devices cgroup controller is not mounted: device rules cannot be enforced');
  }
  writeControl(ctx.fs, `${dir}/devices.deny`, 'a');
  for (const { file, line } of lines) writeControl(ctx.fs, `${dir}/${file}`, line);
}
