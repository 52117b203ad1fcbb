/** Layers: apply a layer tar onto a directory, and compute one between two trees or mounts. */
export { applyLayer, cleanEntryName, LayerError } from './apply';
export { decompressed, detectCompression, diskBudget, ExpansionError, gunzipBounded, layerLimits, LAYER_RATIO } from './decompress';
export type { ExpansionLimits } from './decompress';
export type { ApplyOptions, ApplyResult } from './apply';
export type { Compression } from './decompress';
export { diffDirectories, diffOverlayUpper, overlayUpperIsSelfContained } from './diff';
export type { DiffOptions } from './diff';
export { diffMounts, overlayUpperOver } from './compare';
export type { CompareOptions } from './compare';
export { mountAll, parseMountOptions, readonlyMount, unmountAll, withTempMounts } from './mounts';
export { readTar, tarHeader, ByteSource, TarFormatError } from './tar';
export type { TarHeader, TarWriteEntry, EntryType } from './tar';
