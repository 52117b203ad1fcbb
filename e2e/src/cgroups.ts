/** Where a container's cgroup files are on the host, read from its pid. */
import * as fs from 'node:fs';
import { join } from 'node:path';

/** A file of `pid`'s cgroup: `v1File` in the controller's v1 hierarchy (this machine), else `v2File` in the unified one. */
export function cgroupFile(pid: number, controller: string, v1File: string, v2File: string): string {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const mounts = fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '));
  const v1 = lines.find((l) => l.split(':')[1]!.split(',').includes(controller));
  if (v1) {
    const mnt = mounts.find((m) => m[2] === 'cgroup' && m[3]!.split(',').includes(controller))!;
    return join(mnt[1]!, v1.split(':')[2]!, v1File);
  }
  const mnt = mounts.find((m) => m[2] === 'cgroup2')!;
  return join(mnt[1]!, lines.find((l) => l.startsWith('0::'))!.slice(3), v2File);
}
