/**
 * Host devices of a CRI container: ContainerConfig.devices (a node, or every node under a
 * directory, at its container path with its cgroup permissions) and a privileged container's host
 * /dev, read through @gantry/linux when the container is created. The spec builder takes them
 * through `DeviceLookup`, so it stays pure and its tests give it a fake.
 */
import * as fs from 'node:fs';
import { errdefs, hostDevice, hostDevicesUnder, type HostDevice } from '@gantry/linux';
import type { Device } from '@gantry/runtime';

export interface DeviceLookup {
  /** The nodes a device's host path names (one node, or every node under a directory), at their container paths. */
  mapped(hostPath: string, containerPath: string): Device[];
  /** Every device node of the host's /dev (a privileged container's). */
  host(): Device[];
}

function toDevice(d: HostDevice, at: string): Device {
  return { type: d.type, path: at, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid };
}

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return e instanceof Error ? e.message : String(e);
}

/** The real host. */
export const hostDeviceLookup: DeviceLookup = {
  mapped(hostPath, containerPath) {
    const fail = (why: string) => errdefs.invalidArgument(`failed to add device "${hostPath}": ${why}`);
    let resolved: string;
    try {
      // a symlink (/dev/disk/by-id/...) names its target's node, which keeps the requested container path
      resolved = fs.realpathSync(hostPath);
    } catch (e) {
      throw fail(reason(e));
    }
    let node: HostDevice | undefined;
    try {
      node = hostDevice(resolved, false);
    } catch (e) {
      throw fail(reason(e));
    }
    if (node) return [toDevice(node, containerPath)];
    if (fs.statSync(resolved).isDirectory()) {
      const under = hostDevicesUnder(resolved, { all: true });
      if (under.length > 0) return under.map((d) => toDevice(d, containerPath + d.path.slice(resolved.length)));
    }
    throw fail('not a device node');
  },
  host() {
    return hostDevicesUnder('/dev').map((d) => toDevice(d, d.path));
  },
};
