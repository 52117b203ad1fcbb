/**
 * What the network routes (routes/networks.ts) and the container routes' network fields (ps,
 * inspect) call; the daemon hands them the NetworkController. Types only.
 */
import type { NetworkRecord } from '@gantry/network';
import type { ContainerNetworkInput, CreateNetworkRequest, EndpointConfig } from '../networks/controller';

export interface NetworksBackend {
  list(): NetworkRecord[];
  /** 404 when there is no such network. */
  get(ref: string): NetworkRecord;
  endpointsOf(netId: string): Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }>;
  remove(ref: string): Promise<void>;
  /** Removes the unused networks `keep` accepts; returns their names. */
  prune(keep: (n: NetworkRecord) => boolean): Promise<string[]>;
  connect(netRef: string, containerRef: string, ep: EndpointConfig): Promise<void>;
  disconnect(netRef: string, containerRef: string): Promise<void>;
}

/** A container's network facts as `docker ps` and `docker inspect` show them. */
export interface ContainerNetworkView {
  portSummary(id: string, exposed: Record<string, unknown>): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  summaryNetworks(id: string, running: boolean): Record<string, unknown>;
  settings(id: string, running: boolean, exposed: Record<string, unknown>): Record<string, unknown>;
}

/** What a container's lifecycle (create, start, exit, remove) asks of the networks: its sandbox. */
export interface ContainerSandboxes {
  /** Plan the container's sandbox: its network namespace (or the host's, or another container's) and hostname. */
  prepare(input: ContainerNetworkInput): { netns: { path: string } | 'host' | 'join'; hostname: string };
  /** The network namespace path of container `ref` (--network container:ref). */
  joinPath(ref: string): string;
  /**
   * Before the task starts: the namespace, then its interfaces. `namespaceReady` is called as soon
   * as the namespace exists (the task may be created then, while the interfaces are set up).
   */
  up(id: string, opts?: { namespaceReady?: () => void }): Promise<void>;
  down(id: string): Promise<void>;
  /** The container is gone: release its endpoints. */
  forget(id: string): Promise<void>;
}
