import type { BlockIOResources, Device, DeviceCgroupRule, Linux, Mount, Namespace, Process, Resources, Rlimit, Seccomp, Spec } from '@gantry/runtime';
import { errdefs } from '@gantry/linux';
import { containerCapabilities } from './capabilities';
import { DEFAULT_SHM_SIZE, type ContainerConfig, type HostConfig, type ImageConfigFields } from '@gantry/engine-api';
import { parseBind, parseMountSpec, sortMounts, toOciMount, type UserMount } from './mounts';
import { defaultSeccompProfile, parseSeccompProfile, resolveSeccompProfile } from '@gantry/runtime';
import { DEVICE_CGROUP_RULE, parseSecurityOpts } from './validate';
import type { DeviceLookup } from './devices';

export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Where dockerd mounts its init (`--init`) inside the container. */
export const CONTAINER_INIT_PATH = '/sbin/docker-init';
/**
 * An rlimit of -1 (unlimited). JSON cannot carry 2^64-1 exactly; gantry-runtime reads anything
 * at or above 2^63 as RLIM_INFINITY, and the value still fits a Go uint64 for runc.
 */
export const RLIM_UNLIMITED = 2 ** 63;

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (from the image's /etc/group). */
  additionalGids: number[];
}

export interface BuildSpecInput {
  /** The container id (64 hex digits); its first 12 characters are the default hostname. */
  id: string;
  /** The create request's Config (validated). */
  config: ContainerConfig;
  hostConfig: HostConfig;
  image: { config?: ImageConfigFields };
  /** root.path: the rootfs (relative to the bundle: 'rootfs' when containerd mounts it there). */
  rootfsPath: string;
  /** The hostname decided by the engine (the host's for `--network host`, ...); default Config.Hostname or id[:12]. */
  hostname?: string;
  /** Host paths bind-mounted over /etc/hosts, /etc/resolv.conf and /etc/hostname. */
  etcFiles?: { hosts?: string; resolvConf?: string; hostname?: string };
  /** Resolves Config.User ("uid", "uid:gid", "name", "name:group") against the image's /etc/passwd and /etc/group. */
  resolveUser?: (user: string) => ResolvedUser;
  /** Resolves a HostConfig.GroupAdd name against the image's /etc/group. */
  resolveGroup?: (group: string) => number;
  /** Joining another container's namespace (`container:<ref>` modes): the namespace file to join. */
  namespacePath?: (type: 'network' | 'ipc' | 'pid', container: string) => string;
  /** The container's own network namespace, made and wired by the engine before the task starts. */
  networkNamespacePath?: string;
  /** Host cgroup version: decides the default cgroup namespace mode (v2: private, v1: host). Default 2. */
  cgroupVersion?: 1 | 2;
  /** Host architecture as Node names it (`process.arch`), for the seccomp profile. */
  arch?: string;
  /** Host kernel release (`os.release()`), for the seccomp profile's kernel conditions. */
  kernel?: string;
  /** The runtime can make binds recursively read-only (`rro`); default false (plain `ro`). */
  recursiveReadOnly?: boolean;
  /** Host path of the init binary for HostConfig.Init (docker-init / tini). */
  initPath?: string;
  /** The daemon's --init: an init for containers whose HostConfig.Init is unset. */
  defaultInit?: boolean;
  /** Host device nodes: `--device` mappings, a privileged container's /dev, blkio device numbers. */
  devices?: DeviceLookup;
  /** Host path of the volume planned at a destination (named and anonymous volumes of Binds and Mounts). */
  volumeSource?: (destination: string) => string | undefined;
  /** Anonymous volumes of Config.Volumes (the image's VOLUMEs, `-v /path`), already resolved to binds. */
  configVolumes?: UserMount[];
}

/** Whether an init runs as pid 1: HostConfig.Init, else the daemon's --init; only in a private pid namespace (dockerd's rule). */
function withInit(input: BuildSpecInput): boolean {
  const hc = input.hostConfig;
  return (hc.Init ?? input.defaultInit ?? false) && !(hc.PidMode ?? '');
}

/** A volume mount as the bind of its host directory; 400 when the engine planned none. */
function resolveVolume(input: BuildSpecInput, m: UserMount): UserMount {
  if (m.kind !== 'volume') return m;
  const source = input.volumeSource?.(m.destination);
  if (!source) throw errdefs.invalidArgument(`invalid mount config for type "volume": no volume planned for ${m.destination}`);
  return { ...m, kind: 'bind', source, propagation: 'rprivate' };
}

// ---------------------------------------------------------------------------------------------
// Config: image defaults, command, environment
// ---------------------------------------------------------------------------------------------

/**
 * The container's Config with the image's defaults filled in, as dockerd stores it: User,
 * WorkingDir, StopSignal, Healthcheck fields when unset; Env and Labels and ExposedPorts and
 * Volumes merged (the request's win); Entrypoint and Cmd by Docker's override rules, with an
 * Entrypoint of `[""]` meaning none.
 */
export function mergeImageConfig(config: ContainerConfig, image: ImageConfigFields = {}): ContainerConfig {
  const out: ContainerConfig = { ...config };
  if (!out.User && image.User) out.User = image.User;
  if (!out.WorkingDir && image.WorkingDir) out.WorkingDir = image.WorkingDir;
  if (!out.StopSignal && image.StopSignal) out.StopSignal = image.StopSignal;
  const keys = (o: Record<string, unknown> | undefined) => Object.fromEntries(Object.keys(o ?? {}).map((k) => [k, {}]));
  out.ExposedPorts = { ...keys(image.ExposedPorts), ...keys(config.ExposedPorts) };
  out.Volumes = { ...keys(image.Volumes), ...keys(config.Volumes) };
  out.Labels = { ...(image.Labels ?? {}), ...(config.Labels ?? {}) };
  if (!config.Env?.length) out.Env = [...(image.Env ?? [])];
  else {
    const given = new Set(config.Env.map((e) => e.split('=')[0]));
    out.Env = [...config.Env, ...(image.Env ?? []).filter((e) => !given.has(e.split('=')[0]))];
  }
  if (!config.Entrypoint?.length) {
    if (!config.Cmd?.length && image.Cmd) out.Cmd = [...image.Cmd];
    if (config.Entrypoint === undefined && image.Entrypoint) out.Entrypoint = [...image.Entrypoint];
  }
  if (out.Entrypoint?.length === 1 && out.Entrypoint[0] === '') delete out.Entrypoint;
  if (image.Healthcheck) {
    if (!config.Healthcheck) out.Healthcheck = { ...image.Healthcheck };
    else {
      const h = { ...config.Healthcheck };
      if (!h.Test?.length && image.Healthcheck.Test) h.Test = image.Healthcheck.Test;
      for (const f of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
        if (!h[f] && image.Healthcheck[f]) h[f] = image.Healthcheck[f];
      }
      out.Healthcheck = h;
    }
  }
  return out;
}

/** The process' argv: Entrypoint + Cmd of the merged config; 400 "no command specified" when empty. */
export function commandLine(merged: ContainerConfig): string[] {
  const args = [...(merged.Entrypoint ?? []), ...(merged.Cmd ?? [])];
  if (args.length === 0) throw errdefs.invalidArgument('no command specified');
  return args;
}

/** Docker's env override: `KEY=v` replaces or appends, a bare `KEY` removes. */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const env: (string | undefined)[] = [...defaults];
  const index = new Map<string, number>();
  env.forEach((e, i) => index.set(e!.split('=')[0]!, i));
  for (const v of overrides) {
    const eq = v.indexOf('=');
    if (eq < 0) {
      const i = index.get(v);
      if (i !== undefined) env[i] = undefined;
      continue;
    }
    const i = index.get(v.slice(0, eq));
    if (i !== undefined) env[i] = v;
    else {
      index.set(v.slice(0, eq), env.length);
      env.push(v);
    }
  }
  return env.filter((e): e is string => e !== undefined);
}

function resolveProcessUser(input: BuildSpecInput, user: string): Process['user'] {
  let resolved: ResolvedUser;
  if (input.resolveUser) {
    try {
      resolved = input.resolveUser(user);
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  } else {
    const m = /^(\d*)(?::(\d+))?$/.exec(user);
    if (!m) throw errdefs.invalidArgument(`unable to find user ${user.split(':')[0]}: no matching entries in passwd file`);
    resolved = { uid: m[1] ? Number(m[1]) : 0, gid: m[2] ? Number(m[2]) : 0, additionalGids: [] };
  }
  const groups = (input.hostConfig.GroupAdd ?? []).map((g) => {
    if (/^\d+$/.test(g)) return Number(g);
    if (!input.resolveGroup) throw errdefs.invalidArgument(`Unable to find group ${g}: no matching entries in group file`);
    try {
      return input.resolveGroup(g);
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  });
  return { uid: resolved.uid, gid: resolved.gid, additionalGids: [...new Set([resolved.gid, ...resolved.additionalGids, ...groups])] };
}

function rlimits(hc: HostConfig): Rlimit[] | undefined {
  if (!hc.Ulimits?.length) return undefined;
  const value = (v: number) => (v < 0 ? RLIM_UNLIMITED : v);
  return hc.Ulimits.map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: value(u.Soft ?? 0), hard: value(u.Hard ?? 0) }));
}

// ---------------------------------------------------------------------------------------------
// Mounts
// ---------------------------------------------------------------------------------------------

/** dockerd's default mounts (oci.DefaultLinuxSpec), /dev/shm without its size. */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

/** The container's own mounts (Binds, Mounts, Tmpfs, /etc files), Docker-side, in Docker's order. */
function userMounts(input: BuildSpecInput): UserMount[] {
  const hc = input.hostConfig;
  const out: UserMount[] = [];
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  };
  for (const b of hc.Binds ?? [])
    out.push(
      resolveVolume(
        input,
        wrap(() => parseBind(b)),
      ),
    );
  for (const m of hc.Mounts ?? [])
    out.push(
      resolveVolume(
        input,
        wrap(() => parseMountSpec(m)),
      ),
    );
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) {
    out.push({ destination: dest, source: 'tmpfs', kind: 'tmpfs', writable: true, data });
  }
  const taken = new Set(out.map((m) => m.destination));
  const dup = out.find((m, i) => out.findIndex((o) => o.destination === m.destination) !== i);
  if (dup) throw errdefs.invalidArgument(`Duplicate mount point: ${dup.destination}`);
  for (const v of input.configVolumes ?? []) {
    if (taken.has(v.destination)) continue;
    taken.add(v.destination);
    out.push(v);
  }
  const etc: [string | undefined, string][] = [
    [input.etcFiles?.resolvConf, '/etc/resolv.conf'],
    [input.etcFiles?.hostname, '/etc/hostname'],
    [input.etcFiles?.hosts, '/etc/hosts'],
  ];
  for (const [source, destination] of etc) {
    if (source && !taken.has(destination)) {
      out.push({ destination, source, kind: 'bind', writable: !hc.ReadonlyRootfs, propagation: 'rprivate' });
    }
  }
  return sortMounts(out);
}

function clearReadOnly(m: Mount): void {
  m.options = (m.options ?? []).filter((o) => o !== 'ro');
}

function buildMounts(input: BuildSpecInput, privileged: boolean, writableCgroups: boolean): Mount[] {
  const hc = input.hostConfig;
  const user = userMounts(input);
  const userDest = new Set(user.map((m) => m.destination));
  const ipc = hc.IpcMode ?? '';
  const mounts: Mount[] = [];
  for (const m of defaultMounts()) {
    if (userDest.has(m.destination)) continue;
    if (userDest.has('/dev') && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (ipc === 'none') continue;
      if (ipc === 'host') {
        mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
        continue;
      }
      m.options = [...(m.options ?? []), `size=${hc.ShmSize || DEFAULT_SHM_SIZE}`];
    }
    mounts.push(m);
  }
  if (withInit(input)) {
    if (!input.initPath)
      throw errdefs.invalidArgument(
        'HostConfig.Init: gantryd found no init binary (docker-init on PATH, or its --init-path): install tini, whose tini-static Debian links as docker-init',
      );
    if (!userDest.has(CONTAINER_INIT_PATH)) mounts.push({ destination: CONTAINER_INIT_PATH, type: 'bind', source: input.initPath, options: ['bind', 'ro'] });
  }
  for (const m of user) {
    try {
      mounts.push(toOciMount(m, input.recursiveReadOnly ?? false));
    } catch (e) {
      throw errdefs.invalidArgument((e as Error).message);
    }
  }
  if (hc.ReadonlyRootfs) {
    const keepWritable = new Set(['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev']);
    for (const m of mounts) {
      if (keepWritable.has(m.destination) || userDest.has(m.destination)) continue;
      if (!(m.options ?? []).includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  }
  if (privileged) for (const m of mounts) if (m.destination === '/sys') clearReadOnly(m);
  if (writableCgroups) for (const m of mounts) if (m.type === 'cgroup') clearReadOnly(m);
  return mounts;
}

// ---------------------------------------------------------------------------------------------
// Linux: namespaces, resources, paths
// ---------------------------------------------------------------------------------------------

/** dockerd's default device cgroup rules: deny all, then null, zero, full, random, urandom, tty, console; deny fuse. */
export function defaultDeviceRules(): DeviceCgroupRule[] {
  return [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ];
}

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function namespaces(input: BuildSpecInput): Namespace[] {
  const hc = input.hostConfig;
  const join = (type: 'network' | 'ipc' | 'pid', mode: string): Namespace => {
    const ref = mode.slice('container:'.length);
    if (!input.namespacePath) throw errdefs.invalidArgument(`joining another container's ${type} namespace (${mode}) is not supported yet`);
    try {
      return { type, path: input.namespacePath(type, ref) };
    } catch (e) {
      throw errdefs.invalidArgument(`failed to join ${type.toUpperCase()} namespace: ${(e as Error).message}`);
    }
  };
  const list: Namespace[] = [{ type: 'mount' }];
  const net = hc.NetworkMode ?? '';
  if (net.startsWith('container:') && !input.config.NetworkDisabled) list.push(join('network', net));
  else if (net !== 'host' || input.config.NetworkDisabled)
    list.push(input.networkNamespacePath && !input.config.NetworkDisabled ? { type: 'network', path: input.networkNamespacePath } : { type: 'network' });
  if (hc.UTSMode !== 'host') list.push({ type: 'uts' });
  const pid = hc.PidMode ?? '';
  if (pid.startsWith('container:')) list.push(join('pid', pid));
  else if (pid !== 'host') list.push({ type: 'pid' });
  const ipc = hc.IpcMode ?? '';
  if (ipc.startsWith('container:')) list.push(join('ipc', ipc));
  else if (ipc !== 'host') list.push({ type: 'ipc' });
  const cgroupns = hc.CgroupnsMode || ((input.cgroupVersion ?? 2) === 2 ? 'private' : 'host');
  if (cgroupns === 'private') list.push({ type: 'cgroup' });
  return list;
}

function lookup(input: BuildSpecInput): DeviceLookup {
  if (!input.devices) throw errdefs.invalidArgument('host devices cannot be looked up here');
  return input.devices;
}

/** HostConfig.Devices as nodes in the container and the cgroup rules that let it use them (dockerd's order). */
function mappedDevices(input: BuildSpecInput): { devices: Device[]; rules: DeviceCgroupRule[] } {
  const devices: Device[] = [];
  const rules: DeviceCgroupRule[] = [];
  for (const m of input.hostConfig.Devices ?? []) {
    const access = m.CgroupPermissions || 'rwm';
    for (const d of lookup(input).mapped(m.PathOnHost ?? '', m.PathInContainer || (m.PathOnHost ?? ''))) {
      devices.push(d);
      rules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access });
    }
  }
  return { devices, rules };
}

function resources(input: BuildSpecInput, privileged: boolean, cgroupVersion: 1 | 2, mapped: DeviceCgroupRule[]): Resources {
  const hc = input.hostConfig;
  const r: Resources = {};
  if (privileged) r.devices = [{ allow: true, access: 'rwm' }];
  else {
    r.devices = [...defaultDeviceRules(), ...mapped];
    for (const rule of hc.DeviceCgroupRules ?? []) {
      const m = DEVICE_CGROUP_RULE.exec(rule);
      if (!m) throw errdefs.invalidArgument(`invalid device cgroup rule format: '${rule}'`);
      const num = (s: string) => (s === '*' ? null : Number(s));
      r.devices.push({ allow: true, type: m[1]!, major: num(m[2]!), minor: num(m[3]!), access: m[4]! });
    }
  }
  return { ...r, ...cgroupResources(hc, cgroupVersion, input.devices) };
}

/**
 * HostConfig's memory, CPU, pids and blkio limits as OCI resources: what a create puts in the spec
 * and what `docker update` sends the running task (containers/update.ts), so both apply the same
 * values. As dockerd: swap 2 × Memory when unset, -1 (unlimited) passed on, NanoCpus as a quota
 * over a 100 ms period (truncated).
 */
export function cgroupResources(hc: HostConfig, cgroupVersion: 1 | 2 = 2, devices?: DeviceLookup): Omit<Resources, 'devices'> {
  const r: Omit<Resources, 'devices'> = {};
  const memory: NonNullable<Resources['memory']> = {};
  const mem = hc.Memory ?? 0;
  let swap = hc.MemorySwap ?? 0;
  if (mem > 0 && swap === 0) swap = mem * 2;
  if (mem > 0) memory.limit = mem;
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation;
  // -1 is sent too: an update to unlimited swap must lift the limit a create or update set
  if (swap > 0 || swap === -1) memory.swap = swap;
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== -1) memory.swappiness = hc.MemorySwappiness;
  // cgroup v2 has no OOM-killer switch: dockerd discards the option there
  if (hc.OomKillDisable !== undefined && cgroupVersion === 1) memory.disableOOMKiller = hc.OomKillDisable;
  if (Object.keys(memory).length > 0) r.memory = memory;

  const cpu: NonNullable<Resources['cpu']> = {};
  if (hc.CpuShares) cpu.shares = hc.CpuShares;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if ((hc.NanoCpus ?? 0) > 0) {
    const period = 100000;
    cpu.period = period;
    cpu.quota = Math.trunc((hc.NanoCpus! * period) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpuRealtimePeriod) cpu.realtimePeriod = hc.CpuRealtimePeriod;
  if (hc.CpuRealtimeRuntime) cpu.realtimeRuntime = hc.CpuRealtimeRuntime;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;

  if (hc.PidsLimit !== undefined) r.pids = { limit: hc.PidsLimit <= 0 ? -1 : hc.PidsLimit };
  const blockIO = blkio(hc, devices);
  if (blockIO) r.blockIO = blockIO;
  return r;
}

/** BlkioWeight and the per-device weights and throttles, keyed by the devices' major:minor. */
function blkio(hc: HostConfig, devices: DeviceLookup | undefined): BlockIOResources | undefined {
  const b: BlockIOResources = {};
  if (hc.BlkioWeight) b.weight = hc.BlkioWeight;
  const numbers = (p: string) => {
    if (!devices) throw errdefs.invalidArgument('per-device blkio limits need the host devices');
    return devices.numbers(p);
  };
  if (hc.BlkioWeightDevice?.length) b.weightDevice = hc.BlkioWeightDevice.map((d) => ({ ...numbers(d.Path ?? ''), weight: d.Weight }));
  const throttles: [keyof BlockIOResources, HostConfig['BlkioDeviceReadBps']][] = [
    ['throttleReadBpsDevice', hc.BlkioDeviceReadBps],
    ['throttleWriteBpsDevice', hc.BlkioDeviceWriteBps],
    ['throttleReadIOPSDevice', hc.BlkioDeviceReadIOps],
    ['throttleWriteIOPSDevice', hc.BlkioDeviceWriteIOps],
  ];
  for (const [key, list] of throttles) {
    if (list?.length) (b as Record<string, unknown>)[key] = list.map((d) => ({ ...numbers(d.Path ?? ''), rate: d.Rate }));
  }
  return Object.keys(b).length > 0 ? b : undefined;
}

function seccompFor(profile: string | undefined, privileged: boolean, caps: string[], input: BuildSpecInput): Seccomp | undefined {
  if (profile === 'unconfined') return undefined;
  const ctx = { capabilities: caps, arch: input.arch, kernel: input.kernel };
  const custom = profile !== undefined && profile !== 'builtin' ? profile : undefined;
  if (privileged && custom === undefined) return undefined;
  if (custom === undefined) return defaultSeccompProfile(ctx);
  try {
    return resolveSeccompProfile(parseSeccompProfile(custom), ctx);
  } catch (e) {
    throw errdefs.invalidArgument((e as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------
// buildSpec
// ---------------------------------------------------------------------------------------------

/**
 * The OCI runtime spec dockerd would hand its runtime for this container (moby's createSpec on
 * Linux): Docker's default spec, the image's defaults under the request's Config, HostConfig's
 * resources, mounts, namespaces and security settings. Pure: host facts come in `input`.
 * cgroupsPath is left unset (gantry-containerd sets /<namespace>/<id>). Throws invalid-argument (400) for a
 * request it cannot turn into a spec.
 */
export function buildSpec(input: BuildSpecInput): Spec {
  const hc = input.hostConfig;
  const merged = mergeImageConfig(input.config, input.image.config);
  let args = commandLine(merged);
  const privileged = hc.Privileged ?? false;
  const sec = parseSecurityOpts(hc.SecurityOpt);
  const hostname = input.hostname || merged.Hostname || input.id.slice(0, 12);
  const utsHost = hc.UTSMode === 'host';

  if (withInit(input)) args = [CONTAINER_INIT_PATH, '--', ...args];

  const caps = containerCapabilities(hc.CapAdd, hc.CapDrop, privileged);
  const envDefaults = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${hostname}`, ...(merged.Tty ? ['TERM=xterm'] : [])];
  const proc: Process = {
    terminal: merged.Tty ?? false,
    user: resolveProcessUser(input, merged.User ?? ''),
    args,
    env: replaceOrAppendEnv(envDefaults, merged.Env ?? []),
    cwd: merged.WorkingDir || '/',
    capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
    oomScoreAdj: hc.OomScoreAdj ?? 0,
  };
  const rl = rlimits(hc);
  if (rl) proc.rlimits = rl;
  if (sec.noNewPrivileges) proc.noNewPrivileges = true;
  if (merged.Tty && hc.ConsoleSize && (hc.ConsoleSize[0] > 0 || hc.ConsoleSize[1] > 0)) {
    proc.consoleSize = { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] };
  }

  const cgroupVersion = input.cgroupVersion ?? 2;
  const writableCgroups = sec.writableCgroups ?? privileged;
  const net = hc.NetworkMode ?? '';
  const sysctl: Record<string, string> = {};
  if (net !== 'host' && !net.startsWith('container:')) {
    // dockerd's defaults for a container with its own network namespace
    sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  if (merged.Domainname) sysctl['kernel.domainname'] = merged.Domainname;
  Object.assign(sysctl, hc.Sysctls ?? {});

  const mapped = mappedDevices(input);
  const linux: Linux = {
    namespaces: namespaces(input),
    devices: [...(privileged ? (input.devices?.host() ?? []) : []), ...mapped.devices],
    resources: resources(input, privileged, cgroupVersion, mapped.rules),
    maskedPaths: hc.MaskedPaths ? [...hc.MaskedPaths] : privileged ? [] : [...DEFAULT_MASKED_PATHS],
    readonlyPaths: hc.ReadonlyPaths ? [...hc.ReadonlyPaths] : privileged ? [] : [...DEFAULT_READONLY_PATHS],
  };
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;
  const seccomp = seccompFor(sec.seccomp, privileged, caps, input);
  if (seccomp) linux.seccomp = seccomp;

  const spec: Spec = {
    ociVersion: '1.0.2-dev',
    process: proc,
    root: { path: input.rootfsPath, readonly: hc.ReadonlyRootfs ?? false },
    mounts: buildMounts(input, privileged, writableCgroups),
    linux,
  };
  if (!utsHost) spec.hostname = hostname;
  return spec;
}
