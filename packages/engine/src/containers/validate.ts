import * as os from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path/posix';
import { errdefs } from '@gantry/linux';
import { isDockerSignal } from '@gantry/oci';
import { normalizeCapabilities } from './capabilities';
import { decode, S, type Schema } from './decode';
import { DEFAULT_SHM_SIZE, MIN_MEMORY, type ContainerConfig, type HostConfig } from '@gantry/engine-api';
import { checkTarget, mergeTmpfsOptions, parseBind, parseMountSpec } from './mounts';
import { parseSeccompProfile } from '@gantry/runtime';

// ---------------------------------------------------------------------------------------------
// The create body's shape (API 1.45, plus the fields newer clients send), for the decoder.
// ---------------------------------------------------------------------------------------------

const HEALTH_CONFIG = S.object('HealthConfig', {
  Test: S.strings,
  Interval: S.int64,
  Timeout: S.int64,
  StartPeriod: S.int64,
  StartInterval: S.int64,
  Retries: S.int,
});

const CONFIG_FIELDS: Record<string, Schema> = {
  Hostname: S.string,
  Domainname: S.string,
  User: S.string,
  AttachStdin: S.bool,
  AttachStdout: S.bool,
  AttachStderr: S.bool,
  ExposedPorts: S.emptySet,
  Tty: S.bool,
  OpenStdin: S.bool,
  StdinOnce: S.bool,
  Env: S.strings,
  Cmd: S.strslice,
  Healthcheck: HEALTH_CONFIG,
  ArgsEscaped: S.bool,
  Image: S.string,
  Volumes: S.emptySet,
  WorkingDir: S.string,
  Entrypoint: S.strslice,
  NetworkDisabled: S.bool,
  MacAddress: S.string,
  OnBuild: S.strings,
  Labels: S.stringMap,
  StopSignal: S.string,
  StopTimeout: S.int,
  Shell: S.strslice,
};

/** `POST /commit`'s body: a container config (moby's container.Config). */
export const CONFIG_BODY = S.object('Config', CONFIG_FIELDS);

const THROTTLE_DEVICE = S.object('ThrottleDevice', { Path: S.string, Rate: S.uint64 });

const RESOURCES_FIELDS: Record<string, Schema> = {
  CpuShares: S.int64,
  Memory: S.int64,
  NanoCpus: S.int64,
  CgroupParent: S.string,
  BlkioWeight: S.uint16,
  BlkioWeightDevice: S.array(S.object('WeightDevice', { Path: S.string, Weight: S.uint16 })),
  BlkioDeviceReadBps: S.array(THROTTLE_DEVICE),
  BlkioDeviceWriteBps: S.array(THROTTLE_DEVICE),
  BlkioDeviceReadIOps: S.array(THROTTLE_DEVICE),
  BlkioDeviceWriteIOps: S.array(THROTTLE_DEVICE),
  CpuPeriod: S.int64,
  CpuQuota: S.int64,
  CpuRealtimePeriod: S.int64,
  CpuRealtimeRuntime: S.int64,
  CpusetCpus: S.string,
  CpusetMems: S.string,
  Devices: S.array(S.object('DeviceMapping', { PathOnHost: S.string, PathInContainer: S.string, CgroupPermissions: S.string })),
  DeviceCgroupRules: S.strings,
  DeviceRequests: S.array(
    S.object('DeviceRequest', { Driver: S.string, Count: S.int, DeviceIDs: S.strings, Capabilities: S.array(S.strings), Options: S.stringMap }),
  ),
  KernelMemory: S.int64,
  KernelMemoryTCP: S.int64,
  MemoryReservation: S.int64,
  MemorySwap: S.int64,
  MemorySwappiness: S.int64,
  OomKillDisable: S.bool,
  PidsLimit: S.int64,
  Ulimits: S.array(S.object('Ulimit', { Name: S.string, Soft: S.int64, Hard: S.int64 })),
  CpuCount: S.int64,
  CpuPercent: S.int64,
  IOMaximumIOps: S.uint64,
  IOMaximumBandwidth: S.uint64,
};

const MOUNT = S.object('Mount', {
  Type: S.string,
  Source: S.string,
  Target: S.string,
  ReadOnly: S.bool,
  Consistency: S.string,
  BindOptions: S.object('BindOptions', {
    Propagation: S.string,
    NonRecursive: S.bool,
    CreateMountpoint: S.bool,
    ReadOnlyNonRecursive: S.bool,
    ReadOnlyForceRecursive: S.bool,
  }),
  VolumeOptions: S.object('VolumeOptions', {
    NoCopy: S.bool,
    Labels: S.stringMap,
    Subpath: S.string,
    DriverConfig: S.object('Driver', { Name: S.string, Options: S.stringMap }),
  }),
  ImageOptions: S.object('ImageOptions', { Subpath: S.string }),
  TmpfsOptions: S.object('TmpfsOptions', { SizeBytes: S.int64, Mode: S.uint32, Options: S.array(S.strings) }),
  ClusterOptions: S.opaque,
});

const HOST_CONFIG = S.object('HostConfig', {
  ...RESOURCES_FIELDS,
  Binds: S.strings,
  ContainerIDFile: S.string,
  LogConfig: S.object('LogConfig', { Type: S.string, Config: S.stringMap }),
  NetworkMode: S.string,
  PortBindings: S.map(S.array(S.object('PortBinding', { HostIp: S.string, HostPort: S.string }))),
  RestartPolicy: S.object('RestartPolicy', { Name: S.string, MaximumRetryCount: S.int }),
  AutoRemove: S.bool,
  VolumeDriver: S.string,
  VolumesFrom: S.strings,
  ConsoleSize: S.tuple(S.uint, 2),
  Annotations: S.stringMap,
  CapAdd: S.strslice,
  CapDrop: S.strslice,
  CgroupnsMode: S.string,
  Dns: S.strings,
  DnsOptions: S.strings,
  DnsSearch: S.strings,
  ExtraHosts: S.strings,
  GroupAdd: S.strings,
  IpcMode: S.string,
  Cgroup: S.string,
  Links: S.strings,
  OomScoreAdj: S.int,
  PidMode: S.string,
  Privileged: S.bool,
  PublishAllPorts: S.bool,
  ReadonlyRootfs: S.bool,
  SecurityOpt: S.strings,
  StorageOpt: S.stringMap,
  Tmpfs: S.stringMap,
  UTSMode: S.string,
  UsernsMode: S.string,
  ShmSize: S.int64,
  Sysctls: S.stringMap,
  Runtime: S.string,
  Isolation: S.string,
  Mounts: S.array(MOUNT),
  MaskedPaths: S.strings,
  ReadonlyPaths: S.strings,
  Init: S.bool,
});

/** `POST /containers/{id}/update`: dockerd's container.UpdateConfig (Resources + RestartPolicy). */
export const UPDATE_BODY = S.object('UpdateConfig', {
  ...RESOURCES_FIELDS,
  RestartPolicy: S.object('RestartPolicy', { Name: S.string, MaximumRetryCount: S.int }),
});

/** `POST /containers/{id}/exec`: dockerd's container.ExecOptions. */
export const EXEC_BODY = S.object('ExecConfig', {
  User: S.string,
  Privileged: S.bool,
  Tty: S.bool,
  ConsoleSize: S.tuple(S.uint, 2),
  AttachStdin: S.bool,
  AttachStderr: S.bool,
  AttachStdout: S.bool,
  Detach: S.bool,
  DetachKeys: S.string,
  Env: S.strings,
  WorkingDir: S.string,
  Cmd: S.strslice,
});

/** The EndpointSettings fields gantryd reads (network.EndpointSettings); the rest are ignored. */
const ENDPOINT_SETTINGS = S.object('EndpointSettings', {
  Aliases: S.strings,
  IPAMConfig: S.object('EndpointIPAMConfig', { IPv4Address: S.string, IPv6Address: S.string }),
});

/** `POST /exec/{id}/start`: dockerd's container.ExecStartOptions. */
export const EXEC_START_BODY = S.object('ExecStartOptions', { Detach: S.bool, Tty: S.bool, ConsoleSize: S.tuple(S.uint, 2) });

/** `POST /networks/{id}/connect`: dockerd's network.ConnectOptions. */
export const NETWORK_CONNECT_BODY = S.object('ConnectOptions', { Container: S.string, EndpointConfig: ENDPOINT_SETTINGS });

/** `POST /networks/{id}/disconnect`: dockerd's network.DisconnectOptions. */
export const NETWORK_DISCONNECT_BODY = S.object('DisconnectOptions', { Container: S.string, Force: S.bool });

const CREATE_BODY = S.object('ContainerCreateRequest', {
  ...CONFIG_FIELDS,
  HostConfig: HOST_CONFIG,
  // typed here so a mistyped endpoint is a 400 at create; the network code reads the body's own
  NetworkingConfig: S.object('NetworkingConfig', { EndpointsConfig: S.map(ENDPOINT_SETTINGS) }),
});

// ---------------------------------------------------------------------------------------------
// Security options
// ---------------------------------------------------------------------------------------------

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** "unconfined", "builtin" (Docker's default), or a profile as JSON text; absent: default. */
  seccomp?: string;
  apparmor?: string;
  labels: string[];
  writableCgroups?: boolean;
}

function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** HostConfig.SecurityOpt as dockerd reads it (`key=value`; `key:value` is the deprecated form). */
export function parseSecurityOpts(opts: readonly string[] = []): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, labels: [] };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'writable-cgroups') {
      out.writableCgroups = true;
      continue;
    }
    if (opt === 'disable') {
      out.labels.push('disable');
      continue;
    }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : undefined;
    if (sep === undefined) throw errdefs.invalidArgument(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const i = opt.indexOf(sep);
    const k = opt.slice(0, i);
    const v = opt.slice(i + 1);
    switch (k) {
      case 'label':
        out.labels.push(v);
        break;
      case 'apparmor':
        out.apparmor = v;
        break;
      case 'seccomp':
        out.seccomp = v;
        break;
      case 'no-new-privileges':
      case 'writable-cgroups': {
        const b = parseBool(v);
        if (b === undefined) throw errdefs.invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        if (k === 'no-new-privileges') out.noNewPrivileges = b;
        else out.writableCgroups = b;
        break;
      }
      default:
        throw errdefs.invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small Docker parsers
// ---------------------------------------------------------------------------------------------

/** go-units' ulimit names (RLIMIT_AS is left out by Docker). */
const ULIMIT_NAMES: ReadonlySet<string> = new Set([
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

const PORT_RANGE = /^(\d+)(?:-(\d+))?$/;

function validPortRange(s: string): boolean {
  const m = PORT_RANGE.exec(s);
  if (!m) return false;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  return start <= 65535 && end <= 65535 && start <= end;
}

/** `"c 1:3 rwm"`, `"a *:* rwm"`: a device cgroup rule as Docker's DeviceCgroupRules take it. */
export const DEVICE_CGROUP_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

const ISOLATIONS = new Set(['', 'default']);

function isContainerMode(mode: string): boolean {
  return mode.startsWith('container:');
}

// ---------------------------------------------------------------------------------------------
// validateCreate
// ---------------------------------------------------------------------------------------------

export interface ValidateOptions {
  /** CPUs available (for NanoCpus' range); default `os.availableParallelism()`. */
  cpuCount?: number;
}

export interface ValidatedCreate {
  config: ContainerConfig;
  /** With dockerd's adjustments: ShmSize defaulted to 64 MiB, MemorySwap 2 × Memory when 0. */
  hostConfig: HostConfig;
  /** The name without its leading "/", when one was given. */
  name?: string;
  /** NetworkingConfig.EndpointsConfig, decoded: only the fields gantryd reads. */
  endpoints: Record<string, { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } }>;
}

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Check a `POST /containers/create` body (and the `name` query parameter) the way dockerd does
 * before it creates anything, throwing invalid-argument (400) with dockerd's message. Unknown fields are
 * ignored as dockerd does (see decode.ts); unlike dockerd, features gantryd cannot honour yet
 * (device mappings, ...) are refused instead of ignored.
 */
export function validateCreate(body: unknown, name?: string | null, opts: ValidateOptions = {}): ValidatedCreate {
  if (body === null || body === undefined) throw errdefs.invalidArgument('config cannot be empty in order to create a container');
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw errdefs.invalidArgument(`json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type container.CreateRequest`);
  }
  const decoded = decode(body, CREATE_BODY, 'ContainerCreateRequest') as Record<string, unknown>;
  const { HostConfig: rawHost, NetworkingConfig: net, ...configFields } = decoded;
  const endpoints = ((net as { EndpointsConfig?: ValidatedCreate['endpoints'] } | undefined)?.EndpointsConfig ?? {}) as ValidatedCreate['endpoints'];
  // dockerd's Config is a pointer that stays nil when no Config field is in the body
  const hasConfig = Object.keys(body).some((k) => k.toLowerCase() !== 'hostconfig' && k.toLowerCase() !== 'networkingconfig');
  if (!hasConfig) throw errdefs.invalidArgument('config cannot be empty in order to create a container');
  const config = configFields as ContainerConfig;
  const hostConfig = { ...((rawHost as HostConfig | undefined) ?? {}) };

  if (name !== undefined && name !== null && name !== '') {
    if (!NAME.test(name)) throw errdefs.invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }

  checkRunconfig(config, hostConfig);
  checkConfig(config);
  checkHostConfig(hostConfig);
  checkPlatform(config, hostConfig, opts);
  checkGantry(hostConfig);

  // dockerd's adaptContainerSettings
  defaultMemorySwap(hostConfig);
  if (!hostConfig.ShmSize) hostConfig.ShmSize = DEFAULT_SHM_SIZE;
  if (hostConfig.MemorySwappiness === -1) delete hostConfig.MemorySwappiness;

  const out: ValidatedCreate = { config, hostConfig, endpoints };
  if (name) out.name = name.replace(/^\//, '');
  return out;
}

/** dockerd's default swap limit, twice the memory limit, when a memory limit comes without one (create and update). */
export function defaultMemorySwap(hc: HostConfig): void {
  if ((hc.Memory ?? 0) > 0 && (hc.MemorySwap ?? 0) === 0) hc.MemorySwap = hc.Memory! * 2;
}

/** runconfig's decode-time checks: network/UTS conflicts, isolation, QoS, realtime. */
function checkRunconfig(c: ContainerConfig, hc: HostConfig): void {
  const netMode = hc.NetworkMode ?? '';
  if (netMode.split(':')[0] === 'container' && !netMode.split(':')[1]) {
    throw errdefs.invalidArgument('Invalid network mode: invalid container format container:<name|id>');
  }
  if (isContainerMode(netMode)) {
    if (c.Hostname) throw errdefs.invalidArgument('conflicting options: hostname and the network mode');
    if (hc.Links?.length)
      throw errdefs.invalidArgument("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    if (hc.Dns?.length) throw errdefs.invalidArgument('conflicting options: dns and the network mode');
    if (hc.ExtraHosts?.length) throw errdefs.invalidArgument('conflicting options: custom host-to-IP mapping and the network mode');
    if (Object.keys(hc.PortBindings ?? {}).length > 0 || hc.PublishAllPorts) {
      throw errdefs.invalidArgument('conflicting options: port publishing and the container type network mode');
    }
    if (Object.keys(c.ExposedPorts ?? {}).length > 0) throw errdefs.invalidArgument('conflicting options: port exposing and the container type network mode');
  }
  if (hc.UTSMode === 'host' && c.Hostname) throw errdefs.invalidArgument('conflicting options: hostname and the UTS mode');
  if (netMode === 'host' && hc.Links?.length) {
    throw errdefs.invalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  }
  if (!ISOLATIONS.has(hc.Isolation ?? '')) throw errdefs.invalidArgument(`Invalid isolation: ${JSON.stringify(hc.Isolation)} - linux only supports 'default'`);
  if (hc.IOMaximumBandwidth) throw errdefs.invalidArgument('Invalid QoS settings: linux does not support configuration of maximum bandwidth');
  if (hc.IOMaximumIOps) throw errdefs.invalidArgument('Invalid QoS settings: linux does not support configuration of maximum IOPs');
  const rtPeriod = hc.CpuRealtimePeriod ?? 0;
  const rtRuntime = hc.CpuRealtimeRuntime ?? 0;
  if (rtPeriod !== 0 && rtRuntime !== 0 && rtRuntime > rtPeriod)
    throw errdefs.invalidArgument('cpu real-time runtime cannot be higher than cpu real-time period');
}

const MINIMUM_DURATION = 1_000_000; // 1ms in ns

/** dockerd's validateContainerConfig. */
function checkConfig(c: ContainerConfig): void {
  if (c.WorkingDir) {
    if (!path.isAbsolute(c.WorkingDir)) throw errdefs.invalidArgument(`the working directory '${c.WorkingDir}' is invalid, it needs to be an absolute path`);
    c.WorkingDir = path.normalize(c.WorkingDir).replace(/(.)\/$/, '$1');
  }
  if (c.StopSignal && !isDockerSignal(c.StopSignal)) throw errdefs.invalidArgument(`invalid signal: ${c.StopSignal}`);
  for (const e of c.Env ?? []) {
    if (e.split('=')[0] === '') throw errdefs.invalidArgument(`invalid environment variable: ${e}`);
  }
  const h = c.Healthcheck;
  if (h) {
    for (const f of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
      const v = h[f] ?? 0;
      if (v !== 0 && v < MINIMUM_DURATION) throw errdefs.invalidArgument(`${f} in Healthcheck cannot be less than 1ms`);
    }
    if ((h.Retries ?? 0) < 0) throw errdefs.invalidArgument('Retries in Healthcheck cannot be negative');
  }
}

/** dockerd's validateHostConfig. */
function checkHostConfig(hc: HostConfig): void {
  const restart = hc.RestartPolicy ?? {};
  const restartName = restart.Name ?? '';
  if (hc.AutoRemove && restartName !== '' && restartName !== 'no') throw errdefs.invalidArgument("can't create 'AutoRemove' container with restart policy");
  for (const m of hc.Mounts ?? []) {
    try {
      parseMountSpec(m);
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  }
  for (const h of hc.ExtraHosts ?? []) {
    const i = h.search(/[:=]/);
    const host = i < 0 ? '' : h.slice(0, i);
    let ip = i < 0 ? '' : h.slice(i + 1);
    if (i < 0 || host === '') throw errdefs.invalidArgument(`bad format for add-host: ${JSON.stringify(h)}`);
    if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (ip !== 'host-gateway' && net.isIP(ip) === 0) throw errdefs.invalidArgument(`invalid IP address in add-host: ${JSON.stringify(ip)}`);
  }
  for (const [port, bindings] of Object.entries(hc.PortBindings ?? {})) {
    const [num, proto] = port.split('/');
    if (!validPortRange(num ?? '') || (proto !== undefined && !['tcp', 'udp', 'sctp'].includes(proto.toLowerCase()))) {
      throw errdefs.invalidArgument(`invalid port specification: ${JSON.stringify(port)}`);
    }
    for (const b of bindings ?? []) {
      if (b.HostPort && !validPortRange(b.HostPort)) throw errdefs.invalidArgument(`invalid port specification: ${JSON.stringify(b.HostPort)}`);
    }
  }
  const retries = restart.MaximumRetryCount ?? 0;
  switch (restartName) {
    case 'always':
    case 'unless-stopped':
    case 'no':
      if (retries !== 0) {
        throw errdefs.invalidArgument(
          `invalid restart policy: maximum retry count can only be used with 'on-failure'${retries < 0 ? ' and cannot be negative' : ''}`,
        );
      }
      break;
    case 'on-failure':
      if (retries < 0) throw errdefs.invalidArgument('invalid restart policy: maximum retry count cannot be negative');
      break;
    case '':
      break;
    default:
      throw errdefs.invalidArgument(`invalid restart policy: unknown policy '${restartName}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  for (const [field, list] of [
    ['CapAdd', hc.CapAdd],
    ['CapDrop', hc.CapDrop],
  ] as const) {
    try {
      normalizeCapabilities(list ?? []);
    } catch (e) {
      throw errdefs.invalidArgument(`invalid ${field}: ${(e as Error).message}`);
    }
  }
  for (const k of Object.keys(hc.Annotations ?? {})) {
    if (k === '') throw errdefs.invalidArgument('invalid Annotations: the empty string is not permitted as an annotation key');
  }
}

/** dockerd's verifyPlatformContainerSettings (Linux), with the host facts it needs passed in. */
function checkPlatform(c: ContainerConfig, hc: HostConfig, opts: ValidateOptions): void {
  if (c.Hostname !== undefined && Buffer.byteLength(c.Hostname) > 64)
    throw errdefs.invalidArgument(`hostname ${JSON.stringify(c.Hostname)} is too long (maximum 64 bytes)`);
  const memory = hc.Memory ?? 0;
  const swap = hc.MemorySwap ?? 0;
  const reservation = hc.MemoryReservation ?? 0;
  if (memory !== 0 && memory < MIN_MEMORY) throw errdefs.invalidArgument('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap > 0 && swap < memory) throw errdefs.invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (memory === 0 && swap > 0) throw errdefs.invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  const swappiness = hc.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw errdefs.invalidArgument(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  if (reservation !== 0 && reservation < MIN_MEMORY) throw errdefs.invalidArgument('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw errdefs.invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  const nano = hc.NanoCpus ?? 0;
  const period = hc.CpuPeriod ?? 0;
  const quota = hc.CpuQuota ?? 0;
  if (nano > 0 && period > 0) throw errdefs.invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0) throw errdefs.invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano !== 0) {
    const n = opts.cpuCount ?? os.availableParallelism();
    if (nano < 0 || nano > n * 1e9) throw errdefs.invalidArgument(`range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`);
  }
  if ((hc.CpuShares ?? 0) < 0) throw errdefs.invalidArgument(`invalid CPU shares (${hc.CpuShares}): value must be a positive integer`);
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw errdefs.invalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (quota > 0 && quota < 1000) throw errdefs.invalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const weight = hc.BlkioWeight ?? 0;
  if (weight > 0 && (weight < 10 || weight > 1000)) throw errdefs.invalidArgument('Range of blkio weight is from 10 to 1000');

  const ipc = hc.IpcMode ?? '';
  if (!['', 'none', 'private', 'shareable', 'host'].includes(ipc) && !(isContainerMode(ipc) && ipc.length > 'container:'.length)) {
    throw errdefs.invalidArgument(`invalid IPC mode: ${ipc}`);
  }
  const pid = hc.PidMode ?? '';
  if (!['', 'host'].includes(pid) && !(isContainerMode(pid) && pid.length > 'container:'.length)) throw errdefs.invalidArgument(`invalid PID mode: ${pid}`);
  if ((hc.ShmSize ?? 0) < 0) throw errdefs.invalidArgument('SHM size can not be less than 0');
  if (!['', 'host'].includes(hc.UTSMode ?? '')) throw errdefs.invalidArgument(`invalid UTS mode: ${hc.UTSMode}`);
  const oom = hc.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) throw errdefs.invalidArgument(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  for (const dest of Object.keys(hc.Tmpfs ?? {})) {
    try {
      checkTarget(dest);
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  }
  if (!['', 'private', 'host'].includes(hc.CgroupnsMode ?? '')) throw errdefs.invalidArgument(`invalid cgroup namespace mode: ${hc.CgroupnsMode}`);
}

/** What dockerd checks later (at start) or not at all, and what gantryd cannot do yet: refused now. */
function checkGantry(hc: HostConfig): void {
  for (const b of hc.Binds ?? []) {
    try {
      parseBind(b);
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  }
  for (const [dest, options] of Object.entries(hc.Tmpfs ?? {})) {
    try {
      mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...(options ? options.split(',') : [])]);
    } catch (e) {
      throw errdefs.invalidArgument(`${(e as Error).message} for tmpfs ${dest}`);
    }
  }
  for (const u of hc.Ulimits ?? []) {
    if (!ULIMIT_NAMES.has(u.Name)) throw errdefs.invalidArgument(`invalid ulimit type: ${u.Name}`);
    const soft = u.Soft ?? 0;
    const hard = u.Hard ?? 0;
    if (soft === -1 && hard !== -1)
      throw errdefs.invalidArgument(`ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${hard}`);
    if (soft < -1 || hard < -1) throw errdefs.invalidArgument(`invalid ulimit value for ${u.Name}: limits must be -1 (unlimited) or non-negative`);
    if (hard !== -1 && soft > hard) throw errdefs.invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  }
  const sec = parseSecurityOpts(hc.SecurityOpt);
  if (sec.seccomp !== undefined && sec.seccomp !== 'unconfined' && sec.seccomp !== 'builtin') {
    try {
      parseSeccompProfile(sec.seccomp);
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  }
  for (const r of hc.DeviceCgroupRules ?? []) {
    if (!DEVICE_CGROUP_RULE.test(r)) throw errdefs.invalidArgument(`invalid device cgroup rule format: '${r}'`);
  }
  const unsupported: [boolean, string][] = [
    [(hc.VolumesFrom?.length ?? 0) > 0, 'VolumesFrom is not supported yet'],
    // on a user-defined network a link is a name only this container resolves (networks/dns-wiring.ts);
    // the default bridge's /etc/hosts entries and environment variables are not done
    [(hc.Links?.length ?? 0) > 0 && ['', 'default', 'bridge'].includes(hc.NetworkMode ?? ''), 'links on the default bridge network are not supported yet'],
    [Object.keys(hc.StorageOpt ?? {}).length > 0, 'storage options (HostConfig.StorageOpt) are not supported'],
    [!!hc.CgroupParent, 'CgroupParent is not supported yet'],
    [!!hc.VolumeDriver && hc.VolumeDriver !== 'local', `volume driver ${hc.VolumeDriver} is not supported`],
    [!['', 'host'].includes(hc.UsernsMode ?? ''), `invalid USER mode: ${hc.UsernsMode} (user namespace remapping is not supported)`],
    [!['', 'runc', 'io.containerd.runc.v2', 'gantry', 'gantry-runtime'].includes(hc.Runtime ?? ''), `unknown or invalid runtime name: ${hc.Runtime}`],
  ];
  for (const [bad, message] of unsupported) if (bad) throw errdefs.invalidArgument(message);
  // no device driver is installed (dockerd's are NVIDIA's and CDI): every request fails as there
  for (const req of hc.DeviceRequests ?? []) {
    const caps = `[${(req.Capabilities ?? []).map((g) => `[${g.join(' ')}]`).join(' ')}]`;
    throw errdefs.invalidArgument(`could not select device driver ${JSON.stringify(req.Driver ?? '')} with capabilities: ${caps}`);
  }
  for (const d of hc.Devices ?? []) {
    if (!d.PathOnHost) throw errdefs.invalidArgument('invalid device mapping: no host path');
    if (d.CgroupPermissions && !/^(?!.*(.).*\1)[rwm]{1,3}$/.test(d.CgroupPermissions))
      throw errdefs.invalidArgument(`invalid device mode: ${d.CgroupPermissions}`);
  }
}
