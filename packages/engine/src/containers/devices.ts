/**
 * Host devices for a container's spec: `--device` mappings, the host's nodes for `--privileged`,
 * and the major:minor numbers per-device blkio limits are keyed by. The spec builder takes these
 * through `DeviceLookup`, so it stays pure and its tests give it a fake.
 */
import { DeviceLookupError, deviceNumbers, devicesAt, errdefs, hostDevicesUnder } from '@gantry/linux';
import type { Device } from '@gantry/runtime';

export interface DeviceLookup {
  /** The nodes a `--device` host path names (one node, or every node under a directory), at their container paths. */
  mapped(pathOnHost: string, pathInContainer: string): Device[];
  /** Every device node of the host's /dev (a privileged container's). */
  host(): Device[];
  /** The major:minor of the node at `path`, for a per-device blkio limit. */
  numbers(path: string): { major: number; minor: number };
}

/** The real host, read when a container is created. */
export const hostDeviceLookup: DeviceLookup = {
  mapped(pathOnHost, pathInContainer) {
    try {
      return devicesAt(pathOnHost, pathInContainer);
    } catch (e) {
      if (!(e instanceof DeviceLookupError)) throw e;
      throw errdefs.invalidArgument(`error gathering device information while adding custom device "${pathOnHost}": ${e.reason}`);
    }
  },
  host() {
    return hostDevicesUnder('/dev');
  },
  numbers(path) {
    try {
      return deviceNumbers(path);
    } catch (e) {
      if (!(e instanceof DeviceLookupError)) throw e;
      if (e.reason === 'not a device node') throw errdefs.invalidArgument(`blkio device "${path}" is not a device node`);
      throw errdefs.invalidArgument(`failed to get device numbers of blkio device "${path}": ${e.reason}`);
    }
  },
};
