/**
 * A gantry-containerd with only the metadata/events/version/introspection services, on a temp unix
 * socket over a temp RecordStore, for the services-*.test.ts suites (no shims, no Tasks service).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentials, Server, ServerCredentials, type ServiceError } from '@grpc/grpc-js';
import { containers, events, introspection, namespaces, version, type protobuf } from '@gantry/api';
import type { DaemonContext } from '../src/context';
import { decodeEvent } from '../src/events/decode';
import { Exchange, type EventEnvelope } from '../src/events/exchange';
import { Logger } from '@gantry/linux';
import { RecordStore } from '@gantry/linux';
import { containersService, type ContainersServiceOptions } from '../src/services/containers';
import { eventsService } from '../src/services/events';
import { introspectionService } from '../src/services/introspection';
import { namespacesService } from '../src/services/namespaces';
import { versionService } from '../src/services/version';
import { describeIf, needTool } from '@gantry/testkit';

/** An Exchange that counts live subscriptions, so a test can wait for a subscriber to be in place. */
export class CountingExchange extends Exchange {
  subscribers = 0;
  override subscribe(filters: readonly string[], fn: (e: EventEnvelope) => void): () => void {
    const off = super.subscribe(filters, fn);
    this.subscribers++;
    let done = false;
    return () => {
      if (!done) this.subscribers--;
      done = true;
      off();
    };
  }
}

export interface Harness {
  dir: string;
  sock: string;
  ctx: DaemonContext;
  exchange: CountingExchange;
  ns: namespaces.NamespacesClient;
  containers: containers.ContainersClient;
  events: events.EventsClient;
  version: version.VersionClient;
  introspection: introspection.IntrospectionClient;
  close(): Promise<void>;
}

export async function startHarness(opts: ContainersServiceOptions = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-services-'));
  const sock = path.join(dir, 'containerd.sock');
  const exchange = new CountingExchange(decodeEvent);
  const ctx: DaemonContext = {
    log: new Logger('error'),
    store: new RecordStore(path.join(dir, 'root', 'metadata')),
    exchange,
    publish: (namespace: string, topic: string, event: protobuf.Any) => exchange.publish({ timestamp: new Date(), namespace, topic, event }),
    root: path.join(dir, 'root'),
    state: path.join(dir, 'state'),
    address: sock,
  };
  const server = new Server();
  server.addService(namespaces.NamespacesService, namespacesService(ctx));
  server.addService(containers.ContainersService, containersService(ctx, opts));
  server.addService(events.EventsService, eventsService(ctx));
  server.addService(version.VersionService, versionService(ctx));
  server.addService(introspection.IntrospectionService, introspectionService(ctx));
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const target = `unix://${sock}`;
  const creds = credentials.createInsecure();
  const clients = {
    ns: new namespaces.NamespacesClient(target, creds),
    containers: new containers.ContainersClient(target, creds),
    events: new events.EventsClient(target, creds),
    version: new version.VersionClient(target, creds),
    introspection: new introspection.IntrospectionClient(target, creds),
  };
  return {
    dir,
    sock,
    ctx,
    exchange,
    ...clients,
    close: async () => {
      Object.values(clients).forEach((c) => c.close());
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1000).unref();
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A unary client call as a promise: rpc((cb) => client.get(req, md, cb)). */
export function rpc<Res>(f: (cb: (err: ServiceError | null, res?: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => f((err, res) => (err ? reject(err) : resolve(res as Res))));
}

/** An OCI spec as containerd's client packs it (JSON under the runtime-spec type URL), which ctr can decode. */
export function specAny(args: string[] = ['sh']): protobuf.Any {
  return {
    typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec',
    value: Buffer.from(JSON.stringify({ ociVersion: '1.0.2-dev', process: { args, cwd: '/' }, root: { path: 'rootfs' } })),
  };
}

/** A container for Create; `over` replaces fields. */
export function newContainer(id: string, over: Partial<containers.Container> = {}): containers.Container {
  return containers.Container.fromPartial({
    id,
    image: 'docker.io/library/busybox:latest',
    runtime: { name: 'io.containerd.runc.v2' },
    spec: specAny(),
    ...over,
  });
}

/** describe, or skip with a warning when a tool is missing; under CI=true a missing tool fails instead. */
export function describeIfTool(tool: string, pkg: string): jest.Describe {
  return describeIf(needTool(tool, pkg));
}
