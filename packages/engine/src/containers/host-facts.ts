/** Facts about this host that decide a container's defaults, read once per daemon. */
import * as os from 'node:os';
import { detectCgroupVersion } from '@gantry/runtime';

let cgroupVersion: 1 | 2 | undefined;

/** The host's cgroup version: an unset CgroupnsMode means private on v2 and host on v1 (dockerd's defaults). */
export function hostCgroupVersion(): 1 | 2 {
  cgroupVersion ??= detectCgroupVersion();
  return cgroupVersion;
}

/** What the seccomp profile's arch and kernel conditions are resolved against. */
export function hostPlatform(): { arch: string; kernel: string } {
  return { arch: process.arch, kernel: os.release() };
}
