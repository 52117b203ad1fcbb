export { MediaType, KNOWN_MEDIA_TYPES, isIndex, isManifest, isConfig, isLayer } from './media-types';
export { normalizeReference, familiarReference, parseReference, formatReference, InvalidReferenceError } from './reference';
export type { Reference } from './reference';
export { hostPlatform, parsePlatform, formatPlatform, platformMatches } from './platform';
export type { Platform } from './platform';
export { chainIds, referenceLabels } from './manifest';
export type { Descriptor, IndexDoc, ManifestDoc, ImageConfig, ContainerConfig, HealthcheckConfig, HistoryEntry } from './manifest';
export { isDockerSignal } from './signals';
