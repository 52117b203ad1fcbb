/**
 * gantry.services.archives.v1.Archives — Gantry's own service, not containerd's: image archives in
 * and out of a namespace over the API (what gantryd's `docker load` / `docker save` call).
 *
 * Import (client streaming): the first message carries the options (name, unpack, snapshotter,
 * platform), every message may carry a chunk of the archive. The chunks are fed to
 * `importArchive` as they arrive (with backpressure: the call is paused while the importer is
 * behind), which writes everything under a temporary lease; with `unpack` each image is then
 * unpacked into chain-ID snapshots (under a lease of its own until the image config holds the top
 * snapshot) BEFORE its image record is created: a layer that cannot be applied (hostile or
 * malformed tar, decompression bomb, disk budget) fails the import with no image record, no
 * snapshot and, once the lease is gone and garbage collected, no content. A gzipped archive is
 * inflated within the disk budget of the daemon's root and the sane 200:1 ratio. A client that
 * cancels before the import completed leaves nothing: the input ends early, the importer fails
 * on the truncated archive, drops its lease and collects garbage (and should the archive have
 * been complete already, the images it created are removed again).
 *
 * Export (server streaming): `exportImages` writes one tar (OCI layout + docker manifest.json)
 * into a sink that sends it as `data` chunks of at most CHUNK bytes, honouring the call's
 * flow control; a client that cancels stops the export.
 *
 * Errors: INVALID_ARGUMENT for an archive that is not one (bad tar, gzip, JSON, reference, media
 * type, a layer that cannot be applied), a malformed platform or an unknown snapshotter;
 * RESOURCE_EXHAUSTED for an archive or layer over the disk budget; NOT_FOUND for an unknown image name on
 * export or a platform the image does not carry; FAILED_PRECONDITION for blobs missing from the
 * archive or from the store.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { type sendUnaryData, type ServerReadableStream, type ServerWritableStream } from '@grpc/grpc-js';
import { types, type archives, type images } from '@gantry/api';
import { errdefs, KindError, type Sys } from '@gantry/linux';
import type { ContentStore } from '../content/types';
import type { DaemonContext } from '../context';
import { applyLayer } from '../diff';
import { diskBudget, ExpansionError, LAYER_RATIO, layerLimits, TarFormatError } from '@gantry/archive';
import { failedPrecondition, invalidArgument, toServiceError } from '../errors';
import { exportImages } from '../images/archive-export';
import { importArchive, type ImportedImage } from '../images/archive-import';
import { readImage, resolveManifest } from '../images/manifest';
import { chainIds, hostPlatform, InvalidReferenceError, parsePlatform, type Descriptor, type Platform } from '@gantry/oci';
import type { ImageStore } from '../images/store';
import { unpackImage } from '../images/unpack';
import { EXPIRE_LABEL, type LeaseStore } from '../leases/store';
import { requireNamespace } from '../rpc';
import type { Snapshotter } from '../snapshots/types';

export interface ArchivesServiceDeps {
  content: ContentStore;
  images: ImageStore;
  leases: LeaseStore;
  snapshotters: ReadonlyMap<string, Snapshotter>;
  /** The kernel seam for unpacking (mounts, and mknod/xattrs while applying layers). */
  sys: Sys;
  /** Synchronous garbage collection of a namespace. */
  collectGarbage(ns: string): Promise<void>;
}

const DEFAULT_SNAPSHOTTER = 'overlayfs';
/** Largest `data` chunk Export sends (well under gRPC's default 4 MiB message limit). */
const CHUNK = 256 * 1024;

interface ImportOptions {
  name: string;
  unpack: boolean;
  snapshotter: Snapshotter;
  platform: Platform;
}

function platformOf(text: string): Platform {
  if (!text) return hostPlatform();
  try {
    return parsePlatform(text);
  } catch (e) {
    throw invalidArgument((e as Error).message);
  }
}

/** What a failed import is, for the client: malformed input is INVALID_ARGUMENT. */
function importError(e: unknown): unknown {
  if (e instanceof KindError) return e;
  if (e instanceof TarFormatError) return invalidArgument(`not a valid tar archive: ${e.message}`);
  if (e instanceof ExpansionError) return e.kind === 'budget' ? errdefs.resourceExhausted(e.message) : invalidArgument(e.message);
  if (e instanceof InvalidReferenceError) return invalidArgument(`invalid image reference in the archive: ${e.message}`);
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('Z_')) return invalidArgument(`not a valid gzip stream: ${(e as Error).message}`);
  return e;
}

const toProto = (d: Descriptor): types.Descriptor =>
  types.Descriptor.fromPartial({ mediaType: d.mediaType, digest: d.digest, size: BigInt(d.size), annotations: d.annotations ?? {} });

/** `sn`, with every snapshot unpack makes (active key, committed name) held by `hold` first. */
function holding(sn: Snapshotter, hold: (key: string) => void): Snapshotter {
  return {
    name: sn.name,
    stat: (ns, key) => sn.stat(ns, key),
    update: (ns, info, paths) => sn.update(ns, info, paths),
    usage: (ns, key) => sn.usage(ns, key),
    mounts: (ns, key) => sn.mounts(ns, key),
    prepare: (ns, key, parent, labels) => (hold(key), sn.prepare(ns, key, parent, labels)),
    view: (ns, key, parent, labels) => (hold(key), sn.view(ns, key, parent, labels)),
    commit: (ns, name, key, labels) => (hold(name), sn.commit(ns, name, key, labels)),
    remove: (ns, key) => sn.remove(ns, key),
    list: (ns, filters) => sn.list(ns, filters),
    cleanup: () => sn.cleanup(),
    namespaces: () => sn.namespaces(),
  };
}

/**
 * `content`, except that opening a writer for an `expected` digest the namespace already has does
 * not fail: the importer names the digest of every OCI `blobs/sha256/<hex>` entry, and a second
 * import of the same layout (a `docker load` of the same save) would otherwise stop at the first
 * blob it already has with ALREADY_EXISTS. Without `expected` the writer takes the bytes, the
 * importer checks their digest itself and treats ALREADY_EXISTS at commit as success.
 */
function reimportable(content: ContentStore): ContentStore {
  return {
    info: (ns, digest) => content.info(ns, digest),
    update: (ns, info, paths) => content.update(ns, info, paths),
    list: (ns, filters) => content.list(ns, filters),
    delete: (ns, digest) => content.delete(ns, digest),
    blobPath: (digest) => content.blobPath(digest),
    read: (ns, digest, offset, size) => content.read(ns, digest, offset, size),
    writer: async (ns, ref, opts = {}) => {
      try {
        return await content.writer(ns, ref, opts);
      } catch (e) {
        if (!(errdefs.isAlreadyExists(e) && opts.expected)) throw e;
        return content.writer(ns, ref, { ...opts, expected: '' });
      }
    },
    status: (ns, ref) => content.status(ns, ref),
    listStatuses: (ns, filters) => content.listStatuses(ns, filters),
    abort: (ns, ref) => content.abort(ns, ref),
    namespaces: () => content.namespaces(),
    blobs: () => content.blobs(),
  };
}

/** A Writable that sends what it is given as ExportResponse messages, with the call's flow control. */
class MessageSink extends Writable {
  private pending: Buffer[] = [];
  private size = 0;

  constructor(private readonly call: ServerWritableStream<archives.ExportRequest, archives.ExportResponse>) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pending.push(chunk);
    this.size += chunk.length;
    if (this.size < CHUNK) return cb();
    this.flush(false).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.flush(true).then(() => cb(), cb);
  }

  private async flush(all: boolean): Promise<void> {
    let buf = Buffer.concat(this.pending, this.size);
    this.pending = [];
    this.size = 0;
    while (buf.length >= CHUNK || (all && buf.length > 0)) {
      await this.send(buf.subarray(0, CHUNK));
      buf = buf.subarray(CHUNK);
    }
    if (buf.length > 0) {
      this.pending = [buf];
      this.size = buf.length;
    }
  }

  private send(data: Buffer): Promise<void> {
    const call = this.call;
    if (call.cancelled) return Promise.reject(new Error('export cancelled by the client'));
    if (call.write({ data })) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        call.off('drain', onDrain);
        call.off('cancelled', onCancel);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onCancel = () => done(new Error('export cancelled by the client'));
      call.on('drain', onDrain);
      call.on('cancelled', onCancel);
    });
  }
}

export function archivesService(ctx: DaemonContext, deps: ArchivesServiceDeps): archives.ArchivesServer {
  const log = ctx.log.with({ service: 'archives' });
  const importContent = reimportable(deps.content);

  const options = (first: archives.ImportRequest | undefined): ImportOptions => {
    const name = first?.snapshotter || DEFAULT_SNAPSHOTTER;
    const snapshotter = deps.snapshotters.get(name);
    if (!snapshotter) throw invalidArgument(`snapshotter not loaded: ${name}`);
    return { name: first?.name ?? '', unpack: first?.unpack ?? false, snapshotter, platform: platformOf(first?.platform ?? '') };
  };

  /** Unpack one image under a lease that holds each snapshot until the config label holds the chain. */
  const unpack = async (ns: string, target: Descriptor, opts: ImportOptions): Promise<string> => {
    const { manifest } = await resolveManifest(deps.content, ns, target, opts.platform);
    const { config } = await readImage(deps.content, ns, manifest);
    const lease = deps.leases.create(ns, `unpack-${Date.now()}-${randomBytes(4).toString('hex')}`, {
      [EXPIRE_LABEL]: new Date(Date.now() + 3600_000).toISOString(),
    });
    const type = `snapshots/${opts.snapshotter.name}`;
    const hold = (key: string) => deps.leases.addResource(ns, lease.id, { id: key, type });
    let ok = false;
    try {
      // committed layers another image already unpacked: held too, so GC cannot take them meanwhile
      chainIds(config.rootfs.diff_ids).forEach(hold);
      const top = await unpackImage(
        {
          content: deps.content,
          snapshotter: holding(opts.snapshotter, hold),
          sys: deps.sys,
          applyLayer: (s, t, size) => applyLayer(s, t, { sys: deps.sys, limits: { ...layerLimits(t), compressedSize: size } }),
        },
        ns,
        manifest,
        config,
      );
      ok = true;
      return top;
    } finally {
      deps.leases.delete(ns, lease.id);
      if (!ok) await deps.collectGarbage(ns).catch((e: unknown) => log.warn('garbage collection failed', { error: String(e) }));
    }
  };

  /** Undo what a completed import did to image records (the client is gone): new names go, old ones get their target back. */
  const rollback = async (ns: string, imported: ImportedImage[], before: ReadonlyMap<string, images.Image>): Promise<void> => {
    for (const img of imported) {
      const prev = before.get(img.name);
      try {
        if (!prev) deps.images.delete(ns, img.name);
        else if (prev.target?.digest !== img.target.digest) deps.images.update(ns, prev, ['target']);
      } catch (e) {
        if (!errdefs.isNotFound(e)) throw e;
      }
    }
    await deps.collectGarbage(ns);
  };

  return {
    import: (call: ServerReadableStream<archives.ImportRequest, archives.ImportResponse>, cb: sendUnaryData<archives.ImportResponse>) => {
      let answered = false;
      const answer = (err: unknown, res?: archives.ImportResponse) => {
        if (answered) return;
        answered = true;
        if (res && !err) return cb(null, res);
        const e = toServiceError(err);
        log.debug('request failed', { method: 'Import', code: e.code, error: e.details });
        cb(e);
      };

      let ns: string;
      try {
        ns = requireNamespace(call.metadata);
      } catch (e) {
        return answer(e);
      }
      const input = new PassThrough();
      let cancelled = false;
      let started = false;

      const run = async (opts: ImportOptions): Promise<archives.ImportResponse> => {
        const before = new Map(deps.images.list(ns).map((i) => [i.name, i]));
        const chains = new Map<string, string>(); // manifest digest → top chain ID
        const isCancelled = () => cancelled || call.cancelled;
        let imported: ImportedImage[];
        try {
          imported = await importArchive(
            { content: importContent, images: deps.images, leases: deps.leases, collectGarbage: (n) => deps.collectGarbage(n) },
            ns,
            input,
            {
              ...(opts.name ? { name: opts.name } : {}),
              limits: { ...LAYER_RATIO, ...diskBudget(ctx.root) },
              // unpack before any image record exists: a layer that cannot be applied leaves no image
              beforeCommit: async (images) => {
                if (opts.unpack) {
                  for (const img of images) {
                    if (isCancelled()) break;
                    if (!chains.has(img.target.digest)) chains.set(img.target.digest, await unpack(ns, img.target, opts));
                  }
                }
                if (isCancelled()) throw errdefs.canceled('import cancelled by the client');
              },
            },
          );
        } catch (e) {
          throw importError(e);
        }
        if (isCancelled()) {
          // the client went away between the commit and this answer
          await rollback(ns, imported, before);
          throw errdefs.canceled('import cancelled by the client');
        }
        return { images: imported.map((img) => ({ name: img.name, target: toProto(img.target), chainId: chains.get(img.target.digest) ?? '' })) };
      };

      const start = (first: archives.ImportRequest | undefined): boolean => {
        started = true;
        let opts: ImportOptions;
        try {
          opts = options(first);
        } catch (e) {
          answer(e);
          input.destroy();
          return false;
        }
        run(opts).then(
          (res) => answer(null, res),
          (e: unknown) => answer(e),
        );
        return true;
      };

      call.on('data', (m: archives.ImportRequest) => {
        if (answered) return;
        if (!started && !start(m)) return;
        if (m.data.length > 0 && !input.write(m.data)) {
          call.pause();
          input.once('drain', () => call.resume());
        }
      });
      call.on('end', () => {
        if (!started && !start(undefined)) return;
        input.end();
      });
      const abandon = () => {
        cancelled = true;
        // the importer sees a truncated archive, fails, and cleans up after itself
        if (!started) answered = true;
        else input.end();
      };
      call.on('cancelled', abandon);
      call.on('error', abandon);
    },

    export: (call: ServerWritableStream<archives.ExportRequest, archives.ExportResponse>) => {
      void (async () => {
        const ns = requireNamespace(call.metadata);
        const req = call.request;
        if (req.names.length === 0) throw invalidArgument('names: at least one image name is required');
        const platform = platformOf(req.platform);
        for (const name of req.names) {
          const img = deps.images.get(ns, name); // NOT_FOUND for an unknown name
          if (!img.target) throw failedPrecondition(`image ${JSON.stringify(name)} has no target`);
          try {
            deps.content.info(ns, img.target.digest);
          } catch {
            throw failedPrecondition(`image ${JSON.stringify(name)}: content ${img.target.digest} is missing from the store`);
          }
        }
        const sink = new MessageSink(call);
        try {
          await exportImages({ content: deps.content, images: deps.images }, ns, [...new Set(req.names)], sink, { platform, allPlatforms: req.allPlatforms });
        } catch (e) {
          // the images exist: a document missing from the store is a missing blob, not an unknown name
          if (e instanceof KindError && errdefs.isNotFound(e) && /^content \S+ is missing$/.test(e.message)) throw failedPrecondition(e.message);
          throw e;
        }
        await new Promise<void>((resolve, reject) => {
          sink.once('error', reject);
          sink.end(() => resolve());
        });
        call.end();
      })().catch((e: unknown) => {
        if (call.cancelled) return;
        const err = toServiceError(e);
        log.debug('request failed', { method: 'Export', code: err.code, error: err.details });
        call.emit('error', err);
      });
    },
  };
}
