/**
 * Containers' sandboxes: each container's network state (mode, attachments, published ports, /etc
 * file inputs), kept in memory and persisted one file per container under
 * <data-root>/network/sandboxes, so a restarted gantryd knows what it had wired.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isJsonObject, loadJsonOrQuarantine, type QuarantineReport, removeFileDurable, sweepTempFiles, writeJsonAtomic } from '@gantry/linux';
import type { CniResult, NetworkRecord, NetworkStore, PortBinding, PortMapping } from '@gantry/network';
import type { ContainerEtc, EtcPaths } from './etc-files';

/** What the network layer needs to know of containers. */
export interface ContainerView {
  Id: string;
  /** "/name" */
  Name: string;
  running: boolean;
  /** HostConfig.Links ("<container>:<alias>"): on a user-defined network, names only this container resolves. */
  links?: string[];
}

export interface ContainerLookup {
  find(ref: string): ContainerView | undefined;
}

/** A container's membership of one network; the wired fields are set while it runs. */
export interface Attachment {
  networkId: string;
  aliases: string[];
  staticIp?: string;
  ifName?: string;
  result?: CniResult;
  endpointId?: string;
  ipAddress?: string;
  prefixLen?: number;
  gateway?: string;
  mac?: string;
}

export type SandboxMode = 'bridge' | 'host' | 'none' | 'container';

/** A container's network state, persisted in <data-root>/network/sandboxes/<id>.json. */
export interface Sandbox {
  containerId: string;
  mode: SandboxMode;
  /** container:<ref> mode: the container whose namespace is joined. */
  joined?: string;
  netnsPath?: string;
  attachments: Attachment[];
  hostname: string;
  domainname: string;
  extraHosts: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  portBindings: Record<string, PortBinding[] | null>;
  exposed: Record<string, unknown>;
  publishAll: boolean;
  etc: EtcPaths;
  ports: PortMapping[];
  up: boolean;
}

/** The sandboxes by container id, each saved to its own file whenever it changes. */
export class SandboxStore {
  private readonly byId = new Map<string, Sandbox>();

  /** Loads every readable record of `dir`; unreadable ones are quarantined and forgotten (their netns is found by the stale sweep). */
  constructor(
    private readonly dir: string,
    onQuarantine: (r: QuarantineReport) => void,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    sweepTempFiles(dir);
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.json')) continue;
      const sb = loadJsonOrQuarantine<Sandbox>(path.join(dir, f), {
        validate: (v) =>
          isJsonObject(v) && typeof v.containerId === 'string' && `${v.containerId}.json` === f ? undefined : 'not a sandbox record of this file',
        onQuarantine,
      });
      if (sb) this.byId.set(sb.containerId, sb);
    }
  }

  get(id: string): Sandbox | undefined {
    return this.byId.get(id);
  }

  all(): Sandbox[] {
    return [...this.byId.values()];
  }

  /** A new container's sandbox: remembered and persisted. */
  add(sb: Sandbox): void {
    this.byId.set(sb.containerId, sb);
    this.save(sb);
  }

  /** Persist a sandbox after a change. */
  save(sb: Sandbox): void {
    writeJsonAtomic(path.join(this.dir, `${sb.containerId}.json`), sb);
  }

  delete(id: string): void {
    this.byId.delete(id);
    removeFileDurable(path.join(this.dir, `${id}.json`));
  }

  /** The running containers' wired attachments to a network, each with its sandbox. */
  *endpointsOn(netId: string): Generator<[Sandbox, Attachment & { ipAddress: string }]> {
    for (const sb of this.byId.values()) {
      if (!sb.up) continue;
      const a = sb.attachments.find((x) => x.networkId === netId && x.ipAddress);
      if (a) yield [sb, a as Attachment & { ipAddress: string }];
    }
  }
}

/** What the sandbox's /etc/hosts and /etc/resolv.conf are made of now. */
export function etcOf(sb: Sandbox, store: NetworkStore): ContainerEtc {
  // user-defined networks: the embedded resolver on the gateway
  const userNet = sb.attachments.map((a) => store.find(a.networkId)).find((n): n is NetworkRecord => !!n && n.Name !== 'bridge');
  return {
    hostNetwork: sb.mode === 'host',
    hostname: sb.hostname,
    domainname: sb.domainname,
    ip: sb.attachments.find((a) => a.ipAddress)?.ipAddress,
    extraHosts: sb.extraHosts,
    resolver: userNet?.IPAM.Config[0]?.Gateway,
    dns: sb.dns,
    dnsSearch: sb.dnsSearch,
    dnsOptions: sb.dnsOptions,
  };
}
