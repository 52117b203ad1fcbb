/** Layers: apply a layer tar onto a directory, and compute one between two trees or mounts. */
export { applyLayer } from './apply';
export { decompressed, detectCompression, diskBudget, ExpansionError, gunzipBounded, layerLimits, LAYER_RATIO } from './decompress';
export type { ExpansionLimits } from './decompress';
export { mountAll, unmountAll, withTempMounts } from './mounts';
export { readTar, tarHeader, ByteSource, TarFormatError } from './tar';
export type { TarHeader, TarWriteEntry, EntryType } from './tar';
