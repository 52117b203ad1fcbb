/**
 * Pod sandboxes: RunPodSandbox pins the pod's network and IPC namespaces, brings its network up
 * through CNI and writes its /etc files; Stop tears the network down and stops its containers;
 * Remove releases everything. Records persist, so a restarted daemon knows its pods.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cri } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import type { CniConfList, CniResult } from '@gantry/network';
import type { CriContext } from './context';
import { matchLabels } from './filters';
import { pinNamespaces, releaseNamespaces, stopPidHolder } from './pod-namespaces';
import { podIps, type PodNetworkRequest } from './pod-network';
import { newId, nowNs, type SandboxRecord } from './store';

const protocolName = (p: cri.Protocol) => (p === cri.Protocol.UDP ? 'udp' : p === cri.Protocol.SCTP ? 'sctp' : 'tcp');

export function sandboxConfigOf(r: SandboxRecord): cri.PodSandboxConfig {
  return cri.PodSandboxConfig.fromJSON(r.config);
}

function netRequest(r: SandboxRecord): PodNetworkRequest {
  const c = sandboxConfigOf(r);
  return {
    sandboxId: r.id,
    netnsPath: r.netnsPath,
    podName: c.metadata?.name ?? '',
    podNamespace: c.metadata?.namespace ?? '',
    podUid: c.metadata?.uid ?? '',
    portMappings: c.portMappings
      .filter((p) => p.hostPort > 0)
      .map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: protocolName(p.protocol), ...(p.hostIp && { hostIP: p.hostIp }) })),
  };
}

function resolvConf(dns: cri.DNSConfig | undefined): string {
  if (!dns || (!dns.servers.length && !dns.searches.length && !dns.options.length)) {
    try {
      return fs.readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      return '';
    }
  }
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

function writePodFiles(dir: string, hostname: string, dns: cri.DNSConfig | undefined, hostNetwork: boolean): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  const hosts = hostNetwork
    ? fs.readFileSync('/etc/hosts', 'utf8')
    : `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`;
  fs.writeFileSync(path.join(dir, 'hosts'), hosts, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'resolv.conf'), resolvConf(dns), { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'hostname'), `${hostname}\n`, { mode: 0o644 });
}

/** The pod cgroup directories a removal takes away (only those under our own parent). */
function removePodCgroups(parent: string): void {
  const base = '/sys/fs/cgroup';
  let ctrls: string[];
  try {
    ctrls = fs.readdirSync(base);
  } catch {
    return;
  }
  const dirs = fs.existsSync(path.join(base, 'cgroup.controllers')) ? [path.join(base, parent)] : ctrls.map((c) => path.join(base, c, parent));
  for (const d of dirs) {
    try {
      fs.rmdirSync(d);
    } catch {
      // not there, or a container's leaf still in it
    }
  }
}

export class PodSandboxes {
  constructor(private readonly c: CriContext) {}

  private hostNetwork(cfg: cri.PodSandboxConfig): boolean {
    return cfg.linux?.securityContext?.namespaceOptions?.network === cri.NamespaceMode.NODE;
  }

  async run(req: cri.RunPodSandboxRequest): Promise<cri.RunPodSandboxResponse> {
    const cfg = req.config;
    if (!cfg?.metadata?.name) throw errdefs.invalidArgument('sandbox config must include metadata with a name');
    if (req.runtimeHandler) throw errdefs.notFound(`no runtime for "${req.runtimeHandler}" is configured`);
    const meta = cfg.metadata;
    const clash = this.c.store.listSandboxes().find((s) => {
      const m = sandboxConfigOf(s).metadata;
      return m?.name === meta.name && m.namespace === meta.namespace && m.uid === meta.uid && m.attempt === meta.attempt;
    });
    if (clash)
      throw errdefs.alreadyExists(
        `failed to reserve sandbox name "${meta.name}_${meta.namespace}_${meta.uid}_${meta.attempt}": it is reserved for ${clash.id}`,
      );
    const ns = cfg.linux?.securityContext?.namespaceOptions;
    const hostNet = this.hostNetwork(cfg);
    const hostIpc = ns?.ipc === cri.NamespaceMode.NODE;
    const list: CniConfList | undefined = hostNet ? undefined : this.c.network.list();
    const id = newId();
    const dir = path.join(this.c.stateDir, 'pods', id);
    // no hostname asked: the node's, as containerd does (a pod name may be longer than a hostname can be)
    const hostname = cfg.hostname || fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
    const rec: SandboxRecord = {
      id,
      config: cri.PodSandboxConfig.toJSON(cfg),
      state: 'notready',
      createdAt: nowNs(),
      netnsPath: '',
      ipcPath: '',
      ip: '',
      additionalIps: [],
      cgroupParent: cfg.linux?.cgroupParent || `${this.c.config.cgroupParent}/${id}`,
      hostname,
      dir,
    };
    let cniDone = false;
    try {
      const pinned = await pinNamespaces(dir, { net: !hostNet, ipc: !hostIpc });
      rec.netnsPath = pinned.net;
      rec.ipcPath = pinned.ipc;
      writePodFiles(dir, hostname, cfg.dnsConfig, hostNet);
      if (list) {
        const result = await this.c.network.add(list, netRequest(rec));
        cniDone = true;
        rec.cni = { list, result };
        const ips = podIps(result);
        rec.ip = ips[0] ?? '';
        rec.additionalIps = ips.slice(1);
      }
      rec.state = 'ready';
      this.c.store.saveSandbox(rec);
    } catch (e) {
      if (cniDone && list) await this.c.network.del(list, netRequest(rec), rec.cni?.result as CniResult).catch(() => undefined);
      releaseNamespaces({ net: rec.netnsPath, ipc: rec.ipcPath });
      fs.rmSync(dir, { recursive: true, force: true });
      if (e instanceof Error && !errdefs.ownKind(e)) throw errdefs.internal(`failed to set up sandbox ${id}: ${e.message}`);
      throw e;
    }
    this.c.log.info('pod sandbox running', { id, name: meta.name, namespace: meta.namespace, ip: rec.ip });
    return { podSandboxId: id };
  }

  /** Tear the network down and release the namespaces (the pod's containers must be stopped first). */
  async stopNetwork(rec: SandboxRecord): Promise<void> {
    if (rec.cni && rec.netnsPath) {
      try {
        await this.c.network.del(rec.cni.list as CniConfList, netRequest(rec), rec.cni.result as CniResult);
      } catch (e) {
        this.c.log.warn('CNI DEL failed', { sandbox: rec.id, error: (e as Error).message });
      }
      rec.cni = undefined;
    }
    releaseNamespaces({ net: rec.netnsPath, ipc: rec.ipcPath });
    if (rec.pidHolder) stopPidHolder(rec.pidHolder);
    rec.pidHolder = 0;
  }

  remove(rec: SandboxRecord): void {
    fs.rmSync(rec.dir, { recursive: true, force: true });
    if (!sandboxConfigOf(rec).linux?.cgroupParent) removePodCgroups(rec.cgroupParent);
    this.c.store.deleteSandbox(rec.id);
  }

  status(rec: SandboxRecord, verbose: boolean): cri.PodSandboxStatusResponse {
    const cfg = sandboxConfigOf(rec);
    const nsOpts = cfg.linux?.securityContext?.namespaceOptions ?? cri.NamespaceOption.fromPartial({ pid: cri.NamespaceMode.CONTAINER });
    const status = cri.PodSandboxStatus.fromPartial({
      id: rec.id,
      metadata: cfg.metadata,
      state: rec.state === 'ready' ? cri.PodSandboxState.SANDBOX_READY : cri.PodSandboxState.SANDBOX_NOTREADY,
      createdAt: BigInt(rec.createdAt),
      network: { ip: rec.ip, additionalIps: rec.additionalIps.map((ip) => ({ ip })) },
      linux: { namespaces: { options: nsOpts } },
      labels: cfg.labels,
      annotations: cfg.annotations,
      runtimeHandler: '',
    });
    const info: Record<string, string> = {};
    if (verbose)
      info.info = JSON.stringify({
        pid: 0,
        netNamespace: rec.netnsPath,
        ipcNamespace: rec.ipcPath,
        cgroupParent: rec.cgroupParent,
        hostname: rec.hostname,
        cniResult: rec.cni?.result,
        config: rec.config,
      });
    return { status, info, containersStatuses: [], timestamp: BigInt(nowNs()) };
  }

  list(filter: cri.PodSandboxFilter | undefined): cri.PodSandbox[] {
    return this.c.store
      .listSandboxes()
      .filter((s) => {
        if (!filter) return true;
        if (filter.id && !s.id.startsWith(filter.id)) return false;
        const want = filter.state?.state;
        if (filter.state && (want === cri.PodSandboxState.SANDBOX_READY) !== (s.state === 'ready')) return false;
        return matchLabels(sandboxConfigOf(s).labels, filter.labelSelector);
      })
      .map((s) => {
        const cfg = sandboxConfigOf(s);
        return cri.PodSandbox.fromPartial({
          id: s.id,
          metadata: cfg.metadata,
          state: s.state === 'ready' ? cri.PodSandboxState.SANDBOX_READY : cri.PodSandboxState.SANDBOX_NOTREADY,
          createdAt: BigInt(s.createdAt),
          labels: cfg.labels,
          annotations: cfg.annotations,
          runtimeHandler: '',
        });
      });
  }
}
