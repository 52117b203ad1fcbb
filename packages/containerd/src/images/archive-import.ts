/**
 * Import of image archives into the content and image stores: OCI image layouts (index.json +
 * blobs/) and docker-archives (`docker save`: manifest.json, config JSON, layer tars), tarred, in
 * one streaming pass. Blobs go through content writers (verified against their digest when the
 * archive names one); the images are created only once everything they reference is present and
 * the caller's `beforeCommit` (the unpack) succeeded. Everything is written under a temporary
 * lease, so a failed import leaves nothing behind once garbage is collected.
 *
 * Bounded: a gzipped archive is inflated within `limits` (the disk budget of the content store and
 * the sane 200:1 ratio); only index.json, manifest.json and oci-layout are held in memory, each
 * at most MAX_DOC bytes; every other file goes to the content store, and a config or manifest
 * over MAX_DOC is refused when the image is assembled.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { types } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { ContentStore } from '../content/types';
import { ByteSource, decompressed, LAYER_RATIO, readTar, type ExpansionLimits } from '@gantry/archive';
import { failedPrecondition, invalidArgument } from '../errors';
import type { ImageStore } from './store';
import type { LeaseStore } from '../leases/store';
import {
  InvalidReferenceError,
  isIndex,
  isManifest,
  KNOWN_MEDIA_TYPES,
  MediaType,
  normalizeReference,
  referenceLabels,
  type Descriptor,
  type IndexDoc,
  type ManifestDoc,
} from '@gantry/oci';
import { MAX_DOC, readJson } from './manifest';

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

export interface ImportOptions {
  /** The name of an OCI manifest the archive does not name. */
  name?: string;
  /** Bounds on the inflated archive (default: the sane ratio only). */
  limits?: ExpansionLimits;
  /**
   * Run once every blob is stored and checked, under the import's lease, before any image record
   * is created or moved: a failure here (an unpack) fails the import and leaves nothing.
   */
  beforeCommit?(images: ImportedImage[]): Promise<void>;
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** The documents of the archive held in memory (everything else goes to the content store). */
const IN_MEMORY = new Set(['index.json', 'manifest.json', 'oci-layout']);
const BLOB_PATH = /^blobs\/([a-z0-9]+)\/([a-f0-9]{64})$/;

function clean(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
}

export async function importArchive(deps: ImportDeps, ns: string, input: Readable, opts: ImportOptions = {}): Promise<ImportedImage[]> {
  const lease = deps.leases.create(ns, `import-${Date.now()}-${randomBytes(4).toString('hex')}`, {
    'containerd.io/gc.expire': new Date(Date.now() + 3600_000).toISOString(),
  });
  try {
    const imported = await importUnderLease(deps, ns, input, lease.id, opts);
    await opts.beforeCommit?.(imported);
    for (const img of imported) upsertImage(deps, ns, img.name, img.target);
    deps.leases.delete(ns, lease.id);
    return imported;
  } catch (e) {
    input.destroy();
    deps.leases.delete(ns, lease.id);
    await deps.collectGarbage?.(ns);
    throw e;
  }
}

async function storeBlob(
  deps: ImportDeps,
  ns: string,
  leaseId: string,
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  expected?: string,
): Promise<{ digest: string; size: number }> {
  const ref = `import-${randomBytes(8).toString('hex')}`;
  const hash = createHash('sha256');
  let size = 0;
  let w: Awaited<ReturnType<ContentStore['writer']>>;
  try {
    w = await deps.content.writer(ns, ref, expected ? { expected } : {});
  } catch (e) {
    // the namespace has this blob already: read past it, still checking the archive's bytes
    if (!expected || !errdefs.isAlreadyExists(e)) throw e;
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
      if (!errdefs.isAlreadyExists(e)) throw e;
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

async function importUnderLease(deps: ImportDeps, ns: string, raw: Readable, leaseId: string, opts: ImportOptions): Promise<ImportedImage[]> {
  const src = new ByteSource(decompressed(raw, opts.limits ?? LAYER_RATIO, 'image archives'));
  const files = new Map<string, { digest: string; size: number; head: Buffer }>();
  const small = new Map<string, Buffer>();
  /** Docker-archive JSON files too large to be a config: skipped, refused if an image names them. */
  const oversized = new Map<string, number>();
  for await (const { header, body } of readTar(src)) {
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
    if (!blob && IN_MEMORY.has(name)) {
      if (header.size > MAX_DOC) throw invalidArgument(`${name} in the archive has ${header.size} bytes, over the ${MAX_DOC}-byte limit`);
      const parts: Buffer[] = [];
      for await (const c of chunks()) parts.push(c);
      small.set(name, Buffer.concat(parts));
      continue;
    }
    if (!blob && name.endsWith('.json') && header.size > MAX_DOC) {
      oversized.set(name, header.size);
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
  // what follows the end marker (record padding) is read too: a gzip stream that ends early fails here
  await src.drain();

  const index = small.get('index.json');
  const dockerManifest = small.get('manifest.json');
  if (index) return importOci(deps, ns, index, small, opts);
  if (dockerManifest) return importDocker(deps, ns, leaseId, dockerManifest, files, oversized);
  throw invalidArgument('not an image archive: neither index.json (OCI layout) nor manifest.json (docker-archive) found');
}

function parseJson<T>(buf: Buffer, what: string): T {
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (e) {
    throw invalidArgument(`${what}: invalid JSON: ${(e as Error).message}`);
  }
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** A descriptor from the archive, checked before anything uses its fields. */
function checkDescriptor(x: unknown, where: string): Descriptor {
  const d = x as Partial<Descriptor> | null;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.mediaType !== 'string' ||
    typeof d.digest !== 'string' ||
    !DIGEST.test(d.digest) ||
    !Number.isSafeInteger(d.size) ||
    d.size! < 0
  ) {
    throw invalidArgument(`${where}: invalid descriptor ${JSON.stringify(x)?.slice(0, 200)}`);
  }
  if (
    d.annotations !== undefined &&
    (typeof d.annotations !== 'object' || d.annotations === null || Object.values(d.annotations).some((v) => typeof v !== 'string'))
  ) {
    throw invalidArgument(`${where}: invalid annotations on ${d.digest}`);
  }
  return d as Descriptor;
}

/** Check that every blob a manifest or index references is present; label it for GC. */
async function linkDocument(deps: ImportDeps, ns: string, d: Descriptor, seen = new Set<string>()): Promise<void> {
  if (seen.has(d.digest)) return;
  seen.add(d.digest);
  if (!KNOWN_MEDIA_TYPES.has(d.mediaType)) throw invalidArgument(`unknown media type ${JSON.stringify(d.mediaType)} for ${d.digest}`);
  const present = (x: Descriptor) => {
    try {
      const info = deps.content.info(ns, x.digest);
      if (info.size !== x.size) throw failedPrecondition(`blob ${x.digest} has size ${info.size}, the manifest says ${x.size}`);
    } catch (e) {
      if (errdefs.isFailedPrecondition(e)) throw e;
      throw failedPrecondition(`the archive is missing blob ${x.digest} (${x.mediaType})`);
    }
  };
  present(d);
  if (!isIndex(d.mediaType) && !isManifest(d.mediaType)) return;
  if (d.size > MAX_DOC) throw invalidArgument(`${d.mediaType} ${d.digest} has ${d.size} bytes, over the ${MAX_DOC}-byte limit`);
  const doc = await readJson<IndexDoc | ManifestDoc>(deps.content, ns, d);
  if (typeof doc !== 'object' || doc === null) throw invalidArgument(`manifest ${d.digest} is not a JSON object`);
  if (isManifest(d.mediaType)) {
    const m = doc as ManifestDoc;
    if (!m.config || !Array.isArray(m.layers)) throw invalidArgument(`manifest ${d.digest} has no config or layers`);
    const config = checkDescriptor(m.config, `manifest ${d.digest}`);
    if (config.size > MAX_DOC) throw invalidArgument(`image config ${config.digest} has ${config.size} bytes, over the ${MAX_DOC}-byte limit`);
    for (const x of [config, ...m.layers.map((l) => checkDescriptor(l, `manifest ${d.digest}`))]) {
      if (!KNOWN_MEDIA_TYPES.has(x.mediaType)) throw invalidArgument(`unknown media type ${JSON.stringify(x.mediaType)} in manifest ${d.digest}`);
      present(x);
    }
  } else {
    const list = (doc as IndexDoc).manifests ?? [];
    if (!Array.isArray(list)) throw invalidArgument(`index ${d.digest}: manifests is not a list`);
    for (const x of list.map((m) => checkDescriptor(m, `index ${d.digest}`))) {
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
  const t = types.Descriptor.fromPartial({
    mediaType: target.mediaType,
    digest: target.digest,
    size: BigInt(target.size),
    annotations: target.annotations ?? {},
  });
  try {
    deps.images.get(ns, name);
    deps.images.update(ns, { name, labels: {}, target: t }, ['target']);
  } catch (e) {
    if (!errdefs.isNotFound(e)) throw e;
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
      if (!(e instanceof InvalidReferenceError)) throw e;
    }
  }
  return fallback ? normalizeReference(fallback) : undefined;
}

/** The images of an OCI layout (not created yet). */
async function importOci(deps: ImportDeps, ns: string, indexBuf: Buffer, small: Map<string, Buffer>, opts: ImportOptions): Promise<ImportedImage[]> {
  const layout = small.get('oci-layout');
  if (layout && parseJson<{ imageLayoutVersion?: string } | null>(layout, 'oci-layout')?.imageLayoutVersion === undefined)
    throw invalidArgument('oci-layout has no imageLayoutVersion');
  const index = parseJson<IndexDoc | null>(indexBuf, 'index.json');
  if (!index || !Array.isArray(index.manifests)) throw invalidArgument('index.json has no manifests');
  const out: ImportedImage[] = [];
  for (const raw of index.manifests) {
    const m = checkDescriptor(raw, 'index.json');
    await linkDocument(deps, ns, m);
    const name = nameFrom(m.annotations, opts.name);
    if (!name) continue;
    out.push({ name, target: m });
  }
  return out;
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The images of a docker-archive (not created yet); their manifests are written to the store. */
async function importDocker(
  deps: ImportDeps,
  ns: string,
  leaseId: string,
  manifestBuf: Buffer,
  files: Map<string, { digest: string; size: number; head: Buffer }>,
  oversized: Map<string, number>,
): Promise<ImportedImage[]> {
  const entries = parseJson<unknown>(manifestBuf, 'manifest.json');
  if (!Array.isArray(entries)) throw invalidArgument('manifest.json must be a list');
  const out: ImportedImage[] = [];
  for (const raw of entries as unknown[]) {
    const e = raw as Partial<DockerManifestEntry> | null;
    if (typeof e !== 'object' || e === null || typeof e.Config !== 'string' || !isStringList(e.Layers) || !(e.RepoTags == null || isStringList(e.RepoTags))) {
      throw invalidArgument(`manifest.json: invalid entry ${JSON.stringify(raw)?.slice(0, 200)}`);
    }
    const config = files.get(clean(e.Config));
    const tooLarge = oversized.get(clean(e.Config)) ?? (config && config.size > MAX_DOC ? config.size : undefined);
    if (tooLarge !== undefined) throw invalidArgument(`config ${e.Config} in the archive has ${tooLarge} bytes, over the ${MAX_DOC}-byte limit`);
    if (!config) throw failedPrecondition(`the archive is missing config ${e.Config}`);
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
    const stored = await storeBlob(deps, ns, leaseId, [mbuf]);
    const target: Descriptor = { mediaType: MediaType.dockerManifest, digest: stored.digest, size: stored.size };
    await linkDocument(deps, ns, target);
    for (const tag of e.RepoTags ?? []) out.push({ name: normalizeReference(tag), target });
  }
  return out;
}
