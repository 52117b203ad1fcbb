/**
 * `docker push`: the image record's manifest (or index, with the manifests the store has) goes to
 * the registry after every blob it names: blobs the registry has are skipped (HEAD), blobs pulled
 * from another repository of the same registry are mounted, the rest uploaded (one PUT, or
 * PATCH chunks for big blobs), the manifest PUT last under the tag.
 */
import { Readable } from 'node:stream';
import {
  familiarReference,
  formatReference,
  isIndex,
  isManifest,
  parseReference,
  type Descriptor as ImageDescriptor,
  type IndexDoc,
  type ManifestDoc,
} from '@gantry/oci';
import { RegistryError } from './errors';
import { LayerProgress, shortDigest, type ProgressSink } from './progress';
import { sourceLabel } from './pull';
import { Repository } from './repository';
import type { ContainerdStore } from './store';
import { withRetry, type RegistryHost } from './transport';
import { bounded } from './bounded';

export interface PushOptions {
  progress?: ProgressSink;
  concurrency?: number;
  /** Blobs larger than this go up in PATCH chunks of this size (default 32 MiB). */
  chunkSize?: number;
}

export interface PushResult {
  name: string;
  tag?: string;
  digest: string;
  size: number;
}

/** Push the image named `reference` (normalised) to its registry. */
export async function pushImage(host: RegistryHost, store: ContainerdStore, reference: string, opts: PushOptions = {}): Promise<PushResult> {
  const sink: ProgressSink = opts.progress ?? (() => undefined);
  const ref = parseReference(reference);
  if (ref.domain !== host.domain) throw new RegistryError('invalid', `reference ${reference} is not on registry ${host.domain}`);
  const name = formatReference(ref);
  const image = await store.getImage(name);
  if (!image?.target)
    throw new RegistryError('not-found', `An image does not exist locally with the tag: ${familiarReference(name).replace(/:latest$/, '')}`, 404);
  const repo = new Repository(host, ref.path, ['pull', 'push']);
  sink({ status: `The push refers to repository [${ref.domain === 'docker.io' ? `docker.io/${ref.path}` : `${ref.domain}/${ref.path}`}]` });

  const target = { mediaType: image.target.mediaType, digest: image.target.digest, size: Number(image.target.size) };
  const manifests: { desc: ImageDescriptor; body: Buffer; doc: ManifestDoc }[] = [];
  let indexBody: Buffer | undefined;
  if (isIndex(target.mediaType)) {
    indexBody = await store.readAll(target.digest);
    const index = JSON.parse(indexBody.toString('utf8')) as IndexDoc;
    for (const m of index.manifests) {
      if (!isManifest(m.mediaType) || !(await store.info(m.digest))) continue;
      const body = await store.readAll(m.digest);
      manifests.push({ desc: m, body, doc: JSON.parse(body.toString('utf8')) as ManifestDoc });
    }
    if (manifests.length === 0) throw new RegistryError('not-found', `image ${familiarReference(name)} has no manifest in the store`);
  } else if (isManifest(target.mediaType)) {
    const body = await store.readAll(target.digest);
    manifests.push({ desc: target, body, doc: JSON.parse(body.toString('utf8')) as ManifestDoc });
  } else {
    throw new RegistryError('invalid', `unsupported image media type ${target.mediaType}`);
  }

  // layers, shown as Docker shows them (top layer first), then configs
  const layers = new Map<string, ImageDescriptor>();
  for (const m of manifests) for (const l of [...m.doc.layers].reverse()) layers.set(l.digest, l);
  for (const l of layers.values()) sink({ status: 'Preparing', progressDetail: {}, id: shortDigest(l.digest) });
  const n = opts.concurrency ?? 3;
  for (const l of [...layers.values()].slice(n)) sink({ status: 'Waiting', progressDetail: {}, id: shortDigest(l.digest) });
  await bounded(n, [...layers.values()], (l) => pushBlob(repo, store, l, sink, opts, true));
  for (const m of manifests) await pushBlob(repo, store, m.doc.config, sink, opts, false);

  let digest: string;
  let size: number;
  if (indexBody) {
    for (const m of manifests) await repo.putManifest(m.desc.digest, m.desc.mediaType, m.body);
    digest = await repo.putManifest(ref.tag ?? ref.digest!, target.mediaType, indexBody);
    size = indexBody.length;
  } else {
    const m = manifests[0]!;
    digest = await repo.putManifest(ref.tag ?? ref.digest!, target.mediaType, m.body);
    size = m.body.length;
  }
  if (ref.tag) {
    sink({ status: `${ref.tag}: digest: ${digest} size: ${size}` });
    sink({ progressDetail: {}, aux: { Tag: ref.tag, Digest: digest, Size: size } });
  }
  return { name, ...(ref.tag ? { tag: ref.tag } : {}), digest, size };
}

/** The repositories of this registry a blob came from (containerd's distribution.source label). */
function mountSources(labels: Record<string, string>, domain: string, self: string): string[] {
  return (labels[sourceLabel(domain)] ?? '').split(',').filter((r) => r !== '' && r !== self);
}

async function pushBlob(repo: Repository, store: ContainerdStore, d: ImageDescriptor, sink: ProgressSink, opts: PushOptions, show: boolean): Promise<void> {
  const id = shortDigest(d.digest);
  const say = (status: string) => show && sink({ status, progressDetail: {}, id });
  if ((await repo.statBlob(d.digest)) !== undefined) return void say('Layer already exists');
  const info = await store.info(d.digest);
  if (!info) throw new RegistryError('not-found', `blob ${d.digest} is missing from the content store`);
  const domain = repo.host.domain;
  let location: string | undefined;
  for (const from of mountSources(info.labels, domain, repo.path)) {
    const r = await repo.mountBlob(d.digest, from);
    if (r === true) {
      say(`Mounted from ${from}`);
      await recordSource(store, d.digest, info.labels, domain, repo.path);
      return;
    }
    location = r;
  }
  const progress = show ? new LayerProgress(sink, id, 'Pushing', d.size) : undefined;
  const chunkSize = opts.chunkSize ?? 32 * 1024 * 1024;
  await withRetry(async (attempt) => {
    let loc = attempt === 1 && location ? location : await repo.startUpload();
    if (d.size <= chunkSize) {
      let sent = 0;
      await repo.putBlob(loc, d.digest, d.size, () => {
        sent = 0;
        const src = Readable.from(store.read(d.digest));
        src.on('data', (c: Buffer) => {
          sent += c.length;
          progress?.update(sent);
        });
        return src;
      });
    } else {
      let offset = 0;
      let pending: Buffer[] = [];
      let pendingSize = 0;
      const flush = async () => {
        const chunk = Buffer.concat(pending, pendingSize);
        pending = [];
        pendingSize = 0;
        loc = await repo.patchChunk(loc, offset, chunk);
        offset += chunk.length;
        progress?.update(offset);
      };
      for await (const c of store.read(d.digest)) {
        pending.push(c);
        pendingSize += c.length;
        if (pendingSize >= chunkSize) await flush();
      }
      if (pendingSize > 0) await flush();
      await repo.finishUpload(loc, d.digest);
    }
  }, repo.host.retryOpts());
  progress?.update(d.size, true);
  say('Pushed');
  await recordSource(store, d.digest, info.labels, domain, repo.path);
}

/** Remember that the blob is now in `path` too, for mounts by later pushes. */
async function recordSource(store: ContainerdStore, digest: string, labels: Record<string, string>, domain: string, path: string): Promise<void> {
  const cur = (labels[sourceLabel(domain)] ?? '').split(',').filter((x) => x !== '');
  if (cur.includes(path)) return;
  await store.setLabels(digest, { [sourceLabel(domain)]: [...cur, path].join(',') }).catch(() => undefined);
}
