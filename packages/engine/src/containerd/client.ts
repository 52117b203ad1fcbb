import { credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { archives, containers, content, diff, events, images, introspection, leases, snapshots, tasks, version } from '@gantry/api';

/** The containerd namespace gantryd keeps its containers and images in (dockerd uses "moby"). */
export const ENGINE_NAMESPACE = 'gantry';

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline?: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * gantryd's view of gantry-containerd: one client per service on the same socket, every call in
 * the engine's namespace. `call` turns a generated unary method into a promise.
 */
export class Containerd {
  readonly containers: containers.ContainersClient;
  readonly tasks: tasks.TasksClient;
  readonly images: images.ImagesClient;
  readonly content: content.ContentClient;
  readonly snapshots: snapshots.SnapshotsClient;
  readonly diff: diff.DiffClient;
  readonly leases: leases.LeasesClient;
  readonly events: events.EventsClient;
  readonly version: version.VersionClient;
  readonly introspection: introspection.IntrospectionClient;
  readonly archives: archives.ArchivesClient;

  constructor(
    readonly address: string,
    readonly namespace = ENGINE_NAMESPACE,
  ) {
    const target = `unix://${address}`;
    const c = credentials.createInsecure();
    // images, archives and content move whole layers: raise grpc-js' 4 MiB default
    const big = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 };
    this.containers = new containers.ContainersClient(target, c);
    this.tasks = new tasks.TasksClient(target, c);
    this.images = new images.ImagesClient(target, c);
    this.content = new content.ContentClient(target, c, big);
    this.snapshots = new snapshots.SnapshotsClient(target, c);
    this.diff = new diff.DiffClient(target, c);
    this.leases = new leases.LeasesClient(target, c);
    this.events = new events.EventsClient(target, c);
    this.version = new version.VersionClient(target, c);
    this.introspection = new introspection.IntrospectionClient(target, c);
    this.archives = new archives.ArchivesClient(target, c, big);
  }

  metadata(): Metadata {
    const md = new Metadata();
    md.set('containerd-namespace', this.namespace);
    return md;
  }

  /** A unary call as a promise: `await cd.call(cd.tasks, cd.tasks.start, {...})`. */
  call<Req, Res>(client: object, method: Unary<Req, Res>, req: Req, timeoutMs?: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(client, req, this.metadata(), timeoutMs ? { deadline: Date.now() + timeoutMs } : {}, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  /** Subscribe to containerd events (filters in containerd's syntax). */
  subscribe(filters: string[]): ClientReadableStream<events.Envelope> {
    return this.events.subscribe({ filters }, this.metadata());
  }

  close(): void {
    for (const c of [this.containers, this.tasks, this.images, this.content, this.snapshots, this.diff, this.leases, this.events, this.version, this.introspection, this.archives]) c.close();
  }
}
