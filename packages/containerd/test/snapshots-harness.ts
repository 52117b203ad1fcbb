/** Shared by the snapshots-*.test.ts suites: temp dirs, real mounts undone after each test, error-code matching. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { introspection, namespaces, snapshots, version, type protobuf } from '@gantry/api';
import { linuxSys } from '@gantry/linux';
import type { DaemonContext } from '../src/context';
import { decodeEvent } from '../src/events/decode';
import { Exchange } from '../src/events/exchange';
import { Logger } from '@gantry/linux';
import { introspectionService } from '../src/services/introspection';
import { namespacesService } from '../src/services/namespaces';
import { snapshotsService } from '../src/services/snapshots';
import { versionService } from '../src/services/version';
import { OverlaySnapshotter } from '../src/snapshots/overlay';
import { notFound } from '../src/errors';
import { errdefs, KindError, RecordStore } from '@gantry/linux';
import { mountAll, unmount } from '../src/snapshots/mount';
import type { MountSpec } from '@gantry/linux';
import { describeIf, needRoot } from '@gantry/testkit';

/** describe, or skip with a warning when not root (mounts need it); under CI=true it fails instead. */
export function describeAsRoot(name: string, fn: () => void): void {
  describeIf(needRoot('the snapshot tests mount overlayfs'))(name, fn);
}

/** Mount points made by a test, unmounted (newest first) and removed by cleanup(). */
export class Mounts {
  private readonly targets: string[] = [];
  constructor(private readonly dir: string) {}

  /** Mount `mounts` on a new directory under the test's temp dir; returns it. */
  mount(mounts: readonly MountSpec[], name = `mnt-${this.targets.length}`): string {
    const target = path.join(this.dir, name);
    fs.mkdirSync(target, { recursive: true });
    mountAll(linuxSys(), mounts, target);
    this.targets.push(target);
    return target;
  }

  /** Remember a mount made some other way (mount(8)), so cleanup() undoes it. */
  track(target: string): void {
    this.targets.push(target);
  }

  unmount(target: string): void {
    const i = this.targets.lastIndexOf(target);
    if (i >= 0) this.targets.splice(i, 1);
    unmount(linuxSys(), target);
  }

  cleanup(): void {
    for (const t of this.targets.splice(0).reverse()) {
      try {
        unmount(linuxSys(), t);
      } catch {
        // already gone
      }
    }
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Is `dir` (or anything under it) still a mount point? (a test must leave none behind) */
export function mountedUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** Run fn and return the gRPC status of the errdefs kind it throws (fails the test if it throws none). */
export function apiError(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof KindError) return { code: errdefs.grpcStatusOf(e).code, message: e.message };
    throw e;
  }
  throw new Error('expected a KindError');
}

/** A gantry-containerd with the snapshots service (overlayfs), plus version, introspection and namespaces for ctr, on a temp socket. */
export interface SnapshotsServer {
  dir: string;
  sock: string;
  ctx: DaemonContext;
  overlay: OverlaySnapshotter;
  client: snapshots.SnapshotsClient;
  leaseCalls: Array<{ ns: string; leaseId: string; resource: { id: string; type: string } }>;
  close(): Promise<void>;
}

export async function startSnapshotsServer(): Promise<SnapshotsServer> {
  const dir = tempDir('gantry-snapsvc-');
  const sock = path.join(dir, 'containerd.sock');
  const exchange = new Exchange(decodeEvent);
  const root = path.join(dir, 'root');
  const store = new RecordStore(path.join(root, 'metadata'));
  const ctx: DaemonContext = {
    log: new Logger('error'),
    store,
    exchange,
    publish: (namespace: string, topic: string, event: protobuf.Any) => exchange.publish({ timestamp: new Date(), namespace, topic, event }),
    root,
    state: path.join(dir, 'state'),
    address: sock,
  };
  const overlay = new OverlaySnapshotter({ store, root });
  const leaseCalls: SnapshotsServer['leaseCalls'] = [];
  const server = new Server();
  server.addService(
    snapshots.SnapshotsService,
    snapshotsService(ctx, new Map([[overlay.name, overlay]]), {
      onLeaseResource: (ns, leaseId, resource) => {
        if (leaseId === 'missing') throw notFound(`lease ${JSON.stringify(leaseId)}: not found`);
        leaseCalls.push({ ns, leaseId, resource });
      },
    }),
  );
  server.addService(version.VersionService, versionService(ctx));
  server.addService(introspection.IntrospectionService, introspectionService(ctx));
  server.addService(namespaces.NamespacesService, namespacesService(ctx));
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const client = new snapshots.SnapshotsClient(`unix://${sock}`, credentials.createInsecure());
  return {
    dir,
    sock,
    ctx,
    overlay,
    client,
    leaseCalls,
    close: async () => {
      client.close();
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1000).unref();
      });
      // a failed test may leave mounts: detach them before removing the tree
      for (const m of mountedUnder(dir).reverse()) unmount(linuxSys(), m);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
