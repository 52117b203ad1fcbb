/**
 * Where the client connects: `--host`-style addresses as the docker CLI takes them, and the
 * environment (`GANTRY_HOST`, `DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_UNIX_SOCKET } from '@gantry/engine-api';

export type HostAddress = { proto: 'unix'; socketPath: string } | { proto: 'tcp'; host: string; port: number };

export class HostParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostParseError';
  }
}

/** docker's default ports: 2375 plain, 2376 with TLS. */
const PLAIN_PORT = 2375;
const TLS_PORT = 2376;

/**
 * Parse `unix:///path`, `/path`, `tcp://host[:port]`, `http://…`, `https://…` (a path after the
 * address is refused: the API lives at the root). `tls` picks the default TCP port.
 */
export function parseHost(value: string, tls = false): HostAddress {
  const v = value.trim();
  if (v.startsWith('/')) return { proto: 'unix', socketPath: v };
  const m = /^([a-z]+):\/\/(.*)$/.exec(v);
  if (!m) throw new HostParseError(`invalid host ${JSON.stringify(value)}: expected unix:///path or tcp://host:port`);
  const [, scheme, rest] = m as unknown as [string, string, string];
  if (scheme === 'unix') {
    if (rest === '') return { proto: 'unix', socketPath: DEFAULT_UNIX_SOCKET };
    if (!rest.startsWith('/')) throw new HostParseError(`invalid host ${JSON.stringify(value)}: the socket path must be absolute`);
    return { proto: 'unix', socketPath: rest };
  }
  if (scheme !== 'tcp' && scheme !== 'http' && scheme !== 'https')
    throw new HostParseError(`invalid host ${JSON.stringify(value)}: unsupported scheme ${scheme}`);
  const slash = rest.indexOf('/');
  if (slash >= 0 && rest.slice(slash) !== '/') throw new HostParseError(`invalid host ${JSON.stringify(value)}: a path is not supported`);
  const hostport = slash >= 0 ? rest.slice(0, slash) : rest;
  const bracket = /^\[([^\]]+)\](?::(\d*))?$/.exec(hostport);
  let host: string;
  let portText: string | undefined;
  if (bracket) [, host, portText] = bracket as unknown as [string, string, string | undefined];
  else {
    const colon = hostport.lastIndexOf(':');
    host = colon >= 0 ? hostport.slice(0, colon) : hostport;
    portText = colon >= 0 ? hostport.slice(colon + 1) : undefined;
  }
  if (host === '') host = '127.0.0.1';
  const port = portText === undefined || portText === '' ? (tls || scheme === 'https' ? TLS_PORT : PLAIN_PORT) : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new HostParseError(`invalid host ${JSON.stringify(value)}: bad port ${portText ?? ''}`);
  return { proto: 'tcp', host, port };
}

/** The address as a URL-like string, for messages. */
export function formatHost(a: HostAddress): string {
  return a.proto === 'unix' ? `unix://${a.socketPath}` : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Check the daemon's certificate against `ca` (DOCKER_TLS_VERIFY); else encrypt only. */
  verify: boolean;
}

/** What the environment says: the host, and TLS files when DOCKER_TLS_VERIFY or DOCKER_CERT_PATH ask for TLS. */
export interface EnvConfig {
  host: string;
  tls?: TlsFiles;
  /** DOCKER_API_VERSION: a fixed version, no negotiation. */
  apiVersion?: string;
}

/**
 * As the docker CLI reads its environment: the host from GANTRY_HOST, else DOCKER_HOST, else the
 * default socket. TLS when DOCKER_TLS_VERIFY is set (non-empty), with ca.pem, cert.pem and key.pem
 * from DOCKER_CERT_PATH (default ~/.docker).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const host = nonEmpty(env.GANTRY_HOST) ?? nonEmpty(env.DOCKER_HOST) ?? `unix://${DEFAULT_UNIX_SOCKET}`;
  const out: EnvConfig = { host };
  const apiVersion = nonEmpty(env.DOCKER_API_VERSION);
  if (apiVersion !== undefined) out.apiVersion = apiVersion;
  if (nonEmpty(env.DOCKER_TLS_VERIFY) !== undefined) {
    out.tls = { ...readCertDir(nonEmpty(env.DOCKER_CERT_PATH) ?? path.join(os.homedir(), '.docker')), verify: true };
  }
  return out;
}

/** ca.pem, cert.pem and key.pem from `dir` (each when present). */
export function readCertDir(dir: string): Omit<TlsFiles, 'verify'> {
  const read = (name: string) => {
    try {
      return fs.readFileSync(path.join(dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };
  const out: Omit<TlsFiles, 'verify'> = {};
  const ca = read('ca.pem');
  const cert = read('cert.pem');
  const key = read('key.pem');
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
