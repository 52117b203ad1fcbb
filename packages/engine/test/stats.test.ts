import { cgroups, type types } from '@gantry/api';
import { assemble, emptyStats, fromMetric, fromV1, fromV2, parseMemTotal, parseProcStat, ZERO_TIME } from '../src/containers/stats';

const MiB = 1024 * 1024;

function v1Metrics(limit: bigint): cgroups.v1.Metrics {
  return cgroups.v1.Metrics.fromPartial({
    pids: { current: 3n, limit: 0n },
    cpu: {
      usage: { total: 5_000_000n, kernel: 1_000_000n, user: 4_000_000n, perCpu: [2_000_000n, 3_000_000n] },
      throttling: { periods: 7n, throttledPeriods: 2n, throttledTime: 900n },
    },
    memory: { cache: 4096n, rss: 8192n, totalInactiveFile: 1024n, usage: { usage: 40n * 1024n, limit, max: 50n * 1024n, failcnt: 1n } },
    blkio: { ioServiceBytesRecursive: [{ op: 'Read', device: '', major: 8n, minor: 0n, value: 512n }] },
  });
}

describe('stats conversion', () => {
  it('maps cgroup v1 metrics to Docker field names', () => {
    const s = fromV1(v1Metrics(64n * BigInt(MiB)));
    expect(s.pids_stats).toEqual({ current: 3 });
    expect(s.cpu_stats.cpu_usage).toEqual({
      total_usage: 5_000_000,
      percpu_usage: [2_000_000, 3_000_000],
      usage_in_kernelmode: 1_000_000,
      usage_in_usermode: 4_000_000,
    });
    expect(s.cpu_stats.throttling_data).toEqual({ periods: 7, throttled_periods: 2, throttled_time: 900 });
    expect(s.memory_stats).toMatchObject({ usage: 40 * 1024, max_usage: 50 * 1024, failcnt: 1, limit: 64 * MiB });
    expect(s.memory_stats.stats).toMatchObject({ cache: 4096, rss: 8192, total_inactive_file: 1024 });
    expect(s.blkio_stats.io_service_bytes_recursive).toEqual([{ major: 8, minor: 0, op: 'Read', value: 512 }]);
    expect(s.blkio_stats.io_serviced_recursive).toBeNull();
  });

  it('maps cgroup v2 metrics, microseconds to nanoseconds', () => {
    const s = fromV2(
      cgroups.v2.Metrics.fromPartial({
        pids: { current: 2n, limit: 100n },
        cpu: { usageUsec: 1500n, userUsec: 1000n, systemUsec: 500n, nrPeriods: 4n, nrThrottled: 1n, throttledUsec: 3n },
        memory: { usage: 2048n, usageLimit: 4096n, inactiveFile: 512n, anon: 1024n },
        io: { usage: [{ major: 259n, minor: 0n, rbytes: 10n, wbytes: 20n, rios: 1n, wios: 2n }] },
      }),
    );
    expect(s.pids_stats).toEqual({ current: 2, limit: 100 });
    expect(s.cpu_stats.cpu_usage).toEqual({ total_usage: 1_500_000, usage_in_kernelmode: 500_000, usage_in_usermode: 1_000_000 });
    expect(s.cpu_stats.throttling_data).toEqual({ periods: 4, throttled_periods: 1, throttled_time: 3000 });
    expect(s.memory_stats).toMatchObject({ usage: 2048, limit: 4096 });
    expect(s.memory_stats.stats).toMatchObject({ inactive_file: 512, anon: 1024 });
    expect(s.blkio_stats.io_service_bytes_recursive).toEqual([
      { major: 259, minor: 0, op: 'read', value: 10 },
      { major: 259, minor: 0, op: 'write', value: 20 },
    ]);
  });

  it('decodes a containerd Metric by its type URL', () => {
    const m: types.Metric = {
      id: 'c',
      data: { typeUrl: cgroups.V1_METRICS_TYPE, value: Buffer.from(cgroups.v1.Metrics.encode(v1Metrics(1n << 62n)).finish()) },
    };
    expect(fromMetric(m)?.pids_stats.current).toBe(3);
    expect(fromMetric({ id: 'c', data: { typeUrl: 'x.Unknown', value: Buffer.alloc(0) } })).toBeUndefined();
  });

  it('assembles a sample: host memory as the limit when unlimited, precpu from the previous sample', () => {
    const host = { systemCpuNs: 1e12, onlineCpus: 2, memTotal: 8 * 1024 * MiB };
    const first = assemble('/c', 'id', new Date(1000), fromV1(v1Metrics(9223372036854771712n)), host);
    expect(first.memory_stats.limit).toBe(8 * 1024 * MiB);
    expect(first.preread).toBe(ZERO_TIME);
    expect(first.precpu_stats.cpu_usage.total_usage).toBe(0);
    expect(first.cpu_stats).toMatchObject({ system_cpu_usage: 1e12, online_cpus: 2 });
    const second = assemble('/c', 'id', new Date(2000), fromV1(v1Metrics(64n * BigInt(MiB))), { ...host, systemCpuNs: 2e12 }, first);
    expect(second.memory_stats.limit).toBe(64 * MiB);
    expect(second.preread).toBe(first.read);
    expect(second.precpu_stats).toEqual(first.cpu_stats);
    expect(second.networks).toBeUndefined();
    expect(second).toMatchObject({ name: '/c', id: 'id' });
  });

  it('gives a stopped container the zero value with its name and id', () => {
    const z = emptyStats('/s', 'abc');
    expect(z).toMatchObject({ read: ZERO_TIME, name: '/s', id: 'abc', memory_stats: {}, pids_stats: {}, num_procs: 0 });
    expect(z.cpu_stats.cpu_usage.total_usage).toBe(0);
  });
});

describe('host readings', () => {
  it('sums user..softirq of /proc/stat in nanoseconds and counts CPUs', () => {
    const text = 'cpu  100 5 50 1000 10 1 2 3 0 0\ncpu0 50 2 25 500 5 0 1 1 0 0\ncpu1 50 3 25 500 5 1 1 2 0 0\nintr 1\n';
    expect(parseProcStat(text)).toEqual({ systemCpuNs: (100 + 5 + 50 + 1000 + 10 + 1 + 2) * 1e7, onlineCpus: 2 });
  });
  it('reads MemTotal in bytes', () => {
    expect(parseMemTotal('MemTotal:       16318276 kB\nMemFree: 1 kB\n')).toBe(16318276 * 1024);
  });
});
