/**
 * containerd's overlayfs snapshotter: every snapshot is a directory
 * `<root>/snapshots/overlayfs/snapshots/<id>/{fs,work}`; an active snapshot with parents mounts as
 * overlay (upperdir = its fs, lowerdir = the parents' fs, nearest first), one without as a rw
 * bind of its fs; views mount read-only. Commit keeps the directory (same id), so a committed fs is
 * a lower layer for its children.
 *
 * Metadata lives in the RecordStore, per namespace: bucket ['namespaces', ns, 'snapshots',
 * 'overlayfs'], one record per key (encoded, see keys.ts). Ids come from a persisted sequence and
 * are never handed out while their directory exists. Directories are made under a temporary name
 * and renamed into place before the record is written, and a record is deleted before its
 * directory, so a crash leaves at most an orphan directory, which cleanup() removes.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errors';
import { compileRequestFilters } from '../metadata/adaptors';
import { loadTime, now, storeTime, type StoredTime } from '../metadata/codec';
import { own, put } from '../metadata/maps';
import { namespaceBucket, NamespaceStore, NAMESPACES_BUCKET } from '../metadata/namespaces';
import { fsyncDir, RecordConflict, type RecordStore } from '@gantry/linux';
import { pruneLabels, validateLabels } from '../metadata/validate';
import type { Adaptor } from '../events/filters';
import { timestampToNanos } from '@gantry/api';
import { encodeKey } from './keys';
import type { MountSpec } from '@gantry/linux';
import type { SnapshotInfo, SnapshotKind, Snapshotter, SnapshotUpdate, SnapshotUsage } from './types';
import { diskUsage } from './usage';

/** The stored form of a snapshot. */
export interface SnapshotRecord {
  /** The key (active/view) or committed name, unencoded. */
  name: string;
  /** Directory <root>/snapshots/<id>. */
  id: number;
  kind: SnapshotKind;
  parent: string;
  labels: Record<string, string>;
  createdAt: StoredTime;
  updatedAt: StoredTime;
  /** Measured at commit (committed snapshots never change). */
  usage?: SnapshotUsage;
}

export interface OverlaySnapshotterOptions {
  store: RecordStore;
  /** The daemon's root: snapshots go to <root>/snapshots/overlayfs. */
  root: string;
  /** Put "index=off" into overlay mounts; default: when the kernel has the overlay `index` parameter (as containerd decides). */
  indexOff?: boolean;
}

const NAME = 'overlayfs';
const SEQUENCE_BUCKET = ['snapshotters', NAME] as const;
const SEQUENCE_KEY = 'sequence';
const NEW_PREFIX = 'new-';
const RM_PREFIX = 'rm-';

const what = (key: string) => `snapshot ${JSON.stringify(key)}`;
const toDate = (t: StoredTime) => new Date(Number(timestampToNanos(loadTime(t)) / 1_000_000n));

function toInfo(r: SnapshotRecord): SnapshotInfo {
  return { name: r.name, parent: r.parent, kind: r.kind, labels: { ...r.labels }, createdAt: toDate(r.createdAt), updatedAt: toDate(r.updatedAt) };
}

const nonEmpty = (v: string) => (v ? v : undefined);

/** What List filters see: name, parent, kind (view|active|committed), labels.<key> (containerd's snapshot adaptor). */
function snapshotAdaptor(info: SnapshotInfo): Adaptor {
  return ([head, ...rest]) => {
    if (head === 'labels') return rest.length > 0 ? own(info.labels, rest.join('.')) : undefined;
    if (rest.length > 0) return undefined;
    switch (head) {
      case 'name':
        return nonEmpty(info.name);
      case 'parent':
        return nonEmpty(info.parent);
      case 'kind':
        return info.kind;
      default:
        return undefined;
    }
  };
}

function validateKey(what: string, key: string): void {
  if (key === '') throw invalidArgument(`${what} must not be empty`);
}

export class OverlaySnapshotter implements Snapshotter {
  readonly name = NAME;
  /** <root>/snapshots/overlayfs */
  readonly root: string;
  private readonly dirs: string;
  private readonly namespaceStore: NamespaceStore;
  private readonly indexOff: boolean;
  private nextId: number;

  constructor(private readonly opts: OverlaySnapshotterOptions) {
    this.root = path.join(opts.root, 'snapshots', NAME);
    this.dirs = path.join(this.root, 'snapshots');
    fs.mkdirSync(this.dirs, { recursive: true, mode: 0o700 });
    this.namespaceStore = new NamespaceStore(opts.store);
    this.indexOff = opts.indexOff ?? fs.existsSync('/sys/module/overlay/parameters/index');
    const onDisk = fs
      .readdirSync(this.dirs)
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
    const saved = opts.store.get<{ next: number }>(SEQUENCE_BUCKET, SEQUENCE_KEY)?.next ?? 1;
    this.nextId = Math.max(saved, ...onDisk.map((n) => n + 1));
  }

  private get store(): RecordStore {
    return this.opts.store;
  }

  private bucket(ns: string): string[] {
    return namespaceBucket(ns, 'snapshots', NAME);
  }

  /** <root>/snapshots/<id> */
  snapshotDir(id: number): string {
    return path.join(this.dirs, String(id));
  }

  private upper(id: number): string {
    return path.join(this.snapshotDir(id), 'fs');
  }

  private work(id: number): string {
    return path.join(this.snapshotDir(id), 'work');
  }

  private find(ns: string, key: string): SnapshotRecord | undefined {
    if (key === '') return undefined;
    return this.store.get<SnapshotRecord>(this.bucket(ns), encodeKey(key));
  }

  private get(ns: string, key: string): SnapshotRecord {
    validateKey('snapshot key', key);
    const rec = this.find(ns, key);
    if (!rec) throw notFound(`${what(key)} in namespace ${JSON.stringify(ns)}: not found`);
    return rec;
  }

  private records(ns: string): SnapshotRecord[] {
    return this.store.keys(this.bucket(ns)).flatMap((k) => {
      const r = this.store.get<SnapshotRecord>(this.bucket(ns), k);
      return r ? [r] : [];
    });
  }

  /** A new id whose directory does not exist; the sequence is saved so ids are not handed out twice. */
  private allocateId(): number {
    let id = this.nextId;
    while (fs.existsSync(this.snapshotDir(id))) id++;
    this.nextId = id + 1;
    const rec = { next: this.nextId };
    if (this.store.get(SEQUENCE_BUCKET, SEQUENCE_KEY)) this.store.update(SEQUENCE_BUCKET, SEQUENCE_KEY, rec);
    else this.store.create(SEQUENCE_BUCKET, SEQUENCE_KEY, rec);
    return id;
  }

  /** Parent ids, nearest first. */
  private parentIds(ns: string, rec: SnapshotRecord): number[] {
    const ids: number[] = [];
    for (let p = rec.parent; p !== '';) {
      const parent = this.find(ns, p);
      if (!parent) throw new Error(`${what(rec.name)}: parent ${JSON.stringify(p)} is missing from the metadata`);
      ids.push(parent.id);
      p = parent.parent;
    }
    return ids;
  }

  private mountsOf(ns: string, rec: SnapshotRecord): MountSpec[] {
    const parents = this.parentIds(ns, rec);
    if (parents.length === 0) {
      return [{ type: 'bind', source: this.upper(rec.id), options: [rec.kind === 'view' ? 'ro' : 'rw', 'rbind'] }];
    }
    const options: string[] = this.indexOff ? ['index=off'] : [];
    if (rec.kind === 'active') {
      options.push(`workdir=${this.work(rec.id)}`, `upperdir=${this.upper(rec.id)}`);
    } else if (parents.length === 1) {
      return [{ type: 'bind', source: this.upper(parents[0]!), options: ['ro', 'rbind'] }];
    }
    options.push(`lowerdir=${parents.map((id) => this.upper(id)).join(':')}`);
    return [{ type: 'overlay', source: 'overlay', options }];
  }

  private create(ns: string, kind: 'active' | 'view', key: string, parent: string, labels: Readonly<Record<string, string>>): MountSpec[] {
    validateKey('snapshot key', key);
    validateLabels(what(key), labels);
    this.namespaceStore.ensure(ns);
    if (this.find(ns, key)) throw alreadyExists(`${what(key)}: already exists`);
    let parentRec: SnapshotRecord | undefined;
    if (parent !== '') {
      parentRec = this.find(ns, parent);
      if (!parentRec) throw notFound(`parent ${what(parent)} in namespace ${JSON.stringify(ns)}: not found`);
      if (parentRec.kind !== 'committed') throw invalidArgument(`parent ${what(parent)} is not a committed snapshot (it is ${parentRec.kind})`);
    }

    const id = this.allocateId();
    const tmp = fs.mkdtempSync(path.join(this.dirs, NEW_PREFIX));
    try {
      fs.mkdirSync(path.join(tmp, 'fs'), { mode: 0o755 });
      if (kind === 'active') fs.mkdirSync(path.join(tmp, 'work'), { mode: 0o711 });
      if (parentRec) {
        // the new layer's top directory starts owned like the layer below it
        const st = fs.statSync(this.upper(parentRec.id));
        fs.lchownSync(path.join(tmp, 'fs'), st.uid, st.gid);
      }
      fs.renameSync(tmp, this.snapshotDir(id));
      fsyncDir(this.dirs); // durable before the record that names it is written
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }

    const t = storeTime(now());
    const rec: SnapshotRecord = { name: key, id, kind, parent, labels: pruneLabels(labels), createdAt: t, updatedAt: t };
    try {
      this.store.create(this.bucket(ns), encodeKey(key), rec);
    } catch (e) {
      this.removeDir(id, true);
      if (e instanceof RecordConflict && e.kind === 'exists') throw alreadyExists(`${what(key)}: already exists`);
      throw e;
    }
    return this.mountsOf(ns, rec);
  }

  prepare(ns: string, key: string, parent: string, labels: Readonly<Record<string, string>> = {}): MountSpec[] {
    return this.create(ns, 'active', key, parent, labels);
  }

  view(ns: string, key: string, parent: string, labels: Readonly<Record<string, string>> = {}): MountSpec[] {
    return this.create(ns, 'view', key, parent, labels);
  }

  mounts(ns: string, key: string): MountSpec[] {
    const rec = this.get(ns, key);
    if (rec.kind === 'committed') throw failedPrecondition(`${what(key)} is committed: only active snapshots and views can be mounted`);
    return this.mountsOf(ns, rec);
  }

  commit(ns: string, name: string, key: string, labels: Readonly<Record<string, string>> = {}): void {
    validateKey('committed snapshot name', name);
    validateLabels(what(name), labels);
    const rec = this.get(ns, key);
    if (rec.kind !== 'active')
      throw failedPrecondition(`${what(key)} is ${rec.kind === 'view' ? 'a view' : 'already committed'}: only active snapshots can be committed`);
    if (this.find(ns, name)) throw alreadyExists(`${what(name)}: already exists`);
    const t = storeTime(now());
    const committed: SnapshotRecord = {
      name,
      id: rec.id,
      kind: 'committed',
      parent: rec.parent,
      labels: pruneLabels(labels),
      createdAt: t,
      updatedAt: t,
      usage: diskUsage(this.upper(rec.id)),
    };
    try {
      this.store.create(this.bucket(ns), encodeKey(name), committed);
    } catch (e) {
      if (e instanceof RecordConflict && e.kind === 'exists') throw alreadyExists(`${what(name)}: already exists`);
      throw e;
    }
    // a crash here leaves both records on one directory; removing the stale key keeps the directory (see removeDir)
    this.store.delete(this.bucket(ns), encodeKey(key));
  }

  remove(ns: string, key: string): void {
    const rec = this.get(ns, key);
    const children = this.records(ns)
      .filter((r) => r.parent === key)
      .map((r) => r.name);
    if (children.length > 0) {
      throw failedPrecondition(
        `cannot remove ${what(key)}: it has ${children.length} child snapshot(s) (${children
          .slice(0, 5)
          .map((c) => JSON.stringify(c))
          .join(', ')}); remove them first`,
      );
    }
    this.store.delete(this.bucket(ns), encodeKey(key));
    if (!this.referencedIds().has(rec.id)) this.removeDir(rec.id, false);
  }

  /**
   * Move the directory aside (the atomic step: from then on no record or id names it), then delete
   * it: at once (`wait`), or in the background, off the daemon's thread, so that removing an image's
   * layers (GC after an rmi) does not hold up the calls that come next (a pull's Content Writes
   * waited a second behind it). What a crash or a failure leaves is swept by cleanup().
   */
  private removeDir(id: number, wait: boolean): void {
    const dir = this.snapshotDir(id);
    // unique: the id may be reused and removed again while an earlier copy is still being deleted
    const aside = path.join(this.dirs, `${RM_PREFIX}${id}-${Math.random().toString(36).slice(2, 10)}`);
    try {
      fs.renameSync(dir, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return;
    }
    if (wait) fs.rmSync(aside, { recursive: true, force: true });
    else void fsp.rm(aside, { recursive: true, force: true }).catch(() => undefined); // cleanup() sweeps what is left
  }

  stat(ns: string, key: string): SnapshotInfo {
    return toInfo(this.get(ns, key));
  }

  update(ns: string, info: SnapshotUpdate, fieldpaths: readonly string[]): SnapshotInfo {
    validateKey('snapshot name', info.name);
    const rec = this.get(ns, info.name);
    let labels: Record<string, string> = { ...rec.labels };
    if (fieldpaths.length === 0) labels = { ...info.labels };
    for (const p of fieldpaths) {
      if (p === 'labels') {
        labels = { ...info.labels };
      } else if (p.startsWith('labels.') && p.length > 'labels.'.length) {
        const k = p.slice('labels.'.length);
        const v = own(info.labels, k);
        if (v) put(labels, k, v);
        else delete labels[k];
      } else {
        throw invalidArgument(`cannot update ${JSON.stringify(p)} field on ${what(info.name)}: only labels and labels.<key> can be updated`);
      }
    }
    validateLabels(what(info.name), labels);
    const next: SnapshotRecord = { ...rec, labels: pruneLabels(labels), updatedAt: storeTime(now()) };
    this.store.update(this.bucket(ns), encodeKey(info.name), next);
    return toInfo(next);
  }

  usage(ns: string, key: string): SnapshotUsage {
    const rec = this.get(ns, key);
    switch (rec.kind) {
      case 'active':
        return diskUsage(this.upper(rec.id));
      case 'view':
        return { size: 0, inodes: 0 };
      case 'committed': {
        if (rec.usage) return { ...rec.usage };
        // a record from before usage was kept: measure once and remember
        const usage = diskUsage(this.upper(rec.id));
        this.store.update(this.bucket(ns), encodeKey(key), { ...rec, usage });
        return usage;
      }
    }
  }

  list(ns: string, filters: readonly string[]): SnapshotInfo[] {
    const match = compileRequestFilters(filters);
    return this.records(ns)
      .map(toInfo)
      .filter((i) => match(snapshotAdaptor(i)));
  }

  namespaces(): string[] {
    return this.store.buckets([NAMESPACES_BUCKET]).filter((ns) => this.store.keys(this.bucket(ns)).length > 0);
  }

  private referencedIds(): Set<number> {
    const ids = new Set<number>();
    for (const ns of this.store.buckets([NAMESPACES_BUCKET])) for (const r of this.records(ns)) ids.add(r.id);
    return ids;
  }

  cleanup(): void {
    const used = this.referencedIds();
    for (const entry of fs.readdirSync(this.dirs)) {
      const orphan = /^\d+$/.test(entry) ? !used.has(Number(entry)) : entry.startsWith(NEW_PREFIX) || entry.startsWith(RM_PREFIX);
      if (!orphan) continue;
      if (/^\d+$/.test(entry)) this.removeDir(Number(entry), true);
      else fs.rmSync(path.join(this.dirs, entry), { recursive: true, force: true });
    }
  }
}
