import type { CgroupFs } from './fs';
import type { BlkioEntry, CgroupStats, MemoryEntry } from './types';
import { parseBlkioV1, parseFlatKeyed, parseUint, parseUintList, UNLIMITED } from './parse';
import { readOptional } from './util';

/** USER_HZ: cpuacct.stat counts in these ticks; it is 100 on every Linux ABI. */
const USER_HZ = 100;
const NS_PER_TICK = 1e9 / USER_HZ;

export function emptyStats(): CgroupStats {
  const entry = (): MemoryEntry => ({ limit: 0, failcnt: 0 });
  return {
    cpu: { usage: { total: 0, kernel: 0, user: 0 }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } },
    memory: { usage: entry(), swap: entry(), kernel: entry(), kernelTCP: entry() },
    pids: {},
    blkio: {},
  };
}

/** Read v1 statistics; `dir(subsystem)` is this cgroup's directory in that hierarchy, if mounted. */
export function readV1Stats(fs: CgroupFs, dir: (subsystem: string) => string | undefined): CgroupStats {
  const stats = emptyStats();
  const read = (d: string | undefined, file: string): string | undefined => (d === undefined ? undefined : readOptional(fs, `${d}/${file}`));

  const cpuacct = dir('cpuacct');
  const usage = read(cpuacct, 'cpuacct.usage');
  if (usage !== undefined) stats.cpu.usage.total = parseUint(usage);
  const percpu = read(cpuacct, 'cpuacct.usage_percpu');
  if (percpu !== undefined) stats.cpu.usage.percpu = parseUintList(percpu);
  const all = read(cpuacct, 'cpuacct.usage_all');
  if (all !== undefined) Object.assign(stats.cpu.usage, parseUsageAll(all));
  const cpuStat = read(cpuacct, 'cpuacct.stat');
  if (cpuStat !== undefined) {
    const s = parseFlatKeyed(cpuStat);
    stats.cpu.usage.user = (s['user'] ?? 0) * NS_PER_TICK;
    stats.cpu.usage.kernel = (s['system'] ?? 0) * NS_PER_TICK;
  }
  const throttle = read(dir('cpu'), 'cpu.stat');
  if (throttle !== undefined) {
    const s = parseFlatKeyed(throttle);
    stats.cpu.throttling = { periods: s['nr_periods'] ?? 0, throttledPeriods: s['nr_throttled'] ?? 0, throttledTime: s['throttled_time'] ?? 0 };
  }

  const memory = dir('memory');
  const memStat = read(memory, 'memory.stat');
  if (memory !== undefined && memStat !== undefined) {
    const raw = parseFlatKeyed(memStat);
    stats.memory.raw = raw;
    stats.memory.cache = raw['cache'] ?? 0;
    stats.memory.usage = memoryEntry(fs, memory, 'memory');
    stats.memory.swap = memoryEntry(fs, memory, 'memory.memsw');
    stats.memory.kernel = memoryEntry(fs, memory, 'memory.kmem');
    stats.memory.kernelTCP = memoryEntry(fs, memory, 'memory.kmem.tcp');
  }

  const pids = dir('pids');
  const current = read(pids, 'pids.current');
  if (current !== undefined) {
    stats.pids.current = parseUint(current);
    const max = read(pids, 'pids.max');
    // runc reports "max" as limit 0 (no limit).
    if (max !== undefined && max.trim() !== 'max') stats.pids.limit = parseUint(max);
  }

  const blkio = dir('blkio');
  if (blkio !== undefined) stats.blkio = readBlkio(fs, blkio);

  const hugetlb = dir('hugetlb');
  if (hugetlb !== undefined) {
    for (const size of pageSizes(fs, hugetlb, /^hugetlb\.(\d+[KMG]B)\.limit_in_bytes$/)) {
      const get = (f: string): number => parseUint(read(hugetlb, `hugetlb.${size}.${f}`) ?? '0');
      stats.hugetlb ??= {};
      stats.hugetlb[size] = { usage: get('usage_in_bytes'), max: get('max_usage_in_bytes'), failcnt: get('failcnt') };
    }
  }
  return stats;
}

/** "<prefix>.usage_in_bytes" etc.; an absent group (no swap accounting, no kmem) reads as zeros. */
function memoryEntry(fs: CgroupFs, dir: string, prefix: string): MemoryEntry {
  const get = (f: string): number | undefined => {
    const s = readOptional(fs, `${dir}/${prefix}.${f}`);
    return s === undefined ? undefined : parseUint(s);
  };
  const usage = get('usage_in_bytes');
  if (usage === undefined) return { limit: 0, failcnt: 0 };
  return { usage, max: get('max_usage_in_bytes') ?? 0, failcnt: get('failcnt') ?? 0, limit: get('limit_in_bytes') ?? UNLIMITED };
}

/** cpuacct.usage_all: header "cpu user system", then one line per CPU in ns. */
function parseUsageAll(content: string): { percpu_user: number[]; percpu_kernel: number[] } {
  const user: number[] = [];
  const kernel: number[] = [];
  for (const line of content.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    user.push(parseUint(f[1] as string));
    kernel.push(parseUint(f[2] as string));
  }
  return { percpu_user: user, percpu_kernel: kernel };
}

/** runc's JSON names for the v1 blkio recursive files (suffix after the scheduler prefix). */
const BLKIO_KEYS: [string, string][] = [
  ['io_service_bytes_recursive', 'ioServiceBytesRecursive'],
  ['io_serviced_recursive', 'ioServicedRecursive'],
  ['io_queued_recursive', 'ioQueueRecursive'],
  ['io_service_time_recursive', 'ioServiceTimeRecursive'],
  ['io_wait_time_recursive', 'ioWaitTimeRecursive'],
  ['io_merged_recursive', 'ioMergedRecursive'],
  ['time_recursive', 'ioTimeRecursive'],
  ['sectors_recursive', 'sectorsRecursive'],
];

/**
 * Which files hold the numbers depends on the I/O scheduler: BFQ ("blkio.bfq."), CFQ ("blkio."),
 * else only the throttle layer counts. Take the first source that has data, as runc does.
 */
function readBlkio(fs: CgroupFs, dir: string): Record<string, BlkioEntry[]> {
  for (const prefix of ['blkio.bfq.', 'blkio.', 'blkio.throttle.']) {
    const out: Record<string, BlkioEntry[]> = {};
    for (const [suffix, key] of BLKIO_KEYS) {
      const content = readOptional(fs, `${dir}/${prefix}${suffix}`);
      if (content !== undefined) out[key] = parseBlkioV1(content);
    }
    if ((out['ioServiceBytesRecursive']?.length ?? 0) > 0 || (out['ioServicedRecursive']?.length ?? 0) > 0) return out;
  }
  return {};
}

/** Page sizes that have a control file in `dir`, e.g. ["1GB", "2MB"]. */
export function pageSizes(fs: CgroupFs, dir: string, pattern: RegExp): string[] {
  return fs
    .entries(dir)
    .map((name) => pattern.exec(name)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}
