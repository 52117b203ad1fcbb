/**
 * Host devices of a CRI container: ContainerConfig.devices (a node, or every node under a
 * directory, at its container path with its cgroup permissions) and a privileged container's host
 * /dev, read through @gantry/linux when the container is created. The spec builder takes them
 * through `DeviceLookup`, so it stays pure and its tests give it a fake.
 */
import { DeviceLookupError, devicesAt, errdefs, hostDevicesUnder } from '@gantry/linux';
import type { Device } from '@gantry/runtime';

export interface DeviceLookup {
  /** The nodes a device's host path names (one node, or every node under a directory), at their container paths. */
  mapped(hostPath: string, containerPath: string): Device[];
  /** Every device node of the host's /dev (a privileged container's). */
  host(): Device[];
}

/** The real host. */
export const hostDeviceLookup: DeviceLookup = {
  mapped(hostPath, containerPath) {
    try {
      return devicesAt(hostPath, containerPath);
    } catch (e) {
      if (!(e instanceof DeviceLookupError)) throw e;
      throw errdefs.invalidArgument(`failed to add device "${hostPath}": ${e.reason}`);
    }
  },
  host() {
    return hostDevicesUnder('/dev');
  },
};
