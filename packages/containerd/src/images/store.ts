/**
 * Images over the record store: one record per image name in ['namespaces', <ns>, 'images'].
 * Image names are references ("docker.io/library/busybox:latest"), so the record key is the name
 * percent-encoded ("/" is not allowed in record keys).
 */
import { types, type images, type protobuf } from '@gantry/api';
import { alreadyExists, invalidArgument, notFound } from '../errors';
import { loadTime, now, storeTime, type StoredTime } from '../metadata/codec';
import { own, put } from '../metadata/maps';
import { namespaceBucket, type NamespaceStore } from '../metadata/namespaces';
import { RecordConflict, type RecordStore } from '@gantry/linux';
import { pruneLabels, validateLabels } from '../metadata/validate';

interface DescriptorRecord {
  mediaType: string;
  digest: string;
  size: string; // decimal: sizes are int64
  annotations: Record<string, string>;
}

interface ImageRecord {
  name: string;
  labels: Record<string, string>;
  target: DescriptorRecord;
  createdAt: StoredTime;
  updatedAt: StoredTime;
}

type Image = images.Image;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const bucket = (ns: string) => namespaceBucket(ns, 'images');
const imageKey = (name: string) => encodeURIComponent(name);

function storeDescriptor(d: types.Descriptor): DescriptorRecord {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size.toString(), annotations: { ...d.annotations } };
}

function loadDescriptor(r: DescriptorRecord): types.Descriptor {
  return types.Descriptor.fromPartial({ mediaType: r.mediaType, digest: r.digest, size: BigInt(r.size), annotations: { ...r.annotations } });
}

function validate(img: Image): void {
  if (!img.name || /\s/.test(img.name)) throw invalidArgument(`image name ${JSON.stringify(img.name)} is invalid`);
  const t = img.target;
  if (!t || !t.mediaType) throw invalidArgument(`image ${img.name}: target media type is required`);
  if (!DIGEST_RE.test(t.digest)) throw invalidArgument(`image ${img.name}: target digest ${JSON.stringify(t.digest)} is invalid`);
  if (t.size <= 0n) throw invalidArgument(`image ${img.name}: target size must be greater than zero`);
  validateLabels(`image ${img.name}`, img.labels);
}

function fromRecord(r: ImageRecord): Image {
  return { name: r.name, labels: { ...r.labels }, target: loadDescriptor(r.target), createdAt: loadTime(r.createdAt), updatedAt: loadTime(r.updatedAt) };
}

export class ImageStore {
  constructor(
    private readonly store: RecordStore,
    private readonly namespaces: NamespaceStore,
  ) {}

  get(ns: string, name: string): Image {
    const r = this.store.get<ImageRecord>(bucket(ns), imageKey(name));
    if (!r) throw notFound(`image ${JSON.stringify(name)}: not found`);
    return fromRecord(r);
  }

  list(ns: string): Image[] {
    return this.store.keys(bucket(ns)).flatMap((k) => {
      const r = this.store.get<ImageRecord>(bucket(ns), k);
      return r ? [fromRecord(r)] : [];
    });
  }

  create(ns: string, img: Image): Image {
    validate(img);
    this.namespaces.ensure(ns);
    const t: protobuf.Timestamp = now();
    const rec: ImageRecord = {
      name: img.name,
      labels: pruneLabels(img.labels),
      target: storeDescriptor(img.target!),
      createdAt: storeTime(t),
      updatedAt: storeTime(t),
    };
    try {
      this.store.create(bucket(ns), imageKey(img.name), rec);
    } catch (e) {
      if (e instanceof RecordConflict) throw alreadyExists(`image ${JSON.stringify(img.name)}: already exists`);
      throw e;
    }
    return fromRecord(rec);
  }

  /** containerd's field paths: labels, labels.<k>, target, annotations (of the target). No mask: labels and target. */
  update(ns: string, req: Image, paths: readonly string[]): Image {
    const cur = this.get(ns, req.name);
    const next: Image = { ...cur, labels: { ...cur.labels } };
    for (const p of paths.length === 0 ? ['labels', 'target'] : paths) {
      if (p === 'labels') next.labels = { ...req.labels };
      else if (p.startsWith('labels.')) {
        const k = p.slice('labels.'.length);
        const v = own(req.labels, k);
        if (v === undefined || v === '') delete next.labels[k];
        else put(next.labels, k, v);
      } else if (p === 'target') next.target = req.target;
      else if (p === 'annotations') next.target = { ...next.target!, annotations: { ...(req.target?.annotations ?? {}) } };
      else throw invalidArgument(`cannot update ${JSON.stringify(p)} field on image ${JSON.stringify(req.name)}`);
    }
    validate(next);
    const rec: ImageRecord = {
      name: next.name,
      labels: pruneLabels(next.labels),
      target: storeDescriptor(next.target!),
      createdAt: storeTime(cur.createdAt!),
      updatedAt: storeTime(now()),
    };
    this.store.update(bucket(ns), imageKey(next.name), rec);
    return fromRecord(rec);
  }

  delete(ns: string, name: string): void {
    try {
      this.store.delete(bucket(ns), imageKey(name));
    } catch (e) {
      if (e instanceof RecordConflict) throw notFound(`image ${JSON.stringify(name)}: not found`);
      throw e;
    }
  }
}
