/**
 * Making images from snapshots, shared by `docker commit` and the builder: the changes of an
 * active snapshot over its image become a gzip layer in the content store (Diff.Diff), unpacked
 * as the new chain's committed snapshot (so containers can be made from the new image at once),
 * then a config (diff_ids and history appended) and manifest written with containerd's GC labels,
 * and an image record (untagged: `moby-dangling@<manifest digest>`) that holds it all.
 *
 * Everything is written under a lease the caller holds until the record exists; each image's
 * parent is recorded in the BuilderStore so `docker history` can name the intermediate images.
 */
import { createHash, randomBytes } from 'node:crypto';
import { diff as dpb, snapshots as spb, type images, type types } from '@gantry/api';
import { chainIds, hostPlatform, referenceLabels, type ManifestDoc } from '@gantry/oci';
import type { ContainerdStore } from '@gantry/registry';
import { errdefs } from '@gantry/linux';
import type { Containerd } from '../containerd/client';
import type { Descriptor, ImageCatalog, ImageEntry, OciContainerConfig, OciHistory, OciImageConfig } from '../images/catalog';
import { danglingName } from '../images/names';

const SNAPSHOTTER = 'overlayfs';
const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** An image a step starts from: its config, layers and the snapshot of its top layer. */
export interface BaseImage {
  /** Image ID (config digest); '' for scratch. */
  id: string;
  config: OciImageConfig;
  layers: Descriptor[];
  /** Chain ID of the top layer: the committed snapshot to prepare from ('' for no layers). */
  chainId: string;
}

/** A written image. */
export interface WrittenImage extends BaseImage {
  /** The manifest descriptor an image record points at. */
  target: Descriptor;
}

export interface NewLayer {
  desc: Descriptor;
  diffId: string;
}

/** The empty image `FROM scratch` starts from. */
export function scratchImage(): BaseImage {
  const host = hostPlatform();
  return {
    id: '',
    config: {
      architecture: host.architecture,
      ...(host.variant ? { variant: host.variant } : {}),
      os: host.os,
      config: {},
      rootfs: { type: 'layers', diff_ids: [] },
      history: [],
    },
    layers: [],
    chainId: '',
  };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function grpc<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw errdefs.fromGrpc(e);
  }
}

export class ImageWriter {
  constructor(
    private readonly cd: Containerd,
    /** The store under the caller's lease. */
    private readonly store: ContainerdStore,
    private readonly catalog: ImageCatalog,
  ) {}

  /**
   * The images as this writer last listed them. A build asks for an image at every cached step,
   * and listing them all each time made a warm build slower the more images there were.
   */
  private listed: ImageEntry[] | undefined;

  /** The image an ID or reference names, as a base for a new one. */
  async base(ref: string): Promise<BaseImage & { target: Descriptor }> {
    const { entry } = await this.resolve(ref);
    const rec = entry.records[0]!;
    const target: Descriptor = { mediaType: rec.target!.mediaType, digest: rec.target!.digest, size: Number(rec.target!.size) };
    return { id: entry.id, config: entry.config, layers: entry.layers, chainId: entry.chainIds[entry.chainIds.length - 1] ?? '', target };
  }

  /**
   * `ref` in the listing when it is there and the record found still points where it did (one
   * lookup: someone may have removed or re-tagged it since); otherwise in a fresh listing.
   */
  private async resolve(ref: string): Promise<{ entry: ImageEntry; matched: images.Image[] }> {
    if (this.listed) {
      const found = await this.catalog.resolve(ref, this.listed).catch((e: unknown) => {
        if (errdefs.ownKind(e) === 'not-found') return undefined;
        throw e;
      });
      const rec = found && (found.matched[0] ?? found.entry.records[0]);
      if (found && rec && (await this.recordTarget(rec.name)) === rec.target?.digest) return found;
    }
    this.listed = await this.catalog.entries();
    return this.catalog.resolve(ref, this.listed);
  }

  /** The digest image record `name` points at now; undefined when there is no such record. */
  private async recordTarget(name: string): Promise<string | undefined> {
    const cd = this.cd;
    try {
      return (await cd.call(cd.images, cd.images.get, { name })).image?.target?.digest;
    } catch (e) {
      const err = errdefs.fromGrpc(e);
      if (err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  /**
   * The changes of active snapshot `key` over `base` as a new layer blob, unpacked as the next
   * chain's snapshot. The active snapshot is left as it was.
   */
  async layerOf(key: string, base: BaseImage): Promise<NewLayer> {
    const cd = this.cd;
    const right = (await grpc(cd.call(cd.snapshots, cd.snapshots.mounts, { snapshotter: SNAPSHOTTER, key }))).mounts;
    let left: types.Mount[] = [];
    const viewKey = `build-view-${randomBytes(8).toString('hex')}`;
    if (base.chainId) {
      left = (
        await grpc(
          this.store.call(
            cd.snapshots,
            cd.snapshots.view,
            spb.ViewSnapshotRequest.fromPartial({ snapshotter: SNAPSHOTTER, key: viewKey, parent: base.chainId }),
          ),
        )
      ).mounts;
    }
    let desc: Descriptor;
    try {
      const res = await grpc(this.store.call(cd.diff, cd.diff.diff, dpb.DiffRequest.fromPartial({ left, right, mediaType: LAYER_TYPE, labels: {} }), 3600_000));
      const d = res.diff!;
      desc = { mediaType: d.mediaType, digest: d.digest, size: Number(d.size) };
    } finally {
      if (base.chainId) await cd.call(cd.snapshots, cd.snapshots.remove, { snapshotter: SNAPSHOTTER, key: viewKey }).catch(() => undefined);
    }
    const info = await this.store.info(desc.digest);
    const diffId = info?.labels[UNCOMPRESSED_LABEL];
    if (!diffId) throw new Error(`layer ${desc.digest} has no ${UNCOMPRESSED_LABEL} label`);
    const chain = chainIds([...base.config.rootfs.diff_ids, diffId]);
    const chainId = chain[chain.length - 1]!;
    if (!(await this.store.snapshotExists(chainId))) await this.store.unpackLayer(desc, base.chainId, chainId, diffId);
    return { desc, diffId };
  }

  /**
   * Config and manifest of `base` plus `layer` (or an empty-layer history entry), with the
   * container config `config`; stored, recorded untagged, its parent remembered by the caller.
   */
  async write(
    base: BaseImage,
    change: { layer?: NewLayer; config: OciContainerConfig; history: OciHistory; author?: string; created?: Date },
  ): Promise<WrittenImage> {
    const created = (change.created ?? new Date()).toISOString();
    const diffIds = [...base.config.rootfs.diff_ids, ...(change.layer ? [change.layer.diffId] : [])];
    const layers = [...base.layers, ...(change.layer ? [change.layer.desc] : [])];
    const cfg: OciImageConfig = {
      ...base.config,
      created,
      config: change.config,
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [...(base.config.history ?? []), { created, ...change.history, ...(change.layer ? {} : { empty_layer: true }) }],
    };
    if (change.author !== undefined) cfg.author = change.author;
    else delete cfg.author;
    const chain = chainIds(diffIds);
    const chainId = chain[chain.length - 1] ?? '';
    const configBytes = Buffer.from(JSON.stringify(cfg));
    const configDigest = sha(configBytes);
    await this.store.writeBlob({ digest: configDigest }, configBytes, chainId ? { [`containerd.io/gc.ref.snapshot.${SNAPSHOTTER}`]: chainId } : {});
    const manifest: ManifestDoc = {
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: CONFIG_TYPE, digest: configDigest, size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const target: Descriptor = { mediaType: MANIFEST_TYPE, digest: sha(manifestBytes), size: manifestBytes.length };
    await this.store.writeBlob({ digest: target.digest }, manifestBytes, referenceLabels(manifest));
    await this.store.putImage(danglingName(target.digest), target);
    return { id: configDigest, config: cfg, layers, chainId, target };
  }
}
