/**
 * The embedded DNS server of each user-defined network, on its gateway: it answers the names of
 * the network's running containers (name, short id, aliases) to that network's containers only,
 * and forwards the rest to the container's --dns or the host's resolvers (never out of an
 * internal network).
 */
import * as fs from 'node:fs';
import { allowedUpstreams, DnsServer, type NetworkRecord, type NetworkStore, upstreamNameservers } from '@gantry/network';
import type { ContainerLookup, SandboxStore } from './sandbox';

/**
 * The addresses `name` has on the network: its running containers' by name, short id or alias (and
 * `<name>.<network>`), and for `client` the aliases of its legacy links (HostConfig.Links, which
 * dockerd keeps on user-defined networks as names only the linking container resolves; docker-compose
 * 1.29's `run` links the one-off container to its service's containers).
 */
export function resolveName(
  sandboxes: SandboxStore,
  store: NetworkStore,
  containers: ContainerLookup,
  netId: string,
  name: string,
  client = '',
): string[] | undefined {
  const net = store.find(netId);
  let q = name.replace(/\.$/, '').toLowerCase();
  if (net && q.endsWith(`.${net.Name.toLowerCase()}`)) q = q.slice(0, -(net.Name.length + 1));
  const linked = client ? linkTarget(sandboxes, containers, netId, client, q) : undefined;
  if (linked !== undefined) return resolveName(sandboxes, store, containers, netId, linked);
  const ips: string[] = [];
  for (const [sb, a] of sandboxes.endpointsOn(netId)) {
    const c = containers.find(sb.containerId);
    const names = [c?.Name.slice(1), sb.containerId.slice(0, 12), ...a.aliases].filter((n): n is string => !!n).map((n) => n.toLowerCase());
    if (names.includes(q)) ips.push(a.ipAddress);
  }
  return ips.length ? ips : undefined;
}

/** The container a link alias of the container at `client` names (`<container>:<alias>`, either with a leading /). */
function linkTarget(sandboxes: SandboxStore, containers: ContainerLookup, netId: string, client: string, alias: string): string | undefined {
  for (const [sb, a] of sandboxes.endpointsOn(netId)) {
    if (a.ipAddress !== client) continue;
    for (const link of containers.find(sb.containerId)?.links ?? []) {
      const [target, as = target] = link.split(':');
      if (target && as.split('/').pop()!.toLowerCase() === alias) return target.replace(/^\//, '');
    }
  }
  return undefined;
}

/** Whether `address` is the address of a container attached to the network now. */
export function isEndpointOf(sandboxes: SandboxStore, netId: string, address: string): boolean {
  for (const [, a] of sandboxes.endpointsOn(netId)) if (a.ipAddress === address) return true;
  return false;
}

/** The --dns servers of the container at `client` on the network, if it set any. */
export function forwardersFor(sandboxes: SandboxStore, netId: string, client: string): string[] | undefined {
  for (const sb of sandboxes.all()) {
    if (sb.dns.length && sb.attachments.some((a) => a.networkId === netId && a.ipAddress === client)) return sb.dns;
  }
  return undefined;
}

function readHostResolv(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

export interface ResolversOptions {
  sandboxes: SandboxStore;
  store: NetworkStore;
  containers: ContainerLookup;
  /** 53; tests may pick another. */
  port: number;
}

/** The running DNS servers, by network id. */
export class NetworkResolvers {
  private readonly servers = new Map<string, DnsServer>();

  constructor(private readonly o: ResolversOptions) {}

  /** Start the network's server (idempotent). */
  async start(net: NetworkRecord): Promise<void> {
    if (this.servers.has(net.Id)) return;
    const pool = net.IPAM.Config[0]!;
    const { sandboxes, store, containers } = this.o;
    const dns = new DnsServer({
      address: pool.Gateway,
      port: this.o.port,
      lookup: (name, client) => resolveName(sandboxes, store, containers, net.Id, name, client),
      // only this network's containers: the gateway is a host address others can reach too
      allowClient: (client) => isEndpointOf(sandboxes, net.Id, client),
      // an internal network's resolver must not be its way out
      forwarders: allowedUpstreams(upstreamNameservers(readHostResolv()), net.Internal, pool.Subnet),
      forwardersFor: (client) => {
        const own = forwardersFor(sandboxes, net.Id, client);
        return own && allowedUpstreams(own, net.Internal, pool.Subnet);
      },
    });
    await dns.start();
    this.servers.set(net.Id, dns);
  }

  async stop(netId: string): Promise<void> {
    await this.servers.get(netId)?.close();
    this.servers.delete(netId);
  }

  async closeAll(): Promise<void> {
    for (const d of this.servers.values()) await d.close();
    this.servers.clear();
  }
}
