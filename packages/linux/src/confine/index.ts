export {
  RESOLVE,
  openRoot,
  openInRoot,
  statInRoot,
  mkdirAllInRoot,
  openBeneath,
  realpathInRoot,
  procFdPath,
  fdPath,
  isWithin,
  resetOpenat2Probe,
} from './in-root';
export { isPlainName, readFileInRoot, removeAllAt } from './at';
export type { InRootOptions } from './in-root';
export { UnsafeMountTargetError, mountInRoot, openMountRoot, openMountTarget, reopenMountTarget } from './mount-in-root';
export type { MountRoot, MountTarget, MountTargetOptions } from './mount-in-root';
export { byteOrder, childNames, nodeOf, openChild, openForReading, withChild } from './tree';
export type { TreeNode } from './tree';
