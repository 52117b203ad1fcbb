/**
 * A container's endpoints: its membership of a network as asked for (validated as dockerd does),
 * and its interface there while it runs, made and removed through the bridge CNI plugin.
 */
import { randomBytes } from 'node:crypto';
import { errdefs } from '@gantry/linux';
import type { Logger } from '@gantry/linux';
import { bridgeConflist, checkStaticAddress, type CniInvoker, type NetworkRecord, type NetworkStore } from '@gantry/network';
import { kindError } from './errors';
import type { Attachment, ContainerLookup, Sandbox, SandboxStore } from './sandbox';

export interface EndpointConfig {
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
}

/** The attachment `ep` asks for on `net`, refused as dockerd refuses it (aliases and a fixed IP on `bridge`, an address in use). */
export function newAttachment(net: NetworkRecord, ep: EndpointConfig, sandboxes: SandboxStore, containers: ContainerLookup): Attachment {
  const aliases = ep.Aliases ?? [];
  const ip = ep.IPAMConfig?.IPv4Address;
  if (net.Name === 'bridge') {
    if (aliases.length) throw errdefs.invalidArgument('network-scoped alias is supported only for containers in user defined networks');
    if (ip) throw errdefs.invalidArgument('user specified IP address is supported on user defined networks only');
  }
  if (ip) {
    try {
      checkStaticAddress(ip, net.IPAM.Config);
    } catch (e) {
      throw kindError(e);
    }
    const holder = sandboxes
      .all()
      .find(
        (sb) => sb.attachments.some((a) => a.networkId === net.Id && (a.staticIp === ip || a.ipAddress === ip)) && (sb.up || containers.find(sb.containerId)),
      );
    if (holder?.up) throw errdefs.permissionDenied(`Address already in use`);
  }
  return { networkId: net.Id, aliases: [...aliases], staticIp: ip || undefined };
}

function nextIfName(sb: Sandbox): string {
  for (let i = 0; ; i++) if (!sb.attachments.some((a) => a.ifName === `eth${i}`)) return `eth${i}`;
}

export interface EndpointWiringOptions {
  cni: CniInvoker;
  store: NetworkStore;
  sandboxes: SandboxStore;
  ipamDir: (net: NetworkRecord) => string;
  log: Logger;
}

/** CNI ADD and DEL of attachments in a running container's namespace; the primary one carries the published ports. */
export class EndpointWiring {
  constructor(private readonly o: EndpointWiringOptions) {}

  async attach(sb: Sandbox, a: Attachment, net: NetworkRecord, primary: boolean): Promise<void> {
    const ifName = nextIfName(sb);
    const pool = net.IPAM.Config[0]!;
    const prefix = pool.Subnet.split('/')[1]!;
    a.ifName = ifName;
    this.o.sandboxes.save(sb);
    const result = await this.o.cni.add(bridgeConflist(net, { ipamDir: this.o.ipamDir(net) }), {
      containerId: sb.containerId,
      netns: sb.netnsPath!,
      ifName,
      capabilityArgs: { ...(a.staticIp ? { ips: [`${a.staticIp}/${prefix}`] } : {}), portMappings: primary ? sb.ports : [] },
    });
    const ip = result.ips?.[0];
    const iface = result.interfaces?.find((x) => x.name === ifName && x.sandbox);
    a.result = result;
    a.endpointId = randomBytes(32).toString('hex');
    a.ipAddress = ip?.address.split('/')[0];
    a.prefixLen = Number(ip?.address.split('/')[1] ?? prefix);
    a.gateway = ip?.gateway ?? pool.Gateway;
    a.mac = iface?.mac ?? '';
    this.o.sandboxes.save(sb);
  }

  /** CNI DEL (a failure is logged: the namespace goes anyway), and the attachment's wired fields cleared. */
  async detach(sb: Sandbox, a: Attachment, primary: boolean): Promise<void> {
    const net = this.o.store.find(a.networkId);
    if (net && a.ifName) {
      await this.o.cni
        .del(
          bridgeConflist(net, { ipamDir: this.o.ipamDir(net) }),
          { containerId: sb.containerId, netns: sb.netnsPath!, ifName: a.ifName, capabilityArgs: { portMappings: primary ? sb.ports : [] } },
          a.result,
        )
        .catch((e: unknown) => this.o.log.warn('CNI DEL failed', { container: sb.containerId, network: net.Name, error: String(e) }));
    }
    delete a.ifName;
    delete a.result;
    delete a.endpointId;
    delete a.ipAddress;
    delete a.prefixLen;
    delete a.gateway;
    delete a.mac;
  }
}
