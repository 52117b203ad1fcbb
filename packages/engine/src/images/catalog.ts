/**
 * The engine's view of the images in containerd's store: image records (one per name) grouped by
 * image ID, which is the digest of the image config for this host's platform, as Docker's
 * containerd image store defines it. Manifests, indexes and configs are read through the Content
 * API (content-addressed, so cached by digest); sizes come from the unpacked snapshots.
 */
import { chainIds, hostPlatform } from '@gantry/oci';
import type { ContainerConfig, Descriptor, HistoryEntry, ImageConfig, IndexDoc, ManifestDoc } from '@gantry/oci';
import type { images } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { Containerd } from '../containerd/client';
import { isDanglingName, parseName, repoDigestOf, repoTagOf } from './names';

const SNAPSHOTTER = 'overlayfs';

// The OCI documents' shapes are @gantry/oci's; the engine's names for them stay as aliases.
export type { Descriptor };
export type OciContainerConfig = ContainerConfig;
export type OciHistory = HistoryEntry;
export type OciImageConfig = ImageConfig;

/** One image: its ID, config, resolved manifest and every record (name) pointing at it. */
export interface ImageEntry {
  id: string;
  config: OciImageConfig;
  manifestDigest: string;
  layers: Descriptor[];
  chainIds: string[];
  records: images.Image[];
}

const isIndex = (m: string) => m === 'application/vnd.oci.image.index.v1+json' || m === 'application/vnd.docker.distribution.manifest.list.v2+json';
const isManifest = (m: string) => m === 'application/vnd.oci.image.manifest.v1+json' || m === 'application/vnd.docker.distribution.manifest.v2+json';

export const imageCreated = (e: ImageEntry): number => {
  const t = e.config.created ? Date.parse(e.config.created) : NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
};

export const repoTags = (e: ImageEntry): string[] => [...new Set(e.records.flatMap((r) => repoTagOf(r.name) ?? []))].sort();

export const repoDigests = (e: ImageEntry): string[] =>
  [...new Set(e.records.flatMap((r) => (r.target ? (repoDigestOf(r.name, r.target.digest) ?? []) : [])))].sort();

export const isDangling = (e: ImageEntry): boolean => e.records.every((r) => isDanglingName(r.name) || !parseName(r.name)?.tag);

const MAX_CACHE = 2000;

export class ImageCatalog {
  private readonly docs = new Map<string, unknown>();
  private readonly usages = new Map<string, number>();

  constructor(private readonly cd: Containerd) {}

  /** The whole blob as bytes (documents only: manifests, indexes, configs). */
  async blob(digest: string): Promise<Buffer> {
    const call = this.cd.content.read({ digest, offset: 0n, size: 0n }, this.cd.metadata(), this.cd.callOptions());
    const chunks: Buffer[] = [];
    try {
      for await (const m of call as AsyncIterable<{ data: Buffer }>) chunks.push(m.data);
    } catch (e) {
      throw errdefs.fromGrpc(e);
    }
    return Buffer.concat(chunks);
  }

  async json<T>(digest: string): Promise<T> {
    const cached = this.docs.get(digest);
    if (cached !== undefined) return cached as T;
    const doc = JSON.parse((await this.blob(digest)).toString('utf8')) as T;
    if (this.docs.size >= MAX_CACHE) this.docs.delete(this.docs.keys().next().value as string);
    this.docs.set(digest, doc);
    return doc;
  }

  async records(): Promise<images.Image[]> {
    try {
      return (await this.cd.call(this.cd.images, this.cd.images.list, { filters: [] })).images;
    } catch (e) {
      throw errdefs.fromGrpc(e);
    }
  }

  /** The manifest for this host under `target` (a manifest, or an index). */
  async manifestOf(target: Descriptor): Promise<{ digest: string; manifest: ManifestDoc }> {
    if (isManifest(target.mediaType)) return { digest: target.digest, manifest: await this.json<ManifestDoc>(target.digest) };
    if (!isIndex(target.mediaType)) throw new Error(`unsupported media type ${target.mediaType}`);
    const index = await this.json<IndexDoc>(target.digest);
    const host = hostPlatform();
    const fits = (d: Descriptor) =>
      d.platform?.os === host.os &&
      d.platform.architecture === host.architecture &&
      (!host.variant || (d.platform.variant ?? (host.architecture === 'arm64' ? 'v8' : '')) === host.variant);
    const entry = index.manifests.find((m) => isManifest(m.mediaType) && fits(m)) ?? index.manifests.find((m) => isIndex(m.mediaType));
    if (!entry) throw new Error(`no manifest for ${host.os}/${host.architecture} in ${target.digest}`);
    return this.manifestOf(entry);
  }

  /** Every image, grouped by ID; records whose content is incomplete are left out. */
  async entries(): Promise<ImageEntry[]> {
    const byId = new Map<string, ImageEntry>();
    for (const rec of await this.records()) {
      if (!rec.target) continue;
      try {
        const target: Descriptor = { mediaType: rec.target.mediaType, digest: rec.target.digest, size: Number(rec.target.size) };
        const { digest, manifest } = await this.manifestOf(target);
        const id = manifest.config.digest;
        let e = byId.get(id);
        if (!e) {
          const config = await this.json<OciImageConfig>(id);
          e = { id, config, manifestDigest: digest, layers: manifest.layers, chainIds: chainIds(config.rootfs?.diff_ids ?? []), records: [] };
          byId.set(id, e);
        }
        e.records.push(rec);
      } catch {
        // content missing (being garbage collected, or a pull in progress): not an image yet
      }
    }
    return [...byId.values()];
  }

  /**
   * Find an image as Docker does: a full ID ("sha256:<64 hex>" or the bare hex), a reference
   * (tag or digest; "busybox" is busybox:latest), or an unambiguous ID prefix. `matched` are the
   * records the input names (for a reference), or all of the image's (for an ID).
   */
  async resolve(input: string, all?: ImageEntry[]): Promise<{ entry: ImageEntry; byId: boolean; matched: images.Image[] }> {
    const entries = all ?? (await this.entries());
    const hex = /^(?:sha256:)?([a-f0-9]{64})$/.exec(input);
    if (hex) {
      const entry = entries.find((e) => e.id === `sha256:${hex[1]}`);
      if (entry) return { entry, byId: true, matched: entry.records };
    }
    const ref = (() => {
      try {
        return parseName(input);
      } catch {
        return undefined;
      }
    })();
    if (ref && !hex) {
      const repo = `${ref.domain}/${ref.path}`;
      if (ref.digest && !ref.tag) {
        for (const entry of entries) {
          const matched = entry.records.filter((r) => {
            const p = parseName(r.name);
            return p && `${p.domain}/${p.path}` === repo && (r.target?.digest === ref.digest || entry.manifestDigest === ref.digest);
          });
          if (matched.length > 0) return { entry, byId: false, matched };
        }
      } else {
        const full = `${repo}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
        for (const entry of entries) {
          const rec = entry.records.find((r) => r.name === full);
          if (rec) return { entry, byId: false, matched: [rec] };
        }
      }
    }
    const prefix = /^(?:sha256:)?([a-f0-9]{1,64})$/.exec(input);
    if (prefix) {
      const found = entries.filter((e) => e.id.startsWith(`sha256:${prefix[1]}`));
      if (found.length > 1) throw errdefs.invalidArgument(`multiple IDs found with provided prefix: ${input}`);
      if (found.length === 1) return { entry: found[0]!, byId: true, matched: found[0]!.records };
    }
    throw noSuchImage(input);
  }

  /** Bytes a committed snapshot uses on its own (its layer), or undefined when it is not unpacked. */
  async usage(chainId: string): Promise<number | undefined> {
    const cached = this.usages.get(chainId);
    if (cached !== undefined) return cached;
    try {
      const u = await this.cd.call(this.cd.snapshots, this.cd.snapshots.usage, { snapshotter: SNAPSHOTTER, key: chainId });
      const n = Number(u.size);
      if (this.usages.size >= MAX_CACHE) this.usages.delete(this.usages.keys().next().value as string);
      this.usages.set(chainId, n);
      return n;
    } catch {
      return undefined;
    }
  }

  /** Size of each layer: the unpacked snapshot's usage, or the compressed blob size when not unpacked. */
  async layerSizes(e: ImageEntry): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < e.layers.length; i++) {
      const u = e.chainIds[i] ? await this.usage(e.chainIds[i]!) : undefined;
      out.push(u ?? e.layers[i]!.size);
    }
    return out;
  }

  async size(e: ImageEntry): Promise<number> {
    return (await this.layerSizes(e)).reduce((a, b) => a + b, 0);
  }

  forget(): void {
    this.usages.clear();
  }
}

/** Docker's 404 for an unknown image: the familiar reference with its tag, or the input as given. */
export function noSuchImage(input: string): Error {
  const r = parseName(input);
  const shown =
    r && !/^(?:sha256:)?[a-f0-9]{64}$/.test(input)
      ? `${r.domain === 'docker.io' ? r.path.replace(/^library\//, '') : `${r.domain}/${r.path}`}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`
      : input;
  return errdefs.notFound(`No such image: ${shown}`);
}
