/** One row of `gantry stats`: docker's computations (CPU % from the sample's two readings, memory less the page cache). */
import type { ContainerStats } from '@gantry/client';
import { bytesSize, humanSizeWithPrecision, truncateId } from '@gantry/format';

export const STATS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

export const STATS_HEADER = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

export function cpuPercent(s: ContainerStats): number {
  const cpu = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats.cpu_usage?.total_usage ?? 0);
  const system = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const online = s.cpu_stats.online_cpus ?? s.cpu_stats.cpu_usage.percpu_usage?.length ?? 1;
  return system > 0 && cpu > 0 ? (cpu / system) * online * 100 : 0;
}

/** Usage without the inactive page cache (cgroup v2 `inactive_file`, v1 `total_inactive_file`). */
export function memoryUsage(s: ContainerStats): number {
  const usage = s.memory_stats.usage ?? 0;
  const st = s.memory_stats.stats ?? {};
  const cache = st.inactive_file ?? st.total_inactive_file ?? 0;
  return cache < usage ? usage - cache : usage;
}

function sumIo(s: ContainerStats): [number, number] {
  let read = 0;
  let write = 0;
  for (const e of s.blkio_stats.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') read += e.value;
    else if (op === 'write') write += e.value;
  }
  return [read, write];
}

function sumNet(s: ContainerStats): [number, number] {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  return [rx, tx];
}

const percent = (n: number): string => `${n.toFixed(2)}%`;
const size = (n: number): string => humanSizeWithPrecision(n, 3);

export class StatsRow {
  constructor(
    private readonly container: string,
    private readonly id: string,
    private readonly name: string,
    private readonly s: ContainerStats | undefined,
    private readonly trunc: boolean,
  ) {}
  get Container(): string {
    return this.container;
  }
  get ID(): string {
    return this.trunc ? truncateId(this.id) : this.id;
  }
  get Name(): string {
    return this.name.replace(/^\//, '');
  }
  get CPUPerc(): string {
    return this.s === undefined ? '--' : percent(cpuPercent(this.s));
  }
  get MemUsage(): string {
    if (this.s === undefined) return '-- / --';
    return `${bytesSize(memoryUsage(this.s))} / ${bytesSize(this.s.memory_stats.limit ?? 0)}`;
  }
  get MemPerc(): string {
    if (this.s === undefined) return '--';
    const limit = this.s.memory_stats.limit ?? 0;
    return percent(limit > 0 ? (memoryUsage(this.s) / limit) * 100 : 0);
  }
  get NetIO(): string {
    if (this.s === undefined) return '--';
    const [rx, tx] = sumNet(this.s);
    return `${size(rx)} / ${size(tx)}`;
  }
  get BlockIO(): string {
    if (this.s === undefined) return '--';
    const [r, w] = sumIo(this.s);
    return `${size(r)} / ${size(w)}`;
  }
  get PIDs(): string {
    return this.s === undefined ? '--' : String(this.s.pids_stats.current ?? 0);
  }
}
