/**
 * containerd.services.diff.v1.Diff: Apply a layer blob from the content store onto mounts, and
 * Diff two mount sets into a new layer blob in the content store.
 *
 * Status codes: a missing descriptor or mounts is INVALID_ARGUMENT; Apply of a media type that is
 * not a tar layer is INVALID_ARGUMENT (containerd answers UNKNOWN "no processor for media-type");
 * a zstd layer is UNIMPLEMENTED; Diff of an unsupported media type is UNIMPLEMENTED, as
 * containerd's walking differ. A layer that cannot be applied (LayerError) is INVALID_ARGUMENT
 * when the archive is at fault, UNKNOWN when the filesystem is.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { errdefs, KindError, linuxSys, span, traced, withTempMounts, type MountSpec, type Sys } from '@gantry/linux';
import type { diff, types } from '@gantry/api';
import type { ContentStore } from '../content/types';
import type { DaemonContext } from '../context';
import { layerLimits, LayerError } from '@gantry/archive';
import { applyLayer } from '../diff/apply';
import { layerErrorKind } from '../diff/error-code';
import { diffMounts } from '../diff/compare';
import { leaseOf } from '../content/lease-header';
import { invalidArgument } from '../errors';
import { requireNamespace, unary } from '../rpc';

const MEDIA_TYPE = {
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Media types Apply takes (the content is sniffed: gzip or plain tar). */
const APPLICABLE = new Set<string>([
  MEDIA_TYPE.layer,
  MEDIA_TYPE.layerGzip,
  MEDIA_TYPE.dockerLayer,
  MEDIA_TYPE.dockerLayerGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);
const ZSTD = new Set<string>([MEDIA_TYPE.layerZstd, 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd']);

export const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed';

export interface DiffServiceDeps {
  content: ContentStore;
  /** Kernel seam for mounts, mknod and xattrs (default: the real one). */
  sys?: Sys;
  /** Where temporary mount points go (default `<root>/tmpmounts`, as containerd). */
  tmpRoot?: string;
  /**
   * A Diff under a lease (header `containerd-lease`) stored a blob: the lease holds it, or a
   * collection could remove it before the caller's manifest names it.
   */
  onLeaseResource?(ns: string, leaseId: string, resource: { id: string; type: 'content' }): void | Promise<void>;
}

const toMountSpecs = (mounts: readonly types.Mount[]): MountSpec[] =>
  mounts.map((m) => ({ type: m.type, source: m.source, options: [...m.options], ...(m.target ? { target: m.target } : {}) }));

export function diffService(ctx: DaemonContext, deps: DiffServiceDeps): diff.DiffServer {
  const log = ctx.log.with({ service: 'diff' });
  const sys = deps.sys ?? linuxSys();
  const tmpRoot = deps.tmpRoot ?? path.join(ctx.root, 'tmpmounts');

  return {
    apply: unary(log, 'Apply', async (req: diff.ApplyRequest, md): Promise<diff.ApplyResponse> => {
      const ns = requireNamespace(md);
      const desc = req.diff;
      if (!desc || !desc.digest) throw invalidArgument('diff descriptor must be set');
      if (req.mounts.length === 0) throw invalidArgument('mounts must be set');
      if (ZSTD.has(desc.mediaType)) throw errdefs.unimplemented(`unsupported diff media type ${desc.mediaType}: zstd layers are not supported`);
      if (!APPLICABLE.has(desc.mediaType)) throw invalidArgument(`unsupported diff media type ${JSON.stringify(desc.mediaType)}: no processor for media-type`);
      const blobInfo = deps.content.info(ns, desc.digest); // NOT_FOUND before mounting anything
      const started = Date.now();
      const mounting = span('containerd.diff.mount');
      const result = await withTempMounts(sys, tmpRoot, toMountSpecs(req.mounts), false, async (dir) => {
        mounting.end();
        const blob: Readable = deps.content.read(ns, desc.digest);
        try {
          const limits = { ...layerLimits(dir), compressedSize: blobInfo.size };
          return await traced(
            'containerd.diff.extract',
            () => applyLayer(blob, dir, { sys, limits, onWarning: (message, entry) => log.warn('layer entry', { entry, message }) }),
            { digest: desc.digest, bytes: blobInfo.size },
          );
        } catch (e) {
          if (e instanceof LayerError) throw new KindError(layerErrorKind(e), `failed to apply layer ${desc.digest}: ${e.message}`);
          throw e;
        }
      }).finally(() => mounting.end()); // a mount that failed ends it here
      log.debug('applied', { digest: desc.digest, diffID: result.digest, size: result.size, ms: Date.now() - started });
      return { applied: { mediaType: MEDIA_TYPE.layer, digest: result.digest, size: BigInt(result.size), annotations: {} } };
    }),

    diff: unary(log, 'Diff', async (req: diff.DiffRequest, md): Promise<diff.DiffResponse> => {
      const ns = requireNamespace(md);
      const mediaType = req.mediaType || MEDIA_TYPE.layerGzip;
      let gzip: boolean;
      if (mediaType === MEDIA_TYPE.layer || mediaType === MEDIA_TYPE.dockerLayer) gzip = false;
      else if (mediaType === MEDIA_TYPE.layerGzip || mediaType === MEDIA_TYPE.dockerLayerGzip) gzip = true;
      else throw errdefs.unimplemented(`unsupported diff media type: ${mediaType}`);
      if (req.right.length === 0) throw invalidArgument('right mounts must be set');
      const ref = req.ref || `diff-${Date.now()}-${randomBytes(6).toString('hex')}`;
      const epoch = req.sourceDateEpoch ? new Date(Number(req.sourceDateEpoch.seconds) * 1000 + Math.floor(req.sourceDateEpoch.nanos / 1e6)) : undefined;

      const lease = leaseOf(md);
      const writer = await deps.content.writer(ns, ref);
      let committed = false;
      try {
        const tar = diffMounts(toMountSpecs(req.left), toMountSpecs(req.right), { sys, tmpRoot, ...(epoch ? { sourceDateEpoch: epoch } : {}) });
        const diffId = createHash('sha256');
        const blobHash = createHash('sha256');
        let blobSize = 0;
        const put = async (chunk: Buffer) => {
          blobHash.update(chunk);
          blobSize += chunk.length;
          await writer.write(chunk);
        };
        if (gzip) {
          const gz = createGzip();
          const pump = (async () => {
            for await (const chunk of gz) await put(chunk as Buffer);
          })();
          try {
            for await (const chunk of tar) {
              diffId.update(chunk as Buffer);
              if (!gz.write(chunk)) await new Promise<void>((resolve) => gz.once('drain', resolve));
            }
            gz.end();
          } catch (e) {
            gz.destroy();
            await pump.catch(() => {});
            throw e;
          }
          await pump;
        } else {
          for await (const chunk of tar) {
            diffId.update(chunk as Buffer);
            await put(chunk as Buffer);
          }
        }
        const digest = `sha256:${blobHash.digest('hex')}`;
        const uncompressed = `sha256:${diffId.digest('hex')}`;
        const labels = { ...req.labels, [UNCOMPRESSED_LABEL]: uncompressed };
        try {
          await writer.commit(blobSize, digest, labels);
        } catch (e) {
          if (!errdefs.isAlreadyExists(e)) throw e;
          // the same layer is already stored: drop this ingest, answer with the existing blob, which
          // gets the label a caller needs if whoever stored it (a pull, a load) did not set it
          await writer.close().catch(() => {});
          try {
            deps.content.abort(ns, ref);
          } catch {
            /* already gone */
          }
          if (deps.content.info(ns, digest).labels[UNCOMPRESSED_LABEL] !== uncompressed)
            deps.content.update(ns, { digest, labels: { [UNCOMPRESSED_LABEL]: uncompressed } }, [`labels.${UNCOMPRESSED_LABEL}`]);
        }
        if (lease) await deps.onLeaseResource?.(ns, lease, { id: digest, type: 'content' });
        committed = true;
        log.debug('diff written', { ref, digest, uncompressed, size: blobSize });
        return { diff: { mediaType, digest, size: BigInt(blobSize), annotations: {} } };
      } finally {
        if (!committed) {
          await writer.close().catch(() => {});
          try {
            deps.content.abort(ns, ref);
          } catch {
            /* nothing to abort */
          }
        }
      }
    }),
  };
}
