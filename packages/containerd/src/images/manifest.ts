/**
 * Reading image indexes, manifests and configs out of the content store, choosing this host's
 * platform, and the GC reference labels containerd puts on them.
 */
import type { Readable } from 'node:stream';
import type { ContentStore } from '../content/types';
import { failedPrecondition, invalidArgument, notFound } from '../errors';
import {
  isConfig,
  isIndex,
  isLayer,
  isManifest,
  KNOWN_MEDIA_TYPES,
  platformMatches,
  type Descriptor,
  type ImageConfig,
  type IndexDoc,
  type ManifestDoc,
  type Platform,
} from '@gantry/oci';

/** Most bytes of an index, manifest or config read into memory. */
export const MAX_DOC = 8 * 1024 * 1024;

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) throw invalidArgument(`document larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJson<T>(content: ContentStore, ns: string, d: Pick<Descriptor, 'digest'>): Promise<T> {
  let info;
  try {
    info = content.info(ns, d.digest);
  } catch {
    throw notFound(`content ${d.digest} is missing`);
  }
  const buf = await readAll(content.read(ns, d.digest), Math.min(info.size, MAX_DOC));
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (e) {
    throw invalidArgument(`content ${d.digest} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The manifest for `platform` under `target` (itself a manifest, or an index / manifest list). */
export async function resolveManifest(
  content: ContentStore,
  ns: string,
  target: Descriptor,
  platform: Platform,
): Promise<{ manifest: ManifestDoc; descriptor: Descriptor }> {
  if (!KNOWN_MEDIA_TYPES.has(target.mediaType)) throw invalidArgument(`unknown media type ${target.mediaType}`);
  if (isManifest(target.mediaType)) return { manifest: await readJson<ManifestDoc>(content, ns, target), descriptor: target };
  if (!isIndex(target.mediaType)) throw invalidArgument(`${target.mediaType} is not a manifest or index`);
  const index = await readJson<IndexDoc>(content, ns, target);
  const entry =
    index.manifests.find((m) => isManifest(m.mediaType) && platformMatches(m.platform, platform)) ?? index.manifests.find((m) => isIndex(m.mediaType));
  if (!entry) throw notFound(`no manifest for platform ${platform.os}/${platform.architecture} in ${target.digest}`);
  return resolveManifest(content, ns, entry, platform);
}

/** The image config and layers of a manifest, checked for consistency. */
export async function readImage(content: ContentStore, ns: string, manifest: ManifestDoc): Promise<{ config: ImageConfig; layers: Descriptor[] }> {
  if (!isConfig(manifest.config.mediaType)) throw invalidArgument(`unknown config media type ${manifest.config.mediaType}`);
  for (const l of manifest.layers) if (!isLayer(l.mediaType)) throw invalidArgument(`unknown layer media type ${l.mediaType}`);
  const config = await readJson<ImageConfig>(content, ns, manifest.config);
  if (typeof config !== 'object' || config === null || !config.rootfs || !Array.isArray(config.rootfs.diff_ids))
    throw invalidArgument(`image config ${manifest.config.digest} has no rootfs.diff_ids`);
  // diff IDs name snapshots (chain IDs): nothing but digests
  const bad = config.rootfs.diff_ids.find((d) => typeof d !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d));
  if (bad !== undefined) throw invalidArgument(`image config ${manifest.config.digest}: invalid diff ID ${JSON.stringify(bad)?.slice(0, 100)}`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw failedPrecondition(`image config lists ${config.rootfs.diff_ids.length} layers but the manifest has ${manifest.layers.length}`);
  }
  return { config, layers: manifest.layers };
}
