/**
 * containerd.services.snapshots.v1.Snapshots over the loaded snapshotters (by name, e.g.
 * "overlayfs"); publishes /snapshot/prepare, /snapshot/commit and /snapshot/remove. A call under a
 * lease (`containerd-lease` header) reports what it creates to `onLeaseResource` first, so an
 * unknown lease refuses the call before anything is made.
 */
import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import { events, packAny, timestampFromNanos, type MessageCodec, type protobuf, type snapshots, type types } from '@gantry/api';
import type { DaemonContext } from '../context';
import { invalidArgument, toServiceError } from '../errors';
import { requireNamespace, unary } from '../rpc';
import type { MountSpec } from '@gantry/linux';
import type { SnapshotInfo, SnapshotKind, Snapshotter } from '../snapshots/types';

const LEASE_HEADER = 'containerd-lease';

/** A resource a lease holds, as the Leases API names it: id = snapshot key, type = "snapshots/<snapshotter>". */
interface LeaseResource {
  id: string;
  type: string;
}

export interface SnapshotsServiceOptions {
  /** Called for Prepare/View (the key) and Commit (the name) made under a lease; a throw fails the call. */
  onLeaseResource?(ns: string, leaseId: string, resource: LeaseResource): void | Promise<void>;
}

/** containerd sends at most this many infos per List message. */
const LIST_BATCH = 100;

// proto enum values (snapshots.Kind): VIEW=1, ACTIVE=2, COMMITTED=3
const KIND: Readonly<Record<SnapshotKind, snapshots.Kind>> = { view: 1, active: 2, committed: 3 };

const toTimestamp = (d: Date): protobuf.Timestamp => timestampFromNanos(BigInt(d.getTime()) * 1_000_000n);

function toProtoInfo(i: SnapshotInfo): snapshots.Info {
  return {
    name: i.name,
    parent: i.parent,
    kind: KIND[i.kind],
    labels: { ...i.labels },
    createdAt: toTimestamp(i.createdAt),
    updatedAt: toTimestamp(i.updatedAt),
  };
}

function toProtoMounts(ms: readonly MountSpec[]): types.Mount[] {
  return ms.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] }));
}

function leaseOf(md: Metadata): string | undefined {
  const v = md.get(LEASE_HEADER)[0];
  const s = typeof v === 'string' ? v : v?.toString('utf8');
  return s ? s : undefined;
}

export function snapshotsService(
  ctx: DaemonContext,
  snapshotters: ReadonlyMap<string, Snapshotter>,
  opts: SnapshotsServiceOptions = {},
): snapshots.SnapshotsServer {
  const log = ctx.log.with({ service: 'snapshots' });
  const publish = <T>(ns: string, topic: string, type: string, codec: MessageCodec<T>, msg: T) =>
    ctx.publish(ns, topic, packAny(`containerd.events.${type}`, codec, msg));

  // as containerd: both a missing and an unknown snapshotter are INVALID_ARGUMENT
  const pick = (name: string): Snapshotter => {
    if (name === '') throw invalidArgument('snapshotter argument missing');
    const sn = snapshotters.get(name);
    if (!sn) throw invalidArgument(`snapshotter not loaded: ${name}`);
    return sn;
  };

  const lease = async (md: Metadata, ns: string, sn: Snapshotter, id: string): Promise<void> => {
    const leaseId = leaseOf(md);
    if (leaseId && opts.onLeaseResource) await opts.onLeaseResource(ns, leaseId, { id, type: `snapshots/${sn.name}` });
  };

  return {
    prepare: unary(log, 'Prepare', async (req: snapshots.PrepareSnapshotRequest, md): Promise<snapshots.PrepareSnapshotResponse> => {
      const ns = requireNamespace(md);
      const sn = pick(req.snapshotter);
      await lease(md, ns, sn, req.key);
      const mounts = sn.prepare(ns, req.key, req.parent, req.labels);
      publish(ns, '/snapshot/prepare', 'SnapshotPrepare', events.SnapshotPrepare, { key: req.key, parent: req.parent, snapshotter: sn.name });
      return { mounts: toProtoMounts(mounts) };
    }),

    view: unary(log, 'View', async (req: snapshots.ViewSnapshotRequest, md): Promise<snapshots.ViewSnapshotResponse> => {
      const ns = requireNamespace(md);
      const sn = pick(req.snapshotter);
      await lease(md, ns, sn, req.key);
      return { mounts: toProtoMounts(sn.view(ns, req.key, req.parent, req.labels)) };
    }),

    mounts: unary(log, 'Mounts', (req: snapshots.MountsRequest, md): snapshots.MountsResponse => {
      const ns = requireNamespace(md);
      return { mounts: toProtoMounts(pick(req.snapshotter).mounts(ns, req.key)) };
    }),

    commit: unary(log, 'Commit', async (req: snapshots.CommitSnapshotRequest, md) => {
      const ns = requireNamespace(md);
      const sn = pick(req.snapshotter);
      await lease(md, ns, sn, req.name);
      sn.commit(ns, req.name, req.key, req.labels);
      publish(ns, '/snapshot/commit', 'SnapshotCommit', events.SnapshotCommit, { key: req.key, name: req.name, snapshotter: sn.name });
      return {};
    }),

    remove: unary(log, 'Remove', (req: snapshots.RemoveSnapshotRequest, md) => {
      const ns = requireNamespace(md);
      const sn = pick(req.snapshotter);
      sn.remove(ns, req.key);
      publish(ns, '/snapshot/remove', 'SnapshotRemove', events.SnapshotRemove, { key: req.key, snapshotter: sn.name });
      return {};
    }),

    stat: unary(log, 'Stat', (req: snapshots.StatSnapshotRequest, md): snapshots.StatSnapshotResponse => {
      const ns = requireNamespace(md);
      return { info: toProtoInfo(pick(req.snapshotter).stat(ns, req.key)) };
    }),

    update: unary(log, 'Update', (req: snapshots.UpdateSnapshotRequest, md): snapshots.UpdateSnapshotResponse => {
      const ns = requireNamespace(md);
      const sn = pick(req.snapshotter);
      if (!req.info) throw invalidArgument('info must be set');
      return { info: toProtoInfo(sn.update(ns, { name: req.info.name, labels: req.info.labels }, req.updateMask ?? [])) };
    }),

    list: (call: ServerWritableStream<snapshots.ListSnapshotsRequest, snapshots.ListSnapshotsResponse>) => {
      try {
        const ns = requireNamespace(call.metadata);
        const infos = pick(call.request.snapshotter).list(ns, call.request.filters);
        for (let i = 0; i < infos.length && !call.cancelled; i += LIST_BATCH) call.write({ info: infos.slice(i, i + LIST_BATCH).map(toProtoInfo) });
        call.end();
      } catch (e) {
        const err = toServiceError(e);
        log.debug('request failed', { method: 'List', code: err.code, error: err.details });
        call.emit('error', err);
      }
    },

    usage: unary(log, 'Usage', (req: snapshots.UsageRequest, md): snapshots.UsageResponse => {
      const ns = requireNamespace(md);
      const u = pick(req.snapshotter).usage(ns, req.key);
      return { size: BigInt(u.size), inodes: BigInt(u.inodes) };
    }),

    cleanup: unary(log, 'Cleanup', (req: snapshots.CleanupRequest, md) => {
      requireNamespace(md);
      pick(req.snapshotter).cleanup();
      return {};
    }),
  };
}
