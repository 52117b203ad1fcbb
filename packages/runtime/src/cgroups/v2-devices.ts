import { BPF, O, type Sys } from '@gantry/linux';
import type { DeviceCgroupRule } from '../spec/types';
import { DEVICE_FILTER_LICENSE, DEVICE_FILTER_NAME, buildDeviceFilter } from './device-filter';
import { CgroupError, errnoOf } from './errors';

/** The part of the kernel seam a device filter needs. */
export type DeviceFilterSys = Pick<Sys, 'open' | 'close' | 'bpfProgLoad' | 'bpfProgAttach' | 'bpfProgDetach' | 'bpfProgQuery' | 'bpfProgGetFdById'>;

/**
 * Make `rules` the device policy of the cgroup v2 directory `dir`: build the filter, load it,
 * attach it (BPF_F_ALLOW_MULTI), then detach whatever device programs were attached there before.
 * While both are attached the kernel runs both and a request needs both to allow it, so the
 * swap never lets through anything either policy refuses. Any failure throws: the caller must not
 * start a container whose device rules are not in force.
 */
export function setDeviceFilter(sys: DeviceFilterSys, dir: string, rules: DeviceCgroupRule[]): void {
  const insns = buildDeviceFilter(rules);
  const dirFd = attempt(() => sys.open(dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC), 'IO', `open cgroup directory ${dir}`, dir);
  try {
    const progFd = attempt(
      () => sys.bpfProgLoad({ type: BPF.PROG_TYPE_CGROUP_DEVICE, insns, license: DEVICE_FILTER_LICENSE, name: DEVICE_FILTER_NAME }),
      'UNSUPPORTED',
      'cannot load the cgroup v2 device filter (BPF_PROG_TYPE_CGROUP_DEVICE), so device rules cannot be enforced',
      dir,
    );
    try {
      const old = attempt(() => sys.bpfProgQuery(dirFd, BPF.CGROUP_DEVICE), 'IO', `list the device filters of ${dir}`, dir);
      attempt(
        () => sys.bpfProgAttach(dirFd, progFd, BPF.CGROUP_DEVICE, BPF.F_ALLOW_MULTI),
        'UNSUPPORTED',
        `cannot attach the device filter to ${dir}, so device rules cannot be enforced`,
        dir,
      );
      for (const id of old) detachById(sys, dirFd, id, dir);
    } finally {
      sys.close(progFd); // the attachment holds its own reference
    }
  } finally {
    sys.close(dirFd);
  }
}

/** Detach the program with `id`; one that is already gone (ENOENT) is fine. */
function detachById(sys: DeviceFilterSys, dirFd: number, id: number, dir: string): void {
  let fd: number;
  try {
    fd = sys.bpfProgGetFdById(id);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw wrap(err, 'IO', `cannot open the previous device filter (id ${id}) of ${dir} to detach it`, dir);
  }
  try {
    sys.bpfProgDetach(dirFd, fd, BPF.CGROUP_DEVICE);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw wrap(err, 'IO', `cannot detach the previous device filter (id ${id}) of ${dir}`, dir);
  } finally {
    sys.close(fd);
  }
}

function attempt<T>(fn: () => T, code: 'IO' | 'UNSUPPORTED', what: string, dir: string): T {
  try {
    return fn();
  } catch (err) {
    throw wrap(err, code, what, dir);
  }
}

function wrap(err: unknown, code: 'IO' | 'UNSUPPORTED', what: string, dir: string): CgroupError {
  const detail = err instanceof Error ? err.message : String(err);
  return new CgroupError(code, `${what}: ${detail}`, dir, errnoOf(err));
}
