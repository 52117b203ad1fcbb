export { startDaemon, DEFAULTS } from './server';
export type { Daemon, DaemonOptions, DaemonStores } from './server';
export { importArchive } from './images/archive-import';
export { exportImages } from './images/archive-export';
export { unpackImage, chainIds } from './images/unpack';
export { resolveManifest, readImage } from './images/manifest';
export { normalizeReference, familiarReference, parseReference } from './images/reference';
export { hostPlatform, parsePlatform } from './images/platform';
export { Logger } from './log';
export type { Level } from './log';
export { RecordStore, RecordConflict } from './metadata/record-store';
export { compileFilters, parseFilter, FilterSyntaxError } from './events/filters';
export { ShimManager } from './tasks/shim-manager';
// Overlay and tar helpers gantryd uses for docker cp / diff / export over container snapshots.
export { mountAll, unmountAll, withTempMounts, readTar, tarHeader, ByteSource, TarFormatError } from './diff';
export type { TarHeader, TarWriteEntry, EntryType } from './diff';
export { overlayLayers, readonlyMount } from './diff/mounts';
export { END_OF_ARCHIVE, padding } from './diff/tar';
export type { MountSpec } from './snapshots/types';
