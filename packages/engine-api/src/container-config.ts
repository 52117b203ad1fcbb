/**
 * Docker Engine API types for a container's configuration (API 1.45: `ContainerConfig`, `HostConfig` =
 * `Resources` + host fields, `Mount`, `HealthConfig`), with the field names and JSON shapes of the
 * API. Fields the create request may carry but gantryd does not act on yet are typed too, so a
 * request that names them is accepted (and validated) rather than refused as unknown.
 *
 * Integers are JSON numbers (Docker's int64 fields beyond 2^53 lose precision, as in any JS client).
 * Durations (Healthcheck) are nanoseconds.
 */

/** `{"<port>/<tcp|udp|sctp>": {}}` */
export type PortSet = Record<string, Record<string, never>>;

export interface HealthConfig {
  /** `[]` inherit, `["NONE"]` disable, `["CMD", args...]`, `["CMD-SHELL", command]` */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The container's portable configuration (the top level of the create body, minus HostConfig). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: PortSet;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[];
  /** A string is taken as a one-element list (Docker's StrSlice). */
  Cmd?: string[];
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  /**
   * Absent: the image's. `[]`: none (and the image's Cmd is still used when Cmd is empty).
   * `[""]`: none. A string is taken as a one-element list.
   */
  Entrypoint?: string[];
  NetworkDisabled?: boolean;
  /** Deprecated in 1.44 (EndpointSettings.MacAddress). */
  MacAddress?: string;
  OnBuild?: string[];
  Labels?: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  Shell?: string[];
}

/** The image config fields that are defaults for a container (OCI image config / Docker's `ImageConfig`). */
export interface ImageConfigFields {
  User?: string;
  /** Keys matter, values are `{}`. */
  ExposedPorts?: Record<string, unknown>;
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  /** Keys matter, values are `{}`. */
  Volumes?: Record<string, unknown>;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  Labels?: Record<string, string>;
}

export type RestartPolicyName = '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface RestartPolicy {
  Name?: RestartPolicyName | (string & {}); // (string & {}): any string, the known names still offered by editors
  MaximumRetryCount?: number;
}

export interface LogConfig {
  Type?: string;
  Config?: Record<string, string>;
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export type PortMap = Record<string, PortBinding[] | null>;

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface DeviceMapping {
  PathOnHost?: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

export interface DeviceRequest {
  Driver?: string;
  Count?: number;
  DeviceIDs?: string[];
  Capabilities?: string[][];
  Options?: Record<string, string>;
}

export interface ThrottleDevice {
  Path?: string;
  Rate?: number;
}

export interface WeightDevice {
  Path?: string;
  Weight?: number;
}

export type MountType = 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

export interface BindOptions {
  Propagation?: Propagation | (string & {});
  NonRecursive?: boolean;
  CreateMountpoint?: boolean;
  ReadOnlyNonRecursive?: boolean;
  ReadOnlyForceRecursive?: boolean;
}

export interface VolumeOptions {
  NoCopy?: boolean;
  Labels?: Record<string, string>;
  DriverConfig?: { Name?: string; Options?: Record<string, string> };
  Subpath?: string;
}

export interface TmpfsOptions {
  /** Size in bytes. */
  SizeBytes?: number;
  /** File mode as an integer (decimal representation of the octal mode: 493 = 0755). */
  Mode?: number;
  /** Extra tmpfs options (API 1.46), `[["noexec"], ["nr_inodes", "100"]]`. */
  Options?: string[][];
}

export interface Mount {
  Target?: string;
  Source?: string;
  Type?: MountType | (string & {});
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: BindOptions;
  VolumeOptions?: VolumeOptions;
  TmpfsOptions?: TmpfsOptions;
  ImageOptions?: { Subpath?: string };
  ClusterOptions?: Record<string, unknown>;
}

/** A container's resources (cgroups config, ulimits); part of HostConfig. */
export interface Resources {
  CpuShares?: number;
  Memory?: number;
  NanoCpus?: number;
  CgroupParent?: string;
  BlkioWeight?: number;
  BlkioWeightDevice?: WeightDevice[];
  BlkioDeviceReadBps?: ThrottleDevice[];
  BlkioDeviceWriteBps?: ThrottleDevice[];
  BlkioDeviceReadIOps?: ThrottleDevice[];
  BlkioDeviceWriteIOps?: ThrottleDevice[];
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[];
  DeviceCgroupRules?: string[];
  DeviceRequests?: DeviceRequest[];
  /** Deprecated (kernel 5.4); ignored. */
  KernelMemory?: number;
  /** Ignored, as by runc. */
  KernelMemoryTCP?: number;
  MemoryReservation?: number;
  /** Memory + swap; -1 unlimited; 0 with Memory set = 2 × Memory. */
  MemorySwap?: number;
  MemorySwappiness?: number;
  OomKillDisable?: boolean;
  /** 0 or -1 unlimited; absent: unchanged. */
  PidsLimit?: number;
  Ulimits?: Ulimit[];
  CpuCount?: number;
  CpuPercent?: number;
  IOMaximumIOps?: number;
  IOMaximumBandwidth?: number;
}

/** Container configuration that depends on the host. */
export interface HostConfig extends Resources {
  /** `host-src:container-dest[:options]` (or `volume-name:container-dest[:options]`). */
  Binds?: string[];
  ContainerIDFile?: string;
  LogConfig?: LogConfig;
  /** `bridge` (default), `host`, `none`, `container:<name|id>`, or a network name. */
  NetworkMode?: string;
  PortBindings?: PortMap;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[];
  /** `[height, width]` */
  ConsoleSize?: [number, number];
  Annotations?: Record<string, string>;
  CapAdd?: string[];
  CapDrop?: string[];
  CgroupnsMode?: '' | 'private' | 'host';
  Dns?: string[];
  DnsOptions?: string[];
  DnsSearch?: string[];
  ExtraHosts?: string[];
  GroupAdd?: string[];
  /** `none`, `private`, `shareable`, `container:<name|id>`, `host`; default private. */
  IpcMode?: string;
  Cgroup?: string;
  Links?: string[];
  OomScoreAdj?: number;
  /** `host` or `container:<name|id>`; default a private namespace. */
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[];
  StorageOpt?: Record<string, string>;
  /** container path → tmpfs options (`"rw,noexec,nosuid,size=65536k"`) */
  Tmpfs?: Record<string, string>;
  UTSMode?: string;
  UsernsMode?: string;
  /** /dev/shm size in bytes; 0 = 64 MiB. */
  ShmSize?: number;
  Sysctls?: Record<string, string>;
  Runtime?: string;
  Isolation?: '' | 'default' | 'process' | 'hyperv' | (string & {});
  Mounts?: Mount[];
  /** Replaces the default masked paths when present (even empty). */
  MaskedPaths?: string[];
  /** Replaces the default read-only paths when present (even empty). */
  ReadonlyPaths?: string[];
  Init?: boolean;
}

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
/** Docker's `linuxMinMemory`. */
export const MIN_MEMORY = 6 * 1024 * 1024;
