import type { CgroupFs } from './fs';
import type { BlkioEntry, CgroupStats, MemoryEntry } from './types';
import { parseFlatKeyed, parseNestedKeyed, parsePids, parseUint, UNLIMITED } from './parse';
import { emptyStats, pageSizes } from './v1-stats';
import { readOptional } from './util';

/** io.stat field → [runc blkio key, op]. */
const IO_FIELDS: Record<string, [string, string]> = {
  rbytes: ['ioServiceBytesRecursive', 'Read'],
  wbytes: ['ioServiceBytesRecursive', 'Write'],
  rios: ['ioServicedRecursive', 'Read'],
  wios: ['ioServicedRecursive', 'Write'],
};

export function readV2Stats(fs: CgroupFs, dir: string): CgroupStats {
  const stats = emptyStats();
  const read = (file: string): string | undefined => readOptional(fs, `${dir}/${file}`);
  const num = (file: string): number | undefined => {
    const s = read(file);
    return s === undefined ? undefined : parseUint(s, file);
  };

  const cpu = read('cpu.stat');
  if (cpu !== undefined) {
    // v2 counts microseconds; runc's stats are nanoseconds.
    const s = parseFlatKeyed(cpu);
    stats.cpu.usage = { total: (s['usage_usec'] ?? 0) * 1000, user: (s['user_usec'] ?? 0) * 1000, kernel: (s['system_usec'] ?? 0) * 1000 };
    stats.cpu.throttling = {
      periods: s['nr_periods'] ?? 0,
      throttledPeriods: s['nr_throttled'] ?? 0,
      throttledTime: (s['throttled_usec'] ?? 0) * 1000,
    };
  }

  const memStat = read('memory.stat');
  if (memStat !== undefined) {
    const raw = parseFlatKeyed(memStat);
    stats.memory.raw = raw;
    stats.memory.cache = raw['file'] ?? 0;
    const usage: MemoryEntry = { usage: num('memory.current') ?? 0, max: num('memory.peak') ?? 0, limit: num('memory.max') ?? UNLIMITED, failcnt: 0 };
    stats.memory.usage = usage;
    const swapCurrent = num('memory.swap.current');
    if (swapCurrent !== undefined) {
      // v1 reported memory+swap; runc keeps that meaning on v2, and so do we.
      const swapMax = num('memory.swap.max') ?? UNLIMITED;
      stats.memory.swap = {
        usage: swapCurrent + (usage.usage ?? 0),
        limit: swapMax === UNLIMITED || usage.limit === UNLIMITED ? UNLIMITED : swapMax + usage.limit,
        failcnt: 0,
      };
    }
  }

  const current = num('pids.current');
  if (current !== undefined) {
    stats.pids.current = current;
    const max = read('pids.max');
    if (max !== undefined && max.trim() !== 'max') stats.pids.limit = parseUint(max);
  } else {
    // No pids controller enabled: count the tasks instead, as runc does.
    stats.pids.current = parsePids(read('cgroup.procs') ?? '').length;
  }

  const io = read('io.stat');
  if (io !== undefined) {
    const blkio: Record<string, BlkioEntry[]> = {};
    for (const [device, fields] of parseNestedKeyed(io)) {
      const m = /^(\d+):(\d+)$/.exec(device);
      if (!m) continue;
      for (const [field, value] of Object.entries(fields)) {
        const target = IO_FIELDS[field];
        if (!target) continue;
        (blkio[target[0]] ??= []).push({ major: Number(m[1]), minor: Number(m[2]), op: target[1], value: parseUint(value) });
      }
    }
    stats.blkio = blkio;
  }

  for (const size of pageSizes(fs, dir, /^hugetlb\.(\d+[KMG]B)\.max$/)) {
    const events = parseFlatKeyed(read(`hugetlb.${size}.events`) ?? '');
    stats.hugetlb ??= {};
    stats.hugetlb[size] = { usage: num(`hugetlb.${size}.current`) ?? 0, failcnt: events['max'] ?? 0 };
  }
  return stats;
}
