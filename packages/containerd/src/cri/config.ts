/**
 * gantry-containerd's configuration file (TOML, read with smol-toml): the CRI settings. Every key
 * is optional; what is absent takes the default below.
 *
 * ```toml
 * [cri]
 * sandbox_image = "registry.k8s.io/pause:3.9"   # reported in Status/RuntimeConfig; pods pin namespaces, no pause process
 * streaming_address = "127.0.0.1:0"
 * cni_conf_dir = "/etc/cni/net.d"
 * cni_bin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
 * state_dir = "/run/gantry/containerd/cri"          # netns files, pod /etc files
 * cgroup_parent = "/k8s.io"                           # pods' cgroups go under it unless a pod names its own
 * [cri.registry.mirrors."docker.io"]
 * endpoints = ["http://127.0.0.1:5000"]
 * ```
 */
import * as fs from 'node:fs';
import { parse } from 'smol-toml';
import { errdefs } from '@gantry/linux';

export interface CriConfig {
  sandboxImage: string;
  streamingAddress: string;
  cniConfDir: string;
  cniBinDirs: string[];
  /** Runtime state of the CRI service (pinned namespaces, pod files); default `<state>/cri`. */
  stateDir?: string;
  cgroupParent: string;
  /** Registry domain (as in a normalized reference, e.g. docker.io) → mirror endpoints, tried in order. */
  mirrors: Record<string, string[]>;
}

export const DEFAULT_CRI_CONFIG: CriConfig = {
  sandboxImage: 'registry.k8s.io/pause:3.9',
  streamingAddress: '127.0.0.1:0',
  cniConfDir: '/etc/cni/net.d',
  cniBinDirs: ['/usr/lib/cni', '/opt/cni/bin'],
  cgroupParent: '/k8s.io',
  mirrors: {},
};

type Table = Record<string, unknown>;

const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function str(t: Table, key: string, where: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw errdefs.invalidArgument(`${where}.${key}: a string is expected`);
  return v;
}

function strList(t: Table, key: string, where: string): string[] | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw errdefs.invalidArgument(`${where}.${key}: a list of strings is expected`);
  return v as string[];
}

/** The CRI settings of a parsed TOML document (its `[cri]` table). */
export function criConfigOf(doc: Table): CriConfig {
  const cri = doc.cri ?? {};
  if (!isTable(cri)) throw errdefs.invalidArgument('cri: a table is expected');
  const mirrors: Record<string, string[]> = {};
  const registry = cri.registry ?? {};
  if (!isTable(registry)) throw errdefs.invalidArgument('cri.registry: a table is expected');
  const m = registry.mirrors ?? {};
  if (!isTable(m)) throw errdefs.invalidArgument('cri.registry.mirrors: a table is expected');
  for (const [domain, entry] of Object.entries(m)) {
    if (!isTable(entry)) throw errdefs.invalidArgument(`cri.registry.mirrors.${domain}: a table is expected`);
    mirrors[domain] = strList(entry, 'endpoints', `cri.registry.mirrors.${domain}`) ?? [];
  }
  const d = DEFAULT_CRI_CONFIG;
  const stateDir = str(cri, 'state_dir', 'cri');
  return {
    sandboxImage: str(cri, 'sandbox_image', 'cri') ?? d.sandboxImage,
    streamingAddress: str(cri, 'streaming_address', 'cri') ?? d.streamingAddress,
    cniConfDir: str(cri, 'cni_conf_dir', 'cri') ?? d.cniConfDir,
    cniBinDirs: strList(cri, 'cni_bin_dirs', 'cri') ?? d.cniBinDirs,
    cgroupParent: str(cri, 'cgroup_parent', 'cri') ?? d.cgroupParent,
    ...(stateDir !== undefined && { stateDir }),
    mirrors,
  };
}

/** Read the configuration file (none: the defaults); a file that cannot be read or parsed is INVALID_ARGUMENT. */
export function loadCriConfig(file: string | undefined): CriConfig {
  if (file === undefined) return { ...DEFAULT_CRI_CONFIG };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw errdefs.invalidArgument(`config ${file}: ${(e as Error).message}`);
  }
  let doc: Table;
  try {
    doc = parse(text);
  } catch (e) {
    throw errdefs.invalidArgument(`config ${file}: ${(e as Error).message}`);
  }
  return criConfigOf(doc);
}
