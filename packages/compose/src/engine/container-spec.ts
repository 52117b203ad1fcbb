/** A service as the Engine API's container create request, with Compose's labels. */
import type { ContainerCreateRequest, EndpointSettings, HostConfig, PortMap } from '@gantry/client';
import type { Project, ServiceConfig } from '../model';
import { parseDuration } from '../units';
import { COMPOSE_VERSION, LABEL } from './labels';

export interface SpecOptions {
  number: number;
  hash: string;
  oneoff?: boolean;
  imageId?: string;
  /** `run`: the command instead of the service's. */
  command?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  /** `run --service-ports`: publish the service's ports (default for services, not one-offs). */
  publish?: boolean;
  user?: string;
  workdir?: string;
}

function restartPolicy(r: string | undefined): HostConfig['RestartPolicy'] {
  if (r === undefined || r === 'no') return undefined;
  const [name = '', count] = r.split(':');
  return { Name: name, MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

/** The networks a service joins, the first one given at create time (the rest connected after). */
export function serviceNetworks(p: Project, name: string, s: ServiceConfig): { network: string; endpoint: EndpointSettings }[] {
  return Object.entries(s.networks ?? {}).map(([key, cfg]) => ({
    network: p.networks[key]?.name ?? key,
    endpoint: {
      Aliases: [name, ...(cfg?.aliases ?? [])],
      ...(cfg?.ipv4_address !== undefined || cfg?.ipv6_address !== undefined
        ? { IPAMConfig: { IPv4Address: cfg.ipv4_address, IPv6Address: cfg.ipv6_address } }
        : {}),
    },
  }));
}

function projectLabels(p: Project): Record<string, string> {
  return {
    [LABEL.project]: p.name,
    [LABEL.workingDir]: p.workingDir,
    [LABEL.configFiles]: p.configFiles.join(','),
    [LABEL.version]: COMPOSE_VERSION,
  };
}

export function containerSpec(p: Project, name: string, s: ServiceConfig, o: SpecOptions): ContainerCreateRequest {
  const where = `services.${name}`;
  const env = { ...(s.environment ?? {}), ...(o.env ?? {}) };
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: PortMap = {};
  for (const e of s.expose ?? []) exposed[e.includes('/') ? e : `${e}/tcp`] = {};
  if (o.publish !== false)
    for (const port of s.ports ?? []) {
      const key = `${port.target}/${port.protocol ?? 'tcp'}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: port.host_ip ?? '', HostPort: port.published ?? '' });
    }
  const binds: string[] = [];
  const anonymous: Record<string, Record<string, never>> = {};
  const tmpfs: Record<string, string> = {};
  for (const v of s.volumes ?? []) {
    const ro = v.read_only === true ? ':ro' : '';
    if (v.type === 'tmpfs') tmpfs[v.target] = v.tmpfs?.size === undefined ? '' : `size=${v.tmpfs.size}`;
    else if (v.type === 'volume' && (v.source === undefined || v.source === '')) anonymous[v.target] = {};
    else if (v.type === 'volume')
      binds.push(`${p.volumes[v.source ?? '']?.name ?? v.source}:${v.target}${ro}${v.volume?.nocopy === true ? (ro ? ',nocopy' : ':nocopy') : ''}`);
    else binds.push(`${v.source}:${v.target}${ro}`);
  }
  for (const t of s.tmpfs ?? []) {
    const [target = '', opts = ''] = t.split(':');
    tmpfs[target] = opts;
  }
  const limits = s.deploy?.resources?.limits;
  const cpus = limits?.cpus ?? s.cpus;
  const memory = limits?.memory ?? (typeof s.mem_limit === 'number' ? s.mem_limit : undefined);
  const nets = serviceNetworks(p, name, s);
  const first = nets[0];
  const dependsOn = Object.entries(s.depends_on ?? {})
    .map(([d, c]) => `${d}:${c.condition}:${c.restart === true}`)
    .join(',');
  const h = s.healthcheck;
  const ns = (v: string | undefined, k: string) => (v === undefined ? undefined : parseDuration(v, `${where}.healthcheck.${k}`));
  const host: HostConfig = {
    Binds: binds.length > 0 ? binds : undefined,
    PortBindings: Object.keys(bindings).length > 0 ? bindings : undefined,
    NetworkMode: s.network_mode ?? first?.network,
    RestartPolicy: restartPolicy(s.restart),
    Init: s.init,
    Privileged: s.privileged,
    ReadonlyRootfs: s.read_only,
    CapAdd: s.cap_add,
    CapDrop: s.cap_drop,
    Dns: s.dns,
    ExtraHosts: s.extra_hosts?.map((e) => e.replace(/^([^=:]+)=/, '$1:')),
    Tmpfs: Object.keys(tmpfs).length > 0 ? tmpfs : undefined,
    Memory: memory,
    NanoCpus: cpus === undefined ? undefined : Math.round(Number(cpus) * 1e9),
    PidsLimit: limits?.pids,
  };
  return {
    Image: s.image,
    Cmd: o.command ?? s.command ?? undefined,
    Entrypoint: o.entrypoint ?? s.entrypoint ?? undefined,
    Env: Object.entries(env).map(([k, v]) => (v === null ? k : `${k}=${v}`)),
    User: o.user ?? s.user,
    WorkingDir: o.workdir ?? s.working_dir,
    Hostname: s.hostname,
    Tty: s.tty,
    OpenStdin: s.stdin_open,
    ExposedPorts: Object.keys(exposed).length > 0 ? exposed : undefined,
    Volumes: Object.keys(anonymous).length > 0 ? anonymous : undefined,
    StopSignal: s.stop_signal,
    StopTimeout: s.stop_grace_period === undefined ? undefined : Math.ceil(parseDuration(s.stop_grace_period, `${where}.stop_grace_period`) / 1e9),
    Healthcheck:
      h === undefined
        ? undefined
        : h.disable === true
          ? { Test: ['NONE'] }
          : {
              Test: h.test,
              Interval: ns(h.interval, 'interval'),
              Timeout: ns(h.timeout, 'timeout'),
              StartPeriod: ns(h.start_period, 'start_period'),
              StartInterval: ns(h.start_interval, 'start_interval'),
              Retries: h.retries,
            },
    Labels: {
      ...(s.labels ?? {}),
      ...projectLabels(p),
      [LABEL.service]: name,
      [LABEL.number]: String(o.number),
      [LABEL.oneoff]: o.oneoff === true ? 'True' : 'False',
      [LABEL.hash]: o.hash,
      ...(o.imageId === undefined ? {} : { [LABEL.image]: o.imageId }),
      ...(dependsOn === '' ? {} : { [LABEL.dependsOn]: dependsOn }),
    },
    HostConfig: host,
    NetworkingConfig: first === undefined || s.network_mode !== undefined ? undefined : { EndpointsConfig: { [first.network]: first.endpoint } },
  };
}
