import { cgroups, unpackAny } from '@gantry/api';
import type { CgroupStats } from '@gantry/runtime';
import { metricsAny, toV1Metrics, toV2Metrics } from '../src/grpc-service';

const MAX_U64 = 2n ** 64n - 1n;

/** v1 statistics as the runtime reads them (runc's shapes: ns, "max" as 2^64). */
function v1Stats(): CgroupStats {
  return {
    cpu: {
      usage: { total: 5_000_000, percpu: [3_000_000, 2_000_000], kernel: 1_000_000, user: 4_000_000 },
      throttling: { periods: 10, throttledPeriods: 2, throttledTime: 700 },
    },
    memory: {
      cache: 4096,
      usage: { usage: 1_048_576, max: 2_097_152, limit: 9223372036854771712, failcnt: 0 },
      swap: { usage: 1_048_576, max: 2_097_152, limit: 9223372036854771712, failcnt: 0 },
      kernel: { usage: 8192, max: 8192, limit: 2 ** 64, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
      raw: { cache: 4096, rss: 65536, pgpgin: 11, pgmajfault: 3, hierarchical_memsw_limit: 12345, total_cache: 8192, total_pgpgout: 9 },
    },
    pids: { current: 2, limit: 100 },
    blkio: {
      ioServiceBytesRecursive: [{ major: 8, minor: 0, op: 'Read', value: 512 }],
      ioQueueRecursive: [{ major: 8, minor: 0, op: 'Total', value: 1 }],
    },
    hugetlb: { '2MB': { usage: 0, max: 0, failcnt: 1 } },
  };
}

describe('cgroup statistics → containerd cgroup metrics', () => {
  test('v1: every group lands in io.containerd.cgroups.v1.Metrics, unlimited clamps to 2^64-1', () => {
    const m = toV1Metrics(v1Stats());
    expect(m.pids).toEqual({ current: 2n, limit: 100n });
    expect(m.cpu?.usage).toEqual({ total: 5_000_000n, kernel: 1_000_000n, user: 4_000_000n, perCpu: [3_000_000n, 2_000_000n] });
    expect(m.cpu?.throttling).toEqual({ periods: 10n, throttledPeriods: 2n, throttledTime: 700n });
    expect(m.memory?.usage).toEqual({ usage: 1_048_576n, max: 2_097_152n, limit: 9223372036854771712n, failcnt: 0n });
    expect(m.memory?.kernel?.limit).toBe(MAX_U64);
    expect(m.memory?.kernelTcp).toEqual({ usage: 0n, max: 0n, limit: 0n, failcnt: 0n });
    expect(m.memory).toMatchObject({
      cache: 4096n,
      rss: 65536n,
      pgPgIn: 11n,
      pgMajFault: 3n,
      hierarchicalSwapLimit: 12345n,
      totalCache: 8192n,
      totalPgPgOut: 9n,
      dirty: 0n,
    });
    expect(m.blkio?.ioServiceBytesRecursive).toEqual([{ op: 'Read', device: '', major: 8n, minor: 0n, value: 512n }]);
    expect(m.blkio?.ioQueuedRecursive).toHaveLength(1);
    expect(m.blkio?.sectorsRecursive).toEqual([]);
    expect(m.hugetlb).toEqual([{ pagesize: '2MB', usage: 0n, max: 0n, failcnt: 1n }]);
  });

  test('v2: back to the kernel units (µs, swap alone) of io.containerd.cgroups.v2.Metrics', () => {
    const s: CgroupStats = {
      cpu: { usage: { total: 7_000_000, user: 5_000_000, kernel: 2_000_000 }, throttling: { periods: 4, throttledPeriods: 1, throttledTime: 3000 } },
      memory: {
        cache: 100,
        usage: { usage: 1000, max: 1500, limit: 4096, failcnt: 0 },
        swap: { usage: 1200, limit: 8192, failcnt: 0 },
        kernel: { limit: 0, failcnt: 0 },
        kernelTCP: { limit: 0, failcnt: 0 },
        raw: { anon: 600, file: 100, kernel_stack: 16, pgmajfault: 2, thp_collapse_alloc: 1 },
      },
      pids: { current: 3 },
      blkio: {
        ioServiceBytesRecursive: [
          { major: 8, minor: 0, op: 'Read', value: 10 },
          { major: 8, minor: 0, op: 'Write', value: 20 },
        ],
        ioServicedRecursive: [{ major: 8, minor: 0, op: 'Write', value: 2 }],
      },
      hugetlb: { '1GB': { usage: 0, failcnt: 0 } },
    };
    const m = toV2Metrics(s);
    expect(m.cpu).toMatchObject({ usageUsec: 7000n, userUsec: 5000n, systemUsec: 2000n, nrPeriods: 4n, nrThrottled: 1n, throttledUsec: 3n });
    expect(m.memory).toMatchObject({ usage: 1000n, usageLimit: 4096n, maxUsage: 1500n, swapUsage: 200n, swapLimit: 4096n });
    expect(m.memory).toMatchObject({ anon: 600n, file: 100n, kernelStack: 16n, pgmajfault: 2n, thpCollapseAlloc: 1n, slab: 0n });
    expect(m.pids).toEqual({ current: 3n, limit: 0n });
    expect(m.io?.usage).toEqual([{ major: 8n, minor: 0n, rbytes: 10n, wbytes: 20n, rios: 0n, wios: 2n }]);
    expect(m.hugetlb).toEqual([{ pagesize: '1GB', current: 0n, max: 0n }]);

    const unlimited = toV2Metrics({
      ...s,
      memory: { ...s.memory, usage: { ...s.memory.usage, limit: 2 ** 64 }, swap: { usage: 1000, limit: 2 ** 64, failcnt: 0 } },
    });
    expect(unlimited.memory).toMatchObject({ usageLimit: MAX_U64, swapLimit: MAX_U64, swapUsage: 0n });
  });

  test('metricsAny packs the message containerd names for the cgroup version', () => {
    const v1 = metricsAny(v1Stats(), 1);
    expect(v1.typeUrl).toBe('io.containerd.cgroups.v1.Metrics');
    expect(unpackAny(v1, cgroups.V1_METRICS_TYPE, cgroups.v1.Metrics)?.memory?.usage?.usage).toBe(1_048_576n);
    const v2 = metricsAny(v1Stats(), 2);
    expect(v2.typeUrl).toBe('io.containerd.cgroups.v2.Metrics');
    expect(unpackAny(v2, cgroups.V2_METRICS_TYPE, cgroups.v2.Metrics)?.memory?.usage).toBe(1_048_576n);
  });
});
