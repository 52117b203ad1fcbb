import * as fs from 'node:fs';
import * as path from 'node:path';
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  archives,
  containers,
  content,
  diff,
  events,
  images,
  introspection,
  leases,
  namespaces,
  snapshots,
  tasks,
  tracedService,
  version,
  type protobuf,
} from '@gantry/api';
import { linuxSys, span } from '@gantry/linux';
import { LocalContentStore } from './content/local-store';
import { widenFlowWindows } from './flow-window';
import { collectGarbage } from './gc/collector';
import { ImageStore } from './images/store';
import { OverlaySnapshotter } from './snapshots/overlay';
import type { Snapshotter } from './snapshots/types';
import { archivesService } from './services/archives';
import { contentService } from './services/content';
import { diffService } from './services/diff';
import { snapshotsService } from './services/snapshots';
import type { DaemonContext } from './context';
import { decodeEvent } from './events/decode';
import { Exchange } from './events/exchange';
import type { Logger } from '@gantry/linux';
import { ContainerStore } from './metadata/containers';
import { LeaseStore } from './leases/store';
import { imagesService } from './services/images';
import { leasesService } from './services/leases';
import { NamespaceStore } from './metadata/namespaces';
import { RecordStore } from '@gantry/linux';
import { containersService } from './services/containers';
import { eventsService } from './services/events';
import { introspectionService } from './services/introspection';
import { namespacesService } from './services/namespaces';
import { tasksService } from './services/tasks';
import { versionService } from './services/version';
import { ShimManager } from './tasks/shim-manager';
import { cri } from '@gantry/api';
import { DEFAULT_CRI_CONFIG, type CriConfig } from './cri/config';
import { criService } from './cri/service';

/**
 * Runs garbage collection per namespace: synchronously when a client asks (Delete with sync),
 * otherwise once shortly after the last deletion, never two at a time.
 */
class GcScheduler {
  private running: Promise<void> = Promise.resolve();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  constructor(
    private readonly log: Logger,
    private readonly run: (ns: string) => { content: string[]; snapshots: { key: string }[] },
  ) {}

  collect(ns: string, sync: boolean): Promise<void> {
    if (!sync) {
      clearTimeout(this.timers.get(ns));
      this.timers.set(ns, setTimeout(() => void this.collect(ns, true).catch(() => undefined), 100).unref());
      return Promise.resolve();
    }
    this.running = this.running.then(() => {
      const sp = span('containerd.gc', { namespace: ns });
      const r = this.run(ns);
      sp.end({ content: r.content.length, snapshots: r.snapshots.length });
      if (r.content.length || r.snapshots.length)
        this.log.info('garbage collected', { namespace: ns, content: r.content.length, snapshots: r.snapshots.length });
    });
    return this.running;
  }
}

export const DEFAULTS = {
  address: '/run/gantry/containerd/containerd.sock',
  root: '/var/lib/gantry/containerd',
  state: '/run/gantry/containerd',
};

export interface DaemonOptions {
  address: string;
  root: string;
  state: string;
  log: Logger;
  /** The CRI settings (the config file's [cri] table); defaults when absent. */
  cri?: CriConfig;
}

/** The daemon's stores, for in-process users (import/export, tests). */
export interface DaemonStores {
  content: LocalContentStore;
  snapshotters: ReadonlyMap<string, Snapshotter>;
  images: ImageStore;
  containers: ContainerStore;
  leases: LeaseStore;
  collectGarbage(ns: string): Promise<void>;
}

export interface Daemon {
  ctx: DaemonContext;
  shims: ShimManager;
  stores: DaemonStores;
  /** Stop serving; running tasks and their shims stay (they are adopted on the next start). */
  close(): Promise<void>;
}

/** Bring the daemon up: metadata, event exchange, shims found again, gRPC on the socket. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  for (const dir of [opts.root, opts.state]) fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  fs.mkdirSync(path.dirname(opts.address), { recursive: true, mode: 0o711 });
  // a record that does not parse is moved aside and reported; the daemon serves the rest
  const store = new RecordStore(path.join(opts.root, 'metadata'), {
    onQuarantine: (r) => opts.log.error('metadata record quarantined: it cannot be read', { ...r }),
  });
  const exchange = new Exchange(decodeEvent);
  const ctx: DaemonContext = {
    log: opts.log,
    store,
    exchange,
    root: opts.root,
    state: opts.state,
    address: opts.address,
    publish(namespace: string, topic: string, event: protobuf.Any) {
      exchange.publish({ timestamp: new Date(), namespace, topic, event });
    },
  };
  const shims = new ShimManager(ctx);
  await shims.reconnect();
  const namespaceStore = new NamespaceStore(store);
  const containerStore = new ContainerStore(store, namespaceStore);
  const leaseStore = new LeaseStore(store, namespaceStore);
  const contentStore = new LocalContentStore(opts.root, store);
  const overlay = new OverlaySnapshotter({ store, root: opts.root });
  const snapshotters = new Map<string, Snapshotter>([[overlay.name, overlay]]);
  const imageStore = new ImageStore(store, namespaceStore);
  const gc = new GcScheduler(opts.log, (ns) =>
    collectGarbage({ content: contentStore, snapshotters, images: imageStore, containers: containerStore, leases: leaseStore }, ns),
  );
  // Resources written under the `containerd-lease` header are held by that lease.
  const onLeaseResource = (ns: string, leaseId: string, res: { id: string; type: string }) => {
    if (leaseStore.exists(ns, leaseId)) leaseStore.addResource(ns, leaseId, res);
  };
  const collect = (ns: string, sync: boolean) => gc.collect(ns, sync);
  const server = new Server();
  widenFlowWindows(server); // bulk Content Writes (pulls) would otherwise stall every 64 KiB
  // each unary call a span `containerd.<service>.<method>` under GANTRY_TRACE
  const serve = (def: ServiceDefinition, name: string, impl: object) =>
    server.addService(def, tracedService(`containerd.${name}`, def, impl) as UntypedServiceImplementation);
  serve(version.VersionService, 'version', versionService(ctx));
  serve(namespaces.NamespacesService, 'namespaces', namespacesService(ctx));
  serve(
    containers.ContainersService,
    'containers',
    containersService(ctx, { hasTask: (ns, id) => shims.get(ns, id) !== undefined || shims.deadTask(ns, id) !== undefined }),
  );
  serve(
    tasks.TasksService,
    'tasks',
    tasksService(ctx, shims, {
      spec: (ns, id) => {
        try {
          return containerStore.get(ns, id).spec;
        } catch {
          return undefined;
        }
      },
    }),
  );
  serve(images.ImagesService, 'images', imagesService(ctx, { collectGarbage: collect }));
  serve(leases.LeasesService, 'leases', leasesService(ctx, leaseStore, { collectGarbage: collect }));
  serve(content.ContentService, 'content', contentService(ctx, contentStore, { onLeaseResource }));
  serve(snapshots.SnapshotsService, 'snapshots', snapshotsService(ctx, snapshotters, { onLeaseResource }));
  serve(diff.DiffService, 'diff', diffService(ctx, { content: contentStore, sys: linuxSys(), onLeaseResource }));
  serve(
    archives.ArchivesService,
    'archives',
    archivesService(ctx, {
      content: contentStore,
      images: imageStore,
      leases: leaseStore,
      snapshotters,
      sys: linuxSys(),
      collectGarbage: (ns) => gc.collect(ns, true),
    }),
  );
  serve(events.EventsService, 'events', eventsService(ctx));
  serve(introspection.IntrospectionService, 'introspection', introspectionService(ctx));
  // Kubernetes' CRI on the same socket, on top of the services above (as containerd's CRI plugin)
  const criSvc = criService({
    log: opts.log,
    address: opts.address,
    root: opts.root,
    state: opts.state,
    store,
    exchange,
    config: opts.cri ?? DEFAULT_CRI_CONFIG,
  });
  serve(cri.RuntimeServiceService, 'cri.runtime', criSvc.runtime);
  serve(cri.ImageServiceService, 'cri.image', criSvc.image);

  fs.rmSync(opts.address, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${opts.address}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  // root-only, like containerd's socket
  fs.chmodSync(opts.address, 0o660);
  await criSvc.start();
  opts.log.info('serving', { address: opts.address, root: opts.root, state: opts.state, tasks: shims.size });
  return {
    ctx,
    shims,
    stores: {
      content: contentStore,
      snapshotters,
      images: imageStore,
      containers: containerStore,
      leases: leaseStore,
      collectGarbage: (ns) => gc.collect(ns, true),
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          criSvc.close();
          shims.closeAll();
          fs.rmSync(opts.address, { force: true });
          resolve();
        });
        // streams (event subscribers) keep tryShutdown waiting: force after a grace period
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
