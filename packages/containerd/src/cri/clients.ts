/**
 * The CRI service sits on gantry-containerd's own API, as containerd's CRI plugin sits on
 * containerd: gRPC clients on the daemon's socket, every call in the `k8s.io` namespace.
 */
import { ContainerdClient } from '@gantry/api';
import { ContainerdStore } from '@gantry/registry';

/** containerd's CRI plugin keeps Kubernetes' objects in this namespace; so does Gantry's. */
export const CRI_NAMESPACE = 'k8s.io';
export const SPEC_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
export const PROCESS_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
export const RUNTIME_NAME = 'io.containerd.gantry.v1';
export const SNAPSHOTTER = 'overlayfs';

/** @gantry/api's client on the daemon's own socket in the CRI namespace, and the registry's view of its stores. */
export class DaemonClients extends ContainerdClient {
  /** The registry client's view of the same stores (pulls, image and blob reads). */
  readonly store: ContainerdStore;

  constructor(address: string) {
    // a CRI pull or image removal is one unary call of the same daemon; give it more room than gantryd's calls
    super(address, { namespace: CRI_NAMESPACE, callTimeoutMs: 120_000 });
    this.store = new ContainerdStore(
      { content: this.content, images: this.images, leases: this.leases, snapshots: this.snapshots, diff: this.diff },
      CRI_NAMESPACE,
    );
  }
}
