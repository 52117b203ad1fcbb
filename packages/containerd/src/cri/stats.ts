/**
 * Container and pod stats from the tasks' cgroup metrics (Tasks.Metrics: cgroup v1 or v2) and the
 * writable layer's usage (Snapshots.Usage). A pod's numbers are the sums of its containers'.
 */
import { cgroups, cri } from '@gantry/api';
import { SNAPSHOTTER } from './clients';
import { containerConfigOf } from './containers';
import type { CriContext } from './context';
import { matchLabels } from './filters';
import { sandboxConfigOf } from './pod-sandboxes';
import { nowNs, type ContainerRecord, type SandboxRecord } from './store';

interface Sample {
  cpuNs: bigint;
  memUsage: bigint;
  workingSet: bigint;
  rss: bigint;
  pageFaults: bigint;
  majorPageFaults: bigint;
  pids: bigint;
}

const u64 = (v: bigint) => ({ value: v < 0n ? 0n : v });

async function sample(c: CriContext, id: string): Promise<Sample | undefined> {
  const r = await c.cd.call(c.cd.tasks, c.cd.tasks.metrics, { filters: [`id==${id}`] }).catch(() => undefined);
  const m = r?.metrics.find((x) => x.id === id)?.data;
  if (!m) return undefined;
  if (m.typeUrl === cgroups.V2_METRICS_TYPE) {
    const s = cgroups.v2.Metrics.decode(m.value);
    const usage = s.memory?.usage ?? 0n;
    return {
      cpuNs: (s.cpu?.usageUsec ?? 0n) * 1000n,
      memUsage: usage,
      workingSet: usage - (s.memory?.inactiveFile ?? 0n),
      rss: s.memory?.anon ?? 0n,
      pageFaults: s.memory?.pgfault ?? 0n,
      majorPageFaults: s.memory?.pgmajfault ?? 0n,
      pids: s.pids?.current ?? 0n,
    };
  }
  const s = cgroups.v1.Metrics.decode(m.value);
  const usage = s.memory?.usage?.usage ?? 0n;
  return {
    cpuNs: s.cpu?.usage?.total ?? 0n,
    memUsage: usage,
    workingSet: usage - (s.memory?.totalInactiveFile ?? 0n),
    rss: s.memory?.totalRss ?? 0n,
    pageFaults: s.memory?.totalPgFault ?? 0n,
    majorPageFaults: s.memory?.totalPgMajFault ?? 0n,
    pids: s.pids?.current ?? 0n,
  };
}

function cpuOf(ts: bigint, s: Sample | undefined): cri.CpuUsage {
  return cri.CpuUsage.fromPartial({ timestamp: ts, usageCoreNanoSeconds: u64(s?.cpuNs ?? 0n) });
}

function memOf(ts: bigint, s: Sample | undefined): cri.MemoryUsage {
  return cri.MemoryUsage.fromPartial({
    timestamp: ts,
    workingSetBytes: u64(s?.workingSet ?? 0n),
    usageBytes: u64(s?.memUsage ?? 0n),
    rssBytes: u64(s?.rss ?? 0n),
    pageFaults: u64(s?.pageFaults ?? 0n),
    majorPageFaults: u64(s?.majorPageFaults ?? 0n),
  });
}

async function containerStats(c: CriContext, rec: ContainerRecord, s?: Sample): Promise<cri.ContainerStats> {
  const ts = BigInt(nowNs());
  s ??= rec.state === 'running' ? await sample(c, rec.id) : undefined;
  const config = containerConfigOf(rec);
  const usage = await c.cd.call(c.cd.snapshots, c.cd.snapshots.usage, { snapshotter: SNAPSHOTTER, key: rec.id }).catch(() => undefined);
  return cri.ContainerStats.fromPartial({
    attributes: { id: rec.id, metadata: config.metadata, labels: config.labels, annotations: config.annotations },
    cpu: cpuOf(ts, s),
    memory: memOf(ts, s),
    writableLayer: { timestamp: ts, fsId: { mountpoint: `${SNAPSHOTTER}:${rec.id}` }, usedBytes: u64(usage?.size ?? 0n), inodesUsed: u64(usage?.inodes ?? 0n) },
  });
}

export function containerStatsOne(c: CriContext, id: string): Promise<cri.ContainerStats> {
  return containerStats(c, c.store.container(id));
}

export async function listContainerStats(c: CriContext, f: cri.ContainerStatsFilter | undefined): Promise<cri.ContainerStats[]> {
  const recs = c.store
    .listContainers()
    .filter(
      (r) =>
        (!f?.id || r.id.startsWith(f.id)) &&
        (!f?.podSandboxId || r.sandboxId.startsWith(f.podSandboxId)) &&
        matchLabels(containerConfigOf(r).labels, f?.labelSelector),
    );
  return Promise.all(recs.map((r) => containerStats(c, r)));
}

async function podStats(c: CriContext, pod: SandboxRecord): Promise<cri.PodSandboxStats> {
  const ts = BigInt(nowNs());
  const cfg = sandboxConfigOf(pod);
  const recs = c.store.listContainers().filter((r) => r.sandboxId === pod.id);
  const sum: Sample = { cpuNs: 0n, memUsage: 0n, workingSet: 0n, rss: 0n, pageFaults: 0n, majorPageFaults: 0n, pids: 0n };
  const containers: cri.ContainerStats[] = [];
  for (const r of recs) {
    const s = r.state === 'running' ? await sample(c, r.id) : undefined;
    if (s) for (const k of Object.keys(sum) as (keyof Sample)[]) sum[k] += s[k];
    containers.push(await containerStats(c, r, s));
  }
  return cri.PodSandboxStats.fromPartial({
    attributes: { id: pod.id, metadata: cfg.metadata, labels: cfg.labels, annotations: cfg.annotations },
    linux: {
      cpu: cpuOf(ts, sum),
      memory: memOf(ts, sum),
      process: { timestamp: ts, processCount: u64(sum.pids) },
      containers,
    },
  });
}

export function podSandboxStatsOne(c: CriContext, id: string): Promise<cri.PodSandboxStats> {
  return podStats(c, c.store.sandbox(id));
}

export async function listPodSandboxStats(c: CriContext, f: cri.PodSandboxStatsFilter | undefined): Promise<cri.PodSandboxStats[]> {
  const pods = c.store.listSandboxes().filter((p) => (!f?.id || p.id.startsWith(f.id)) && matchLabels(sandboxConfigOf(p).labels, f?.labelSelector));
  return Promise.all(pods.map((p) => podStats(c, p)));
}
