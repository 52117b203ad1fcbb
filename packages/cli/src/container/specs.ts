/**
 * docker's textual specs for run/create: published ports, `-v` binds, `--mount`, `--tmpfs`,
 * `--ulimit`, `--device`, env files. A bad spec is a usage error (status 125).
 */
import * as fs from 'node:fs';
import type { DeviceMapping, Mount, PortBinding, Ulimit } from '@gantry/client';
import { CliError } from '../errors';
import { bytes } from './units';

function usage(message: string): CliError {
  return new CliError(message, 125);
}

function portRange(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (m === null) throw usage(`invalid ${what} port: ${s}`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 0 || hi > 65535 || hi < lo) throw usage(`invalid ${what} port: ${s}`);
  return [lo, hi];
}

function proto(p: string): string {
  const lower = p.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(lower)) throw usage(`invalid proto: ${p}`);
  return lower;
}

/** `--expose 80`, `--expose 7000-7002/udp`: the port keys. */
export function exposedPorts(spec: string): string[] {
  const [range = '', p = 'tcp'] = spec.split('/');
  const [lo, hi] = portRange(range, 'range format for --expose');
  const out: string[] = [];
  for (let port = lo; port <= hi; port++) out.push(`${port}/${proto(p)}`);
  return out;
}

/** `-p [ip:][hostPort:]containerPort[/proto]` (ranges allowed, IPv6 in brackets): port key → bindings. */
export function publishedPorts(spec: string): [string, PortBinding][] {
  const slash = spec.lastIndexOf('/');
  const p = slash > spec.lastIndexOf(']') && slash >= 0 ? proto(spec.slice(slash + 1)) : 'tcp';
  const rest = slash > spec.lastIndexOf(']') && slash >= 0 ? spec.slice(0, slash) : spec;
  let ip = '';
  let host = '';
  let container: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6 !== null) {
    ip = v6[1] ?? '';
    const parts = (v6[2] ?? '').split(':');
    if (parts.length !== 2) throw usage(`invalid port format for --publish: ${spec}`);
    [host = '', container = ''] = parts;
  } else {
    const parts = rest.split(':');
    if (parts.length === 1) container = parts[0] ?? '';
    else if (parts.length === 2) [host = '', container = ''] = parts;
    else if (parts.length === 3) [ip = '', host = '', container = ''] = parts;
    else throw usage(`invalid port format for --publish: ${spec}`);
  }
  if (container === '') throw usage(`no port specified: ${spec}<empty>`);
  const [clo, chi] = portRange(container, 'containerPort');
  const [hlo, hhi] = host === '' ? [0, 0] : portRange(host, 'hostPort');
  const out: [string, PortBinding][] = [];
  for (let i = 0; i <= chi - clo; i++) {
    let hostPort = '';
    if (host !== '') hostPort = hhi - hlo === chi - clo ? String(hlo + i) : hlo === hhi ? String(hlo) : `${hlo}-${hhi}`;
    out.push([`${clo + i}/${p}`, { HostIp: ip, HostPort: hostPort }]);
  }
  return out;
}

/** `-v`: a bind/named volume (`src:dst[:opts]`) goes to Binds, a bare path is an anonymous volume. */
export function volumeSpec(spec: string): { bind?: string; volume?: string } {
  const parts = spec.split(':');
  if (spec === '' || parts.some((p, i) => p === '' && i < 2)) throw usage(`invalid spec: ${spec}: empty section between colons`);
  if (parts.length === 1) {
    if (!spec.startsWith('/'))
      throw usage(`invalid volume specification: '${spec}': invalid mount config for type "volume": invalid mount path: '${spec}' mount path must be absolute`);
    return { volume: spec };
  }
  if (parts.length > 3) throw usage(`invalid volume specification: '${spec}'`);
  return { bind: spec };
}

function boolValue(v: string | undefined, key: string): boolean {
  if (v === undefined || ['1', 'true', 't', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'false', 'f', 'FALSE', 'False'].includes(v)) return false;
  throw usage(`invalid argument "${v}" for "--mount" flag: invalid value for ${key}: ${v}`);
}

/** `--mount type=…,source=…,target=…,…` as a Mount (docker's csv keys). */
export function mountSpec(spec: string): Mount {
  const m: Mount = { Type: 'volume' };
  const fields = spec.split(',').filter((f) => f !== '');
  for (const f of fields) {
    const i = f.indexOf('=');
    const key = (i < 0 ? f : f.slice(0, i)).toLowerCase();
    const val = i < 0 ? undefined : f.slice(i + 1);
    const need = (): string => {
      if (val === undefined) throw usage(`invalid argument "${spec}" for "--mount" flag: invalid field '${f}' must be a key=value pair`);
      return val;
    };
    switch (key) {
      case 'type':
        m.Type = need();
        break;
      case 'source':
      case 'src':
        m.Source = need();
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = need();
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = boolValue(val, key);
        break;
      case 'bind-propagation':
        (m.BindOptions ??= {}).Propagation = need();
        break;
      case 'bind-nonrecursive':
        (m.BindOptions ??= {}).NonRecursive = boolValue(val, key);
        break;
      case 'volume-nocopy':
        (m.VolumeOptions ??= {}).NoCopy = boolValue(val, key);
        break;
      case 'volume-subpath':
        (m.VolumeOptions ??= {}).Subpath = need();
        break;
      case 'volume-driver':
        ((m.VolumeOptions ??= {}).DriverConfig ??= {}).Name = need();
        break;
      case 'volume-label': {
        const [k = '', ...v] = need().split('=');
        ((m.VolumeOptions ??= {}).Labels ??= {})[k] = v.join('=');
        break;
      }
      case 'volume-opt': {
        const [k = '', ...v] = need().split('=');
        (((m.VolumeOptions ??= {}).DriverConfig ??= {}).Options ??= {})[k] = v.join('=');
        break;
      }
      case 'tmpfs-size':
        (m.TmpfsOptions ??= {}).SizeBytes = bytes(need());
        break;
      case 'tmpfs-mode':
        (m.TmpfsOptions ??= {}).Mode = parseInt(need(), 8);
        break;
      default:
        throw usage(`invalid argument "${spec}" for "--mount" flag: unexpected key '${key}' in '${f}'`);
    }
  }
  if (m.Target === undefined) throw usage(`invalid argument "${spec}" for "--mount" flag: target is required`);
  return m;
}

/** `--tmpfs /path[:opts]`. */
export function tmpfsSpec(spec: string): [string, string] {
  const i = spec.indexOf(':');
  return i < 0 ? [spec, ''] : [spec.slice(0, i), spec.slice(i + 1)];
}

/** `--ulimit name=soft[:hard]`. */
export function ulimitSpec(spec: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
  if (m === null) throw usage(`invalid argument "${spec}" for "--ulimit" flag: invalid ulimit argument: ${spec}`);
  const soft = Number(m[2]);
  return { Name: m[1] ?? '', Soft: soft, Hard: m[3] === undefined ? soft : Number(m[3]) };
}

/** `--device /dev/x[:/dev/y[:rwm]]`. */
export function deviceSpec(spec: string): DeviceMapping {
  const [host = '', second, third] = spec.split(':');
  let inContainer = host;
  let perms = 'rwm';
  if (third !== undefined) {
    inContainer = second ?? host;
    perms = third;
  } else if (second !== undefined) {
    if (/^[rwm]+$/.test(second)) perms = second;
    else inContainer = second;
  }
  return { PathOnHost: host, PathInContainer: inContainer, CgroupPermissions: perms };
}

/**
 * `KEY=value` lines of an env or label file (comments and blank lines skipped); a bare `KEY` takes
 * the CLI's own value and is dropped when that is unset (as docker reads these files).
 */
export function readKeyValueFile(path: string, env: NodeJS.ProcessEnv): string[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw usage(`open ${path}: ${e instanceof Error && 'code' in e && e.code === 'ENOENT' ? 'no such file or directory' : String(e)}`);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/^\s+/, ''))
    .filter((l) => l !== '' && !l.startsWith('#'))
    .flatMap((l) => (l.includes('=') ? [l] : env[l] === undefined ? [] : [`${l}=${env[l] ?? ''}`]));
}

/** An env entry: `K=v` as is, a bare `K` takes the CLI's own value (and is sent bare when unset), as docker does. */
export function envEntry(e: string, env: NodeJS.ProcessEnv): string {
  if (e.includes('=')) return e;
  const v = env[e];
  return v === undefined ? e : `${e}=${v}`;
}
