/**
 * The OCI image spec's documents as Gantry reads them (Docker schema 2 has the same shapes):
 * descriptors, indexes (manifest lists), manifests and image configs, and the chain IDs that name
 * an image's layers once applied.
 */
import { createHash } from 'node:crypto';
import type { Platform } from './platform';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform & { 'os.version'?: string };
}

export interface IndexDoc {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ManifestDoc {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** An image's container defaults, the config's `config` (Docker's field names; durations in nanoseconds). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthcheckConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
}

export interface HealthcheckConfig {
  /** `["NONE"]`, `["CMD", ...argv]` or `["CMD-SHELL", command]`. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** One step of an image's history (`docker history`). */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture?: string;
  variant?: string;
  os?: string;
  'os.version'?: string;
  config?: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}

/**
 * The chain ID of each layer: the first layer's is its diff ID, each next one sha256 over
 * "<parent chain ID> <diff ID>" (the image spec's ChainID). Snapshots are named by them.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const id of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? id : `sha256:${createHash('sha256').update(`${prev} ${id}`).digest('hex')}`);
  }
  return out;
}

/**
 * The content a manifest (config + layers) or index (manifests) refers to, as the labels
 * containerd's garbage collector follows. The convention is containerd's, but anything that writes
 * these documents into its content store (gantry-containerd's image import, the registry client's
 * pull) labels them so.
 */
export function referenceLabels(doc: ManifestDoc | IndexDoc): Record<string, string> {
  const labels: Record<string, string> = {};
  if ('config' in doc && doc.config) {
    labels['containerd.io/gc.ref.content.config'] = doc.config.digest;
    doc.layers.forEach((l, i) => (labels[`containerd.io/gc.ref.content.l.${i}`] = l.digest));
  } else if ('manifests' in doc) {
    doc.manifests.forEach((m, i) => (labels[`containerd.io/gc.ref.content.m.${i}`] = m.digest));
  }
  return labels;
}
