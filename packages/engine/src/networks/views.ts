/**
 * The network facts Docker's JSON shows: a network's `Containers` (inspect), a container's
 * NetworkSettings (inspect), and its `Ports` and summary `NetworkSettings` (GET /containers/json).
 */
import type { NetworkRecord, NetworkStore } from '@gantry/network';
import { NETWORK_SETTINGS_DEFAULTS } from '@gantry/engine-api';
import type { Attachment, ContainerLookup, SandboxStore } from './sandbox';

export interface ViewSources {
  store: NetworkStore;
  sandboxes: SandboxStore;
  containers: ContainerLookup;
}

export interface NetworkEndpointView {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

type PortMapView = Record<string, { HostIp: string; HostPort: string }[] | null>;

export interface PortSummaryView {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/** Containers attached (running) to a network, as `docker network inspect` shows them. */
export function endpointsOf(v: ViewSources, netId: string): Record<string, NetworkEndpointView> {
  const out: Record<string, NetworkEndpointView> = {};
  for (const [sb, a] of v.sandboxes.endpointsOn(netId)) {
    out[sb.containerId] = {
      Name: v.containers.find(sb.containerId)?.Name.slice(1) ?? '',
      EndpointID: a.endpointId ?? '',
      MacAddress: a.mac ?? '',
      IPv4Address: `${a.ipAddress}/${a.prefixLen}`,
      IPv6Address: '',
    };
  }
  return out;
}

/** NetworkSettings of `docker inspect`. */
export function networkSettings(v: ViewSources, id: string, running: boolean, exposed: Record<string, unknown>): Record<string, unknown> {
  const sb = v.sandboxes.get(id);
  const networks: Record<string, unknown> = {};
  let primary: Record<string, unknown> = {};
  if (sb) {
    const list: [NetworkRecord | undefined, Attachment | undefined][] =
      sb.mode === 'bridge' ? sb.attachments.map((a) => [v.store.find(a.networkId), a]) : sb.mode === 'container' ? [] : [[v.store.find(sb.mode), undefined]];
    for (const [net, a] of list) {
      if (!net) continue;
      const live = running && a?.ipAddress;
      const ep = {
        IPAMConfig: a?.staticIp ? { IPv4Address: a.staticIp } : null,
        Links: null,
        Aliases: a?.aliases.length ? a.aliases : null,
        MacAddress: live ? (a!.mac ?? '') : '',
        DriverOpts: null,
        NetworkID: net.Id,
        EndpointID: live ? (a!.endpointId ?? '') : '',
        Gateway: live ? (a!.gateway ?? '') : '',
        IPAddress: live ? (a!.ipAddress ?? '') : '',
        IPPrefixLen: live ? (a!.prefixLen ?? 0) : 0,
        IPv6Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        DNSNames:
          net.Name !== 'bridge' && net.Driver === 'bridge' ? [v.containers.find(id)?.Name.slice(1) ?? '', id.slice(0, 12), ...(a?.aliases ?? [])] : null,
      };
      networks[net.Name] = ep;
      if (net.Name === 'bridge')
        primary = { EndpointID: ep.EndpointID, Gateway: ep.Gateway, IPAddress: ep.IPAddress, IPPrefixLen: ep.IPPrefixLen, MacAddress: ep.MacAddress };
    }
  }
  // dockerd's zero values for the rest (the one table of them, also used by inspect)
  return {
    ...NETWORK_SETTINGS_DEFAULTS,
    SandboxID: sb?.up ? id : '',
    SandboxKey: sb?.up ? (sb.netnsPath ?? '') : '',
    Ports: running ? portMap(v.sandboxes, id, exposed) : {},
    ...primary,
    Networks: networks,
  };
}

/** NetworkSettings.Ports: every exposed or published port, with its host bindings (null when unpublished). */
export function portMap(sandboxes: SandboxStore, id: string, exposed: Record<string, unknown>): PortMapView {
  const sb = sandboxes.get(id);
  const out: PortMapView = {};
  if (!sb || sb.mode !== 'bridge') return out;
  for (const k of [...Object.keys(exposed), ...Object.keys(sb.portBindings)]) out[k.includes('/') ? k : `${k}/tcp`] = null;
  for (const p of sb.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: p.hostIP, HostPort: String(p.hostPort) });
  }
  return out;
}

/** `Ports` of GET /containers/json. */
export function portSummary(sandboxes: SandboxStore, id: string, exposed: Record<string, unknown>): PortSummaryView[] {
  const out: PortSummaryView[] = [];
  for (const [key, binds] of Object.entries(portMap(sandboxes, id, exposed))) {
    const [port, proto] = key.split('/');
    if (!binds) out.push({ PrivatePort: Number(port), Type: proto ?? 'tcp' });
    else for (const b of binds) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: proto ?? 'tcp' });
  }
  return out;
}
