/**
 * gantryd's networks: the store of networks (default `bridge`, `host`, `none` and user-defined
 * bridges), and each container's sandbox — its network namespace under <exec-root>/netns, its
 * CNI attachments, published ports and /etc files. A container's namespace is made and wired
 * (CNI ADD) before its task starts and torn down (CNI DEL in reverse, unmount) when it stops.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import {
  errdefs,
  isJsonObject,
  KindError,
  loadJsonOrQuarantine,
  type QuarantineReport,
  removeFileDurable,
  sweepTempFiles,
  writeJsonAtomic,
} from '@gantry/linux';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  allowedUpstreams,
  bridgeConflist,
  checkStaticAddress,
  CniError,
  CniInvoker,
  createNetns,
  deleteLink,
  DnsServer,
  ensureBridge,
  firewall,
  hostRoutes,
  linkAddresses,
  listNetns,
  loopbackConflist,
  NetworkError,
  NetworkStore,
  pickDefaultSubnet,
  pickUserSubnet,
  portRequests,
  PortReservations,
  PREDEFINED,
  removeNetns,
  resolvePool,
  upstreamNameservers,
  type CniResult,
  type NetworkRecord,
  type PortBinding,
  type PortMapping,
  type PoolRequest,
} from '@gantry/network';
import type { Logger } from '@gantry/linux';
import { NETWORK_SETTINGS_DEFAULTS } from '../api/defaults';
import { hostsFile, resolvConf, writeEtcFile } from './etc-files';

/** What the network layer needs to know of containers. */
export interface ContainerView {
  Id: string;
  /** "/name" */
  Name: string;
  running: boolean;
}

interface ContainerLookup {
  find(ref: string): ContainerView | undefined;
}

interface Attachment {
  networkId: string;
  aliases: string[];
  staticIp?: string;
  // set while the container runs
  ifName?: string;
  result?: CniResult;
  endpointId?: string;
  ipAddress?: string;
  prefixLen?: number;
  gateway?: string;
  mac?: string;
}

type SandboxMode = 'bridge' | 'host' | 'none' | 'container';

/** A container's network state, persisted in <data-root>/network/sandboxes/<id>.json. */
interface Sandbox {
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
  etc: { hosts: string; resolvConf: string; hostname: string };
  ports: PortMapping[];
  up: boolean;
}

export interface EndpointConfig {
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
}

export interface CreateNetworkRequest {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  CheckDuplicate?: boolean;
  IPAM?: { Driver?: string; Config?: PoolRequest[] | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

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

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** An error of a kind (the network layer's carry theirs) as it is; anything else internal. */
function kindError(e: unknown): KindError {
  if (e instanceof KindError) return e;
  return errdefs.internal(e instanceof Error ? e.message : String(e));
}

function readHostResolv(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

export class NetworkController {
  readonly store: NetworkStore;
  private readonly sandboxes = new Map<string, Sandbox>();
  private readonly dnsServers = new Map<string, DnsServer>();
  private readonly ports = new PortReservations();
  private readonly cni: CniInvoker;
  private readonly sandboxDir: string;
  private readonly netnsDir: string;
  readonly defaultBridge: string;

  constructor(private readonly opts: ControllerOptions) {
    const quarantined = (what: string) => (r: QuarantineReport) => opts.log.error(`${what} record quarantined: it cannot be read`, { ...r });
    this.store = new NetworkStore(path.join(opts.dataRoot, 'network', 'networks'), { onQuarantine: quarantined('network') });
    this.sandboxDir = path.join(opts.dataRoot, 'network', 'sandboxes');
    this.netnsDir = path.join(opts.execRoot, 'netns');
    fs.mkdirSync(this.sandboxDir, { recursive: true, mode: 0o700 });
    this.cni = new CniInvoker(opts.cniPath);
    this.defaultBridge = opts.defaultBridge ?? 'gantry0';
    sweepTempFiles(this.sandboxDir);
    for (const f of fs.readdirSync(this.sandboxDir)) {
      if (!f.endsWith('.json')) continue;
      // unreadable: quarantined and forgotten (its netns is found by the stale sweep)
      const sb = loadJsonOrQuarantine<Sandbox>(path.join(this.sandboxDir, f), {
        validate: (v) =>
          isJsonObject(v) && typeof v.containerId === 'string' && `${v.containerId}.json` === f ? undefined : 'not a sandbox record of this file',
        onQuarantine: quarantined('network sandbox'),
      });
      if (sb) this.sandboxes.set(sb.containerId, sb);
    }
  }

  private ipamDir(net: NetworkRecord): string {
    // the default bridge may be shared by several gantryds on a host: its leases must be too
    return net.Name === 'bridge' ? path.join('/run/gantry-cni', net.Bridge!) : path.join(this.opts.dataRoot, 'network', 'ipam', net.Id);
  }

  private saveSandbox(sb: Sandbox): void {
    writeJsonAtomic(path.join(this.sandboxDir, `${sb.containerId}.json`), sb);
  }

  private baseRecord(name: string, driver: NetworkRecord['Driver']): NetworkRecord {
    return {
      Name: name,
      Id: NetworkStore.newId(),
      Created: new Date().toISOString(),
      Scope: 'local',
      Driver: driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Options: {},
      Labels: {},
    };
  }

  // ---- start-up ----

  /** The predefined networks, bridges and rules of every bridge network, DNS servers; stale sandboxes torn down. */
  async init(): Promise<void> {
    for (const [name, driver] of [
      ['host', 'host'],
      ['none', 'null'],
    ] as const) {
      if (!this.store.find(name)) this.store.save(this.baseRecord(name, driver));
    }
    await this.ensureDefaultBridge();
    for (const net of this.store.all()) {
      if (net.Driver !== 'bridge' || net.Name === 'bridge') continue;
      await this.wireBridge(net).catch((e: unknown) => this.opts.log.warn('could not set up network', { network: net.Name, error: String(e) }));
    }
  }

  private async ensureDefaultBridge(): Promise<void> {
    let net = this.store.find('bridge');
    const existing = (await linkAddresses(this.defaultBridge))[0];
    let subnet: string;
    let gateway: string;
    if (existing) {
      // adopt the bridge as it is (another gantryd on this host may have made it)
      const pool = resolvePool({ Subnet: existing, Gateway: existing.split('/')[0] }, []);
      subnet = pool.Subnet;
      gateway = pool.Gateway;
    } else {
      const taken = this.store
        .all()
        .filter((n) => n.Name !== 'bridge')
        .flatMap((n) => n.IPAM.Config.map((p) => p.Subnet));
      subnet = pickDefaultSubnet(await hostRoutes(), taken);
      gateway = resolvePool({ Subnet: subnet }, []).Gateway;
    }
    if (!net)
      net = {
        ...this.baseRecord('bridge', 'bridge'),
        Options: { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': this.defaultBridge },
      };
    net.Bridge = this.defaultBridge;
    net.IPAM.Config = [{ Subnet: subnet, Gateway: gateway }];
    this.store.save(net);
    await ensureBridge(this.defaultBridge, `${gateway}/${subnet.split('/')[1]}`);
    await firewall.addBridgeRules({ bridge: this.defaultBridge, internal: false, subnet });
  }

  /** A user-defined bridge's iptables rules: isolation, and its resolver answered on the bridge only. */
  private bridgeRules(net: NetworkRecord): firewall.BridgeRules {
    const pool = net.IPAM.Config[0]!;
    return { bridge: net.Bridge!, internal: net.Internal, subnet: pool.Subnet, dns: { address: pool.Gateway, port: this.opts.dnsPort ?? 53 } };
  }

  /** A user-defined bridge's link, rules and resolver (idempotent). */
  private async wireBridge(net: NetworkRecord): Promise<void> {
    const pool = net.IPAM.Config[0]!;
    await ensureBridge(net.Bridge!, `${pool.Gateway}/${pool.Subnet.split('/')[1]}`);
    await firewall.addBridgeRules(this.bridgeRules(net));
    if (!this.dnsServers.has(net.Id)) {
      const dns = new DnsServer({
        address: pool.Gateway,
        port: this.opts.dnsPort ?? 53,
        lookup: (name) => this.resolveName(net.Id, name),
        // only this network's containers: the gateway is a host address others can reach too
        allowClient: (client) => this.isEndpointOf(net.Id, client),
        // an internal network's resolver must not be its way out
        forwarders: allowedUpstreams(upstreamNameservers(readHostResolv()), net.Internal, pool.Subnet),
        forwardersFor: (client) => {
          const own = this.forwardersFor(net.Id, client);
          return own && allowedUpstreams(own, net.Internal, pool.Subnet);
        },
      });
      await dns.start();
      this.dnsServers.set(net.Id, dns);
    }
  }

  private async unwireBridge(net: NetworkRecord): Promise<void> {
    await this.dnsServers.get(net.Id)?.close();
    this.dnsServers.delete(net.Id);
    await firewall.removeBridgeRules(this.bridgeRules(net));
    await deleteLink(net.Bridge!);
  }

  /** After containers are restored: tear down sandboxes of containers not running, and namespaces nobody owns. */
  async sweep(): Promise<void> {
    for (const sb of [...this.sandboxes.values()]) {
      const c = this.opts.containers.find(sb.containerId);
      if (!c) {
        await this.forget(sb.containerId);
        continue;
      }
      if (sb.up && !c.running) await this.down(sb.containerId);
      else if (sb.up && sb.ports.length) {
        // keep holding the host ports of a container that survived our restart
        await this.ports
          .reserve(
            sb.containerId,
            sb.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol, hostIP: p.hostIP, hostPorts: [p.hostPort, p.hostPort] })),
          )
          .catch(() => undefined);
      }
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
    try {
      return this.store.get(ref);
    } catch (e) {
      throw kindError(e);
    }
  }

  /** Containers attached (running) to a network, as `docker network inspect` shows them. */
  endpointsOf(netId: string): Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }> {
    const out: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }> = {};
    for (const sb of this.sandboxes.values()) {
      if (!sb.up) continue;
      const a = sb.attachments.find((x) => x.networkId === netId && x.ipAddress);
      if (!a) continue;
      out[sb.containerId] = {
        Name: this.opts.containers.find(sb.containerId)?.Name.slice(1) ?? '',
        EndpointID: a.endpointId ?? '',
        MacAddress: a.mac ?? '',
        IPv4Address: `${a.ipAddress}/${a.prefixLen}`,
        IPv6Address: '',
      };
    }
    return out;
  }

  async create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? '';
    if (!name) throw errdefs.invalidArgument('network name is required');
    if (!NAME_RE.test(name)) throw errdefs.invalidArgument(`invalid network name "${name}": must match ${NAME_RE.source}`);
    const driver = req.Driver || 'bridge';
    if (PREDEFINED.has(name)) throw errdefs.permissionDenied(`operation is not permitted on predefined ${name} network`);
    if (this.store.all().some((n) => n.Name === name)) throw errdefs.conflict(`network with name ${name} already exists`);
    if (driver !== 'bridge')
      throw driver === 'host' || driver === 'null'
        ? errdefs.permissionDenied(`only one instance of "${driver}" network is allowed`)
        : errdefs.notFound(`plugin "${driver}" not found`);
    if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw errdefs.notFound(`plugin "${req.IPAM.Driver}" not found`);
    if (req.EnableIPv6) throw errdefs.invalidArgument('IPv6 networks are not supported by gantryd');
    const pools = req.IPAM?.Config ?? [];
    if (pools.length > 1) throw errdefs.invalidArgument('gantryd supports one IPv4 pool per network');
    let net: NetworkRecord;
    try {
      const taken = this.store.all().flatMap((n) => n.IPAM.Config.map((p) => p.Subnet));
      const wanted = pools[0] ?? {};
      const pool = resolvePool({ ...wanted, Subnet: wanted.Subnet || pickUserSubnet(await hostRoutes(), taken) }, taken);
      net = {
        ...this.baseRecord(name, 'bridge'),
        IPAM: { Driver: 'default', Options: req.IPAM?.Options ?? {}, Config: [pool] },
        Internal: req.Internal ?? false,
        Attachable: req.Attachable ?? false,
        Options: req.Options ?? {},
        Labels: req.Labels ?? {},
      };
      net.Bridge = net.Options['com.docker.network.bridge.name'] || `gt-${net.Id.slice(0, 12)}`;
      if (net.Bridge.length > 15) throw new NetworkError('invalid-argument', `bridge name ${net.Bridge} is longer than 15 characters`);
    } catch (e) {
      throw kindError(e);
    }
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
    return [...this.sandboxes.values()]
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
    fs.rmSync(this.ipamDir(net), { recursive: true, force: true });
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

  /** The namespace file a container's spec names (its own netns), or undefined (host, container:). */
  netnsPathFor(id: string): string {
    return path.join(this.netnsDir, id);
  }

  /** The namespace another container's `--network container:<ref>` joins. */
  joinPath(ref: string): string {
    const c = this.opts.containers.find(ref);
    if (!c) throw new Error(`No such container: ${ref}`);
    if (!c.running) throw new Error(`cannot join network of a non running container: ${c.Id}`);
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
    const modeRaw = input.networkMode || 'default';
    const mode = modeRaw === 'default' ? 'bridge' : modeRaw;
    const endpoints = input.endpoints ?? {};
    let sbMode: SandboxMode;
    const attachments: Attachment[] = [];
    let joined: string | undefined;
    if (mode === 'host' || mode === 'none') sbMode = mode;
    else if (mode.startsWith('container:')) {
      sbMode = 'container';
      const c = this.opts.containers.find(mode.slice('container:'.length));
      if (!c) throw errdefs.notFound(`No such container: ${mode.slice('container:'.length)}`);
      joined = c.Id;
    } else {
      sbMode = 'bridge';
      const net = this.store.find(mode);
      if (!net) throw errdefs.notFound(`network ${mode} not found`);
      if (net.Driver === 'host' || net.Driver === 'null') sbMode = net.Driver === 'host' ? 'host' : 'none';
      else {
        const ep = endpoints[modeRaw] ?? endpoints[mode] ?? endpoints[net.Name] ?? endpoints[net.Id] ?? {};
        attachments.push(this.attachment(net, ep));
      }
    }
    // extra endpoints (API ≥1.44 allows several at create)
    for (const [ref, ep] of Object.entries(endpoints)) {
      const net = this.store.find(ref === 'default' ? 'bridge' : ref);
      if (!net) throw errdefs.notFound(`network ${ref} not found`);
      if (sbMode !== 'bridge' || attachments.some((a) => a.networkId === net.Id)) continue;
      attachments.push(this.attachment(net, ep));
    }
    const hostname = input.hostname || (sbMode === 'host' ? os.hostname() : input.id.slice(0, 12));
    const etc = { hosts: path.join(input.dir, 'hosts'), resolvConf: path.join(input.dir, 'resolv.conf'), hostname: path.join(input.dir, 'hostname') };
    const sb: Sandbox = {
      containerId: input.id,
      mode: sbMode,
      joined,
      netnsPath: sbMode === 'bridge' || sbMode === 'none' ? this.netnsPathFor(input.id) : undefined,
      attachments,
      hostname,
      domainname: input.domainname ?? '',
      extraHosts: (input.extraHosts ?? []).map((e) => this.resolveExtraHost(e)),
      dns: input.dns ?? [],
      dnsSearch: input.dnsSearch ?? [],
      dnsOptions: input.dnsOptions ?? [],
      portBindings: input.portBindings ?? {},
      exposed: input.exposed ?? {},
      publishAll: input.publishAll ?? false,
      etc,
      ports: [],
      up: false,
    };
    // bad port specifications are refused at create
    try {
      if (sbMode === 'bridge') portRequests(sb.portBindings, sb.exposed, sb.publishAll);
    } catch (e) {
      throw kindError(e);
    }
    writeEtcFile(etc.hostname, `${hostname}\n`);
    this.writeEtc(sb);
    this.sandboxes.set(sb.containerId, sb);
    this.saveSandbox(sb);
    return { netns: sb.netnsPath ? { path: sb.netnsPath } : sbMode === 'host' ? 'host' : 'join', hostname };
  }

  private attachment(net: NetworkRecord, ep: EndpointConfig): Attachment {
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
      const holder = [...this.sandboxes.values()].find(
        (sb) =>
          sb.attachments.some((a) => a.networkId === net.Id && (a.staticIp === ip || a.ipAddress === ip)) &&
          (sb.up || this.opts.containers.find(sb.containerId)),
      );
      if (holder?.up) throw errdefs.permissionDenied(`Address already in use`);
    }
    return { networkId: net.Id, aliases: [...aliases], staticIp: ip || undefined };
  }

  private resolveExtraHost(e: string): string {
    const i = e.search(/[:=]/);
    if (i > 0 && e.slice(i + 1) === 'host-gateway') return `${e.slice(0, i)}:${this.store.find('bridge')?.IPAM.Config[0]?.Gateway ?? '127.0.0.1'}`;
    return e;
  }

  private writeEtc(sb: Sandbox): void {
    const primary = sb.attachments.find((a) => a.ipAddress);
    const hostResolv = readHostResolv();
    let hosts: string;
    if (sb.mode === 'host') {
      let h: string;
      try {
        h = fs.readFileSync('/etc/hosts', 'utf8');
      } catch {
        h = hostsFile({ hostname: sb.hostname });
      }
      hosts = h + hostsFile({ hostname: sb.hostname, extraHosts: sb.extraHosts }).split('\n').slice(6).join('\n');
    } else {
      hosts = hostsFile({ hostname: sb.hostname, domainname: sb.domainname, ip: primary?.ipAddress, extraHosts: sb.extraHosts });
    }
    // user-defined networks: the embedded resolver on the gateway (it forwards to --dns or the host's)
    const userNet = sb.attachments.map((a) => this.store.find(a.networkId)).find((n) => n && n.Name !== 'bridge');
    const gw = userNet?.IPAM.Config[0]?.Gateway;
    const resolv =
      sb.mode === 'host' && !sb.dns.length && !sb.dnsSearch.length && !sb.dnsOptions.length
        ? hostResolv
        : resolvConf({ host: hostResolv, nameservers: gw ? [gw] : sb.dns, search: sb.dnsSearch, options: sb.dnsOptions });
    // written in place: the files are bind-mounted into a running container
    writeEtcFile(sb.etc.hosts, hosts);
    writeEtcFile(sb.etc.resolvConf, resolv);
  }

  /** Before the task starts: namespace, loopback, CNI ADD per network, ports, /etc files. All or nothing. */
  async up(id: string): Promise<void> {
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
      this.saveSandbox(sb);
      await this.cni.add(loopbackConflist(), { containerId: id, netns, ifName: 'lo' });
      if (sb.mode === 'bridge') {
        const nets = sb.attachments.map((a) => {
          const n = this.store.find(a.networkId);
          if (!n) throw errdefs.notFound(`network ${a.networkId} not found`);
          return n;
        });
        if (sb.attachments.length) {
          sb.ports = await this.ports.reserve(id, portRequests(sb.portBindings, sb.exposed, sb.publishAll));
          this.saveSandbox(sb);
        }
        for (let i = 0; i < sb.attachments.length; i++) await this.attach(sb, sb.attachments[i]!, nets[i]!, i === 0);
      }
      this.writeEtc(sb);
      this.saveSandbox(sb);
    } catch (e) {
      await this.down(id).catch(() => undefined);
      if (e instanceof CniError) throw errdefs.internal(`failed to set up container networking: ${e.message}`);
      if (e instanceof NetworkError && /already allocated/.test(e.message)) {
        const name = this.opts.containers.find(id)?.Name.slice(1) ?? id;
        throw errdefs.internal(`driver failed programming external connectivity on endpoint ${name} (${randomBytes(32).toString('hex')}): ${e.message}`);
      }
      throw kindError(e);
    }
  }

  private nextIfName(sb: Sandbox): string {
    for (let i = 0; ; i++) if (!sb.attachments.some((a) => a.ifName === `eth${i}`)) return `eth${i}`;
  }

  private async attach(sb: Sandbox, a: Attachment, net: NetworkRecord, primary: boolean): Promise<void> {
    const ifName = this.nextIfName(sb);
    const pool = net.IPAM.Config[0]!;
    const prefix = pool.Subnet.split('/')[1]!;
    a.ifName = ifName;
    this.saveSandbox(sb);
    const result = await this.cni.add(bridgeConflist(net, { ipamDir: this.ipamDir(net) }), {
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
    this.saveSandbox(sb);
  }

  private async detach(sb: Sandbox, a: Attachment, primary: boolean): Promise<void> {
    const net = this.store.find(a.networkId);
    if (net && a.ifName) {
      await this.cni
        .del(
          bridgeConflist(net, { ipamDir: this.ipamDir(net) }),
          { containerId: sb.containerId, netns: sb.netnsPath!, ifName: a.ifName, capabilityArgs: { portMappings: primary ? sb.ports : [] } },
          a.result,
        )
        .catch((e: unknown) => this.opts.log.warn('CNI DEL failed', { container: sb.containerId, network: net.Name, error: String(e) }));
    }
    delete a.ifName;
    delete a.result;
    delete a.endpointId;
    delete a.ipAddress;
    delete a.prefixLen;
    delete a.gateway;
    delete a.mac;
  }

  /** When the task has exited (or failed to start): CNI DEL in reverse, ports released, namespace removed. */
  async down(id: string): Promise<void> {
    const sb = this.sandboxes.get(id);
    if (!sb || (sb.mode !== 'bridge' && sb.mode !== 'none')) return;
    for (let i = sb.attachments.length - 1; i >= 0; i--) await this.detach(sb, sb.attachments[i]!, i === 0);
    this.ports.release(id);
    sb.ports = [];
    if (sb.netnsPath) removeNetns(sb.netnsPath);
    sb.up = false;
    this.saveSandbox(sb);
  }

  /** At container removal. */
  async forget(id: string): Promise<void> {
    await this.down(id);
    this.sandboxes.delete(id);
    removeFileDurable(path.join(this.sandboxDir, `${id}.json`));
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
    const a = this.attachment(net, ep);
    sb.attachments.push(a);
    this.saveSandbox(sb);
    if (sb.up) {
      try {
        await this.attach(sb, a, net, sb.attachments.length === 1);
      } catch (e) {
        sb.attachments.pop();
        this.saveSandbox(sb);
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
    if (sb.up) await this.detach(sb, sb.attachments[i]!, i === 0);
    sb.attachments.splice(i, 1);
    this.saveSandbox(sb);
    this.writeEtc(sb);
  }

  // ---- DNS ----

  private resolveName(netId: string, name: string): string[] | undefined {
    const net = this.store.find(netId);
    let q = name.replace(/\.$/, '').toLowerCase();
    if (net && q.endsWith(`.${net.Name.toLowerCase()}`)) q = q.slice(0, -(net.Name.length + 1));
    const ips: string[] = [];
    for (const sb of this.sandboxes.values()) {
      if (!sb.up) continue;
      const a = sb.attachments.find((x) => x.networkId === netId && x.ipAddress);
      if (!a) continue;
      const c = this.opts.containers.find(sb.containerId);
      const names = [c?.Name.slice(1), sb.containerId.slice(0, 12), ...a.aliases].filter((n): n is string => !!n).map((n) => n.toLowerCase());
      if (names.includes(q)) ips.push(a.ipAddress!);
    }
    return ips.length ? ips : undefined;
  }

  /** Whether `address` is the address of a container attached to the network now. */
  private isEndpointOf(netId: string, address: string): boolean {
    for (const sb of this.sandboxes.values()) {
      if (sb.up && sb.attachments.some((a) => a.networkId === netId && a.ipAddress === address)) return true;
    }
    return false;
  }

  private forwardersFor(netId: string, client: string): string[] | undefined {
    for (const sb of this.sandboxes.values()) {
      if (sb.dns.length && sb.attachments.some((a) => a.networkId === netId && a.ipAddress === client)) return sb.dns;
    }
    return undefined;
  }

  // ---- inspect ----

  /** NetworkSettings of `docker inspect`. */
  settings(id: string, running: boolean, exposed: Record<string, unknown>): Record<string, unknown> {
    const sb = this.sandboxes.get(id);
    const networks: Record<string, unknown> = {};
    let primary: Record<string, unknown> = {};
    if (sb) {
      const list: [NetworkRecord | undefined, Attachment | undefined][] =
        sb.mode === 'bridge'
          ? sb.attachments.map((a) => [this.store.find(a.networkId), a])
          : sb.mode === 'container'
            ? []
            : [[this.store.find(sb.mode), undefined]];
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
            net.Name !== 'bridge' && net.Driver === 'bridge'
              ? [this.opts.containers.find(id)?.Name.slice(1) ?? '', id.slice(0, 12), ...(a?.aliases ?? [])]
              : null,
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
      Ports: running ? this.portMap(id, exposed) : {},
      ...primary,
      Networks: networks,
    };
  }

  /** NetworkSettings.Ports: every exposed or published port, with its host bindings (null when unpublished). */
  portMap(id: string, exposed: Record<string, unknown>): Record<string, { HostIp: string; HostPort: string }[] | null> {
    const sb = this.sandboxes.get(id);
    const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
    if (!sb || sb.mode !== 'bridge') return out;
    for (const k of [...Object.keys(exposed), ...Object.keys(sb.portBindings)]) out[k.includes('/') ? k : `${k}/tcp`] = null;
    for (const p of sb.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      (out[key] ??= []).push({ HostIp: p.hostIP, HostPort: String(p.hostPort) });
    }
    return out;
  }

  /** `Ports` of GET /containers/json. */
  portSummary(id: string, exposed: Record<string, unknown>): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
    const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
    for (const [key, binds] of Object.entries(this.portMap(id, exposed))) {
      const [port, proto] = key.split('/');
      if (!binds) out.push({ PrivatePort: Number(port), Type: proto ?? 'tcp' });
      else for (const b of binds) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: proto ?? 'tcp' });
    }
    return out;
  }

  /** Summary NetworkSettings of GET /containers/json. */
  summaryNetworks(id: string, running: boolean): Record<string, unknown> {
    return (this.settings(id, running, {}).Networks ?? {}) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    for (const d of this.dnsServers.values()) await d.close();
    this.dnsServers.clear();
    this.ports.releaseAll();
  }
}
