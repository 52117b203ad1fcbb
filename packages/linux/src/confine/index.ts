export { RESOLVE, openRoot, openInRoot, statInRoot, mkdirAllInRoot, procFdPath, fdPath, isWithin, resetOpenat2Probe } from './in-root';
export type { InRootOptions } from './in-root';
