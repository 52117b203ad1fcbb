/**
 * Export of images as one tar that is both an OCI image layout (oci-layout, index.json, blobs/)
 * and a docker-archive (manifest.json naming the same blob files), as `docker save` does since
 * Docker 25 — so skopeo, `docker load`, `ctr images import` and our own import all read it.
 */
import type { Writable } from 'node:stream';
import type { ContentStore } from '../content/types';
import { END_OF_ARCHIVE, padding, tarHeader } from '@gantry/archive';
import { failedPrecondition } from '../errors';
import type { ImageStore } from './store';
import {
  familiarReference,
  hostPlatform,
  isIndex,
  isManifest,
  parseReference,
  type Descriptor,
  type IndexDoc,
  type ManifestDoc,
  type Platform,
} from '@gantry/oci';
import { readJson, resolveManifest } from './manifest';

export interface ExportDeps {
  content: ContentStore;
  images: ImageStore;
}

function write(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.write(chunk, (err) => (err ? reject(err) : undefined))) resolve();
    else out.once('drain', resolve);
  });
}

async function writeFile(out: Writable, name: string, data: Buffer, mtime: number): Promise<void> {
  await write(out, tarHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime }));
  await write(out, data);
  await write(out, Buffer.alloc(padding(data.length)));
}

/**
 * Write `names` (full references) into `out`. By default only this host's platform of a
 * multi-platform image is carried (with an index pointing at it); `allPlatforms` carries what the
 * store has.
 */
export async function exportImages(
  deps: ExportDeps,
  ns: string,
  names: string[],
  out: Writable,
  opts: { platform?: Platform; allPlatforms?: boolean } = {},
): Promise<void> {
  const platform = opts.platform ?? hostPlatform();
  const blobs = new Map<string, number>(); // digest → size, in write order
  const indexEntries: Descriptor[] = [];
  const dockerEntries: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const blobName = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`;
  const need = (d: Descriptor) => {
    try {
      deps.content.info(ns, d.digest);
    } catch {
      throw failedPrecondition(`image content ${d.digest} (${d.mediaType}) is missing from the store`);
    }
    blobs.set(d.digest, d.size);
  };

  for (const name of names) {
    const img = deps.images.get(ns, name);
    const target: Descriptor = { mediaType: img.target!.mediaType, digest: img.target!.digest, size: Number(img.target!.size) };
    const ref = parseReference(name);
    const annotations = { 'io.containerd.image.name': name, ...(ref.tag ? { 'org.opencontainers.image.ref.name': ref.tag } : {}) };
    const manifests: ManifestDoc[] = [];
    if (isIndex(target.mediaType) && opts.allPlatforms) {
      need(target);
      const index = await readJson<IndexDoc>(deps.content, ns, target);
      for (const m of index.manifests) {
        if (!isManifest(m.mediaType)) continue;
        try {
          deps.content.info(ns, m.digest);
        } catch {
          continue;
        }
        need(m);
        manifests.push(await readJson<ManifestDoc>(deps.content, ns, m));
      }
      indexEntries.push({ ...target, annotations });
    } else {
      const { manifest, descriptor } = await resolveManifest(deps.content, ns, target, platform);
      need(descriptor);
      manifests.push(manifest);
      indexEntries.push({ mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, annotations });
    }
    for (const m of manifests) {
      need(m.config);
      m.layers.forEach(need);
      dockerEntries.push({
        Config: blobName(m.config.digest),
        RepoTags: ref.tag ? [familiarReference(name)] : [],
        Layers: m.layers.map((l) => blobName(l.digest)),
      });
    }
  }

  const mtime = Math.floor(Date.now() / 1000);
  await writeFile(out, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })), mtime);
  await write(out, tarHeader({ name: 'blobs/', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime }));
  await write(out, tarHeader({ name: 'blobs/sha256/', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime }));
  for (const [digest, size] of blobs) {
    await write(out, tarHeader({ name: blobName(digest), type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime }));
    let written = 0;
    for await (const c of deps.content.read(ns, digest)) {
      written += (c as Buffer).length;
      await write(out, c as Buffer);
    }
    if (written !== size) throw failedPrecondition(`blob ${digest} has ${written} bytes, expected ${size}`);
    await write(out, Buffer.alloc(padding(size)));
  }
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: indexEntries };
  await writeFile(out, 'index.json', Buffer.from(JSON.stringify(index)), mtime);
  await writeFile(out, 'manifest.json', Buffer.from(JSON.stringify(dockerEntries)), mtime);
  await write(out, END_OF_ARCHIVE);
}
