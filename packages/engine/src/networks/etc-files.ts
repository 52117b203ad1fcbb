/**
 * A container's /etc/hosts, /etc/resolv.conf and /etc/hostname: their content, as dockerd writes
 * it, and how they are written. The one place that builds and writes them, for the network
 * controller (at create, start, connect and disconnect) and for a gantryd that does not manage
 * networking.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const c = fs.constants; // Node opens with O_CLOEXEC itself

/**
 * Write one of a container's /etc files (hosts, hostname, resolv.conf: they live in its directory
 * under the data root and are bind-mounted into it) in place, so the inode a running container
 * has mounted sees the new content; never through a symlink (O_NOFOLLOW) and only onto a regular
 * file. Nothing is written inside the container's root: the runtime mounts these files there.
 */
export function writeEtcFile(file: string, content: string): void {
  const fd = fs.openSync(file, c.O_WRONLY | c.O_CREAT | c.O_NOFOLLOW | c.O_NONBLOCK, 0o644);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error(`${file} is not a regular file`);
    fs.ftruncateSync(fd, 0);
    const data = Buffer.from(content);
    for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off, data.length - off, off);
  } finally {
    fs.closeSync(fd);
  }
}

interface HostsInput {
  hostname: string;
  domainname?: string;
  /** The container's address on its primary network, when it has one. */
  ip?: string;
  /** HostConfig.ExtraHosts: "name:ip" (or "name=ip"); `host-gateway` already resolved. */
  extraHosts?: string[];
}

function hostsFile(h: HostsInput): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const e of h.extraHosts ?? []) {
    const i = e.search(/[:=]/);
    if (i > 0) lines.push(`${e.slice(i + 1).replace(/^\[(.*)\]$/, '$1')}\t${e.slice(0, i)}`);
  }
  const names = h.domainname ? `${h.hostname}.${h.domainname} ${h.hostname}` : h.hostname;
  if (h.ip) lines.push(`${h.ip}\t${names}`);
  return `${lines.join('\n')}\n`;
}

interface ResolvInput {
  /** The host's resolv.conf. */
  host: string;
  /** Nameservers to write (embedded resolver's address, or --dns); default: the host's, loopback ones dropped. */
  nameservers?: string[];
  search?: string[];
  options?: string[];
}

const DEFAULT_DNS = ['8.8.8.8', '8.8.4.4'];

function resolvConf(r: ResolvInput): string {
  const hostLines = r.host.split('\n').map((l) => l.trim());
  const field = (key: string) => hostLines.filter((l) => l.startsWith(`${key} `) || l.startsWith(`${key}\t`)).map((l) => l.slice(key.length).trim());
  let ns = r.nameservers;
  if (!ns?.length) {
    // the host's loopback resolvers are not reachable from the container's namespace
    ns = field('nameserver').filter((n) => !/^127\./.test(n) && n !== '::1');
    if (!ns.length) ns = DEFAULT_DNS;
  }
  const search = r.search?.length ? r.search : field('search').flatMap((s) => s.split(/\s+/));
  const options = r.options?.length ? r.options : field('options').flatMap((s) => s.split(/\s+/));
  const out = ns.map((n) => `nameserver ${n}`);
  if (search.length) out.push(`search ${search.join(' ')}`);
  if (options.length) out.push(`options ${options.join(' ')}`);
  return `${out.join('\n')}\n`;
}

/** Where a container's /etc files live: in its directory, bind-mounted by the runtime. */
export interface EtcPaths {
  hosts: string;
  resolvConf: string;
  hostname: string;
}

export function etcPaths(dir: string): EtcPaths {
  return { hosts: path.join(dir, 'hosts'), resolvConf: path.join(dir, 'resolv.conf'), hostname: path.join(dir, 'hostname') };
}

/** What a networked container's /etc/hosts and /etc/resolv.conf are made of. */
export interface ContainerEtc {
  /** `--network host`: the host's files, with the container's additions. */
  hostNetwork: boolean;
  hostname: string;
  domainname: string;
  /** The address on its primary network, while it has one. */
  ip?: string;
  extraHosts: string[];
  /** The embedded resolver (a user-defined network's gateway); it forwards to `dns` or the host's. */
  resolver?: string;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
}

/** The host's files a container's are made from; undefined: unreadable. */
export interface HostEtc {
  hosts?: string;
  resolvConf?: string;
}

function readHostEtc(): HostEtc {
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
  };
  return { hosts: read('/etc/hosts'), resolvConf: read('/etc/resolv.conf') };
}

export function containerEtcContent(c: ContainerEtc, host: HostEtc): { hosts: string; resolvConf: string } {
  const hostResolv = host.resolvConf ?? '';
  let hosts: string;
  if (c.hostNetwork) {
    // the host's own lines, then the extra hosts (hostsFile's lines after its six fixed ones)
    const own = host.hosts ?? hostsFile({ hostname: c.hostname });
    hosts = own + hostsFile({ hostname: c.hostname, extraHosts: c.extraHosts }).split('\n').slice(6).join('\n');
  } else {
    hosts = hostsFile({ hostname: c.hostname, domainname: c.domainname, ip: c.ip, extraHosts: c.extraHosts });
  }
  const resolv =
    c.hostNetwork && !c.dns.length && !c.dnsSearch.length && !c.dnsOptions.length
      ? hostResolv
      : resolvConf({ host: hostResolv, nameservers: c.resolver ? [c.resolver] : c.dns, search: c.dnsSearch, options: c.dnsOptions });
  return { hosts, resolvConf: resolv };
}

/**
 * Write a networked container's /etc/hosts and /etc/resolv.conf (in place: a running container
 * has them bind-mounted), and /etc/hostname too when given (at create; it does not change).
 */
export function writeContainerEtc(paths: EtcPaths, c: ContainerEtc, opts: { hostname?: boolean; host?: HostEtc } = {}): void {
  const content = containerEtcContent(c, opts.host ?? readHostEtc());
  if (opts.hostname) writeEtcFile(paths.hostname, `${c.hostname}\n`);
  writeEtcFile(paths.hosts, content.hosts);
  writeEtcFile(paths.resolvConf, content.resolvConf);
}

/** When gantryd does not manage networking (the container shares the host's): loopback names and the host's resolv.conf. */
export function standaloneEtcContent(hostname: string, host: HostEtc): { hosts: string; resolvConf: string } {
  return {
    hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`,
    resolvConf: host.resolvConf ?? 'nameserver 127.0.0.1\n',
  };
}

/** A container's three /etc files in `dir` when gantryd does not manage networking. */
export function writeStandaloneEtc(dir: string, hostname: string): EtcPaths {
  const paths = etcPaths(dir);
  const content = standaloneEtcContent(hostname, readHostEtc());
  writeEtcFile(paths.hostname, `${hostname}\n`);
  writeEtcFile(paths.hosts, content.hosts);
  writeEtcFile(paths.resolvConf, content.resolvConf);
  return paths;
}
