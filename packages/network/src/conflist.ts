/** The CNI configuration list of a gantry bridge network: bridge (with host-local IPAM), then portmap. */
import { CNI_VERSION, type CniConfList } from './cni';
import { hostLocalRange } from './ipam';
import type { NetworkRecord } from './store';

export interface ConflistOptions {
  /** host-local's lease directory for this network. */
  ipamDir: string;
}

/** The CNI network name of a gantry network: unique per network (iptables comments carry it). */
export function cniNetworkName(net: NetworkRecord): string {
  return net.Name === 'bridge' ? `gantry-${net.Bridge}` : `gantry-${net.Id.slice(0, 12)}`;
}

export function bridgeConflist(net: NetworkRecord, opts: ConflistOptions): CniConfList {
  if (net.Driver !== 'bridge' || !net.Bridge) throw new Error(`network ${net.Name} is not a bridge network`);
  const ipam: Record<string, unknown> = {
    type: 'host-local',
    dataDir: opts.ipamDir,
    ranges: net.IPAM.Config.map((p) => [hostLocalRange(p)]),
  };
  // an internal network has no way out: no default route, no masquerading
  if (!net.Internal) ipam.routes = [{ dst: '0.0.0.0/0' }];
  const mtu = Number(net.Options['com.docker.network.driver.mtu'] ?? 0);
  return {
    cniVersion: CNI_VERSION,
    name: cniNetworkName(net),
    plugins: [
      {
        type: 'bridge',
        bridge: net.Bridge,
        isGateway: true,
        ipMasq: !net.Internal && net.Options['com.docker.network.bridge.enable_ip_masquerade'] !== 'false',
        hairpinMode: true,
        ...(mtu > 0 ? { mtu } : {}),
        capabilities: { ips: true },
        ipam,
      },
      { type: 'portmap', snat: true, capabilities: { portMappings: true } },
    ],
  };
}

/** The loopback plugin alone: brings `lo` up in a namespace (every non-host container gets it). */
export function loopbackConflist(): CniConfList {
  return { cniVersion: CNI_VERSION, name: 'gantry-loopback', plugins: [{ type: 'loopback' }] };
}
