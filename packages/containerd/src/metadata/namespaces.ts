/**
 * Namespaces over the record store: bucket ['namespaces', <name>] holds the record 'namespace'
 * ({labels}); everything a namespace owns lives in sub-buckets of it (['namespaces', <name>,
 * 'containers'], ...), so "is it empty" is "do its sub-buckets hold records".
 */
import type { namespaces } from '@gantry/api';
import { alreadyExists, failedPrecondition, notFound } from '../errors';
import { validateNamespaceName } from '../rpc';
import { RecordConflict, type RecordStore } from '@gantry/linux';
import { pruneLabels, validateLabels } from './validate';

export const NAMESPACES_BUCKET = 'namespaces';
const RECORD = 'namespace';

interface NamespaceRecord {
  labels: Record<string, string>;
}

/** The bucket of a namespace, or of something it owns: namespaceBucket('x', 'containers'). */
export function namespaceBucket(name: string, ...sub: string[]): string[] {
  return [NAMESPACES_BUCKET, name, ...sub];
}

export class NamespaceStore {
  constructor(private readonly store: RecordStore) {}

  find(name: string): namespaces.Namespace | undefined {
    validateNamespaceName(name);
    const rec = this.store.get<NamespaceRecord>(namespaceBucket(name), RECORD);
    return rec && { name, labels: { ...rec.labels } };
  }

  /** NOT_FOUND when missing. */
  get(name: string): namespaces.Namespace {
    const ns = this.find(name);
    if (!ns) throw notFound(`namespace ${JSON.stringify(name)}: not found`);
    return ns;
  }

  list(): namespaces.Namespace[] {
    // a bucket without its record is a delete cut short by a crash: not a namespace
    return this.store
      .buckets([NAMESPACES_BUCKET])
      .map((name) => this.find(name))
      .filter((ns): ns is namespaces.Namespace => ns !== undefined);
  }

  /** ALREADY_EXISTS when taken. */
  create(name: string, labels: Readonly<Record<string, string>>): namespaces.Namespace {
    validateNamespaceName(name);
    validateLabels(`namespace ${JSON.stringify(name)}`, labels);
    const rec: NamespaceRecord = { labels: pruneLabels(labels) };
    try {
      this.store.create(namespaceBucket(name), RECORD, rec);
    } catch (e) {
      if (e instanceof RecordConflict && e.kind === 'exists') throw alreadyExists(`namespace ${JSON.stringify(name)}: already exists`);
      throw e;
    }
    return { name, labels: { ...rec.labels } };
  }

  /** Create the namespace if needed: containerd creates one implicitly on first use. */
  ensure(name: string): void {
    if (this.find(name)) return;
    try {
      this.store.create(namespaceBucket(name), RECORD, { labels: {} } satisfies NamespaceRecord);
    } catch (e) {
      if (!(e instanceof RecordConflict)) throw e;
    }
  }

  /** Replace the labels (empty values drop a label); NOT_FOUND when missing. */
  setLabels(name: string, labels: Readonly<Record<string, string>>): namespaces.Namespace {
    this.get(name);
    validateLabels(`namespace ${JSON.stringify(name)}`, labels);
    const rec: NamespaceRecord = { labels: pruneLabels(labels) };
    this.store.update(namespaceBucket(name), RECORD, rec);
    return { name, labels: { ...rec.labels } };
  }

  /** Kinds of objects (sub-bucket names) the namespace still holds. */
  contents(name: string): string[] {
    // records may sit deeper than one level (snapshots/<snapshotter>/...): look all the way down
    const holds = (bucket: string[]): boolean => this.store.keys(bucket).length > 0 || this.store.buckets(bucket).some((b) => holds([...bucket, b]));
    return this.store.buckets(namespaceBucket(name)).filter((sub) => holds(namespaceBucket(name, sub)));
  }

  /** NOT_FOUND when missing, FAILED_PRECONDITION while it still owns objects. */
  delete(name: string): void {
    this.get(name);
    const left = this.contents(name);
    if (left.length > 0) throw failedPrecondition(`namespace ${JSON.stringify(name)} must be empty, but it still has ${left.join(', ')}`);
    this.store.delete(namespaceBucket(name), RECORD);
    this.store.removeBucket(namespaceBucket(name));
  }
}
