export { startDaemon, DEFAULTS } from './server';
export type { Daemon, DaemonOptions, DaemonStores } from './server';
export { importArchive } from './images/archive-import';
export { exportImages } from './images/archive-export';
export { unpackImage } from './images/unpack';
export { resolveManifest, readImage } from './images/manifest';
export { compileFilters, parseFilter, FilterSyntaxError } from './events/filters';
export { ShimManager } from './tasks/shim-manager';
