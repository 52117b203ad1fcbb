/**
 * Host devices for a container's spec: `--device` mappings, the host's nodes for `--privileged`,
 * and the major:minor numbers per-device blkio limits are keyed by. The spec builder takes these
 * through `DeviceLookup`, so it stays pure and its tests give it a fake.
 */
import * as fs from 'node:fs';
import { errdefs, hostDevice, hostDevicesUnder, type HostDevice } from '@gantry/linux';
import type { Device } from '@gantry/runtime';

export interface DeviceLookup {
  /** The nodes a `--device` host path names (one node, or every node under a directory), at their container paths. */
  mapped(pathOnHost: string, pathInContainer: string): Device[];
  /** Every device node of the host's /dev (a privileged container's). */
  host(): Device[];
  /** The major:minor of the node at `path`, for a per-device blkio limit. */
  numbers(path: string): { major: number; minor: number };
}

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return e instanceof Error ? e.message : String(e);
}

function toDevice(d: HostDevice, at: string): Device {
  return { type: d.type, path: at, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid };
}

/** The real host, read when a container is created. */
export const hostDeviceLookup: DeviceLookup = {
  mapped(pathOnHost, pathInContainer) {
    const fail = (why: string) => errdefs.invalidArgument(`error gathering device information while adding custom device "${pathOnHost}": ${why}`);
    // a symlink (/dev/disk/by-id/...) names its target's node, which keeps the mapping's container path
    let resolved = pathOnHost;
    try {
      resolved = fs.realpathSync(pathOnHost);
    } catch (e) {
      throw fail(reason(e));
    }
    let node: HostDevice | undefined;
    try {
      node = hostDevice(resolved, false);
    } catch (e) {
      throw fail(reason(e));
    }
    if (node) return [toDevice(node, pathInContainer)];
    if (fs.statSync(resolved).isDirectory()) {
      const under = hostDevicesUnder(resolved, { all: true });
      if (under.length > 0) return under.map((d) => toDevice(d, pathInContainer + d.path.slice(resolved.length)));
    }
    throw fail('not a device node');
  },
  host() {
    return hostDevicesUnder('/dev').map((d) => toDevice(d, d.path));
  },
  numbers(path) {
    let node: HostDevice | undefined;
    try {
      node = hostDevice(path);
    } catch (e) {
      throw errdefs.invalidArgument(`failed to get device numbers of blkio device "${path}": ${reason(e)}`);
    }
    if (!node) throw errdefs.invalidArgument(`blkio device "${path}" is not a device node`);
    return { major: node.major, minor: node.minor };
  },
};
