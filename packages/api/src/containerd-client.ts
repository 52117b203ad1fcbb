/**
 * A client of a containerd-API daemon (gantry-containerd, or containerd itself): one gRPC channel
 * to its socket that every service client shares, every call in one containerd namespace. gantryd
 * uses it in namespace `gantry`, gantry-containerd's CRI service in `k8s.io`.
 *
 * Calls are queued while the channel is down (the daemon killed and being restarted by a
 * supervisor) instead of failing at once with UNAVAILABLE, up to their deadline; a call that was
 * already running when the connection broke still fails with UNAVAILABLE (only its caller knows
 * whether to retry it: `callIdempotent` for those that may be sent again).
 */
import type { CallOptions, Channel, ClientReadableStream, Metadata } from '@grpc/grpc-js';
import { callMetadata, clientOn, isUnavailable, unaryCall, unixChannel, type UnaryMethod } from './client';
import * as archives from './gen/gantry/services/archives/v1/archives';
import * as containers from './gen/containerd/services/containers/v1/containers';
import * as content from './gen/containerd/services/content/v1/content';
import * as diff from './gen/containerd/services/diff/v1/diff';
import * as events from './events';
import * as images from './gen/containerd/services/images/v1/images';
import * as introspection from './gen/containerd/services/introspection/v1/introspection';
import * as leases from './gen/containerd/services/leases/v1/leases';
import * as snapshots from './gen/containerd/services/snapshots/v1/snapshots';
import * as tasks from './gen/containerd/services/tasks/v1/tasks';
import * as version from './gen/containerd/services/version/v1/version';
import type * as types from './types';

export interface ContainerdClientOptions {
  /** The `containerd-namespace` of every call. */
  namespace: string;
  /**
   * The deadline of a call that names none. Calls wait for a restarting daemon (waitForReady), so
   * every call needs a bound; default 60 s (the longest unary work asked for, a task delete that
   * stops a shim or a synchronous image delete, takes seconds).
   */
  callTimeoutMs?: number;
}

export class ContainerdClient {
  readonly channel: Channel;
  readonly namespace: string;
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
  private readonly callTimeoutMs: number;

  constructor(
    readonly address: string,
    opts: ContainerdClientOptions,
  ) {
    this.namespace = opts.namespace;
    this.callTimeoutMs = opts.callTimeoutMs ?? 60000;
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
   * length that has no deadline) wait for a restarting daemon.
   */
  metadata(waitForReady = true): Metadata {
    return callMetadata({ namespace: this.namespace, waitForReady });
  }

  /** Options for a streaming call: its deadline (none for 0: streams of unbounded length). */
  callOptions(timeoutMs = this.callTimeoutMs): Partial<CallOptions> {
    return timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
  }

  /** A unary call as a promise: `await cd.call(cd.tasks, cd.tasks.start, {...})`. */
  call<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = this.callTimeoutMs): Promise<Res> {
    return unaryCall(client, method, req, this.metadata(), timeoutMs);
  }

  /**
   * An idempotent call (a get, or a delete whose NOT_FOUND the caller accepts), sent again when the
   * connection broke under it (UNAVAILABLE: the daemon killed mid-call) — a few times, with
   * back-off, within its deadline; each attempt waits for the restarted daemon.
   */
  async callIdempotent<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = this.callTimeoutMs): Promise<Res> {
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

  /**
   * A container's writable snapshot on `parent` (the image's chain id) and its mounts. The
   * gc.root label keeps it from a garbage collection that runs before the container record names
   * it (an empty label value is no label in containerd).
   */
  async prepareContainerSnapshot(snapshotter: string, key: string, parent: string): Promise<types.Mount[]> {
    const req = snapshots.PrepareSnapshotRequest.fromPartial({ snapshotter, key, parent, labels: { 'containerd.io/gc.root': new Date().toISOString() } });
    return (await this.call(this.snapshots, this.snapshots.prepare, req)).mounts;
  }

  /** Resolves once the channel is connected (the daemon answers), rejects after `timeoutMs`. */
  ready(timeoutMs = this.callTimeoutMs): Promise<void> {
    return new Promise((resolve, reject) =>
      this.version.waitForReady(Date.now() + timeoutMs, (err) =>
        err ? reject(new Error(`gantry-containerd at ${this.address} is not reachable: ${err.message}`)) : resolve(),
      ),
    );
  }

  /** Subscribe to the daemon's events (filters in containerd's syntax); opens once the daemon is there. */
  subscribe(filters: string[]): ClientReadableStream<events.Envelope> {
    return this.events.subscribe({ filters }, this.metadata());
  }

  close(): void {
    this.channel.close();
  }
}
