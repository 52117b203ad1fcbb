/**
 * gantryd's command line, with dockerd's names for what both have: -H/--host (repeatable),
 * -G/--group, --tls, --tlsverify, --tlscacert, --tlscert, --tlskey, --data-root, --exec-root,
 * -b/--bridge, --insecure-registry, --init, --init-path, -l/--log-level. Boolean flags take `--flag`, `--flag=true`
 * or `--flag=false`. Parsing is @gantry/linux's flags module; this file says what the values mean.
 */
import { FlagError, parseFlags as parseCommandLine, type CommandLine, type FlagDefs, type Level } from '@gantry/linux';
import type { EngineOptions } from './daemon';
import { DEFAULT_UNIX_SOCKET } from '@gantry/engine-api';
import { ListenerConfigError, parseHost, type HostAddress, type TlsFlags } from './http/listeners';

const FLAGS = {
  host: {
    type: 'string',
    short: 'H',
    arg: 'ADDR',
    multiple: true,
    help: `where the API listens, repeatable: unix:///path (default\nunix://${DEFAULT_UNIX_SOCKET}), tcp://HOST:PORT, or fd:// (the\nsockets systemd passed; fd://3 or fd://NAME for one)`,
  },
  group: { type: 'string', short: 'G', arg: 'NAME|GID', help: 'group of the unix socket (default docker if it exists, else root only)' },
  tls: { type: 'boolean', help: 'serve TLS on tcp:// (implied by --tlsverify)' },
  tlsverify: { type: 'boolean', help: 'require client certificates signed by --tlscacert (mutual TLS)' },
  tlscacert: { type: 'string', arg: 'FILE', help: 'CA for client certificates (default $DOCKER_CERT_PATH or ~/.docker: ca.pem)' },
  tlscert: { type: 'string', arg: 'FILE', help: 'server certificate (default cert.pem there)' },
  tlskey: { type: 'string', arg: 'FILE', help: 'server key (default key.pem there)' },
  'insecure-tcp': { type: 'boolean', help: 'allow tcp:// without --tlsverify on a non-loopback address\n(anyone who reaches it is root on this machine)' },
  'data-root': { type: 'string', arg: 'DIR', help: '(default /var/lib/gantry)' },
  'exec-root': { type: 'string', arg: 'DIR', help: '(default /run/gantry)' },
  containerd: { type: 'string', arg: 'SOCKET', help: 'use this gantry-containerd instead of running one' },
  'insecure-registry': { type: 'string', arg: 'H', multiple: true, help: 'registry host[:port] reached over plain HTTP / unverified TLS' },
  init: { type: 'boolean', help: 'run an init (docker-init) in every container that does not say otherwise' },
  'init-path': { type: 'string', arg: 'PATH', help: 'the init binary (default docker-init, on PATH or in\n/usr/libexec/docker)' },
  bridge: { type: 'string', short: 'b', arg: 'NAME', help: 'bridge of the default network (default gantry0)' },
  'log-level': { type: 'string', short: 'l', arg: 'LEVEL', help: 'debug, info, warn, error (default info)' },
} as const satisfies FlagDefs;

export const COMMAND = { program: 'gantryd', flags: FLAGS } as const;

export type DaemonFlags = EngineOptions & { logLevel: Level };

const LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'] satisfies Level[];

function host(value: string): HostAddress {
  try {
    return parseHost(value);
  } catch (e) {
    throw e instanceof ListenerConfigError ? new FlagError(e.message) : e;
  }
}

/** What the parsed flags mean; FlagError for values that do not fit. */
export function daemonFlags({ flags: f }: CommandLine<typeof FLAGS>): DaemonFlags {
  const o: DaemonFlags = {
    hosts: f.host.map(host),
    dataRoot: f['data-root'] ?? '/var/lib/gantry',
    execRoot: f['exec-root'] ?? '/run/gantry',
    logLevel: 'info',
  };
  if (o.hosts.length === 0) o.hosts.push({ proto: 'unix', path: DEFAULT_UNIX_SOCKET });
  if (f.group !== undefined) o.socketGroup = f.group;
  if (f['insecure-tcp'] !== undefined) o.insecureTcp = f['insecure-tcp'];
  if (f.bridge !== undefined) {
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(f.bridge)) throw new FlagError(`invalid --bridge ${f.bridge}`);
    o.defaultBridge = f.bridge;
  }
  if (f.init !== undefined) o.init = f.init;
  if (f['init-path'] !== undefined) o.initPath = f['init-path'];
  if (f.containerd !== undefined) o.containerd = f.containerd.replace(/^unix:\/\//, '');
  if (f['insecure-registry'].length) o.insecureRegistries = f['insecure-registry'];
  if (f['log-level'] !== undefined) {
    if (!LEVELS.includes(f['log-level'])) throw new FlagError(`invalid --log-level ${f['log-level']}`);
    o.logLevel = f['log-level'] as Level;
  }
  const tls: TlsFlags = { tls: f.tls ?? false, verify: f.tlsverify ?? false, caFile: f.tlscacert, certFile: f.tlscert, keyFile: f.tlskey };
  if (f.tls !== undefined || f.tlsverify !== undefined || tls.caFile || tls.certFile || tls.keyFile) o.tls = tls;
  return o;
}

/** gantryd's argv (without node and the script); `'help'` for -h/--help. Throws FlagError. */
export function parseFlags(argv: readonly string[]): DaemonFlags | 'help' {
  const c = parseCommandLine(COMMAND, argv);
  return c === 'help' ? c : daemonFlags(c);
}
