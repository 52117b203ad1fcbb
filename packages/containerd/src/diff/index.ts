/** Layers: apply a layer tar onto a directory, and compute one between two trees or mounts. */
export { applyLayer, cleanEntryName, LayerError } from './apply';
export { decompressed, detectCompression, diskBudget, ExpansionError, gunzipBounded, layerLimits, LAYER_RATIO } from './decompress';
export type { Compression, ExpansionLimits } from './decompress';
export { extractTar, TarExtractor } from './extract';
export type { ExtractOptions } from './extract';
export type { ApplyOptions, ApplyResult } from './apply';
export { diffDirectories, diffOverlayUpper, overlayUpperIsSelfContained } from './diff';
export type { DiffOptions } from './diff';
export { diffMounts, overlayUpperOver } from './compare';
export type { CompareOptions } from './compare';
export { mountAll, readonlyMount, unmountAll, withTempMounts } from './mounts';
export { readTar, tarHeader, ByteSource, TarFormatError } from './tar';
export type { TarHeader, TarWriteEntry, EntryType } from './tar';
