import type { CgroupFs } from './fs';
import type { CgroupManager } from './types';
import { nodeCgroupFs } from './fs';
import { resolveCgroupPath } from './path';
import { CgroupV1Manager } from './v1';
import { CgroupV2Manager } from './v2';
import type { DeviceFilterSys } from './v2-devices';

export type { CgroupManager } from './types';
export type { CgroupFs } from './fs';
export { CgroupError, CgroupPathError } from './errors';
export { FakeCgroupFs } from './fake-fs';
export { resolveCgroupPath, expandSlice, isSystemdPath } from './path';
export { sharesToWeight, blkioToIoWeight, swapToV2 } from './v2-resources';
export { buildDeviceFilter, DEVICE_FILTER_LICENSE, DEVICE_FILTER_NAME } from './device-filter';
export { parseSubCgroupArgs, subCgroupDir } from './sub-cgroup';
export { UNLIMITED } from './parse';
export { CgroupV1Manager } from './v1';
export { CgroupV2Manager } from './v2';

const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

export interface OpenCgroupOptions {
  /** Where the hierarchies are mounted (default /sys/fs/cgroup); tests point it at a fake tree. */
  root?: string;
  /** Force a layout instead of detecting it. */
  version?: 1 | 2;
  /** File access; tests pass an emulation of cgroupfs. Default: node:fs. */
  fs?: CgroupFs;
  /** v2 only: write memory.oom.group on create(). */
  oomGroup?: boolean;
  /** v2 only: the kernel seam for the eBPF device filter (tests pass a FakeSys). Default: the real one. */
  sys?: DeviceFilterSys;
}

/** v2 when the root is itself a cgroup2 mount (it has cgroup.controllers); v1/hybrid otherwise. */
export function detectCgroupVersion(root: string = DEFAULT_CGROUP_ROOT, fs: CgroupFs = nodeCgroupFs): 1 | 2 {
  return fs.exists(`${root}/cgroup.controllers`) ? 2 : 1;
}

/**
 * The manager for a container's cgroup. Nothing is created until create(); the path is validated
 * here (CgroupPathError) so a bad config fails before any process exists.
 */
export function openCgroup(cgroupsPath: string | undefined, containerId: string, opts: OpenCgroupOptions = {}): CgroupManager {
  const root = (opts.root ?? DEFAULT_CGROUP_ROOT).replace(/\/+$/, '');
  const fs = opts.fs ?? nodeCgroupFs;
  const path = resolveCgroupPath(cgroupsPath, containerId);
  const version = opts.version ?? detectCgroupVersion(root, fs);
  return version === 2 ? new CgroupV2Manager(path, root, fs, { oomGroup: opts.oomGroup, sys: opts.sys }) : new CgroupV1Manager(path, root, fs);
}
