/**
 * runtime.v1.ImageService over gantry-containerd's images and content (namespace k8s.io): an
 * image's ID is its config digest, its names are the image records pointing at it; pulls go
 * through @gantry/registry, first through the configured mirrors of the reference's registry.
 */
import * as fs from 'node:fs';
import { cri, type images as ipb } from '@gantry/api';
import { errdefs, type Logger } from '@gantry/linux';
import {
  chainIds,
  hostPlatform,
  isIndex,
  normalizeReference,
  parseReference,
  platformMatches,
  type ImageConfig,
  type IndexDoc,
  type ManifestDoc,
} from '@gantry/oci';
import { pullImage, RegistryClient, RegistryError, type Credentials } from '@gantry/registry';
import type { DaemonClients } from './clients';
import { SNAPSHOTTER } from './clients';
import { nowNs } from './store';

/** An image as the CRI sees it: one per config digest, with every name that points at it. */
export interface CriImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  config: ImageConfig;
  /** Top layer's chain ID: the snapshot containers are prepared on. */
  chainId: string;
}

interface Resolved {
  configDigest: string;
  manifestDigest: string;
  size: number;
}

export class ImageResolver {
  /** target digest → resolved manifest (content is immutable, so this never goes stale). */
  private readonly resolved = new Map<string, Resolved>();
  private readonly configs = new Map<string, ImageConfig>();

  constructor(private readonly cd: DaemonClients) {}

  private async json<T>(digest: string): Promise<T> {
    return JSON.parse((await this.cd.store.readAll(digest)).toString('utf8')) as T;
  }

  private async resolve(target: { digest: string; mediaType: string }): Promise<Resolved> {
    const hit = this.resolved.get(target.digest);
    if (hit) return hit;
    let manifestDigest = target.digest;
    if (isIndex(target.mediaType)) {
      const idx = await this.json<IndexDoc>(target.digest);
      const want = hostPlatform();
      const m = idx.manifests.find((d) => platformMatches(d.platform, want)) ?? idx.manifests[0];
      if (!m) throw errdefs.notFound(`index ${target.digest} has no manifest`);
      manifestDigest = m.digest;
    }
    const man = await this.json<ManifestDoc>(manifestDigest);
    const r = { configDigest: man.config.digest, manifestDigest, size: man.layers.reduce((n, l) => n + l.size, man.config.size) };
    this.resolved.set(target.digest, r);
    return r;
  }

  async config(digest: string): Promise<ImageConfig> {
    let c = this.configs.get(digest);
    if (!c) {
      c = await this.json<ImageConfig>(digest);
      this.configs.set(digest, c);
    }
    return c;
  }

  /** Every image, grouped by ID. Records whose content is missing are left out. */
  async list(): Promise<CriImage[]> {
    const records = await this.cd.store.listImages();
    const byId = new Map<string, CriImage>();
    for (const rec of records) {
      const target = rec.target;
      if (!target) continue;
      let r: Resolved;
      try {
        r = await this.resolve(target);
      } catch {
        continue;
      }
      let img = byId.get(r.configDigest);
      if (!img) {
        const config = await this.config(r.configDigest).catch(() => undefined);
        if (!config) continue;
        img = { id: r.configDigest, repoTags: [], repoDigests: [], size: r.size, config, chainId: chainIdOf(config) };
        byId.set(r.configDigest, img);
      }
      addName(img, rec, target.digest);
    }
    return [...byId.values()];
  }

  /** The image a CRI image reference names: an ID (or a unique prefix), or a reference; undefined if none. */
  async find(ref: string): Promise<CriImage | undefined> {
    if (!ref) throw errdefs.invalidArgument('image reference is empty');
    const all = await this.list();
    const id = ref.startsWith('sha256:') ? ref : /^[0-9a-f]{12,64}$/.test(ref) ? `sha256:${ref}` : undefined;
    if (id) {
      const hits = all.filter((i) => i.id.startsWith(id));
      if (hits.length === 1) return hits[0];
    }
    let name: string;
    try {
      name = normalizeReference(ref);
    } catch {
      if (id) return undefined;
      throw errdefs.invalidArgument(`invalid image reference ${JSON.stringify(ref)}`);
    }
    return all.find((i) => i.repoTags.includes(name) || i.repoDigests.includes(name));
  }
}

function addName(img: CriImage, rec: ipb.Image, targetDigest: string): void {
  let ref;
  try {
    ref = parseReference(rec.name);
  } catch {
    return; // names that are not references (sha256:… records) add nothing
  }
  const repo = `${ref.domain}/${ref.path}`;
  if (ref.tag && !ref.digest && !img.repoTags.includes(rec.name)) img.repoTags.push(rec.name);
  const digestName = `${repo}@${targetDigest}`;
  if (!img.repoDigests.includes(digestName)) img.repoDigests.push(digestName);
}

function chainIdOf(config: ImageConfig): string {
  return chainIds(config.rootfs.diff_ids).at(-1) ?? '';
}

function toCriImage(i: CriImage): cri.Image {
  const user = i.config.config?.User ?? '';
  const [u] = user.split(':');
  const numeric = /^\d+$/.test(u ?? '');
  return cri.Image.fromPartial({
    id: i.id,
    repoTags: i.repoTags,
    repoDigests: i.repoDigests,
    size: BigInt(i.size),
    ...(numeric ? { uid: { value: BigInt(u!) } } : {}),
    username: numeric ? '' : (u ?? ''),
    spec: { image: i.id, annotations: {} },
    pinned: false,
  });
}

export interface ImageServiceDeps {
  cd: DaemonClients;
  resolver: ImageResolver;
  log: Logger;
  mirrors: Record<string, string[]>;
  root: string;
}

function credentialsOf(auth: cri.AuthConfig | undefined): Credentials | undefined {
  if (!auth) return undefined;
  if (auth.username || auth.password) return { username: auth.username, password: auth.password };
  if (auth.auth) {
    const [username, ...rest] = Buffer.from(auth.auth, 'base64').toString('utf8').split(':');
    return { username: username ?? '', password: rest.join(':') };
  }
  if (auth.identityToken) return { identityToken: auth.identityToken };
  if (auth.registryToken) return { registryToken: auth.registryToken };
  return undefined;
}

/** A failed pull as an errdefs kind, naming the image. */
function pullError(name: string, e: unknown): Error {
  const message = `failed to pull and unpack image ${JSON.stringify(name)}: ${(e as Error).message}`;
  if (e instanceof RegistryError) {
    if (e.kind === 'not-found') return errdefs.notFound(message);
    if (e.kind === 'auth') return errdefs.permissionDenied(message);
    if (e.kind === 'invalid' || e.kind === 'platform') return errdefs.invalidArgument(message);
  }
  return errdefs.unavailable(message);
}

export class CriImageService {
  constructor(private readonly d: ImageServiceDeps) {}

  async listImages(req: cri.ListImagesRequest): Promise<cri.ListImagesResponse> {
    let imgs = await this.d.resolver.list();
    const want = req.filter?.image?.image;
    if (want) {
      const hit = await this.d.resolver.find(want).catch(() => undefined);
      imgs = hit ? [hit] : [];
    }
    return { images: imgs.map(toCriImage) };
  }

  async imageStatus(req: cri.ImageStatusRequest): Promise<cri.ImageStatusResponse> {
    const img = await this.d.resolver.find(req.image?.image ?? '');
    if (!img) return { info: {} };
    const info: Record<string, string> = {};
    if (req.verbose) info.info = JSON.stringify({ chainID: img.chainId, imageSpec: img.config });
    return { image: toCriImage(img), info };
  }

  async pullImage(req: cri.PullImageRequest): Promise<cri.PullImageResponse> {
    const asked = req.image?.image ?? '';
    let name: string;
    try {
      name = normalizeReference(asked);
    } catch (e) {
      throw errdefs.invalidArgument(`failed to pull image ${JSON.stringify(asked)}: ${(e as Error).message}`);
    }
    const ref = parseReference(name);
    const creds = credentialsOf(req.auth);
    const client = new RegistryClient({ credentials: () => creds });
    try {
      const endpoints = (this.d.mirrors[ref.domain] ?? []).map((e) => e.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, ''));
      let lastError: unknown;
      for (const ep of endpoints) {
        try {
          const r = await pullImage(client.host(ep), this.d.cd.store, name, { mirror: true });
          this.d.log.info('image pulled', { image: name, mirror: ep, id: r.id });
          return { imageRef: r.id };
        } catch (e) {
          lastError = e;
          this.d.log.warn('pull through mirror failed', { image: name, mirror: ep, error: (e as Error).message });
        }
      }
      try {
        const r = await client.pull(this.d.cd.store, name);
        this.d.log.info('image pulled', { image: name, id: r.id });
        return { imageRef: r.id };
      } catch (e) {
        // the registry itself unreachable (offline): what a mirror answered says more
        const upstreamAnswered = e instanceof RegistryError && (e.kind === 'not-found' || e.kind === 'auth');
        throw pullError(name, lastError !== undefined && !upstreamAnswered ? lastError : e);
      }
    } finally {
      client.close();
    }
  }

  async removeImage(req: cri.RemoveImageRequest): Promise<cri.RemoveImageResponse> {
    const img = await this.d.resolver.find(req.image?.image ?? '');
    if (!img) return {}; // removing an image that is not there succeeds (kubelet's contract)
    const records = await this.d.cd.store.listImages();
    for (const rec of records) {
      if (!rec.target) continue;
      const names = new Set([...img.repoTags, ...img.repoDigests]);
      let configDigest: string | undefined;
      try {
        configDigest = (await this.d.resolver.list()).find(
          (i) => i.repoTags.includes(rec.name) || i.repoDigests.some((d) => d.endsWith(rec.target!.digest)),
        )?.id;
      } catch {
        configDigest = undefined;
      }
      if (names.has(rec.name) || configDigest === img.id) await this.d.cd.call(this.d.cd.images, this.d.cd.images.delete, { name: rec.name, sync: false });
    }
    return {};
  }

  imageFsInfo(): cri.ImageFsInfoResponse {
    const dir = `${this.d.root}/snapshots/${SNAPSHOTTER}`;
    const usage = dirUsage(fs.existsSync(dir) ? dir : this.d.root);
    const fsUsage = cri.FilesystemUsage.fromPartial({
      timestamp: BigInt(nowNs()),
      fsId: { mountpoint: dir },
      usedBytes: { value: usage.bytes },
      inodesUsed: { value: usage.inodes },
    });
    return { imageFilesystems: [fsUsage], containerFilesystems: [] };
  }
}

/** Bytes and inodes used under a directory (st_blocks, hard links counted once). */
function dirUsage(dir: string): { bytes: bigint; inodes: bigint } {
  let bytes = 0n;
  let inodes = 0n;
  const seen = new Set<string>();
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      let st: fs.BigIntStats;
      try {
        st = fs.lstatSync(p, { bigint: true });
      } catch {
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      bytes += st.blocks * 512n;
      inodes += 1n;
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return { bytes, inodes };
}
