/**
 * Import of image archives into the content and image stores: OCI image layouts (index.json +
 * blobs/) and docker-archives (`docker save`: manifest.json, config JSON, layer tars), tarred, in
 * one streaming pass. Blobs go through content writers (verified against their digest when the
 * archive names one); the images are created only once everything they reference is present.
 * Everything is written under a temporary lease, so a failed import leaves nothing behind once
 * garbage is collected.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { PassThrough, type Readable } from 'node:stream';
import { types } from '@gantry/api';
import type { ContentStore } from '../content/types';
import { ByteSource, readTar } from '../diff/tar';
import { failedPrecondition, invalidArgument } from '../errors';
import type { ImageStore } from './store';
import type { LeaseStore } from '../leases/store';
import { isIndex, isManifest, KNOWN, MediaType } from './media-types';
import { referenceLabels, type Descriptor, type IndexDoc, type ManifestDoc } from './manifest';
import { normalizeReference, ReferenceError } from './reference';

export interface ImportDeps {
  content: ContentStore;
  images: ImageStore;
  leases: LeaseStore;
  /** Run after a failed import, to remove what it wrote. */
  collectGarbage?(ns: string): Promise<void> | void;
}

export interface ImportedImage {
  name: string;
  target: Descriptor;
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const SMALL_JSON = 8 * 1024 * 1024;
const BLOB_PATH = /^blobs\/([a-z0-9]+)\/([a-f0-9]{64})$/;

function peekGzip(input: Readable): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const onReadable = () => {
      const head = input.read(2) as Buffer | null;
      if (head === null) {
        if (input.readableEnded) resolve(input);
        return;
      }
      input.off('readable', onReadable);
      input.unshift(head);
      if (head[0] === 0x1f && head[1] === 0x8b) {
        const gz = createGunzip();
        input.pipe(gz);
        resolve(gz);
      } else resolve(input);
    };
    input.on('readable', onReadable);
    input.once('end', () => resolve(input));
    input.once('error', reject);
  });
}

function clean(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
}

export async function importArchive(deps: ImportDeps, ns: string, input: Readable, opts: { name?: string } = {}): Promise<ImportedImage[]> {
  const lease = deps.leases.create(ns, `import-${Date.now()}-${randomBytes(4).toString('hex')}`, {
    'containerd.io/gc.expire': new Date(Date.now() + 3600_000).toISOString(),
  });
  try {
    const imported = await importUnderLease(deps, ns, input, lease.id, opts);
    deps.leases.delete(ns, lease.id);
    return imported;
  } catch (e) {
    deps.leases.delete(ns, lease.id);
    await deps.collectGarbage?.(ns);
    throw e;
  }
}

async function storeBlob(deps: ImportDeps, ns: string, leaseId: string, chunks: AsyncIterable<Buffer>, expected?: string): Promise<{ digest: string; size: number }> {
  const ref = `import-${randomBytes(8).toString('hex')}`;
  const hash = createHash('sha256');
  let size = 0;
  let w: Awaited<ReturnType<ContentStore['writer']>>;
  try {
    w = await deps.content.writer(ns, ref, expected ? { expected } : {});
  } catch (e) {
    // the namespace has this blob already: read past it, still checking the archive's bytes
    if (!expected || (e as { code?: number }).code !== 6) throw e;
    for await (const c of chunks) {
      hash.update(c);
      size += c.length;
    }
    const digest = `sha256:${hash.digest('hex')}`;
    if (digest !== expected) throw failedPrecondition(`blob ${expected} in the archive has digest ${digest}`);
    deps.leases.addResource(ns, leaseId, { id: digest, type: 'content' });
    return { digest, size };
  }
  try {
    for await (const c of chunks) {
      hash.update(c);
      size += c.length;
      await w.write(c);
    }
    const digest = `sha256:${hash.digest('hex')}`;
    if (expected && digest !== expected) throw failedPrecondition(`blob ${expected} in the archive has digest ${digest}`);
    try {
      await w.commit(size, digest);
    } catch (e) {
      // already in this namespace: fine for an import
      if ((e as { code?: number }).code !== 6) throw e;
    }
    deps.leases.addResource(ns, leaseId, { id: digest, type: 'content' });
    return { digest, size };
  } catch (e) {
    try {
      deps.content.abort(ns, ref);
    } catch {
      // nothing to abort
    }
    throw e;
  } finally {
    await w.close().catch(() => undefined);
  }
}

async function* single(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function importUnderLease(deps: ImportDeps, ns: string, raw: Readable, leaseId: string, opts: { name?: string }): Promise<ImportedImage[]> {
  const input = await peekGzip(raw.pipe(new PassThrough()));
  const files = new Map<string, { digest: string; size: number; head: Buffer }>();
  const small = new Map<string, Buffer>();
  for await (const { header, body } of readTar(new ByteSource(input))) {
    if (header.type !== 'file') continue;
    const name = clean(header.name);
    const blob = BLOB_PATH.exec(name);
    const chunks = async function* (): AsyncGenerator<Buffer> {
      for (;;) {
        const c = await body.chunk();
        if (!c) return;
        yield c;
      }
    };
    // legacy docker-archive files nothing reads
    if (!blob && (name === 'repositories' || /(^|\/)(VERSION|json)$/.test(name))) continue;
    if (!blob && (name.endsWith('.json') || name === 'oci-layout') && header.size <= SMALL_JSON) {
      const parts: Buffer[] = [];
      for await (const c of chunks()) parts.push(c);
      small.set(name, Buffer.concat(parts));
      continue;
    }
    let head = Buffer.alloc(0);
    const tapped = async function* (): AsyncGenerator<Buffer> {
      for await (const c of chunks()) {
        if (head.length < 4) head = Buffer.concat([head, c.subarray(0, 4 - head.length)]);
        yield c;
      }
    };
    if (blob && blob[1] !== 'sha256') throw invalidArgument(`unsupported digest algorithm ${blob[1]} in ${name}`);
    const stored = await storeBlob(deps, ns, leaseId, tapped(), blob ? `sha256:${blob[2]}` : undefined);
    files.set(name, { ...stored, head });
  }

  const index = small.get('index.json');
  const dockerManifest = small.get('manifest.json');
  if (index) return importOci(deps, ns, leaseId, index, small, opts);
  if (dockerManifest) return importDocker(deps, ns, leaseId, dockerManifest, files, small);
  throw invalidArgument('not an image archive: neither index.json (OCI layout) nor manifest.json (docker-archive) found');
}

function parseJson<T>(buf: Buffer, what: string): T {
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (e) {
    throw invalidArgument(`${what}: invalid JSON: ${(e as Error).message}`);
  }
}

/** Check that every blob a manifest or index references is present; label it for GC. */
async function linkDocument(deps: ImportDeps, ns: string, d: Descriptor, seen = new Set<string>()): Promise<void> {
  if (seen.has(d.digest)) return;
  seen.add(d.digest);
  if (!KNOWN.has(d.mediaType)) throw invalidArgument(`unknown media type ${JSON.stringify(d.mediaType)} for ${d.digest}`);
  const present = (x: Descriptor) => {
    try {
      const info = deps.content.info(ns, x.digest);
      if (info.size !== x.size) throw failedPrecondition(`blob ${x.digest} has size ${info.size}, the manifest says ${x.size}`);
    } catch (e) {
      if ((e as { code?: number }).code === 9) throw e;
      throw failedPrecondition(`the archive is missing blob ${x.digest} (${x.mediaType})`);
    }
  };
  present(d);
  if (!isIndex(d.mediaType) && !isManifest(d.mediaType)) return;
  const chunks: Buffer[] = [];
  for await (const c of deps.content.read(ns, d.digest)) chunks.push(c as Buffer);
  const doc = parseJson<IndexDoc | ManifestDoc>(Buffer.concat(chunks), `manifest ${d.digest}`);
  if (isManifest(d.mediaType)) {
    const m = doc as ManifestDoc;
    if (!m.config || !Array.isArray(m.layers)) throw invalidArgument(`manifest ${d.digest} has no config or layers`);
    for (const x of [m.config, ...m.layers]) {
      if (!KNOWN.has(x.mediaType)) throw invalidArgument(`unknown media type ${JSON.stringify(x.mediaType)} in manifest ${d.digest}`);
      present(x);
    }
  } else {
    for (const x of (doc as IndexDoc).manifests ?? []) {
      // an index may list platforms the archive does not carry: link those it has
      try {
        deps.content.info(ns, x.digest);
      } catch {
        continue;
      }
      await linkDocument(deps, ns, x, seen);
    }
  }
  const labels = referenceLabels(doc);
  const paths = Object.keys(labels).map((k) => `labels.${k}`);
  if (paths.length > 0) deps.content.update(ns, { digest: d.digest, labels }, paths);
}

function upsertImage(deps: ImportDeps, ns: string, name: string, target: Descriptor): void {
  const t = types.Descriptor.fromPartial({ mediaType: target.mediaType, digest: target.digest, size: BigInt(target.size), annotations: target.annotations ?? {} });
  try {
    deps.images.get(ns, name);
    deps.images.update(ns, { name, labels: {}, target: t }, ['target']);
  } catch (e) {
    if ((e as { code?: number }).code !== 5) throw e;
    deps.images.create(ns, { name, labels: {}, target: t });
  }
}

function nameFrom(annotations: Record<string, string> | undefined, fallback?: string): string | undefined {
  const full = annotations?.['io.containerd.image.name'];
  if (full) return normalizeReference(full);
  const ref = annotations?.['org.opencontainers.image.ref.name'];
  if (ref) {
    try {
      // a whole reference, or just a tag to put on `fallback`
      return ref.includes('/') || ref.includes(':') ? normalizeReference(ref) : fallback ? normalizeReference(`${fallback}:${ref}`) : normalizeReference(ref);
    } catch (e) {
      if (!(e instanceof ReferenceError)) throw e;
    }
  }
  return fallback ? normalizeReference(fallback) : undefined;
}

async function importOci(deps: ImportDeps, ns: string, _lease: string, indexBuf: Buffer, small: Map<string, Buffer>, opts: { name?: string }): Promise<ImportedImage[]> {
  const layout = small.get('oci-layout');
  if (layout && parseJson<{ imageLayoutVersion?: string }>(layout, 'oci-layout').imageLayoutVersion === undefined) throw invalidArgument('oci-layout has no imageLayoutVersion');
  const index = parseJson<IndexDoc>(indexBuf, 'index.json');
  if (!Array.isArray(index.manifests)) throw invalidArgument('index.json has no manifests');
  const out: ImportedImage[] = [];
  for (const m of index.manifests) {
    await linkDocument(deps, ns, m);
    const name = nameFrom(m.annotations, opts.name);
    if (!name) continue;
    upsertImage(deps, ns, name, m);
    out.push({ name, target: m });
  }
  return out;
}

async function importDocker(deps: ImportDeps, ns: string, leaseId: string, manifestBuf: Buffer, files: Map<string, { digest: string; size: number; head: Buffer }>, small: Map<string, Buffer>): Promise<ImportedImage[]> {
  const entries = parseJson<DockerManifestEntry[]>(manifestBuf, 'manifest.json');
  if (!Array.isArray(entries)) throw invalidArgument('manifest.json must be a list');
  const out: ImportedImage[] = [];
  for (const e of entries) {
    const configBuf = small.get(clean(e.Config));
    let config: { digest: string; size: number };
    if (configBuf) config = await storeBlob(deps, ns, leaseId, single(configBuf));
    else {
      const f = files.get(clean(e.Config));
      if (!f) throw failedPrecondition(`the archive is missing config ${e.Config}`);
      config = f;
    }
    const layers: Descriptor[] = e.Layers.map((l) => {
      const f = files.get(clean(l));
      if (!f) throw failedPrecondition(`the archive is missing layer ${l}`);
      const gz = f.head[0] === 0x1f && f.head[1] === 0x8b;
      return { mediaType: gz ? MediaType.dockerLayerGzip : MediaType.dockerLayer, digest: f.digest, size: f.size };
    });
    const manifest: ManifestDoc = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: config.digest, size: config.size },
      layers,
    };
    const mbuf = Buffer.from(JSON.stringify(manifest));
    const stored = await storeBlob(deps, ns, leaseId, single(mbuf));
    const target: Descriptor = { mediaType: MediaType.dockerManifest, digest: stored.digest, size: stored.size };
    await linkDocument(deps, ns, target);
    for (const tag of e.RepoTags ?? []) {
      const name = normalizeReference(tag);
      upsertImage(deps, ns, name, target);
      out.push({ name, target });
    }
  }
  return out;
}
