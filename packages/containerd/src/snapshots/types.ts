/**
 * The snapshotter contract (containerd's snapshots.Snapshotter), shared by the snapshots service,
 * diff, images (unpack) and GC. Keys are per namespace: a snapshot's name is its key while it is
 * active or a view, and the name given to Commit once committed; both share one key space.
 */
import type { MountSpec } from '@gantry/linux';

export type SnapshotKind = 'view' | 'active' | 'committed';

export interface SnapshotInfo {
  /** The key (active, view) or the committed name. */
  name: string;
  /** The committed snapshot it was prepared on; "" for none. */
  parent: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

/** Disk usage of a snapshot's own layer (its fs directory): bytes allocated and inodes. */
export interface SnapshotUsage {
  size: number;
  inodes: number;
}

/** Fields Update may change: `labels` (replace all) or `labels.<key>` (one label; absent or "" removes it). */
export type SnapshotUpdate = Pick<SnapshotInfo, 'name' | 'labels'>;

/**
 * Errors are errdefs kinds: NOT_FOUND (no such key/parent), ALREADY_EXISTS (key or committed name
 * taken), FAILED_PRECONDITION (commit of a non-active snapshot, remove with children),
 * INVALID_ARGUMENT (bad key, parent not committed, bad label or field path, bad filter).
 */
export interface Snapshotter {
  readonly name: string; // "overlayfs"
  stat(ns: string, key: string): SnapshotInfo;
  update(ns: string, info: SnapshotUpdate, fieldpaths: readonly string[]): SnapshotInfo;
  /** Active: measured now; committed: measured once at commit; view: zero. */
  usage(ns: string, key: string): SnapshotUsage;
  mounts(ns: string, key: string): MountSpec[];
  prepare(ns: string, key: string, parent: string, labels?: Readonly<Record<string, string>>): MountSpec[];
  view(ns: string, key: string, parent: string, labels?: Readonly<Record<string, string>>): MountSpec[];
  commit(ns: string, name: string, key: string, labels?: Readonly<Record<string, string>>): void;
  remove(ns: string, key: string): void;
  /** containerd filters over name, parent, kind (view|active|committed), labels.<key>; several strings are OR'ed. */
  list(ns: string, filters: readonly string[]): SnapshotInfo[];
  /** Remove on-disk directories no snapshot record (in any namespace) points at. */
  cleanup(): void;
  /** Namespaces holding snapshots of this snapshotter. */
  namespaces(): string[];
}
