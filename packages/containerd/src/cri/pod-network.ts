/**
 * A pod's network through CNI (@gantry/network's runtime): the first configuration file of the
 * CNI config directory by name (`.conflist`, or a single-plugin `.conf`/`.json`), as kubelet's
 * runtimes choose, ADD on RunPodSandbox with the pod's port mappings, DEL on stop.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CniInvoker, type CniConfList, type CniResult } from '@gantry/network';
import { errdefs } from '@gantry/linux';

interface PortMappingArg {
  hostPort: number;
  containerPort: number;
  protocol: string;
  hostIP?: string;
}

/** The network configuration pods get, or undefined when the directory has none. */
export function loadCniList(confDir: string): CniConfList | undefined {
  let names: string[];
  try {
    names = fs
      .readdirSync(confDir)
      .filter((n) => /\.(conflist|conf|json)$/.test(n))
      .sort();
  } catch {
    return undefined;
  }
  for (const n of names) {
    let doc: unknown;
    try {
      doc = JSON.parse(fs.readFileSync(path.join(confDir, n), 'utf8'));
    } catch {
      continue;
    }
    if (typeof doc !== 'object' || doc === null) continue;
    const d = doc as Record<string, unknown>;
    if (Array.isArray(d.plugins) && typeof d.name === 'string')
      return { cniVersion: typeof d.cniVersion === 'string' ? d.cniVersion : '1.0.0', name: d.name, plugins: d.plugins as CniConfList['plugins'] };
    if (typeof d.type === 'string' && typeof d.name === 'string')
      return { cniVersion: typeof d.cniVersion === 'string' ? d.cniVersion : '1.0.0', name: d.name, plugins: [d as CniConfList['plugins'][number]] };
  }
  return undefined;
}

export interface PodNetworkRequest {
  sandboxId: string;
  netnsPath: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  portMappings: PortMappingArg[];
}

export class PodNetwork {
  private readonly cni: CniInvoker;
  constructor(
    private readonly confDir: string,
    binDirs: string[],
  ) {
    this.cni = new CniInvoker(binDirs);
  }

  /** The list pods get now; FAILED_PRECONDITION when there is none (kubelet sees NetworkReady false). */
  list(): CniConfList {
    const l = loadCniList(this.confDir);
    if (!l) throw errdefs.failedPrecondition(`cni config load failed: no network config found in ${this.confDir}`);
    return l;
  }

  ready(): boolean {
    return loadCniList(this.confDir) !== undefined;
  }

  private runtimeConf(r: PodNetworkRequest) {
    return {
      containerId: r.sandboxId,
      netns: r.netnsPath,
      ifName: 'eth0',
      args: [
        ['IgnoreUnknown', '1'],
        ['K8S_POD_NAMESPACE', r.podNamespace],
        ['K8S_POD_NAME', r.podName],
        ['K8S_POD_INFRA_CONTAINER_ID', r.sandboxId],
        ['K8S_POD_UID', r.podUid],
      ] as [string, string][],
      capabilityArgs: { portMappings: r.portMappings },
    };
  }

  async add(list: CniConfList, r: PodNetworkRequest): Promise<CniResult> {
    return this.cni.add(list, this.runtimeConf(r));
  }

  async del(list: CniConfList, r: PodNetworkRequest, prev: CniResult | undefined): Promise<void> {
    await this.cni.del(list, this.runtimeConf(r), prev);
  }
}

/** The pod's addresses from a CNI result: IPv4 first, without their prefix length. */
export function podIps(result: CniResult): string[] {
  const ips = (result.ips ?? []).map((i) => i.address.split('/')[0]!);
  return [...ips.filter((a) => !a.includes(':')), ...ips.filter((a) => a.includes(':'))];
}
