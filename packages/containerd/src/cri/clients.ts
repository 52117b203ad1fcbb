/**
 * The CRI service sits on gantry-containerd's own API, as containerd's CRI plugin sits on
 * containerd: gRPC clients on the daemon's socket, every call in the `k8s.io` namespace.
 */
import type { Channel } from '@grpc/grpc-js';
import {
  callMetadata,
  clientOn,
  containers,
  content,
  diff,
  events,
  images,
  leases,
  snapshots,
  tasks,
  unaryCall,
  unixChannel,
  type UnaryMethod,
} from '@gantry/api';
import { ContainerdStore } from '@gantry/registry';

/** containerd's CRI plugin keeps Kubernetes' objects in this namespace; so does Gantry's. */
export const CRI_NAMESPACE = 'k8s.io';
export const SPEC_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
export const PROCESS_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
export const RUNTIME_NAME = 'io.containerd.gantry.v1';
export const SNAPSHOTTER = 'overlayfs';

const CALL_TIMEOUT_MS = 120_000;

export class DaemonClients {
  readonly channel: Channel;
  readonly containers: containers.ContainersClient;
  readonly tasks: tasks.TasksClient;
  readonly images: images.ImagesClient;
  readonly content: content.ContentClient;
  readonly snapshots: snapshots.SnapshotsClient;
  readonly diff: diff.DiffClient;
  readonly leases: leases.LeasesClient;
  readonly events: events.EventsClient;
  /** The registry client's view of the same stores (pulls, image and blob reads). */
  readonly store: ContainerdStore;

  constructor(address: string) {
    this.channel = unixChannel(address, { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
    this.containers = clientOn(containers.ContainersClient, this.channel);
    this.tasks = clientOn(tasks.TasksClient, this.channel);
    this.images = clientOn(images.ImagesClient, this.channel);
    this.content = clientOn(content.ContentClient, this.channel);
    this.snapshots = clientOn(snapshots.SnapshotsClient, this.channel);
    this.diff = clientOn(diff.DiffClient, this.channel);
    this.leases = clientOn(leases.LeasesClient, this.channel);
    this.events = clientOn(events.EventsClient, this.channel);
    this.store = new ContainerdStore(
      { content: this.content, images: this.images, leases: this.leases, snapshots: this.snapshots, diff: this.diff },
      CRI_NAMESPACE,
    );
  }

  call<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = CALL_TIMEOUT_MS): Promise<Res> {
    return unaryCall(client, method, req, callMetadata({ namespace: CRI_NAMESPACE }), timeoutMs);
  }

  close(): void {
    this.channel.close();
  }
}
