/** The resolved Compose model: what `config` prints and what the engine side reads. */

export interface PortConfig {
  mode?: string;
  host_ip?: string;
  target: number;
  /** A port or a range ("8000-8010"); absent: an ephemeral port. */
  published?: string;
  protocol?: string;
  name?: string;
  app_protocol?: string;
}

export interface VolumeMount {
  type: string;
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: string };
  volume?: { nocopy?: boolean; subpath?: string };
  tmpfs?: { size?: number | string; mode?: number | string };
}

export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface DependsOn {
  condition: DependsCondition;
  required?: boolean;
  restart?: boolean;
}

export interface Healthcheck {
  test?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  start_interval?: string;
  disable?: boolean;
}

export interface BuildConfig {
  context: string;
  dockerfile?: string;
  args?: Record<string, string | null>;
  target?: string;
  labels?: Record<string, string>;
  network?: string;
  no_cache?: boolean;
  pull?: boolean;
  [key: string]: unknown;
}

export interface ServiceNetwork {
  aliases?: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  [key: string]: unknown;
}

export interface ResourceLimits {
  cpus?: string | number;
  memory?: number;
  pids?: number;
}

export interface Deploy {
  replicas?: number;
  resources?: { limits?: ResourceLimits; reservations?: ResourceLimits & Record<string, unknown> };
  [key: string]: unknown;
}

export interface ServiceConfig {
  image?: string;
  build?: BuildConfig;
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment?: Record<string, string | null>;
  env_file?: unknown;
  ports?: PortConfig[];
  expose?: string[];
  volumes?: VolumeMount[];
  networks?: Record<string, ServiceNetwork | null>;
  network_mode?: string;
  depends_on?: Record<string, DependsOn>;
  healthcheck?: Healthcheck;
  restart?: string;
  labels?: Record<string, string>;
  user?: string;
  working_dir?: string;
  deploy?: Deploy;
  scale?: number;
  stop_grace_period?: string;
  stop_signal?: string;
  init?: boolean;
  profiles?: string[];
  container_name?: string;
  hostname?: string;
  tmpfs?: string[];
  extra_hosts?: string[];
  tty?: boolean;
  stdin_open?: boolean;
  privileged?: boolean;
  read_only?: boolean;
  cap_add?: string[];
  cap_drop?: string[];
  dns?: string[];
  mem_limit?: number | string;
  cpus?: number | string;
  pull_policy?: string;
  extends?: unknown;
  [key: string]: unknown;
}

export interface NetworkConfig {
  name?: string;
  driver?: string;
  driver_opts?: Record<string, string>;
  ipam?: { driver?: string; config?: { subnet?: string; gateway?: string; ip_range?: string }[]; options?: Record<string, string> };
  external?: boolean;
  internal?: boolean;
  attachable?: boolean;
  enable_ipv6?: boolean;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface VolumeConfig {
  name?: string;
  driver?: string;
  driver_opts?: Record<string, string>;
  external?: boolean;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface Project {
  name: string;
  /** The project directory: relative paths are resolved against it. */
  workingDir: string;
  configFiles: string[];
  services: Record<string, ServiceConfig>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  /** Services left out by profiles. */
  disabledServices: Record<string, ServiceConfig>;
  /** Top-level keys passed through unchanged (secrets, configs, x-*). */
  extra: Record<string, unknown>;
}
