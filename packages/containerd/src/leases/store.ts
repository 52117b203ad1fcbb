/**
 * Leases: named holds on content, ingests and snapshots that keep them from garbage collection
 * while a client works (an image pull or import, an unpack). One record per lease in
 * ['namespaces', <ns>, 'leases'] with its resources. A lease labelled `containerd.io/gc.expire`
 * (RFC 3339) stops protecting anything once that time has passed.
 */
import { randomBytes } from 'node:crypto';
import type { leases } from '@gantry/api';
import { alreadyExists, invalidArgument, notFound } from '../errors';
import { loadTime, now, storeTime, type StoredTime } from '../metadata/codec';
import { namespaceBucket, type NamespaceStore } from '../metadata/namespaces';
import { RecordConflict, type RecordStore } from '@gantry/linux';
import { validateLabels } from '../metadata/validate';

export const EXPIRE_LABEL = 'containerd.io/gc.expire';

export interface LeaseResource {
  id: string;
  type: string;
}

interface LeaseRecord {
  id: string;
  labels: Record<string, string>;
  createdAt: StoredTime;
  resources: LeaseResource[];
}

const bucket = (ns: string) => namespaceBucket(ns, 'leases');
const RESOURCE_TYPE = /^(content|ingests|snapshots\/[A-Za-z0-9_.-]+)$/;

export class LeaseStore {
  constructor(
    private readonly store: RecordStore,
    private readonly namespaces: NamespaceStore,
  ) {}

  private load(ns: string, id: string): LeaseRecord {
    const r = this.store.get<LeaseRecord>(bucket(ns), id);
    if (!r) throw notFound(`lease ${JSON.stringify(id)}: not found`);
    return r;
  }

  private toLease(r: LeaseRecord): leases.Lease {
    return { id: r.id, labels: { ...r.labels }, createdAt: loadTime(r.createdAt) };
  }

  create(ns: string, id: string, labels: Record<string, string>): leases.Lease {
    const leaseId = id || `gantry-${Date.now()}-${randomBytes(6).toString('hex')}`;
    // ctr makes ids like "1700000000-AbC-" (random base64url): looser than container ids
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(leaseId)) throw invalidArgument(`lease id ${JSON.stringify(leaseId)} is invalid`);
    validateLabels(`lease ${leaseId}`, labels);
    const expire = labels[EXPIRE_LABEL];
    if (expire !== undefined && Number.isNaN(Date.parse(expire))) throw invalidArgument(`lease ${leaseId}: ${EXPIRE_LABEL} must be an RFC 3339 time`);
    this.namespaces.ensure(ns);
    const rec: LeaseRecord = { id: leaseId, labels: { ...labels }, createdAt: storeTime(now()), resources: [] };
    try {
      this.store.create(bucket(ns), leaseId, rec);
    } catch (e) {
      if (e instanceof RecordConflict) throw alreadyExists(`lease ${JSON.stringify(leaseId)}: already exists`);
      throw e;
    }
    return this.toLease(rec);
  }

  delete(ns: string, id: string): void {
    try {
      this.store.delete(bucket(ns), id);
    } catch (e) {
      if (e instanceof RecordConflict) throw notFound(`lease ${JSON.stringify(id)}: not found`);
      throw e;
    }
  }

  list(ns: string): leases.Lease[] {
    return this.store.keys(bucket(ns)).flatMap((k) => {
      const r = this.store.get<LeaseRecord>(bucket(ns), k);
      return r ? [this.toLease(r)] : [];
    });
  }

  addResource(ns: string, id: string, res: LeaseResource): void {
    if (!res.id || !RESOURCE_TYPE.test(res.type))
      throw invalidArgument(`lease resource ${JSON.stringify(res)} is invalid (type: content, ingests or snapshots/<snapshotter>)`);
    const r = this.load(ns, id);
    if (r.resources.some((x) => x.id === res.id && x.type === res.type)) return;
    r.resources.push({ id: res.id, type: res.type });
    this.store.update(bucket(ns), id, r);
  }

  deleteResource(ns: string, id: string, res: LeaseResource): void {
    const r = this.load(ns, id);
    r.resources = r.resources.filter((x) => !(x.id === res.id && x.type === res.type));
    this.store.update(bucket(ns), id, r);
  }

  resources(ns: string, id: string): LeaseResource[] {
    return this.load(ns, id).resources.map((x) => ({ ...x }));
  }

  /** Resources held by leases that have not expired: GC roots. */
  liveResources(ns: string, at = new Date()): LeaseResource[] {
    const out: LeaseResource[] = [];
    for (const k of this.store.keys(bucket(ns))) {
      const r = this.store.get<LeaseRecord>(bucket(ns), k);
      if (!r) continue;
      const expire = r.labels[EXPIRE_LABEL];
      if (expire !== undefined && Date.parse(expire) <= at.getTime()) continue;
      out.push(...r.resources);
    }
    return out;
  }

  /** A lease id that exists, for attaching resources written under the `containerd-lease` header. */
  exists(ns: string, id: string): boolean {
    return this.store.get<LeaseRecord>(bucket(ns), id) !== undefined;
  }
}
