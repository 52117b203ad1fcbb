import { chainIds, hostPlatform, normalizeReference } from '@gantry/oci';
import { errdefs } from '@gantry/linux';
import type { Containerd } from '../containerd/client';

/** The parts of an OCI image config a container is made from. */
interface ImageRuntimeConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, unknown>;
  Volumes?: Record<string, unknown>;
  StopSignal?: string;
  Labels?: Record<string, string>;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
}

export interface ResolvedImage {
  /** Full reference the image is stored under. */
  name: string;
  /** Image ID: the config digest. */
  id: string;
  config: { config?: ImageRuntimeConfig; rootfs: { diff_ids: string[] }; architecture?: string; os?: string };
  /** Snapshot name of the top layer (its chain ID); '' for an image with no layers. */
  chainId: string;
}

/** Read a whole blob from the content store over gRPC. */
function readBlob(cd: Containerd, digest: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stream = cd.content.read({ digest, offset: 0n, size: 0n }, cd.metadata(), cd.callOptions());
    stream.on('data', (r: { data: Uint8Array }) => chunks.push(Buffer.from(r.data)));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

async function readJson<T>(cd: Containerd, digest: string): Promise<T> {
  return JSON.parse((await readBlob(cd, digest)).toString('utf8')) as T;
}

interface Desc {
  mediaType: string;
  digest: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/** The config digest of an image target (a manifest, or this host's entry of an index). */
async function configOf(cd: Containerd, target: Desc): Promise<string> {
  if (/manifest\.list|image\.index/.test(target.mediaType)) {
    const index = await readJson<{ manifests: Desc[] }>(cd, target.digest);
    const p = hostPlatform();
    const m = index.manifests.find((x) => x.platform?.os === p.os && x.platform?.architecture === p.architecture);
    if (!m) throw errdefs.notFound(`no matching manifest for ${p.os}/${p.architecture} in the manifest list entries`);
    return configOf(cd, m);
  }
  const manifest = await readJson<{ config: { digest: string } }>(cd, target.digest);
  return manifest.config.digest;
}

/**
 * Find an image by reference ("busybox", "busybox:1", "docker.io/x/y@sha256:...") or by ID
 * ("sha256:<hex>", or a unique hex prefix of it), as `docker run` and `docker create` accept.
 */
export async function resolveImage(cd: Containerd, ref: string): Promise<ResolvedImage> {
  const images = (await cd.call(cd.images, cd.images.list, { filters: [] })).images;
  let chosen: { name: string; target: Desc } | undefined;
  let configDigest: string | undefined;
  let full: string | undefined;
  try {
    full = normalizeReference(ref);
  } catch {
    full = undefined;
  }
  const byName = full ? images.find((i) => i.name === full) : undefined;
  if (byName?.target) {
    chosen = { name: byName.name, target: byName.target };
    configDigest = await configOf(cd, byName.target);
  } else {
    const hex = ref.replace(/^sha256:/, '');
    if (!/^[a-f0-9]{1,64}$/.test(hex)) {
      if (!full) throw errdefs.invalidArgument(`invalid reference format: ${ref}`);
      throw errdefs.notFound(`No such image: ${ref}`);
    }
    const matches = new Map<string, { name: string; target: Desc }>();
    for (const img of images) {
      if (!img.target) continue;
      const cfg = await configOf(cd, img.target).catch(() => '');
      if (cfg.slice('sha256:'.length).startsWith(hex)) matches.set(cfg, { name: img.name, target: img.target });
    }
    if (matches.size === 0) throw errdefs.notFound(`No such image: ${ref}`);
    if (matches.size > 1) throw errdefs.invalidArgument(`multiple images found with provided prefix: ${ref}`);
    [configDigest, chosen] = [...matches.entries()][0]!;
  }
  const config = await readJson<ResolvedImage['config']>(cd, configDigest);
  const chain = chainIds(config.rootfs?.diff_ids ?? []);
  return { name: chosen.name, id: configDigest, config, chainId: chain[chain.length - 1] ?? '' };
}
