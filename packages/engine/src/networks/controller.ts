/**
 * gantryd's networks: the coordinator of the network records (store.ts), their bridges
 * (bridges.ts) and resolvers (dns-wiring.ts), and each container's sandbox (sandbox.ts,
 * sandbox-plan.ts) — its network namespace under <exec-root>/netns, its CNI endpoints
 * (endpoints.ts), published ports (ports.ts) and /etc files (etc-files.ts). A container's
 * namespace is made and wired (CNI ADD) before its task starts and torn down (CNI DEL in reverse,
 * unmount) when it stops. What Docker's JSON shows of it all is views.ts's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errdefs, type QuarantineReport } from '@gantry/linux';
import {
  CniError,
  CniInvoker,
  createNetns,
  listNetns,
  loopbackConflist,
  type NetworkRecord,
  NetworkStore,
  PortAllocatedError,
  PREDEFINED,
  removeNetns,
} from '@gantry/network';
import type { Logger } from '@gantry/linux';
import { ensureDefaultBridge, unwireUserBridge, wireUserBridge } from './bridges';
import { NetworkResolvers } from './dns-wiring';
import { type EndpointConfig, EndpointWiring, newAttachment } from './endpoints';
import { kindError } from './errors';
import { writeContainerEtc } from './etc-files';
import { checkPortSpecs, portAllocationFailure, SandboxPorts } from './ports';
import { type ContainerLookup, type ContainerView, etcOf, type Sandbox, SandboxStore } from './sandbox';
import { type ContainerNetworkInput, planSandbox } from './sandbox-plan';
import { type CreateNetworkRequest, ensurePredefined, getNetwork, ipamDir, newUserNetwork } from './store';
import { endpointsOf, networkSettings, portMap, portSummary, type ViewSources } from './views';

export type { ContainerNetworkInput, ContainerView, CreateNetworkRequest, EndpointConfig };

export interface ControllerOptions {
  dataRoot: string;
  execRoot: string;
  log: Logger;
  containers: ContainerLookup;
  /** Linux bridge of the default network; default gantry0. */
  defaultBridge?: string;
  cniPath?: string[];
  /** Port of the embedded DNS servers (53; tests may pick another). */
  dnsPort?: number;
}

export class NetworkController {
  private readonly store: NetworkStore;
  private readonly sandboxes: SandboxStore;
  private readonly resolvers: NetworkResolvers;
  private readonly endpoints: EndpointWiring;
  private readonly ports = new SandboxPorts();
  private readonly cni: CniInvoker;
  private readonly netnsDir: string;
  private readonly dnsPort: number;
  private readonly views: ViewSources;
  readonly defaultBridge: string;

  constructor(private readonly opts: ControllerOptions) {
    const quarantined = (what: string) => (r: QuarantineReport) => opts.log.error(`${what} record quarantined: it cannot be read`, { ...r });
    this.store = new NetworkStore(path.join(opts.dataRoot, 'network', 'networks'), { onQuarantine: quarantined('network') });
    this.sandboxes = new SandboxStore(path.join(opts.dataRoot, 'network', 'sandboxes'), quarantined('network sandbox'));
    this.netnsDir = path.join(opts.execRoot, 'netns');
    this.cni = new CniInvoker(opts.cniPath);
    this.defaultBridge = opts.defaultBridge ?? 'gantry0';
    this.dnsPort = opts.dnsPort ?? 53;
    this.views = { store: this.store, sandboxes: this.sandboxes, containers: opts.containers };
    this.resolvers = new NetworkResolvers({ ...this.views, port: this.dnsPort });
    this.endpoints = new EndpointWiring({
      cni: this.cni,
      store: this.store,
      sandboxes: this.sandboxes,
      ipamDir: (net) => ipamDir(opts.dataRoot, net),
      log: opts.log,
    });
  }

  // ---- start-up ----

  /** The predefined networks, bridges and rules of every bridge network, DNS servers. */
  async init(): Promise<void> {
    ensurePredefined(this.store);
    await ensureDefaultBridge(this.store, this.defaultBridge);
    for (const net of this.store.all()) {
      if (net.Driver !== 'bridge' || net.Name === 'bridge') continue;
      await this.wireBridge(net).catch((e: unknown) => this.opts.log.warn('could not set up network', { network: net.Name, error: String(e) }));
    }
  }

  /** A user-defined bridge's link, rules and resolver (idempotent). */
  private async wireBridge(net: NetworkRecord): Promise<void> {
    await wireUserBridge(net, this.dnsPort);
    await this.resolvers.start(net);
  }

  private async unwireBridge(net: NetworkRecord): Promise<void> {
    await this.resolvers.stop(net.Id);
    await unwireUserBridge(net, this.dnsPort);
  }

  /** After containers are restored: tear down sandboxes of containers not running, and namespaces nobody owns. */
  async sweep(): Promise<void> {
    for (const sb of this.sandboxes.all()) {
      const c = this.opts.containers.find(sb.containerId);
      if (!c) {
        await this.forget(sb.containerId);
        continue;
      }
      if (sb.up && !c.running) await this.down(sb.containerId);
      // keep holding the host ports of a container that survived our restart
      else if (sb.up && sb.ports.length) await this.ports.readopt(sb);
    }
    for (const file of listNetns(this.netnsDir)) {
      const sb = this.sandboxes.get(path.basename(file));
      if (!sb?.up) removeNetns(file);
    }
  }

  // ---- networks API ----

  list(): NetworkRecord[] {
    return this.store.all();
  }

  get(ref: string): NetworkRecord {
    return getNetwork(this.store, ref);
  }

  /** Containers attached (running) to a network, as `docker network inspect` shows them. */
  endpointsOf(netId: string): ReturnType<typeof endpointsOf> {
    return endpointsOf(this.views, netId);
  }

  async create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    const net = await newUserNetwork(this.store, req);
    try {
      await this.wireBridge(net);
    } catch (e) {
      // nothing half-made: undo link, rules and resolver
      await this.unwireBridge(net).catch(() => undefined);
      throw kindError(e);
    }
    this.store.save(net);
    return { Id: net.Id, Warning: '' };
  }

  private activeOn(netId: string): ContainerView[] {
    return this.sandboxes
      .all()
      .filter((sb) => sb.up && sb.attachments.some((a) => a.networkId === netId))
      .flatMap((sb) => this.opts.containers.find(sb.containerId) ?? []);
  }

  async remove(ref: string): Promise<void> {
    const net = this.get(ref);
    if (PREDEFINED.has(net.Name)) throw errdefs.permissionDenied(`${net.Name} is a pre-defined network and cannot be removed`);
    const active = this.activeOn(net.Id);
    if (active.length)
      throw errdefs.permissionDenied(
        `error while removing network: network ${net.Name} has active endpoints (${active.map((c) => `name:"${c.Name.slice(1)}" id:"${c.Id.slice(0, 12)}"`).join(', ')})`,
      );
    await this.unwireBridge(net);
    fs.rmSync(ipamDir(this.opts.dataRoot, net), { recursive: true, force: true });
    this.store.remove(net.Id);
  }

  async prune(keep: (n: NetworkRecord) => boolean): Promise<string[]> {
    const deleted: string[] = [];
    for (const net of this.store.all()) {
      if (PREDEFINED.has(net.Name) || !keep(net) || this.activeOn(net.Id).length) continue;
      await this.remove(net.Id).then(
        () => deleted.push(net.Name),
        () => undefined,
      );
    }
    return deleted;
  }

  // ---- containers ----

  /** The namespace file of a container's own netns. */
  private netnsPathFor(id: string): string {
    return path.join(this.netnsDir, id);
  }

  /** The namespace another container's `--network container:<ref>` joins. */
  joinPath(ref: string): string {
    const c = this.opts.containers.find(ref);
    // internal (500), as these were before they had a kind
    if (!c) throw errdefs.internal(`No such container: ${ref}`);
    if (!c.running) throw errdefs.internal(`cannot join network of a non running container: ${c.Id}`);
    const sb = this.sandboxes.get(c.Id);
    if (sb?.mode === 'host') return '/proc/1/ns/net';
    if (sb?.mode === 'container' && sb.joined) return this.joinPath(sb.joined);
    return this.netnsPathFor(c.Id);
  }

  /**
   * At create: decide the container's networks (validating them as Docker does), write its /etc
   * files and remember the sandbox. Returns the spec's network namespace: a path, 'host', or the
   * joined container's path.
   */
  prepare(input: ContainerNetworkInput): { netns: { path: string } | 'host' | 'join'; hostname: string } {
    const sb = planSandbox(input, {
      store: this.store,
      sandboxes: this.sandboxes,
      containers: this.opts.containers,
      netnsPathFor: (id) => this.netnsPathFor(id),
    });
    checkPortSpecs(sb);
    this.writeEtc(sb, true);
    this.sandboxes.add(sb);
    return { netns: sb.netnsPath ? { path: sb.netnsPath } : sb.mode === 'host' ? 'host' : 'join', hostname: sb.hostname };
  }

  private writeEtc(sb: Sandbox, hostname = false): void {
    writeContainerEtc(sb.etc, etcOf(sb, this.store), { hostname });
  }

  /** Before the task starts: namespace, loopback, CNI ADD per network, ports, /etc files. All or nothing. */
  async up(id: string, opts: { namespaceReady?: () => void } = {}): Promise<void> {
    const sb = this.sandboxes.get(id);
    if (!sb) return;
    if (sb.mode === 'host' || sb.mode === 'container') {
      if (sb.mode === 'container') this.joinPath(sb.joined!);
      this.writeEtc(sb);
      return;
    }
    if (sb.up) await this.down(id);
    const netns = sb.netnsPath!;
    try {
      await createNetns(netns);
      sb.up = true;
      this.sandboxes.save(sb);
      opts.namespaceReady?.();
      await this.cni.add(loopbackConflist(), { containerId: id, netns, ifName: 'lo' });
      if (sb.mode === 'bridge') {
        const nets = sb.attachments.map((a) => {
          const n = this.store.find(a.networkId);
          if (!n) throw errdefs.notFound(`network ${a.networkId} not found`);
          return n;
        });
        if (sb.attachments.length) {
          sb.ports = await this.ports.reserve(sb);
          this.sandboxes.save(sb);
        }
        for (let i = 0; i < sb.attachments.length; i++) await this.endpoints.attach(sb, sb.attachments[i]!, nets[i]!, i === 0);
      }
      this.writeEtc(sb);
      this.sandboxes.save(sb);
    } catch (e) {
      await this.down(id).catch(() => undefined);
      if (e instanceof CniError) throw errdefs.internal(`failed to set up container networking: ${e.message}`);
      if (e instanceof PortAllocatedError) throw portAllocationFailure(this.opts.containers.find(id)?.Name.slice(1) ?? id, e);
      throw kindError(e);
    }
  }

  /** When the task has exited (or failed to start): CNI DEL in reverse, ports released, namespace removed. */
  async down(id: string): Promise<void> {
    const sb = this.sandboxes.get(id);
    if (!sb || (sb.mode !== 'bridge' && sb.mode !== 'none')) return;
    for (let i = sb.attachments.length - 1; i >= 0; i--) await this.endpoints.detach(sb, sb.attachments[i]!, i === 0);
    this.ports.release(id);
    sb.ports = [];
    if (sb.netnsPath) removeNetns(sb.netnsPath);
    sb.up = false;
    this.sandboxes.save(sb);
  }

  /** At container removal. */
  async forget(id: string): Promise<void> {
    await this.down(id);
    this.sandboxes.delete(id);
  }

  async connect(netRef: string, containerRef: string, ep: EndpointConfig): Promise<void> {
    const net = this.get(netRef);
    const c = this.opts.containers.find(containerRef);
    if (!c) throw errdefs.notFound(`No such container: ${containerRef}`);
    const sb = this.sandboxes.get(c.Id);
    if (!sb) throw errdefs.internal(`container ${c.Id} has no network sandbox`);
    if (net.Driver === 'host' || sb.mode === 'host')
      throw errdefs.invalidArgument('container cannot be disconnected from host network or connected to host network');
    if (net.Driver === 'null' || sb.mode === 'none')
      throw errdefs.invalidArgument('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    if (sb.mode === 'container') throw errdefs.invalidArgument("conflicting options: container type network can't be used with other networks");
    if (sb.attachments.some((a) => a.networkId === net.Id))
      throw errdefs.permissionDenied(`endpoint with name ${c.Name.slice(1)} already exists in network ${net.Name}`);
    const a = newAttachment(net, ep, this.sandboxes, this.opts.containers);
    sb.attachments.push(a);
    this.sandboxes.save(sb);
    if (sb.up) {
      try {
        await this.endpoints.attach(sb, a, net, sb.attachments.length === 1);
      } catch (e) {
        sb.attachments.pop();
        this.sandboxes.save(sb);
        throw e instanceof CniError ? errdefs.internal(e.message) : kindError(e);
      }
      this.writeEtc(sb);
    }
  }

  async disconnect(netRef: string, containerRef: string): Promise<void> {
    const net = this.get(netRef);
    const c = this.opts.containers.find(containerRef);
    if (!c) throw errdefs.notFound(`No such container: ${containerRef}`);
    const sb = this.sandboxes.get(c.Id);
    const i = sb?.attachments.findIndex((a) => a.networkId === net.Id) ?? -1;
    if (!sb || i < 0) {
      if (net.Driver === 'host' && sb?.mode === 'host')
        throw errdefs.invalidArgument('container cannot be disconnected from host network or connected to host network');
      throw errdefs.permissionDenied(`container ${c.Id} is not connected to network ${net.Name}`);
    }
    if (sb.up) await this.endpoints.detach(sb, sb.attachments[i]!, i === 0);
    sb.attachments.splice(i, 1);
    this.sandboxes.save(sb);
    this.writeEtc(sb);
  }

  // ---- inspect ----

  /** NetworkSettings of `docker inspect`. */
  settings(id: string, running: boolean, exposed: Record<string, unknown>): Record<string, unknown> {
    return networkSettings(this.views, id, running, exposed);
  }

  /** NetworkSettings.Ports: every exposed or published port, with its host bindings (null when unpublished). */
  portMap(id: string, exposed: Record<string, unknown>): ReturnType<typeof portMap> {
    return portMap(this.sandboxes, id, exposed);
  }

  /** `Ports` of GET /containers/json. */
  portSummary(id: string, exposed: Record<string, unknown>): ReturnType<typeof portSummary> {
    return portSummary(this.sandboxes, id, exposed);
  }

  /** Summary NetworkSettings of GET /containers/json. */
  summaryNetworks(id: string, running: boolean): Record<string, unknown> {
    return (this.settings(id, running, {}).Networks ?? {}) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    await this.resolvers.closeAll();
    this.ports.releaseAll();
  }
}
