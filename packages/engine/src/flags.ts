/**
 * gantryd's command line, with dockerd's names for what both have: -H/--host (repeatable),
 * -G/--group, --tls, --tlsverify, --tlscacert, --tlscert, --tlskey, --data-root, --exec-root,
 * -b/--bridge, --insecure-registry, -l/--log-level. Boolean flags take `--flag`, `--flag=true`
 * or `--flag=false`.
 */
import type { Level } from '@gantry/containerd';
import type { EngineOptions } from './daemon';
import { DEFAULT_UNIX_SOCKET, parseHost, type TlsFlags } from './http/listeners';

export const USAGE = `usage: gantryd [options]
  -H, --host ADDR            where the API listens, repeatable: unix:///path (default
                             unix://${DEFAULT_UNIX_SOCKET}) or tcp://HOST:PORT
  -G, --group NAME|GID       group of the unix socket (default docker if it exists, else root only)
      --tls                  serve TLS on tcp:// (implied by --tlsverify)
      --tlsverify            require client certificates signed by --tlscacert (mutual TLS)
      --tlscacert FILE       CA for client certificates (default $DOCKER_CERT_PATH or ~/.docker: ca.pem)
      --tlscert FILE         server certificate (default cert.pem there)
      --tlskey FILE          server key (default key.pem there)
      --insecure-tcp         allow tcp:// without --tlsverify on a non-loopback address
                             (anyone who reaches it is root on this machine)
      --data-root DIR        (default /var/lib/gantry)
      --exec-root DIR        (default /run/gantry)
      --containerd SOCKET    use this gantry-containerd instead of running one
      --insecure-registry H  registry host[:port] reached over plain HTTP / unverified TLS
  -b, --bridge NAME          bridge of the default network (default gantry0)
  -l, --log-level LEVEL      debug, info, warn, error (default info)
`;

export type DaemonFlags = EngineOptions & { logLevel: Level };

function parseBool(name: string, v: string | undefined): boolean {
  if (v === undefined || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`${name} takes true or false, not ${v}`);
}

export function parseFlags(argv: readonly string[]): DaemonFlags | 'help' {
  const o: DaemonFlags = { hosts: [], dataRoot: '/var/lib/gantry', execRoot: '/run/gantry', logLevel: 'info' };
  const tls: TlsFlags = { tls: false, verify: false };
  let tlsSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '-H':
      case '--host':
        o.hosts.push(parseHost(value()));
        break;
      case '-G':
      case '--group':
        o.socketGroup = value();
        break;
      case '--tls':
        tls.tls = parseBool(name, inline);
        tlsSeen = true;
        break;
      case '--tlsverify':
        tls.verify = parseBool(name, inline);
        tlsSeen = true;
        break;
      case '--tlscacert':
        tls.caFile = value();
        break;
      case '--tlscert':
        tls.certFile = value();
        break;
      case '--tlskey':
        tls.keyFile = value();
        break;
      case '--insecure-tcp':
        o.insecureTcp = parseBool(name, inline);
        break;
      case '--data-root':
        o.dataRoot = value();
        break;
      case '--exec-root':
        o.execRoot = value();
        break;
      case '--bridge':
      case '-b':
        o.defaultBridge = value();
        if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(o.defaultBridge)) throw new Error(`invalid --bridge ${o.defaultBridge}`);
        break;
      case '--containerd':
        o.containerd = value().replace(/^unix:\/\//, '');
        break;
      case '--insecure-registry':
        (o.insecureRegistries ??= []).push(value());
        break;
      case '--log-level':
      case '-l': {
        const v = value();
        if (!['debug', 'info', 'warn', 'error'].includes(v)) throw new Error(`invalid --log-level ${v}`);
        o.logLevel = v as Level;
        break;
      }
      case '--help':
      case '-h':
        return 'help';
      default:
        throw new Error(`unknown flag ${arg}`);
    }
  }
  if (o.hosts.length === 0) o.hosts.push({ proto: 'unix', path: DEFAULT_UNIX_SOCKET });
  if (tlsSeen || tls.caFile || tls.certFile || tls.keyFile) o.tls = tls;
  return o;
}
