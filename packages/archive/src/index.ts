export { readTar, readTarMembers, tarHeader, ByteSource, BodyReader, TarFormatError, END_OF_ARCHIVE, MAX_TRAILING, padding } from './tar';
export type { TarHeader, TarWriteEntry, EntryType } from './tar';
export { decompressed, detectCompression, gunzipBounded, diskBudget, layerLimits, ExpansionError, LAYER_RATIO } from './decompress';
export type { Compression, ExpansionLimits } from './decompress';
export { cleanEntryName, extractTar, LayerError } from './extract';
export type { ExtractOptions } from './extract';
export { TreeWriter, entryType } from './tree-writer';
export type { TreeWriterOptions } from './tree-writer';
