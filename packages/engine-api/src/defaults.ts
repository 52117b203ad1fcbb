/**
 * The fields dockerd puts in its inspect and list answers, with the values it gives them when a
 * container was created without them (Engine API swagger, API 1.45: HostConfig, ContainerConfig,
 * NetworkSettings, GraphDriverData). SDKs index these answers without checking (docker-py reads
 * `HostConfig.LogConfig.Type` after every `containers.run`), so a missing key is a crash there.
 *
 * The records gantryd stores keep only what the client sent; the views fill the rest from here.
 */

import type { ContainerState } from './containers';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `value` with every key of `defaults` that it lacks (or holds as undefined) added, recursively into
 * objects present on both sides. A value the record holds (null included) wins over the default.
 */
export function withDefaults<T extends Record<string, unknown>>(value: T | undefined, defaults: Record<string, Json>): T & Record<string, unknown> {
  const out: Record<string, unknown> = { ...(value ?? {}) };
  for (const [k, d] of Object.entries(defaults)) {
    const v = out[k];
    if (v === undefined) out[k] = structuredClone(d);
    else if (isObject(v) && isObject(d)) out[k] = withDefaults(v, d as Record<string, Json>);
  }
  return out as T & Record<string, unknown>;
}

/** HostConfig of `GET /containers/{id}/json`: Resources, then the host fields, as dockerd returns them. */
export const HOST_CONFIG_DEFAULTS: Record<string, Json> = {
  Binds: null,
  ContainerIDFile: '',
  LogConfig: { Type: 'json-file', Config: {} },
  NetworkMode: 'default',
  PortBindings: {},
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
  AutoRemove: false,
  VolumeDriver: '',
  VolumesFrom: null,
  ConsoleSize: [0, 0],
  CapAdd: null,
  CapDrop: null,
  CgroupnsMode: 'private',
  Dns: [],
  DnsOptions: [],
  DnsSearch: [],
  ExtraHosts: null,
  GroupAdd: null,
  IpcMode: 'private',
  Cgroup: '',
  Links: null,
  OomScoreAdj: 0,
  PidMode: '',
  Privileged: false,
  PublishAllPorts: false,
  ReadonlyRootfs: false,
  SecurityOpt: null,
  UTSMode: '',
  UsernsMode: '',
  ShmSize: 64 * 1024 * 1024,
  Runtime: 'gantry-runtime', // gantryd's default runtime (GET /info DefaultRuntime)
  Isolation: '',
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  CgroupParent: '',
  BlkioWeight: 0,
  BlkioWeightDevice: [],
  BlkioDeviceReadBps: [],
  BlkioDeviceWriteBps: [],
  BlkioDeviceReadIOps: [],
  BlkioDeviceWriteIOps: [],
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: '',
  CpusetMems: '',
  Devices: [],
  DeviceCgroupRules: null,
  DeviceRequests: null,
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: null,
  OomKillDisable: null,
  PidsLimit: null,
  Ulimits: [],
  CpuCount: 0,
  CpuPercent: 0,
  IOMaximumIOps: 0,
  IOMaximumBandwidth: 0,
  MaskedPaths: [],
  ReadonlyPaths: [],
};

/** Config (container.Config) of `GET /containers/{id}/json`; Hostname is filled per container. */
export const CONTAINER_CONFIG_DEFAULTS: Record<string, Json> = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Image: '',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: {},
};

/** Go's zero time.Time as JSON: StartedAt/FinishedAt of a container that never ran. */
export const NULL_TIME = '0001-01-01T00:00:00Z';

const INITIAL_STATE = {
  Status: 'created' as const,
  Running: false,
  Paused: false,
  Restarting: false,
  OOMKilled: false,
  Dead: false,
  Pid: 0,
  ExitCode: 0,
  Error: '',
  StartedAt: NULL_TIME,
  FinishedAt: NULL_TIME,
};

/** State of a container just created, as `GET /containers/{id}/json` reports it (a new object each call). */
export function initialContainerState(): ContainerState {
  return { ...INITIAL_STATE };
}

/** State of `GET /containers/{id}/json`. */
export const STATE_DEFAULTS: Record<string, Json> = { ...INITIAL_STATE };

/** NetworkSettings of `GET /containers/{id}/json` (the deprecated top-level endpoint fields included). */
export const NETWORK_SETTINGS_DEFAULTS: Record<string, Json> = {
  Bridge: '',
  SandboxID: '',
  SandboxKey: '',
  Ports: {},
  HairpinMode: false,
  LinkLocalIPv6Address: '',
  LinkLocalIPv6PrefixLen: 0,
  SecondaryIPAddresses: null,
  SecondaryIPv6Addresses: null,
  EndpointID: '',
  Gateway: '',
  GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0,
  IPAddress: '',
  IPPrefixLen: 0,
  IPv6Gateway: '',
  MacAddress: '',
  Networks: {},
};

/** One entry of NetworkSettings.Networks (EndpointSettings). */
export const ENDPOINT_DEFAULTS: Record<string, Json> = {
  IPAMConfig: null,
  Links: null,
  Aliases: null,
  MacAddress: '',
  DriverOpts: null,
  NetworkID: '',
  EndpointID: '',
  Gateway: '',
  IPAddress: '',
  IPPrefixLen: 0,
  IPv6Gateway: '',
  GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0,
  DNSNames: null,
};
