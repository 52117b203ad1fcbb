import * as fs from 'node:fs';
import { ConfigError } from '../errors';
import type { Resources } from '../spec/types';
import { parseBytes, str, UsageError, type FlagSpec, type Parsed } from './args';

export const UPDATE_FLAGS: FlagSpec[] = [
  {
    name: 'resources',
    alias: 'r',
    type: 'string',
    usage: "path to a JSON file of the resources to update (runtime-spec linux.resources), or '-' for stdin; other options are then ignored",
  },
  { name: 'memory', type: 'string', usage: 'memory limit (bytes, or with a k/m/g suffix)' },
  { name: 'memory-reservation', type: 'string', usage: 'memory soft limit' },
  { name: 'memory-swap', type: 'string', usage: 'memory plus swap limit; -1 for unlimited swap' },
  { name: 'kernel-memory', type: 'string', usage: 'kernel memory limit (deprecated, ignored by recent kernels)' },
  { name: 'kernel-memory-tcp', type: 'string', usage: 'kernel TCP buffer memory limit (deprecated)' },
  { name: 'cpu-share', alias: 'cpu-shares', type: 'string', usage: 'CPU shares (relative weight)' },
  { name: 'cpu-quota', type: 'string', usage: 'CFS quota in microseconds per period' },
  { name: 'cpu-period', type: 'string', usage: 'CFS period in microseconds' },
  { name: 'cpu-rt-period', type: 'string', usage: 'realtime period in microseconds' },
  { name: 'cpu-rt-runtime', type: 'string', usage: 'realtime runtime in microseconds per period' },
  { name: 'cpuset-cpus', type: 'string', usage: 'CPUs the container may use (e.g. 0-2,4)' },
  { name: 'cpuset-mems', type: 'string', usage: 'memory nodes the container may use' },
  { name: 'pids-limit', type: 'string', usage: 'maximum number of processes (default: 0)' },
  { name: 'blkio-weight', type: 'string', usage: 'block IO weight, 10 to 1000 (default: 0)' },
  { name: 'l3-cache-schema', type: 'string', usage: 'Intel RDT L3 cache schema (not supported)' },
  { name: 'mem-bw-schema', type: 'string', usage: 'Intel RDT memory bandwidth schema (not supported)' },
];

function num(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`invalid value for --${name}: ${v}`);
  return Number(v);
}

function bytes(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  return v === undefined ? undefined : parseBytes(v);
}

/** The resources `update` applies: a LinuxResources JSON from --resources (file or "-"), or the flags. */
export function resourcesFrom(p: Parsed): Resources {
  const file = str(p, 'resources');
  if (file) {
    try {
      return JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8')) as Resources;
    } catch (e) {
      throw new ConfigError(`update: invalid resources JSON: ${(e as Error).message}`);
    }
  }
  const r: Resources = {};
  const memory = { limit: bytes(p, 'memory'), reservation: bytes(p, 'memory-reservation'), swap: bytes(p, 'memory-swap') };
  if (Object.values(memory).some((v) => v !== undefined)) r.memory = JSON.parse(JSON.stringify(memory)) as Resources['memory'];
  const cpu = {
    shares: num(p, 'cpu-share'),
    quota: num(p, 'cpu-quota'),
    period: num(p, 'cpu-period'),
    realtimePeriod: num(p, 'cpu-rt-period'),
    realtimeRuntime: num(p, 'cpu-rt-runtime'),
    cpus: str(p, 'cpuset-cpus'),
    mems: str(p, 'cpuset-mems'),
  };
  if (Object.values(cpu).some((v) => v !== undefined)) r.cpu = JSON.parse(JSON.stringify(cpu)) as Resources['cpu'];
  const pids = num(p, 'pids-limit');
  if (pids !== undefined) r.pids = { limit: pids };
  const weight = num(p, 'blkio-weight');
  if (weight !== undefined) r.blockIO = { weight };
  return r;
}
