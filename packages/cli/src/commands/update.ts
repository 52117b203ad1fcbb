/** `gantry update`: resources and the restart policy of containers. */
import type { Command } from 'commander';
import type { ContainerUpdateRequest } from '@gantry/client';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { bytes, int, nanoCpus, swapBytes } from '../container/units';
import { forEach } from './each';

export interface UpdateOptions {
  blkioWeight?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpuShares?: number;
  cpus?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: number;
  memoryReservation?: number;
  memorySwap?: number;
  pidsLimit?: number;
  restart?: string;
}

/** The update body for these flags: only what was given (docker's CLI sends zeros, which the daemon reads as unchanged). */
export function updateRequest(o: UpdateOptions): ContainerUpdateRequest {
  const body: ContainerUpdateRequest = {
    BlkioWeight: o.blkioWeight,
    CpuPeriod: o.cpuPeriod,
    CpuQuota: o.cpuQuota,
    CpuRealtimePeriod: o.cpuRtPeriod,
    CpuRealtimeRuntime: o.cpuRtRuntime,
    CpuShares: o.cpuShares,
    NanoCpus: o.cpus,
    CpusetCpus: o.cpusetCpus,
    CpusetMems: o.cpusetMems,
    Memory: o.memory,
    MemoryReservation: o.memoryReservation,
    MemorySwap: o.memorySwap,
    PidsLimit: o.pidsLimit,
  };
  if (o.restart !== undefined) {
    const [name = '', count] = o.restart.split(':');
    if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(name)) throw new CliError(`invalid restart policy '${name}'`, 125);
    body.RestartPolicy = { Name: name, MaximumRetryCount: count === undefined ? 0 : int(count) };
  }
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as ContainerUpdateRequest;
}

export function updateCommand(program: Command, ctx: CliContext): void {
  program
    .command('update')
    .description('Update configuration of one or more containers')
    .argument('<CONTAINER...>')
    .option('--blkio-weight <uint16>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', int)
    .option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period', int)
    .option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota', int)
    .option('--cpu-rt-period <int>', 'Limit the CPU real-time period in microseconds', int)
    .option('--cpu-rt-runtime <int>', 'Limit the CPU real-time runtime in microseconds', int)
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)', int)
    .option('--cpus <decimal>', 'Number of CPUs', nanoCpus)
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('-m, --memory <bytes>', 'Memory limit', bytes)
    .option('--memory-reservation <bytes>', 'Memory soft limit', bytes)
    .option('--memory-swap <bytes>', 'Swap limit equal to memory plus swap: -1 to enable unlimited swap', swapBytes)
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)', int)
    .option('--restart <string>', 'Restart policy to apply when a container exits')
    .action(async (names: string[], o: UpdateOptions) => {
      const body = updateRequest(o);
      if (Object.keys(body).length === 0) throw new CliError('you must provide one or more flags when using this command', 1);
      await forEach(ctx, names, async (n) => {
        const r = await ctx.client().containers.update(n, body);
        for (const w of r.Warnings ?? []) ctx.stderr.write(`${w}\n`);
        return `${n}\n`;
      });
    });
}
