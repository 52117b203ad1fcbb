/**
 * At create: a container's sandbox decided from its network mode and endpoints, validated as
 * dockerd validates them (nothing is wired or written here).
 */
import * as os from 'node:os';
import { errdefs } from '@gantry/linux';
import type { NetworkStore, PortBinding } from '@gantry/network';
import { type EndpointConfig, newAttachment } from './endpoints';
import { etcPaths } from './etc-files';
import type { Attachment, ContainerLookup, Sandbox, SandboxMode, SandboxStore } from './sandbox';

export interface ContainerNetworkInput {
  id: string;
  hostname: string;
  domainname?: string;
  networkMode?: string;
  endpoints?: Record<string, EndpointConfig>;
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  portBindings?: Record<string, PortBinding[] | null>;
  exposed?: Record<string, unknown>;
  publishAll?: boolean;
  /** Directory for the container's hosts/resolv.conf/hostname files. */
  dir: string;
}

export interface PlanContext {
  store: NetworkStore;
  sandboxes: SandboxStore;
  containers: ContainerLookup;
  /** The namespace file of a container's own netns. */
  netnsPathFor: (id: string) => string;
}

/** `name:host-gateway` names the default bridge's gateway. */
function resolveExtraHost(store: NetworkStore, e: string): string {
  const i = e.search(/[:=]/);
  if (i > 0 && e.slice(i + 1) === 'host-gateway') return `${e.slice(0, i)}:${store.find('bridge')?.IPAM.Config[0]?.Gateway ?? '127.0.0.1'}`;
  return e;
}

export function planSandbox(input: ContainerNetworkInput, ctx: PlanContext): Sandbox {
  const { store, sandboxes, containers } = ctx;
  const modeRaw = input.networkMode || 'default';
  const mode = modeRaw === 'default' ? 'bridge' : modeRaw;
  const endpoints = input.endpoints ?? {};
  let sbMode: SandboxMode;
  const attachments: Attachment[] = [];
  let joined: string | undefined;
  if (mode === 'host' || mode === 'none') sbMode = mode;
  else if (mode.startsWith('container:')) {
    sbMode = 'container';
    const c = containers.find(mode.slice('container:'.length));
    if (!c) throw errdefs.notFound(`No such container: ${mode.slice('container:'.length)}`);
    joined = c.Id;
  } else {
    sbMode = 'bridge';
    const net = store.find(mode);
    if (!net) throw errdefs.notFound(`network ${mode} not found`);
    if (net.Driver === 'host' || net.Driver === 'null') sbMode = net.Driver === 'host' ? 'host' : 'none';
    else {
      const ep = endpoints[modeRaw] ?? endpoints[mode] ?? endpoints[net.Name] ?? endpoints[net.Id] ?? {};
      attachments.push(newAttachment(net, ep, sandboxes, containers));
    }
  }
  // extra endpoints (API ≥1.44 allows several at create)
  for (const [ref, ep] of Object.entries(endpoints)) {
    const net = store.find(ref === 'default' ? 'bridge' : ref);
    if (!net) throw errdefs.notFound(`network ${ref} not found`);
    if (sbMode !== 'bridge' || attachments.some((a) => a.networkId === net.Id)) continue;
    attachments.push(newAttachment(net, ep, sandboxes, containers));
  }
  return {
    containerId: input.id,
    mode: sbMode,
    joined,
    netnsPath: sbMode === 'bridge' || sbMode === 'none' ? ctx.netnsPathFor(input.id) : undefined,
    attachments,
    hostname: input.hostname || (sbMode === 'host' ? os.hostname() : input.id.slice(0, 12)),
    domainname: input.domainname ?? '',
    extraHosts: (input.extraHosts ?? []).map((e) => resolveExtraHost(store, e)),
    dns: input.dns ?? [],
    dnsSearch: input.dnsSearch ?? [],
    dnsOptions: input.dnsOptions ?? [],
    portBindings: input.portBindings ?? {},
    exposed: input.exposed ?? {},
    publishAll: input.publishAll ?? false,
    etc: etcPaths(input.dir),
    ports: [],
    up: false,
  };
}
