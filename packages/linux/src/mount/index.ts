export {
  KNOWN_MOUNT_OPTIONS,
  LOCKED_FLAGS,
  LockedMountFlagsError,
  PROPAGATION,
  mountFlagWord,
  mountSteps,
  parseMountOptions,
  requestOptions,
  statfsToMountFlags,
  withLockedFlags,
} from './options';
export type { MountOptions, MountRequest, MountStep, RecursiveAttrs } from './options';
export { applyMount, remountReadonly } from './apply';
export type { MountSeam, MountTargets } from './apply';
export { mountPointsUnder, parseMountinfo, parseMountinfoLine, readMountinfo, unescapeMountinfo } from './mountinfo';
export type { MountInfo } from './mountinfo';
export { mountAll, overlayLayers, readonlyMount, removeMountDir, unmountAll, withTempMounts } from './temp-mounts';
export type { MountSpec } from './temp-mounts';
