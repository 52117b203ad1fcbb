import * as fs from 'node:fs';
import type { Unmet } from './requirements';

/** Where cgroup2 is mounted: /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid one. */
export function cgroup2Mount(): string | undefined {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[f.indexOf('-') + 1] === 'cgroup2')
    .map((f) => f[4]!);
  return mounts.find((m) => m === '/sys/fs/cgroup') ?? mounts.find((m) => m === '/sys/fs/cgroup/unified') ?? mounts[0];
}

export function needCgroup2(): Unmet {
  return cgroup2Mount() === undefined ? 'no cgroup2 file system is mounted' : undefined;
}
