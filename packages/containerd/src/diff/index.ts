/** Layers: apply a layer tar onto a directory, and compute one between two trees or mounts. */
export { applyLayer, cleanEntryName, decompressed, detectCompression, LayerError } from './apply';
export type { ApplyOptions, ApplyResult, Compression } from './apply';
export { diffDirectories, diffOverlayUpper, overlayUpperIsSelfContained } from './diff';
export type { DiffOptions } from './diff';
export { diffMounts, overlayUpperOver } from './compare';
export type { CompareOptions } from './compare';
export { mountAll, readonlyMount, unmountAll, withTempMounts } from './mounts';
export { readTar, tarHeader, ByteSource, TarFormatError } from './tar';
export type { TarHeader, TarWriteEntry, EntryType } from './tar';
