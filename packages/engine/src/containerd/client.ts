import type { CallOptions, Channel, ClientReadableStream, Metadata } from '@grpc/grpc-js';
import {
  archives,
  callMetadata,
  clientOn,
  isUnavailable,
  containers,
  content,
  diff,
  events,
  images,
  introspection,
  leases,
  snapshots,
  tasks,
  unaryCall,
  unixChannel,
  version,
  type UnaryMethod,
} from '@gantry/api';

/** The containerd namespace gantryd keeps its containers and images in (dockerd uses "moby"). */
export const ENGINE_NAMESPACE = 'gantry';

/**
 * The deadline of a call that names none. Calls wait for gantry-containerd while it restarts
 * (waitForReady), so every call needs a bound; the longest unary work gantryd asks for (a task
 * delete that stops a shim, a synchronous image delete) takes seconds.
 */
const DEFAULT_CALL_TIMEOUT_MS = 60000;

/**
 * gantryd's view of gantry-containerd: one gRPC channel to its socket that every service client
 * shares, and every call in the engine's namespace. Calls are queued while the channel is down
 * (gantry-containerd killed and being restarted by the supervisor) instead of failing at once with
 * UNAVAILABLE, up to their deadline; a call that was already running when the connection broke
 * still fails with UNAVAILABLE (only its caller knows whether to retry it).
 */
export class Containerd {
  readonly channel: Channel;
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
    // images, archives and content move whole layers: raise grpc-js' 4 MiB default (a channel option,
    // so it holds for every service on the channel), and the 64 KiB HTTP/2 receive window that would
    // stall a Content Read (push) every 64 KiB (gantry-containerd widens its own the same way)
    this.channel = unixChannel(address, {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc-node.flow_control_window': 8 << 20,
    });
    this.containers = clientOn(containers.ContainersClient, this.channel);
    this.tasks = clientOn(tasks.TasksClient, this.channel);
    this.images = clientOn(images.ImagesClient, this.channel);
    this.content = clientOn(content.ContentClient, this.channel);
    this.snapshots = clientOn(snapshots.SnapshotsClient, this.channel);
    this.diff = clientOn(diff.DiffClient, this.channel);
    this.leases = clientOn(leases.LeasesClient, this.channel);
    this.events = clientOn(events.EventsClient, this.channel);
    this.version = clientOn(version.VersionClient, this.channel);
    this.introspection = clientOn(introspection.IntrospectionClient, this.channel);
    this.archives = clientOn(archives.ArchivesClient, this.channel);
  }

  /**
   * The metadata of a call: the namespace, and (unless told otherwise, for a stream of unbounded
   * length that has no deadline) wait for a restarting gantry-containerd.
   */
  metadata(waitForReady = true): Metadata {
    return callMetadata({ namespace: this.namespace, waitForReady });
  }

  /** Options for a streaming call: its deadline (none for 0: streams of unbounded length). */
  callOptions(timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Partial<CallOptions> {
    return timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
  }

  /** A unary call as a promise: `await cd.call(cd.tasks, cd.tasks.start, {...})`. */
  call<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<Res> {
    return unaryCall(client, method, req, this.metadata(), timeoutMs);
  }

  /**
   * An idempotent call (a get, or a delete whose NOT_FOUND the caller accepts), sent again when the
   * connection broke under it (UNAVAILABLE: gantry-containerd killed mid-call) — a few times, with
   * back-off, within its deadline; each attempt waits for the restarted daemon.
   */
  async callIdempotent<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<Res> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1, delay = 100; ; attempt++, delay = Math.min(delay * 2, 1000)) {
      try {
        return await this.call(client, method, req, Math.max(deadline - Date.now(), 1));
      } catch (e) {
        if (!isUnavailable(e) || attempt >= 5 || Date.now() + delay >= deadline) throw e;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Resolves once the channel is connected (gantry-containerd answers), rejects after `timeoutMs`. */
  ready(timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<void> {
    return new Promise((resolve, reject) =>
      this.version.waitForReady(Date.now() + timeoutMs, (err) =>
        err ? reject(new Error(`gantry-containerd at ${this.address} is not reachable: ${err.message}`)) : resolve(),
      ),
    );
  }

  /** Subscribe to containerd events (filters in containerd's syntax); opens once gantry-containerd is there. */
  subscribe(filters: string[]): ClientReadableStream<events.Envelope> {
    return this.events.subscribe({ filters }, this.metadata());
  }

  close(): void {
    this.channel.close();
  }
}
