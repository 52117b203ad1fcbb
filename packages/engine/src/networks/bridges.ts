/** The Linux bridges of bridge networks: their links and iptables rules (the resolvers are dns-wiring.ts's). */
import {
  ensureBridge,
  firewall,
  hostRoutes,
  linkAddresses,
  deleteLink,
  networkRecord,
  type NetworkRecord,
  type NetworkStore,
  pickDefaultSubnet,
  resolvePool,
} from '@gantry/network';

/**
 * The default `bridge` network on the link `bridge`: an existing link is adopted as it is (another
 * gantryd on this host may have made it), else a free subnet is picked; its rules are added.
 */
export async function ensureDefaultBridge(store: NetworkStore, bridge: string): Promise<void> {
  let net = store.find('bridge');
  const existing = (await linkAddresses(bridge))[0];
  let subnet: string;
  let gateway: string;
  if (existing) {
    const pool = resolvePool({ Subnet: existing, Gateway: existing.split('/')[0] }, []);
    subnet = pool.Subnet;
    gateway = pool.Gateway;
  } else {
    const taken = store
      .all()
      .filter((n) => n.Name !== 'bridge')
      .flatMap((n) => n.IPAM.Config.map((p) => p.Subnet));
    subnet = pickDefaultSubnet(await hostRoutes(), taken);
    gateway = resolvePool({ Subnet: subnet }, []).Gateway;
  }
  if (!net)
    net = {
      ...networkRecord({ Name: 'bridge', Driver: 'bridge' }),
      Options: { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': bridge },
    };
  net.Bridge = bridge;
  net.IPAM.Config = [{ Subnet: subnet, Gateway: gateway }];
  store.save(net);
  await ensureBridge(bridge, `${gateway}/${subnet.split('/')[1]}`);
  await firewall.addBridgeRules({ bridge, internal: false, subnet });
}

/** A user-defined bridge's iptables rules: isolation, and its resolver answered on the bridge only. */
function bridgeRules(net: NetworkRecord, dnsPort: number): firewall.BridgeRules {
  const pool = net.IPAM.Config[0]!;
  return { bridge: net.Bridge!, internal: net.Internal, subnet: pool.Subnet, dns: { address: pool.Gateway, port: dnsPort } };
}

/** A user-defined bridge's link and rules (idempotent). */
export async function wireUserBridge(net: NetworkRecord, dnsPort: number): Promise<void> {
  const pool = net.IPAM.Config[0]!;
  await ensureBridge(net.Bridge!, `${pool.Gateway}/${pool.Subnet.split('/')[1]}`);
  await firewall.addBridgeRules(bridgeRules(net, dnsPort));
}

export async function unwireUserBridge(net: NetworkRecord, dnsPort: number): Promise<void> {
  await firewall.removeBridgeRules(bridgeRules(net, dnsPort));
  await deleteLink(net.Bridge!);
}
