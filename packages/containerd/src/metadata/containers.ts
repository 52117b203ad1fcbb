/**
 * Containers over the record store: one record per container in ['namespaces', <ns>, 'containers'],
 * keyed by id. Create/update rules follow containerd's metadata store: the server stamps
 * created_at/updated_at, runtime and snapshotter are immutable, update masks name fields.
 */
import type { containers, protobuf } from '@gantry/api';
import { alreadyExists, invalidArgument, notFound } from '../errors';
import { loadAny, loadTime, now, storeAny, storeTime, type StoredAny, type StoredTime } from './codec';
import { own, put } from './maps';
import { namespaceBucket, type NamespaceStore } from './namespaces';
import { RecordConflict, type RecordStore } from '@gantry/linux';
import { pruneLabels, validateIdentifier, validateLabels } from './validate';

/** The stored form of containers.Container. */
interface ContainerRecord {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string; options?: StoredAny };
  spec?: StoredAny;
  snapshotter: string;
  snapshotKey: string;
  createdAt: StoredTime;
  updatedAt: StoredTime;
  extensions: Record<string, StoredAny>;
  sandbox: string;
}

type Container = containers.Container;

/** The fields a full (mask-less) update replaces, as containerd does. */
const FULL_UPDATE_PATHS = ['labels', 'spec', 'extensions', 'image', 'snapshotkey'] as const;

const bucket = (ns: string) => namespaceBucket(ns, 'containers');
const what = (id: string) => `container ${JSON.stringify(id)}`;

function toRecord(c: Container, createdAt: protobuf.Timestamp, updatedAt: protobuf.Timestamp): ContainerRecord {
  return {
    id: c.id,
    labels: pruneLabels(c.labels),
    image: c.image,
    runtime: { name: c.runtime?.name ?? '', ...(c.runtime?.options && { options: storeAny(c.runtime.options) }) },
    ...(c.spec && { spec: storeAny(c.spec) }),
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshotKey,
    createdAt: storeTime(createdAt),
    updatedAt: storeTime(updatedAt),
    extensions: Object.fromEntries(Object.entries(c.extensions).map(([k, v]) => [k, storeAny(v)])),
    sandbox: c.sandbox,
  };
}

function fromRecord(r: ContainerRecord): Container {
  return {
    id: r.id,
    labels: { ...r.labels },
    image: r.image,
    runtime: { name: r.runtime.name, options: r.runtime.options && loadAny(r.runtime.options) },
    spec: r.spec && loadAny(r.spec),
    snapshotter: r.snapshotter,
    snapshotKey: r.snapshotKey,
    createdAt: loadTime(r.createdAt),
    updatedAt: loadTime(r.updatedAt),
    extensions: Object.fromEntries(Object.entries(r.extensions).map(([k, v]) => [k, loadAny(v)])),
    sandbox: r.sandbox,
  };
}

/** What a stored container must satisfy (after create, and after every update). */
function validate(c: Container): void {
  validateIdentifier('container id', c.id);
  validateLabels(what(c.id), c.labels);
  for (const k of Object.keys(c.extensions)) if (k === '') throw invalidArgument(`${what(c.id)}: extension keys must not be empty`);
  if (!c.runtime?.name) throw invalidArgument(`${what(c.id)}: runtime.name must be set`);
  if (!c.spec) throw invalidArgument(`${what(c.id)}: spec must be set`);
  if (c.snapshotKey !== '' && c.snapshotter === '') throw invalidArgument(`${what(c.id)}: snapshotter must be set when snapshot_key is`);
}

/** Apply `paths` of `req` onto `cur` (containerd's field names: labels[.k], extensions[.k], image, spec, snapshotkey). */
function applyMask(cur: Container, req: Container, paths: readonly string[]): Container {
  const next: Container = { ...cur, labels: { ...cur.labels }, extensions: { ...cur.extensions } };
  for (const p of paths) {
    if (p.startsWith('labels.')) {
      const k = p.slice('labels.'.length);
      // a key absent from the request (or "") removes the label
      const v = own(req.labels, k);
      if (v) put(next.labels, k, v);
      else delete next.labels[k];
      continue;
    }
    if (p.startsWith('extensions.')) {
      const k = p.slice('extensions.'.length);
      const v = own(req.extensions, k);
      if (v) put(next.extensions, k, v);
      else delete next.extensions[k];
      continue;
    }
    switch (p) {
      case 'labels':
        next.labels = { ...req.labels };
        break;
      case 'extensions':
        next.extensions = { ...req.extensions };
        break;
      case 'image':
        next.image = req.image;
        break;
      case 'spec':
        next.spec = req.spec;
        break;
      case 'snapshotkey':
        next.snapshotKey = req.snapshotKey;
        break;
      default:
        throw invalidArgument(`cannot update ${JSON.stringify(p)} field on ${what(cur.id)}`);
    }
  }
  return next;
}

export class ContainerStore {
  constructor(
    private readonly store: RecordStore,
    private readonly namespaces: NamespaceStore,
  ) {}

  /** NOT_FOUND when missing. */
  get(ns: string, id: string): Container {
    validateIdentifier('container id', id);
    const rec = this.store.get<ContainerRecord>(bucket(ns), id);
    if (!rec) throw notFound(`${what(id)} in namespace ${JSON.stringify(ns)}: not found`);
    return fromRecord(rec);
  }

  list(ns: string): Container[] {
    return this.store.keys(bucket(ns)).flatMap((id) => {
      const rec = this.store.get<ContainerRecord>(bucket(ns), id);
      return rec ? [fromRecord(rec)] : [];
    });
  }

  /** ALREADY_EXISTS on a taken id; creates the namespace if needed. */
  create(ns: string, c: Container): Container {
    validate(c);
    this.namespaces.ensure(ns);
    const t = now();
    const rec = toRecord(c, t, t);
    try {
      this.store.create(bucket(ns), c.id, rec);
    } catch (e) {
      if (e instanceof RecordConflict && e.kind === 'exists') throw alreadyExists(`${what(c.id)}: already exists`);
      throw e;
    }
    return fromRecord(rec);
  }

  /**
   * Update the fields named by `paths`; with none, replace labels, spec, extensions, image and
   * snapshot key, and refuse a different runtime or snapshotter (immutable).
   */
  update(ns: string, req: Container, paths: readonly string[]): Container {
    if (req.id === '') throw invalidArgument('container id must be set');
    const cur = this.get(ns, req.id);
    if (paths.length === 0) {
      if (req.snapshotter !== cur.snapshotter) throw invalidArgument(`${what(cur.id)}: snapshotter is immutable`);
      if ((req.runtime?.name ?? '') !== cur.runtime?.name) throw invalidArgument(`${what(cur.id)}: runtime.name is immutable`);
    }
    const next = applyMask(cur, req, paths.length === 0 ? FULL_UPDATE_PATHS : paths);
    validate(next);
    const rec = toRecord(next, cur.createdAt ?? now(), now());
    this.store.update(bucket(ns), cur.id, rec);
    return fromRecord(rec);
  }

  /** NOT_FOUND when missing. */
  delete(ns: string, id: string): void {
    validateIdentifier('container id', id);
    try {
      this.store.delete(bucket(ns), id);
    } catch (e) {
      if (e instanceof RecordConflict) throw notFound(`${what(id)} in namespace ${JSON.stringify(ns)}: not found`);
      throw e;
    }
  }
}
