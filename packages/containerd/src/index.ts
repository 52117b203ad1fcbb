export { startDaemon, DEFAULTS } from './server';
export type { Daemon, DaemonOptions, DaemonStores } from './server';
export { importArchive } from './images/archive-import';
export { exportImages } from './images/archive-export';
export { unpackImage, chainIds } from './images/unpack';
export { resolveManifest, readImage, referenceLabels } from './images/manifest';
export type { Descriptor as ImageDescriptor, IndexDoc, ManifestDoc, ImageConfig } from './images/manifest';
export { MediaType, isIndex, isManifest, isConfig, isLayer } from './images/media-types';
export { normalizeReference, familiarReference, parseReference, formatReference, InvalidReferenceError } from './images/reference';
export type { Reference } from './images/reference';
export { hostPlatform, parsePlatform, formatPlatform, platformMatches } from './images/platform';
export type { Platform } from './images/platform';
export { Logger } from './log';
export type { Level } from './log';
export { compileFilters, parseFilter, FilterSyntaxError } from './events/filters';
export { ShimManager } from './tasks/shim-manager';
// Overlay and tar helpers gantryd uses for docker cp / diff / export over container snapshots.
export {
  mountAll,
  unmountAll,
  withTempMounts,
  readTar,
  tarHeader,
  ByteSource,
  TarFormatError,
  decompressed,
  detectCompression,
  gunzipBounded,
  diskBudget,
  layerLimits,
  ExpansionError,
  LAYER_RATIO,
} from './diff';
export type { TarHeader, TarWriteEntry, EntryType, ExpansionLimits } from './diff';
export { overlayLayers, readonlyMount } from './diff/mounts';
export { END_OF_ARCHIVE, padding } from './diff/tar';
export { cleanEntryName, extractTar, LayerError } from './diff/extract';
export { TreeWriter, childNames, entryType, nodeOf, openChild, withChild } from './diff/tree';
export type { TreeNode, TreeWriterOptions } from './diff/tree';
export type { ExtractOptions } from './diff/extract';
export type { MountSpec } from './snapshots/types';
