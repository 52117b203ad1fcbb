/** The contents of a container's /etc/hosts and /etc/resolv.conf, as dockerd writes them, and how they are written. */
import * as fs from 'node:fs';

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

export interface HostsInput {
  hostname: string;
  domainname?: string;
  /** The container's address on its primary network, when it has one. */
  ip?: string;
  /** HostConfig.ExtraHosts: "name:ip" (or "name=ip"); `host-gateway` already resolved. */
  extraHosts?: string[];
}

export function hostsFile(h: HostsInput): string {
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

export interface ResolvInput {
  /** The host's resolv.conf. */
  host: string;
  /** Nameservers to write (embedded resolver's address, or --dns); default: the host's, loopback ones dropped. */
  nameservers?: string[];
  search?: string[];
  options?: string[];
}

const DEFAULT_DNS = ['8.8.8.8', '8.8.4.4'];

export function resolvConf(r: ResolvInput): string {
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
