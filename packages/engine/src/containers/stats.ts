/**
 * `GET /containers/{id}/stats`: Docker's StatsJSON from the cgroup metrics a shim reports
 * (io.containerd.cgroups.v1 or .v2 Metrics through Tasks.Metrics), plus the host's CPU time from
 * /proc/stat and its memory from /proc/meminfo, the way dockerd fills them:
 * - memory_stats.limit is the host's memory when the cgroup has no (or a larger) limit;
 * - cgroup v2 times are microseconds and are reported in nanoseconds;
 * - a container that is not running yields the zero value with only name and id.
 */
import * as fs from 'node:fs';
import { cgroups, type types } from '@gantry/api';
import type { Containerd } from '../containerd/client';

type V1 = cgroups.v1.Metrics;
type V2 = cgroups.v2.Metrics;

interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

interface MemoryStats {
  usage?: number;
  max_usage?: number;
  stats?: Record<string, number>;
  failcnt?: number;
  limit?: number;
}

export interface DockerStats {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioEntry[] | null;
    io_serviced_recursive: BlkioEntry[] | null;
    io_queue_recursive: BlkioEntry[] | null;
    io_service_time_recursive: BlkioEntry[] | null;
    io_wait_time_recursive: BlkioEntry[] | null;
    io_merged_recursive: BlkioEntry[] | null;
    io_time_recursive: BlkioEntry[] | null;
    sectors_recursive: BlkioEntry[] | null;
  };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: MemoryStats;
  name: string;
  id: string;
  networks?: Record<string, unknown>;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

const n = (v: bigint | number | undefined): number => (v === undefined ? 0 : Number(v));

function zeroCpu(): CpuStats {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** Docker's zero StatsJSON: what a stopped container reports. */
export function emptyStats(name: string, id: string): DockerStats {
  return {
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: {
      io_service_bytes_recursive: null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: zeroCpu(),
    precpu_stats: zeroCpu(),
    memory_stats: {},
    name,
    id,
  };
}

/** The host's side of a sample: CPU time of all CPUs in nanoseconds, online CPUs, memory. */
export interface HostSample {
  systemCpuNs: number;
  onlineCpus: number;
  memTotal: number;
}

/** /proc/stat's aggregate "cpu" line (user..softirq, in clock ticks) as nanoseconds, and the number of cpuN lines. */
export function parseProcStat(text: string, clockTicks = 100): { systemCpuNs: number; onlineCpus: number } {
  let systemCpuNs = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu') {
      const ticks = f.slice(1, 8).reduce((s, v) => s + Number(v), 0);
      systemCpuNs = Math.round((ticks * 1e9) / clockTicks);
    } else if (/^cpu\d+$/.test(f[0] ?? '')) onlineCpus++;
  }
  return { systemCpuNs, onlineCpus };
}

/** MemTotal of /proc/meminfo in bytes. */
export function parseMemTotal(text: string): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

export function hostSample(): HostSample {
  const s = parseProcStat(fs.readFileSync('/proc/stat', 'utf8'));
  return { ...s, memTotal: parseMemTotal(fs.readFileSync('/proc/meminfo', 'utf8')) };
}

/** The container part of a sample (no times, names or precpu yet). */
export type ContainerSample = Pick<DockerStats, 'pids_stats' | 'blkio_stats' | 'cpu_stats' | 'memory_stats'>;

const blkio = (entries: readonly cgroups.v1.BlkIOEntry[] | undefined): BlkioEntry[] | null =>
  entries && entries.length > 0 ? entries.map((e) => ({ major: n(e.major), minor: n(e.minor), op: e.op, value: n(e.value) })) : null;

export function fromV1(m: V1): ContainerSample {
  const base = emptyStats('', '');
  const mem = m.memory;
  const stats: Record<string, number> = {};
  if (mem) for (const [key, field] of cgroups.V1_MEMORY_STAT_FIELDS) stats[key] = n(mem[field] as bigint);
  const cpu = m.cpu;
  return {
    pids_stats: pids(m.pids),
    blkio_stats: {
      ...base.blkio_stats,
      io_service_bytes_recursive: blkio(m.blkio?.ioServiceBytesRecursive),
      io_serviced_recursive: blkio(m.blkio?.ioServicedRecursive),
      io_queue_recursive: blkio(m.blkio?.ioQueuedRecursive),
      io_service_time_recursive: blkio(m.blkio?.ioServiceTimeRecursive),
      io_wait_time_recursive: blkio(m.blkio?.ioWaitTimeRecursive),
      io_merged_recursive: blkio(m.blkio?.ioMergedRecursive),
      io_time_recursive: blkio(m.blkio?.ioTimeRecursive),
      sectors_recursive: blkio(m.blkio?.sectorsRecursive),
    },
    cpu_stats: {
      cpu_usage: {
        total_usage: n(cpu?.usage?.total),
        ...(cpu?.usage?.perCpu.length ? { percpu_usage: cpu.usage.perCpu.map(n) } : {}),
        usage_in_kernelmode: n(cpu?.usage?.kernel),
        usage_in_usermode: n(cpu?.usage?.user),
      },
      throttling_data: {
        periods: n(cpu?.throttling?.periods),
        throttled_periods: n(cpu?.throttling?.throttledPeriods),
        throttled_time: n(cpu?.throttling?.throttledTime),
      },
    },
    memory_stats: mem ? { usage: n(mem.usage?.usage), max_usage: n(mem.usage?.max), stats, failcnt: n(mem.usage?.failcnt), limit: n(mem.usage?.limit) } : {},
  };
}

export function fromV2(m: V2): ContainerSample {
  const base = emptyStats('', '');
  const mem = m.memory;
  const stats: Record<string, number> = {};
  if (mem) for (const [key, field] of cgroups.V2_MEMORY_STAT_FIELDS) stats[key] = n(mem[field] as bigint);
  const cpu = m.cpu;
  const io: BlkioEntry[] = [];
  for (const e of m.io?.usage ?? []) {
    io.push(
      { major: n(e.major), minor: n(e.minor), op: 'read', value: n(e.rbytes) },
      { major: n(e.major), minor: n(e.minor), op: 'write', value: n(e.wbytes) },
    );
  }
  const us = (v: bigint | undefined) => n(v) * 1000;
  return {
    pids_stats: pids(m.pids),
    blkio_stats: { ...base.blkio_stats, io_service_bytes_recursive: io.length > 0 ? io : null },
    cpu_stats: {
      cpu_usage: { total_usage: us(cpu?.usageUsec), usage_in_kernelmode: us(cpu?.systemUsec), usage_in_usermode: us(cpu?.userUsec) },
      throttling_data: { periods: n(cpu?.nrPeriods), throttled_periods: n(cpu?.nrThrottled), throttled_time: us(cpu?.throttledUsec) },
    },
    memory_stats: mem ? { usage: n(mem.usage), stats, limit: n(mem.usageLimit) } : {},
  };
}

function pids(p: { current: bigint; limit: bigint } | undefined): DockerStats['pids_stats'] {
  if (!p) return {};
  return { current: n(p.current), ...(p.limit > 0n ? { limit: n(p.limit) } : {}) };
}

/** A containerd Metric (Any of v1 or v2 cgroup metrics) as a container sample; undefined for an unknown payload. */
export function fromMetric(m: types.Metric): ContainerSample | undefined {
  const data = m.data;
  if (!data) return undefined;
  const bytes = data.value instanceof Uint8Array ? data.value : new Uint8Array(data.value as ArrayLike<number>);
  if (data.typeUrl.endsWith(cgroups.V1_METRICS_TYPE)) return fromV1(cgroups.v1.Metrics.decode(bytes));
  if (data.typeUrl.endsWith(cgroups.V2_METRICS_TYPE)) return fromV2(cgroups.v2.Metrics.decode(bytes));
  return undefined;
}

/** One full StatsJSON from a container sample, the host's, and the previous one of this stream. */
export function assemble(name: string, id: string, read: Date, sample: ContainerSample, host: HostSample, prev?: DockerStats): DockerStats {
  const memory = { ...sample.memory_stats };
  // dockerd: a limit above the machine's memory (unlimited) is reported as the machine's memory
  if (host.memTotal > 0 && (memory.limit === undefined || memory.limit === 0 || memory.limit > host.memTotal)) memory.limit = host.memTotal;
  const base = emptyStats(name, id);
  return {
    ...base,
    read: read.toISOString(),
    preread: prev?.read ?? ZERO_TIME,
    pids_stats: sample.pids_stats,
    blkio_stats: sample.blkio_stats,
    cpu_stats: { ...sample.cpu_stats, system_cpu_usage: host.systemCpuNs, online_cpus: host.onlineCpus },
    precpu_stats: prev ? prev.cpu_stats : base.precpu_stats,
    memory_stats: memory,
  };
}

/** The cgroup sample of task `id` (Tasks.Metrics), or undefined when it has none or went away meanwhile. */
export async function taskSample(cd: Containerd, id: string): Promise<ContainerSample | undefined> {
  try {
    const r = await cd.call(cd.tasks, cd.tasks.metrics, { filters: [`id==${id}`] }, 5000);
    const m = r.metrics.find((x) => x.id === id);
    return m ? fromMetric(m) : undefined;
  } catch {
    return undefined; // the task went away between the caller's check and the call
  }
}
