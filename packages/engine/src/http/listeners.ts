/**
 * The API's doors: where gantryd listens (`-H unix://…`, `-H tcp://…`), who may open the unix
 * socket (`--group`), and what TCP demands (mutual TLS, or an explicit `--insecure-tcp`).
 *
 * Anyone who can talk to the Engine API is root on this machine (a privileged container, a bind
 * mount of /), so the unix socket must never exist with a wider mode than 0660 root:<group>, and a
 * TCP listener that any host on the network can reach must authenticate its clients.
 */
import * as dns from 'node:dns/promises';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isIP } from 'node:net';
import { DEFAULT_UNIX_SOCKET } from '@gantry/engine-api';
import { linuxSys } from '@gantry/linux';
import { ListenerConfigError } from './listeners-error';
import { selectActivated, takeActivatedSockets, type ActivatedSocket } from './socket-activation';

/** dockerd's default ports: 2375 for plain HTTP, 2376 with TLS. */
const DEFAULT_TCP_PORT = 2375;
const DEFAULT_TLS_PORT = 2376;
/** The default `--group`: used when it exists, else the socket stays root's group. */
const DEFAULT_SOCKET_GROUP = 'docker';

/**
 * A `-H` address as given (a TCP port may be left to the default, which depends on TLS; `fd`
 * names sockets passed by systemd: '' for all of them, else an fd number or a socket name).
 */
export type HostAddress = { proto: 'unix'; path: string } | { proto: 'tcp'; host: string; port?: number } | { proto: 'fd'; which: string };

export { ListenerConfigError };

/**
 * Parse one `-H` value as dockerd does: `unix:///path`, `unix://` (the default socket), `/path`,
 * `tcp://host:port`, `tcp://:port`, `host:port` (TCP), `tcp://[::1]:port`, `fd://` (every socket
 * systemd passed), `fd://3` or `fd://gantryd.socket` (one of them). An empty TCP host is
 * 127.0.0.1. ssh:// and npipe:// are not supported.
 */
export function parseHost(value: string): HostAddress {
  const v = value.trim();
  if (v === '') throw new ListenerConfigError('-H needs an address');
  if (v.startsWith('/')) return { proto: 'unix', path: v };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(v);
  const proto = scheme ? scheme[1]!.toLowerCase() : 'tcp';
  const rest = scheme ? v.slice(scheme[0].length) : v;
  if (proto === 'unix') {
    const p = rest === '' ? DEFAULT_UNIX_SOCKET : rest;
    if (!p.startsWith('/')) throw new ListenerConfigError(`unix socket path must be absolute: ${value}`);
    return { proto: 'unix', path: p };
  }
  if (proto === 'fd') {
    if (rest !== '' && !/^[^:\s/]{1,255}$/.test(rest))
      throw new ListenerConfigError(`invalid socket name or fd in ${value} (expected fd://, fd://3 or fd://NAME)`);
    return { proto: 'fd', which: rest };
  }
  if (proto !== 'tcp') throw new ListenerConfigError(`unsupported -H protocol ${proto}:// in ${value} (gantryd listens on unix://, tcp:// and fd://)`);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]\s]*))(?::(\d*))?\/?$/.exec(rest);
  if (!m) throw new ListenerConfigError(`invalid tcp address ${value} (expected tcp://HOST:PORT)`);
  const host = m[1] ?? m[2] ?? '';
  if (m[1] !== undefined && isIP(m[1]) !== 6) throw new ListenerConfigError(`invalid IPv6 address in ${value}`);
  let port: number | undefined;
  if (m[3] !== undefined && m[3] !== '') {
    port = Number(m[3]);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ListenerConfigError(`invalid port in ${value}`);
  }
  return { proto: 'tcp', host: host === '' ? '127.0.0.1' : host, port };
}

/** Whether an IP address is a loopback one (127.0.0.0/8, ::1, and 127.x mapped into IPv6). */
export function isLoopbackIp(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  const lower = ip.toLowerCase();
  if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped !== null && mapped[1]!.startsWith('127.');
}

/**
 * The gid of `--group`: a name from the group database file (default /etc/group), else a number,
 * as dockerd resolves it. The default group (`docker`) may be absent: then the socket keeps the
 * daemon's own group (root only); a group given explicitly that does not exist is an error.
 */
export function resolveSocketGroup(group: string | undefined, opts: { groupFile?: string; warn?: (msg: string) => void } = {}): number {
  const own = process.getgid?.() ?? 0;
  const name = group ?? DEFAULT_SOCKET_GROUP;
  if (name === '') return own;
  const gid = lookupGroup(name, opts.groupFile ?? '/etc/group');
  if (gid !== undefined) return gid;
  if (/^\d+$/.test(name)) return Number(name);
  if (group === undefined) {
    opts.warn?.(`group ${name} not found: the API socket is accessible to root only`);
    return own;
  }
  throw new ListenerConfigError(`group ${name} not found (--group takes a group name from ${opts.groupFile ?? '/etc/group'} or a numeric gid)`);
}

function lookupGroup(name: string, file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] === name && /^\d+$/.test(f[2]!)) return Number(f[2]);
  }
  return undefined;
}

/** The TLS flags as dockerd has them (`--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`, `--tlskey`). */
export interface TlsFlags {
  /** --tls: serve TLS (implied by --tlsverify). */
  tls: boolean;
  /** --tlsverify: require a client certificate signed by --tlscacert. */
  verify: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** What a TLS listener serves: PEM contents, loaded once at start. */
export interface TlsMaterial {
  verify: boolean;
  key: Buffer;
  cert: Buffer;
  /** The only CA client certificates may chain to (with verify). */
  ca?: Buffer;
}

/**
 * Where listen() binds: a unix socket with its group, a resolved TCP address with optional TLS,
 * or a socket systemd passed (kept as systemd made it; TLS when the flags ask for it, and the
 * TCP policy checked once its address is known).
 */
export type ListenSpec =
  | { proto: 'unix'; path: string; gid: number }
  | { proto: 'tcp'; address: string; port: number; tls?: TlsMaterial }
  | { proto: 'fd'; fd: number; name: string; tls?: TlsMaterial; insecureTcp: boolean };

/** dockerd's default certificate directory: $DOCKER_CERT_PATH, else ~/.docker. */
function defaultCertDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CERT_PATH || path.join(os.homedir(), '.docker');
}

function readPem(file: string, flag: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ListenerConfigError(`could not read ${flag} ${file}: ${(e as Error).message}`);
  }
}

export function loadTlsMaterial(flags: TlsFlags, env: NodeJS.ProcessEnv = process.env, warn?: (msg: string) => void): TlsMaterial | undefined {
  if (!flags.tls && !flags.verify) return undefined;
  const dir = defaultCertDir(env);
  const keyFile = flags.keyFile ?? path.join(dir, 'key.pem');
  const material: TlsMaterial = {
    verify: flags.verify,
    cert: readPem(flags.certFile ?? path.join(dir, 'cert.pem'), '--tlscert'),
    key: readPem(keyFile, '--tlskey'),
  };
  // whoever reads the server's key can impersonate gantryd to clients
  const mode = fs.statSync(keyFile).mode & 0o777;
  if ((mode & 0o077) !== 0) warn?.(`--tlskey ${keyFile} is readable or writable by group or others (mode ${mode.toString(8)})`);
  if (flags.verify) material.ca = readPem(flags.caFile ?? path.join(dir, 'ca.pem'), '--tlscacert');
  return material;
}

export interface ListenerOptions {
  hosts: HostAddress[];
  /** --group; undefined: the default (docker if it exists). */
  group?: string;
  tls?: TlsFlags;
  /** --insecure-tcp: allow TCP without client certificates on a non-loopback address. */
  insecureTcp?: boolean;
  groupFile?: string;
  warn?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Name resolution for TCP hosts (tests replace it). */
  lookup?: (host: string) => Promise<string>;
  /** The sockets systemd passed (default: taken from process.env, which loses the variables). */
  activated?: () => ActivatedSocket[];
  /**
   * Marks a passed fd close-on-exec, so children do not hold the API socket. systemd passes them
   * without it; Node 20 measured already setting it at start-up for every fd above 2, which this
   * does not rely on (tests replace it).
   */
  cloexec?: (fd: number) => void;
}

async function lookupFirst(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    return (await dns.lookup(host)).address;
  } catch (e) {
    throw new ListenerConfigError(`cannot resolve -H host ${host}: ${(e as Error).message}`);
  }
}

/**
 * Turn the flags into what to listen on, refusing an unauthenticated TCP listener that other
 * hosts could reach: without --tlsverify anyone who reaches the port is root here, so only a
 * loopback address (still reachable by every local user, hence the warning) or an explicit
 * --insecure-tcp may do without it.
 */
export async function prepareListeners(o: ListenerOptions): Promise<ListenSpec[]> {
  if (o.hosts.length === 0) throw new ListenerConfigError('no -H address to listen on');
  // a socket systemd passed may be TCP too: load what --tls asks for whenever one may be
  const tcp = o.hosts.some((h) => h.proto === 'tcp' || h.proto === 'fd');
  const tls = tcp ? loadTlsMaterial(o.tls ?? { tls: false, verify: false }, process.env, (m) => o.warn?.(m)) : undefined;
  const needsGid = o.hosts.some((h) => h.proto === 'unix');
  const gid = needsGid ? resolveSocketGroup(o.group, { groupFile: o.groupFile, warn: (m) => o.warn?.(m) }) : 0;
  const specs: ListenSpec[] = [];
  let activated: ActivatedSocket[] | undefined;
  const taken = new Set<number>();
  for (const h of o.hosts) {
    if (h.proto === 'fd') {
      activated ??= (o.activated ?? takeActivatedSockets)();
      for (const s of selectActivated(activated, h.which)) {
        if (taken.has(s.fd)) continue; // `-H fd:// -H fd://3`: fd 3 once
        taken.add(s.fd);
        (o.cloexec ?? ((fd) => linuxSys().setCloexec(fd, true)))(s.fd);
        specs.push({ proto: 'fd', fd: s.fd, name: s.name, tls, insecureTcp: o.insecureTcp ?? false });
      }
      continue;
    }
    if (h.proto === 'unix') {
      specs.push({ proto: 'unix', path: h.path, gid });
      continue;
    }
    const address = await (o.lookup ?? lookupFirst)(h.host);
    const port = h.port ?? (tls ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT);
    const shown = `tcp://${h.host}:${port}`;
    if (!tls?.verify) {
      const why = tls ? 'TLS without --tlsverify authenticates no client' : 'plain TCP authenticates no client';
      if (!isLoopbackIp(address) && !o.insecureTcp) {
        throw new ListenerConfigError(
          `refusing to listen on ${shown} (${address}): ${why}, and anyone who can reach it would have root on this machine. ` +
            'Use --tlsverify with --tlscacert, --tlscert and --tlskey, or pass --insecure-tcp to accept that risk.',
        );
      }
      o.warn?.(
        `API on ${shown} without --tlsverify: ${why}; ${isLoopbackIp(address) ? 'every local user and any web page a local browser opens' : 'anyone who can reach it'} can use it and is root on this machine`,
        { host: shown },
      );
    }
    specs.push({ proto: 'tcp', address, port, tls });
  }
  return specs;
}
