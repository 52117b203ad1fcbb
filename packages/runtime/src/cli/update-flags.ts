import * as fs from 'node:fs';
import { ConfigError } from '../errors';
import type { Resources } from '../spec/types';
import { parseBytes, str, UsageError, type FlagSpec, type Parsed } from './args';

export const UPDATE_FLAGS: FlagSpec[] = [
  { name: 'resources', alias: 'r', type: 'string' },
  { name: 'memory', type: 'string' },
  { name: 'memory-reservation', type: 'string' },
  { name: 'memory-swap', type: 'string' },
  { name: 'kernel-memory', type: 'string' },
  { name: 'kernel-memory-tcp', type: 'string' },
  { name: 'cpu-shares', type: 'string' },
  { name: 'cpu-quota', type: 'string' },
  { name: 'cpu-period', type: 'string' },
  { name: 'cpu-rt-period', type: 'string' },
  { name: 'cpu-rt-runtime', type: 'string' },
  { name: 'cpuset-cpus', type: 'string' },
  { name: 'cpuset-mems', type: 'string' },
  { name: 'pids-limit', type: 'string' },
  { name: 'blkio-weight', type: 'string' },
  { name: 'l3-cache-schema', type: 'string' },
  { name: 'mem-bw-schema', type: 'string' },
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
    shares: num(p, 'cpu-shares'),
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
