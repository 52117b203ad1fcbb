import type { BlockIOResources, CpuResources, MemoryResources, Resources } from '../spec/types';
import type { CgroupFs } from './fs';
import { CgroupError, errnoOf } from './errors';
import { checkPageSize, pidsMaxValue } from './v1-resources';
import { readOptional, writeControl } from './util';

/** What the v2 resource writers need: the cgroup dir and the controllers enabled in it. */
export interface V2Context {
  fs: CgroupFs;
  dir: string;
  warn(message: string): void;
}

const set = (n: number | undefined): n is number => n !== undefined && n !== 0;

/**
 * OCI's cpu.shares (2..262144, default 1024) to cgroup v2 cpu.weight (1..10000, default 100).
 * runc's current formula: a quadratic in log2(shares) that maps min→1, 1024→100 and max→10000.
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  return Math.ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34));
}

/** v1 blkio.weight (10..1000) to v2 io.weight (1..10000), runc's linear mapping. */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return Math.min(10000, Math.max(1, 1 + Math.floor(((weight - 10) * 9999) / 990)));
}

/**
 * OCI memory.swap is memory+swap; v2 memory.swap.max is swap alone. Returns the v2 value, -1 for
 * "max", or undefined when nothing is to be written.
 */
export function swapToV2(swap: number | undefined, limit: number | undefined): number | undefined {
  if (limit === -1 && !set(swap)) return -1; // unlimited memory, swap unspecified: unlimited both
  if (!set(swap)) return undefined;
  if (swap === -1) return -1;
  if (!set(limit) || limit === -1) {
    throw new CgroupError('INVALID_RESOURCE', 'memory.swap needs a memory.limit on cgroup v2 (it is memory+swap)');
  }
  if (swap < limit) throw new CgroupError('INVALID_RESOURCE', `memory.swap (${swap}) must be >= memory.limit (${limit})`);
  return swap - limit;
}

const v2Num = (n: number): string => (n === -1 ? 'max' : String(n));

export function applyV2Resources(ctx: V2Context, r: Resources): void {
  const enabled = new Set((readOptional(ctx.fs, `${ctx.dir}/cgroup.controllers`) ?? '').trim().split(/\s+/));
  const has = (controller: string, what: string): boolean => {
    if (enabled.has(controller)) return true;
    ctx.warn(`${controller} controller is not available in this cgroup: ${what} not applied`);
    return false;
  };
  // resources.devices: an eBPF program, attached by the manager (v2-devices.ts), not a file.
  if (r.network) ctx.warn('cgroup v2 has no net_cls/net_prio controllers: resources.network ignored');
  if (r.memory) setMemory(ctx, r.memory, has);
  if (r.cpu) setCpu(ctx, r.cpu, has);
  if (r.pids && has('pids', 'pids.limit')) writeControl(ctx.fs, `${ctx.dir}/pids.max`, pidsMaxValue(r.pids.limit));
  if (r.blockIO && has('io', 'blockIO limits')) setIo(ctx, r.blockIO);
  if (r.hugepageLimits?.length && has('hugetlb', 'hugepageLimits')) {
    for (const { pageSize, limit } of r.hugepageLimits) {
      checkPageSize(pageSize);
      writeControl(ctx.fs, `${ctx.dir}/hugetlb.${pageSize}.max`, String(limit));
      const rsvd = `${ctx.dir}/hugetlb.${pageSize}.rsvd.max`;
      if (ctx.fs.exists(rsvd)) writeControl(ctx.fs, rsvd, String(limit));
    }
  }
  // Last, so explicit unified values override what the mapping above wrote (as runc does).
  if (r.unified) setUnified(ctx, r.unified);
}

type Has = (controller: string, what: string) => boolean;

function setMemory(ctx: V2Context, m: MemoryResources, has: Has): void {
  if (m.kernel !== undefined || m.kernelTCP !== undefined) ctx.warn('kernel memory limits do not exist on cgroup v2: ignored');
  if (m.disableOOMKiller) ctx.warn('the OOM killer cannot be disabled on cgroup v2: memory.disableOOMKiller ignored');
  if (m.swappiness !== undefined && m.swappiness !== -1) ctx.warn('cgroup v2 has no per-cgroup swappiness: memory.swappiness ignored');
  if (!set(m.limit) && !set(m.swap) && !set(m.reservation)) return;
  if (!has('memory', 'memory limits')) return;
  const swap = swapToV2(m.swap, m.limit);
  const swapFile = `${ctx.dir}/memory.swap.max`;
  // Swap first (as runc), so a lower memory.max never meets a stale swap setting.
  if (swap !== undefined) {
    if (ctx.fs.exists(swapFile)) writeControl(ctx.fs, swapFile, v2Num(swap));
    else if (swap !== -1 && swap !== 0) ctx.warn('swap accounting is not enabled in this kernel (no memory.swap.max): memory.swap not applied');
  }
  if (set(m.limit)) writeControl(ctx.fs, `${ctx.dir}/memory.max`, v2Num(m.limit));
  if (set(m.reservation)) writeControl(ctx.fs, `${ctx.dir}/memory.low`, v2Num(m.reservation));
}

function setCpu(ctx: V2Context, c: CpuResources, has: Has): void {
  const { fs, dir } = ctx;
  if (set(c.realtimePeriod) || set(c.realtimeRuntime)) {
    throw new CgroupError('UNSUPPORTED', 'cpu.realtimePeriod/realtimeRuntime are not supported on cgroup v2');
  }
  if (set(c.shares) || set(c.quota) || set(c.period) || c.burst !== undefined || c.idle !== undefined) {
    if (has('cpu', 'cpu limits')) {
      if (c.idle !== undefined) writeControl(fs, `${dir}/cpu.idle`, String(c.idle));
      if (set(c.shares)) writeControl(fs, `${dir}/cpu.weight`, String(sharesToWeight(c.shares)));
      if (set(c.quota) || set(c.period)) {
        const quota = set(c.quota) && c.quota > 0 ? String(c.quota) : 'max';
        writeControl(fs, `${dir}/cpu.max`, `${quota} ${set(c.period) ? c.period : 100000}`);
      }
      // After cpu.max: the kernel rejects a burst larger than the quota in force.
      if (c.burst !== undefined) writeControl(fs, `${dir}/cpu.max.burst`, String(c.burst));
    }
  }
  if ((c.cpus || c.mems) && has('cpuset', 'cpu.cpus/cpu.mems')) {
    if (c.cpus) writeControl(fs, `${dir}/cpuset.cpus`, c.cpus);
    if (c.mems) writeControl(fs, `${dir}/cpuset.mems`, c.mems);
  }
}

function setIo(ctx: V2Context, b: BlockIOResources): void {
  const { fs, dir } = ctx;
  if (set(b.leafWeight) || b.weightDevice?.some((d) => set(d.leafWeight))) ctx.warn('cgroup v2 has no leaf weights: blockIO leafWeight ignored');
  // With BFQ, io.bfq.weight takes v1-style weights directly (and "MAJ:MIN W" per device).
  const bfq = fs.exists(`${dir}/io.bfq.weight`);
  if (set(b.weight)) {
    if (bfq) writeControl(fs, `${dir}/io.bfq.weight`, String(b.weight));
    else writeControl(fs, `${dir}/io.weight`, String(blkioToIoWeight(b.weight)));
  }
  for (const d of b.weightDevice ?? []) {
    if (!set(d.weight)) continue;
    if (bfq) writeControl(fs, `${dir}/io.bfq.weight`, `${d.major}:${d.minor} ${d.weight}`);
    else writeControl(fs, `${dir}/io.weight`, `${d.major}:${d.minor} ${blkioToIoWeight(d.weight)}`);
  }
  const throttles: [keyof BlockIOResources, string][] = [
    ['throttleReadBpsDevice', 'rbps'],
    ['throttleWriteBpsDevice', 'wbps'],
    ['throttleReadIOPSDevice', 'riops'],
    ['throttleWriteIOPSDevice', 'wiops'],
  ];
  for (const [field, key] of throttles) {
    for (const d of (b[field] ?? []) as { major: number; minor: number; rate: number }[]) {
      writeControl(fs, `${dir}/io.max`, `${d.major}:${d.minor} ${key}=${d.rate}`);
    }
  }
}

/** Keys are file names in this cgroup ("memory.high"): nothing that could reach another directory. */
function checkUnifiedKey(key: string): void {
  if (key === '' || key.includes('/') || key.includes('..') || key.includes('\0') || !/^[a-z_]+\.[A-Za-z0-9_.]+$/.test(key)) {
    throw new CgroupError('INVALID_RESOURCE', `invalid resources.unified key ${JSON.stringify(key)}`);
  }
}

function setUnified(ctx: V2Context, unified: Record<string, string>): void {
  const entries = Object.entries(unified);
  for (const [key] of entries) checkUnifiedKey(key); // validate all before writing any
  for (const [key, value] of entries) {
    try {
      writeControl(ctx.fs, `${ctx.dir}/${key}`, value);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      const controller = key.slice(0, key.indexOf('.'));
      throw new CgroupError(
        'UNSUPPORTED',
        `resources.unified: ${key} does not exist (is the ${controller} controller enabled?)`,
        `${ctx.dir}/${key}`,
        'ENOENT',
      );
    }
  }
}
