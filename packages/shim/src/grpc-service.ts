import { type ServiceError, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { cgroups, packAny, type protobuf, shim, timestampFromDate } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { CgroupStats, Process, Resources } from '@gantry/runtime';
import { type TaskService } from './task-service';

/** type_url of the OCI process and resources JSON in Any, as containerd sends them. */
export const PROCESS_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
export const RESOURCES_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';

export const SHIM_VERSION = '0.1.0';

/** The gRPC status of anything a handler throws: the message as it is, the code by its errdefs kind. */
export function grpcError(e: unknown): Partial<ServiceError> {
  const { code, details } = errdefs.grpcStatusOf(e);
  return { code, details, message: details };
}

function jsonAny<T>(any: protobuf.Any | undefined, what: string): T {
  if (!any) throw errdefs.invalidArgument(`${what} is required`);
  try {
    return JSON.parse(Buffer.from(any.value).toString('utf8')) as T;
  } catch (e) {
    throw errdefs.invalidArgument(`${what}: invalid JSON: ${(e as Error).message}`);
  }
}

/** Adapt a handler (sync or async) to grpc-js's callback style, mapping errors to status codes. */
function unary<Req, Res>(fn: (req: Req) => Res | Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => cb(null, res),
        (e: unknown) => cb(grpcError(e)),
      );
  };
}

const EMPTY = {};

const MAX_U64 = 2n ** 64n - 1n;

/** A cgroupfs number as uint64: absent → 0, "max" (2^64 in CgroupStats) → 2^64-1 as containerd reports it. */
function u64(n: number | undefined): bigint {
  if (n === undefined || Number.isNaN(n) || n <= 0) return 0n;
  if (n >= 2 ** 64) return MAX_U64;
  return BigInt(Math.trunc(n));
}

/** CgroupStats blkio keys (runc's names) → io.containerd.cgroups.v1 BlkIOStat fields. */
const V1_BLKIO: [string, keyof cgroups.v1.BlkIOStat][] = [
  ['ioServiceBytesRecursive', 'ioServiceBytesRecursive'],
  ['ioServicedRecursive', 'ioServicedRecursive'],
  ['ioQueueRecursive', 'ioQueuedRecursive'],
  ['ioServiceTimeRecursive', 'ioServiceTimeRecursive'],
  ['ioWaitTimeRecursive', 'ioWaitTimeRecursive'],
  ['ioMergedRecursive', 'ioMergedRecursive'],
  ['ioTimeRecursive', 'ioTimeRecursive'],
  ['sectorsRecursive', 'sectorsRecursive'],
];

function memoryEntryV1(e: CgroupStats['memory']['usage']): cgroups.v1.MemoryEntry {
  return { limit: u64(e.limit), usage: u64(e.usage), max: u64(e.max), failcnt: u64(e.failcnt) };
}

/** The runtime's statistics of a cgroup v1 container as containerd's io.containerd.cgroups.v1.Metrics. */
export function toV1Metrics(s: CgroupStats): cgroups.v1.Metrics {
  const raw = s.memory.raw ?? {};
  const memory = cgroups.v1.MemoryStat.fromPartial({
    usage: memoryEntryV1(s.memory.usage),
    swap: memoryEntryV1(s.memory.swap),
    kernel: memoryEntryV1(s.memory.kernel),
    kernelTcp: memoryEntryV1(s.memory.kernelTCP),
  });
  for (const [key, field] of cgroups.V1_MEMORY_STAT_FIELDS) (memory as unknown as Record<string, bigint>)[field] = u64(raw[key]);
  if (raw['cache'] === undefined && s.memory.cache !== undefined) memory.cache = u64(s.memory.cache);
  const blkio = cgroups.v1.BlkIOStat.fromPartial({});
  for (const [key, field] of V1_BLKIO) {
    blkio[field] = (s.blkio[key] ?? []).map((e) => ({ op: e.op, device: '', major: u64(e.major), minor: u64(e.minor), value: u64(e.value) }));
  }
  return cgroups.v1.Metrics.fromPartial({
    hugetlb: Object.entries(s.hugetlb ?? {}).map(([pagesize, h]) => ({ pagesize, usage: u64(h.usage), max: u64(h.max), failcnt: u64(h.failcnt) })),
    pids: { current: u64(s.pids.current), limit: u64(s.pids.limit) },
    cpu: {
      usage: { total: u64(s.cpu.usage.total), kernel: u64(s.cpu.usage.kernel), user: u64(s.cpu.usage.user), perCpu: (s.cpu.usage.percpu ?? []).map(u64) },
      throttling: {
        periods: u64(s.cpu.throttling.periods),
        throttledPeriods: u64(s.cpu.throttling.throttledPeriods),
        throttledTime: u64(s.cpu.throttling.throttledTime),
      },
    },
    memory,
    blkio,
  });
}

/**
 * The runtime's statistics of a cgroup v2 container as containerd's io.containerd.cgroups.v2.Metrics.
 * CgroupStats holds runc's shapes (nanoseconds, swap as memory+swap); this converts back to the
 * kernel's v2 units (microseconds, swap alone) that containerd reports.
 */
export function toV2Metrics(s: CgroupStats): cgroups.v2.Metrics {
  const raw = s.memory.raw ?? {};
  const usage = s.memory.usage;
  const swap = s.memory.swap;
  const memory = cgroups.v2.MemoryStat.fromPartial({
    usage: u64(usage.usage),
    usageLimit: u64(usage.limit),
    maxUsage: u64(usage.max),
    swapUsage: swap.usage === undefined ? 0n : u64(swap.usage - (usage.usage ?? 0)),
    swapLimit: swap.usage === undefined ? 0n : swap.limit >= 2 ** 64 ? MAX_U64 : u64(swap.limit - usage.limit),
  });
  for (const [key, field] of cgroups.V2_MEMORY_STAT_FIELDS) (memory as unknown as Record<string, bigint>)[field] = u64(raw[key]);
  const devices = new Map<string, cgroups.v2.IOEntry>();
  const io = (key: string, op: string, field: 'rbytes' | 'wbytes' | 'rios' | 'wios'): void => {
    for (const e of s.blkio[key] ?? []) {
      if (e.op !== op) continue;
      const dev = `${e.major}:${e.minor}`;
      let entry = devices.get(dev);
      if (!entry) devices.set(dev, (entry = cgroups.v2.IOEntry.fromPartial({ major: u64(e.major), minor: u64(e.minor) })));
      entry[field] = u64(e.value);
    }
  };
  io('ioServiceBytesRecursive', 'Read', 'rbytes');
  io('ioServiceBytesRecursive', 'Write', 'wbytes');
  io('ioServicedRecursive', 'Read', 'rios');
  io('ioServicedRecursive', 'Write', 'wios');
  const usec = (ns: number | undefined): bigint => u64(ns === undefined ? undefined : Math.round(ns / 1000));
  return cgroups.v2.Metrics.fromPartial({
    pids: { current: u64(s.pids.current), limit: u64(s.pids.limit) },
    cpu: {
      usageUsec: usec(s.cpu.usage.total),
      userUsec: usec(s.cpu.usage.user),
      systemUsec: usec(s.cpu.usage.kernel),
      nrPeriods: u64(s.cpu.throttling.periods),
      nrThrottled: u64(s.cpu.throttling.throttledPeriods),
      throttledUsec: usec(s.cpu.throttling.throttledTime),
    },
    memory,
    io: { usage: [...devices.values()] },
    hugetlb: Object.entries(s.hugetlb ?? {}).map(([pagesize, h]) => ({ pagesize, current: u64(h.usage), max: u64(h.max) })),
  });
}

/** Task.Stats' Any: containerd's cgroup metrics for the layout the container's cgroup lives in. */
export function metricsAny(s: CgroupStats, version: 1 | 2): protobuf.Any {
  return version === 2
    ? packAny(cgroups.V2_METRICS_TYPE, cgroups.v2.Metrics, toV2Metrics(s))
    : packAny(cgroups.V1_METRICS_TYPE, cgroups.v1.Metrics, toV1Metrics(s));
}

/** The containerd.task.v2.Task service of one shim, over a TaskService. */
export function taskServer(svc: TaskService, hooks: { shutdown: () => void; taskPid: () => number }): shim.TaskServer {
  return {
    state: unary((r: shim.StateRequest) => {
      const s = svc.state(r.execId);
      return shim.StateResponse.fromPartial({
        id: s.execId || s.id,
        bundle: s.bundle,
        pid: s.pid,
        status: s.status as number,
        stdin: s.stdin,
        stdout: s.stdout,
        stderr: s.stderr,
        terminal: s.terminal,
        exitStatus: s.exitStatus,
        exitedAt: s.exitedAt ? timestampFromDate(s.exitedAt) : undefined,
        execId: s.execId,
      });
    }),
    create: unary(async (r: shim.CreateTaskRequest) => ({
      pid: await svc.create({
        id: r.id,
        bundle: r.bundle,
        rootfs: r.rootfs.map((m) => ({ type: m.type, source: m.source, options: m.options })),
        terminal: r.terminal,
        stdin: r.stdin,
        stdout: r.stdout,
        stderr: r.stderr,
      }),
    })),
    start: unary(async (r: shim.StartRequest) => ({ pid: await svc.start(r.execId) })),
    delete: unary(async (r: shim.DeleteRequest) => {
      const d = await svc.delete(r.execId);
      return { pid: d.pid, exitStatus: d.exitStatus, exitedAt: timestampFromDate(d.exitedAt ?? new Date()) };
    }),
    pids: unary(() => ({ processes: svc.pids().map((pid) => ({ pid })) })),
    pause: unary(() => (svc.pause(), EMPTY)),
    resume: unary(() => (svc.resume(), EMPTY)),
    checkpoint: unary((): protobuf.Empty => {
      throw errdefs.failedPrecondition('checkpoint is not supported by gantry-shim');
    }),
    kill: unary((r: shim.KillRequest) => (svc.kill(r.execId, r.signal, r.all), EMPTY)),
    exec: unary((r: shim.ExecProcessRequest) => {
      svc.exec({ execId: r.execId, spec: jsonAny<Process>(r.spec, 'exec spec'), terminal: r.terminal, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr });
      return EMPTY;
    }),
    resizePty: unary((r: shim.ResizePtyRequest) => (svc.resizePty(r.execId, r.width, r.height), EMPTY)),
    closeIo: unary((r: shim.CloseIORequest) => {
      if (r.stdin) svc.closeIO(r.execId);
      return EMPTY;
    }),
    update: unary((r: shim.UpdateTaskRequest) => (svc.update(jsonAny<Resources>(r.resources, 'resources')), EMPTY)),
    wait: unary(async (r: shim.WaitRequest) => {
      const w = await svc.wait(r.execId);
      return { exitStatus: w.exitStatus, exitedAt: timestampFromDate(w.exitedAt) };
    }),
    stats: unary(() => {
      const stats = svc.stats();
      // The container id the shim holds (not the request's), then its cgroup manager's layout.
      const ctx = svc.runtime.ctx;
      const version = ctx.cgroup(ctx.store.load(svc.state('').id)).version;
      return { stats: metricsAny(stats, version) };
    }),
    connect: unary(() => ({ shimPid: process.pid, taskPid: hooks.taskPid(), version: SHIM_VERSION })),
    shutdown: unary((r: shim.ShutdownRequest) => {
      if (!r.now && !svc.idle()) throw errdefs.failedPrecondition('shim still has tasks; delete them first');
      setImmediate(hooks.shutdown);
      return EMPTY;
    }),
  };
}
