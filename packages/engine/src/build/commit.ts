/**
 * `docker commit` (POST /commit): a container's changes over its image as a new image. The
 * container's config, overridden by the request body's non-empty fields, then the `--change`
 * instructions, becomes the image's config; the history entry names the container's command.
 * A running container is paused while its layer is read (unless pause=0).
 */
import { randomBytes } from 'node:crypto';
import { errdefs } from '@gantry/linux';
import type { ContainerdStore } from '@gantry/registry';
import type { ContainerConfig } from '@gantry/engine-api';
import type { ContainerManager } from '../containers/manager';
import type { EngineContext } from '../context';
import type { ImageStore } from '../backend/images';
import type { DistributionBackend } from '../backend/distribution';
import type { ImageCatalog, OciContainerConfig, OciImageConfig } from '../images/catalog';
import { applyToConfig, parseChanges, type Instruction } from '@gantry/dockerfile';
import { danglingName, familiar, repoTagReference } from '../images/names';
import type { BuilderStore } from './builder-store';
import { ImageWriter, type WrittenImage } from './image-writer';

export interface CommitOptions {
  container: string;
  repo: string;
  tag: string;
  comment: string;
  author: string;
  pause: boolean;
  changes: string[];
  /** The request body: a container config whose set fields override the container's. */
  config: ContainerConfig;
}

export interface ImageDeps {
  ctx: EngineContext;
  images: ImageStore & ImageCatalog;
  /** A content/snapshot/image store over gantry-containerd (distribution's). */
  store: () => ContainerdStore;
  builder: BuilderStore;
  /** Registries: FROM of an image that is not here (or `pull=1`). */
  dist: DistributionBackend;
}

/** The fields of a container config an image keeps (OCI image config's "config"). */
function imageConfigOf(c: ContainerConfig): OciContainerConfig {
  const out: OciContainerConfig = {};
  if (c.User) out.User = c.User;
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length > 0) out.ExposedPorts = c.ExposedPorts;
  if (c.Env?.length) out.Env = [...c.Env];
  if (c.Entrypoint?.length) out.Entrypoint = [...c.Entrypoint];
  if (c.Cmd?.length) out.Cmd = [...c.Cmd];
  if (c.Volumes && Object.keys(c.Volumes).length > 0) out.Volumes = c.Volumes;
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir;
  if (c.Labels && Object.keys(c.Labels).length > 0) out.Labels = { ...c.Labels };
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.OnBuild?.length) out.OnBuild = [...c.OnBuild];
  if (c.Shell?.length) out.Shell = [...c.Shell];
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck as OciContainerConfig['Healthcheck'];
  return out;
}

/** Run `fn` with a ContainerdStore whose writes a lease holds until `fn` is done. */
export async function withLease<T>(deps: Pick<ImageDeps, 'store'>, prefix: string, fn: (store: ContainerdStore) => Promise<T>): Promise<T> {
  const base = deps.store();
  const lease = await base.createLease(`${prefix}-${randomBytes(8).toString('hex')}`);
  try {
    return await fn(base.withLease(lease));
  } finally {
    await base.deleteLease(lease).catch(() => undefined);
  }
}

/** Name `img` `name` (a full reference). */
export async function tagImage(images: ImageStore, img: WrittenImage, name: string): Promise<void> {
  const t = img.target;
  const before = await images.setRecord(name, { mediaType: t.mediaType, digest: t.digest, size: BigInt(t.size), annotations: {} });
  // the image the name leaves stays, untagged, unless another name holds it (as dockerd)
  if (before && before.digest !== t.digest && !(await images.records()).some((r) => r.target?.digest === before.digest))
    await images.createRecord(danglingName(before.digest), before);
}

export async function commitContainer(deps: ImageDeps, containers: ContainerManager, o: CommitOptions): Promise<string> {
  const name = o.repo ? repoTagReference(o.repo, o.tag) : undefined;
  const changes = parseChangesOrBadRequest(o.changes); // a bad --change is refused before any work
  const rec = containers.store.get(o.container);
  const pause = o.pause && rec.State.Running && !rec.State.Paused;
  const cd = deps.ctx.cd;
  const img = await withLease(deps, 'commit', async (store) => {
    const writer = new ImageWriter(cd, store, deps.images);
    const base = await writer.base(rec.ImageID).catch((e: unknown) => {
      if (errdefs.ownKind(e) === 'not-found') throw errdefs.notFound(`the image of container ${rec.Id.slice(0, 12)} (${rec.ImageID}) no longer exists`);
      throw e;
    });
    if (pause) await containers.pause(rec.Id);
    let layer;
    try {
      layer = await writer.layerOf(rec.SnapshotKey, base);
    } finally {
      if (pause) await containers.unpause(rec.Id).catch(() => undefined);
    }
    const own = rec.Config as ContainerConfig;
    const merged: ContainerConfig = { ...own };
    for (const [k, v] of Object.entries(o.config) as [keyof ContainerConfig, unknown][]) {
      const empty =
        v === undefined ||
        v === null ||
        v === '' ||
        (Array.isArray(v) && v.length === 0) ||
        (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
      if (!empty) (merged as Record<string, unknown>)[k] = v;
    }
    const config = applyChanges(base.config, imageConfigOf(merged), changes);
    const written = await writer.write(base, {
      layer,
      config,
      history: { created_by: (own.Cmd ?? []).join(' '), ...(o.comment ? { comment: o.comment } : {}), ...(o.author ? { author: o.author } : {}) },
      ...(o.author ? { author: o.author } : {}),
    });
    deps.builder.setParent(written.id, base.id);
    if (name) await tagImage(deps.images, written, name);
    return written;
  });
  // the untagged record is not needed once a name holds the image
  if (name) await deps.images.deleteRecord(danglingName(img.target.digest), false);
  deps.images.forget();
  deps.ctx.events.emit('container', 'commit', rec.Id, { comment: o.comment, imageID: img.id, imageRef: name ? familiar(name) : '' });
  return img.id;
}

function parseChangesOrBadRequest(changes: string[]): Instruction[] {
  try {
    return parseChanges(changes);
  } catch (e) {
    throw errdefs.invalidArgument((e as Error).message);
  }
}

/** The `--change` instructions applied in order, each expanded with the config's Env as it stands. */
function applyChanges(image: OciImageConfig, config: OciContainerConfig, changes: Instruction[]): OciContainerConfig {
  let cur: OciImageConfig = { ...image, config };
  const state = { cmdSet: false };
  for (const ins of changes) {
    const env = new Map((cur.config?.Env ?? []).map((e) => [e.split('=', 1)[0]!, e.slice(e.indexOf('=') + 1)] as [string, string]));
    try {
      cur = applyToConfig(cur, ins, env, { state });
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  }
  return cur.config ?? {};
}
