/**
 * Short syntax to long syntax, per file and before merging, so that files and `extends` merge
 * field by field (an environment list in one file and a map in the next, a port string and a
 * port mapping): ports, volumes, depends_on, environment, labels, networks, build, healthcheck.test.
 * Relative paths (bind sources, build contexts, env files) are made absolute against `baseDir`.
 */
import * as path from 'node:path';
import * as os from 'node:os';
import { ComposeError } from './errors';
import { shellSplit } from './shellwords';
import type { DependsOn, PortConfig, ServiceConfig, VolumeMount } from './model';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A scalar as text (the schema admits numbers and booleans where strings are meant). */
function scalar(x: unknown): string {
  return typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? String(x) : JSON.stringify(x);
}

/** `["A=b", "C"]` or `{A: b}` as a map; a value-less entry is null. */
function toMap(v: unknown, sep = '='): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = String(item);
      const i = s.indexOf(sep);
      if (i < 0) out[s] = null;
      else out[s.slice(0, i)] = s.slice(i + 1);
    }
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) out[k] = x === null || x === undefined ? null : scalar(x);
  }
  return out;
}

function portNumbers(s: string, where: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new ComposeError(`${where}: invalid port "${s}"`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  const out: number[] = [];
  for (let p = a; p <= b; p++) out.push(p);
  return out;
}

/** `[host_ip:][published:]target[/protocol]`, ranges expanded one mapping per port. */
export function parsePort(spec: string | number, where: string): PortConfig[] {
  let s = String(spec);
  let protocol = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    protocol = s.slice(slash + 1);
    s = s.slice(0, slash);
  }
  let hostIp: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    hostIp = s.slice(1, end);
    s = s.slice(end + 2);
  }
  const parts = s.split(':');
  if (hostIp === undefined && parts.length === 3) hostIp = parts.shift();
  if (parts.length > 2) throw new ComposeError(`${where}: invalid port "${String(spec)}"`);
  const target = parts.pop() ?? '';
  const published = parts.pop();
  const targets = portNumbers(target, where);
  const pubs = published === undefined || published === '' ? undefined : portNumbers(published, where);
  return targets.map((t, i) => {
    const p: PortConfig = { mode: 'ingress', target: t };
    if (hostIp !== undefined && hostIp !== '') p.host_ip = hostIp;
    if (pubs !== undefined) p.published = pubs.length === targets.length ? String(pubs[i]) : published;
    p.protocol = protocol;
    return p;
  });
}

function absolute(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(baseDir, p);
}

/** `[source:]target[:mode]` as a mount; sources starting with `.`, `/` or `~` are binds. */
export function parseVolume(spec: string, baseDir: string, where: string): VolumeMount {
  const parts = spec.split(':');
  if (parts.length === 1) return { type: 'volume', target: spec };
  if (parts.length > 3) throw new ComposeError(`${where}: invalid volume specification "${spec}"`);
  const [source = '', target = '', mode] = parts;
  const bind = /^[./~]/.test(source);
  const v: VolumeMount = { type: bind ? 'bind' : 'volume', source: bind ? absolute(source, baseDir) : source, target };
  const modes = (mode ?? '').split(',').filter((x) => x !== '');
  if (modes.includes('ro')) v.read_only = true;
  if (bind) {
    v.bind = { create_host_path: true };
    const sel = modes.find((x) => x === 'z' || x === 'Z');
    if (sel) v.bind.selinux = sel;
    const prop = modes.find((x) => /^r?(shared|slave|private)$/.test(x));
    if (prop) v.bind.propagation = prop;
  } else if (modes.includes('nocopy')) v.volume = { nocopy: true };
  return v;
}

function depends(v: unknown): Record<string, DependsOn> {
  const out: Record<string, DependsOn> = {};
  if (Array.isArray(v)) for (const s of v) out[String(s)] = { condition: 'service_started', required: true };
  else if (isObj(v))
    for (const [k, x] of Object.entries(v)) {
      const d = isObj(x) ? x : {};
      out[k] = {
        ...d,
        condition: (d.condition as DependsOn['condition'] | undefined) ?? 'service_started',
        required: (d.required as boolean | undefined) ?? true,
      };
    }
  return out;
}

/** One service of one file in long syntax (`where`: `services.web`). */
export function longSyntax(raw: Obj, baseDir: string, where: string): ServiceConfig {
  const s: ServiceConfig = { ...raw };
  if (raw.environment !== undefined) s.environment = toMap(raw.environment);
  if (raw.labels !== undefined) s.labels = toMap(raw.labels) as Record<string, string>;
  if (raw.depends_on !== undefined) s.depends_on = depends(raw.depends_on);
  if (Array.isArray(raw.networks)) s.networks = Object.fromEntries(raw.networks.map((n) => [String(n), null]));
  if (raw.ports !== undefined)
    s.ports = (raw.ports as unknown[]).flatMap((p, i) =>
      isObj(p) ? [{ mode: 'ingress', protocol: 'tcp', ...p, target: Number(p.target) } as PortConfig] : parsePort(p as string, `${where}.ports[${i}]`),
    );
  if (raw.expose !== undefined) s.expose = (raw.expose as unknown[]).map(String);
  if (raw.volumes !== undefined)
    s.volumes = (raw.volumes as unknown[]).map((v, i) => {
      if (!isObj(v)) return parseVolume(String(v), baseDir, `${where}.volumes[${i}]`);
      const m = { ...v } as unknown as VolumeMount;
      if (m.type === 'bind' && m.source !== undefined) m.source = absolute(m.source, baseDir);
      return m;
    });
  if (raw.build !== undefined) {
    const b: Obj = isObj(raw.build) ? { ...raw.build } : { context: scalar(raw.build) };
    const ctx = typeof b.context === 'string' ? b.context : '.';
    b.context = /^(https?|git):\/\/|^git@/.test(ctx) ? ctx : absolute(ctx, baseDir);
    if (b.args !== undefined) b.args = toMap(b.args);
    if (b.labels !== undefined) b.labels = toMap(b.labels);
    s.build = b as ServiceConfig['build'];
  }
  if (typeof raw.command === 'string') s.command = shellSplit(raw.command, `${where}.command`);
  if (typeof raw.entrypoint === 'string') s.entrypoint = shellSplit(raw.entrypoint, `${where}.entrypoint`);
  if (isObj(raw.healthcheck) && typeof raw.healthcheck.test === 'string') s.healthcheck = { ...raw.healthcheck, test: ['CMD-SHELL', raw.healthcheck.test] };
  if (typeof raw.tmpfs === 'string') s.tmpfs = [raw.tmpfs];
  if (raw.env_file !== undefined) {
    const files = Array.isArray(raw.env_file) ? raw.env_file : [raw.env_file];
    s.env_file = files.map((f) => (isObj(f) ? { ...f, path: absolute(String(f.path), baseDir) } : { path: absolute(String(f), baseDir), required: true }));
  }
  if (isObj(raw.extends)) {
    const e = { ...raw.extends };
    if (typeof e.file === 'string') e.file = absolute(e.file, baseDir);
    s.extends = e;
  } else if (typeof raw.extends === 'string') s.extends = { service: raw.extends };
  return s;
}
