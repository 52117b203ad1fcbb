/**
 * The flags `run` and `create` share (docker 28's), and how they become a create request: the
 * body docker's CLI sends for the same flags (compared with a capture of it in the unit tests).
 */
import { Option, type Command } from 'commander';
import type { ContainerCreateRequest, DeviceRequest, EndpointSettings, HostConfig, Mount, PortBinding, ThrottleDevice, WeightDevice } from '@gantry/client';
import { CliError } from '../errors';
import { collect } from '../options';
import { bytes, durationNs, int, nanoCpus, swapBytes } from './units';
import { cgroupRule, gpuRequest, throttleBps, throttleIops, uintParser, weightDevice } from './resource-specs';
import { deviceSpec, envEntry, exposedPorts, mountSpec, publishedPorts, readKeyValueFile, tmpfsSpec, ulimitSpec, volumeSpec } from './specs';

export interface CreateOptions {
  addHost?: string[];
  annotation?: string[];
  attach?: string[];
  blkioWeight?: number;
  blkioWeightDevice?: WeightDevice[];
  capAdd?: string[];
  capDrop?: string[];
  cgroupParent?: string;
  cgroupns?: string;
  cidfile?: string;
  cpuCount?: number;
  cpuPercent?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpuShares?: number;
  cpus?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  detachKeys?: string;
  device?: string[];
  deviceCgroupRule?: string[];
  deviceReadBps?: ThrottleDevice[];
  deviceReadIops?: ThrottleDevice[];
  deviceWriteBps?: ThrottleDevice[];
  deviceWriteIops?: ThrottleDevice[];
  /** docker's content trust is not implemented by either CLI against gantryd: accepted, no effect */
  disableContentTrust?: boolean;
  dns?: string[];
  dnsOption?: string[];
  dnsSearch?: string[];
  domainname?: string;
  entrypoint?: string;
  env?: string[];
  envFile?: string[];
  expose?: string[];
  gpus?: DeviceRequest[];
  groupAdd?: string[];
  healthCmd?: string;
  healthInterval?: number;
  healthRetries?: number;
  healthStartInterval?: number;
  healthStartPeriod?: number;
  healthTimeout?: number;
  /** false from --no-healthcheck */
  healthcheck?: boolean;
  hostname?: string;
  init?: boolean;
  interactive?: boolean;
  ioMaxbandwidth?: number;
  ioMaxiops?: number;
  ip?: string;
  ip6?: string;
  ipc?: string;
  isolation?: string;
  /** accepted and dropped, as docker 28 does */
  kernelMemory?: number;
  label?: string[];
  labelFile?: string[];
  link?: string[];
  linkLocalIp?: string[];
  logDriver?: string;
  logOpt?: string[];
  macAddress?: string;
  memory?: number;
  memoryReservation?: number;
  memorySwap?: number;
  memorySwappiness?: number;
  mount?: string[];
  name?: string;
  network?: string;
  networkAlias?: string[];
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
  pid?: string;
  pidsLimit?: number;
  platform?: string;
  privileged?: boolean;
  publish?: string[];
  publishAll?: boolean;
  pull?: string;
  quiet?: boolean;
  readOnly?: boolean;
  restart?: string;
  rm?: boolean;
  runtime?: string;
  securityOpt?: string[];
  shmSize?: number;
  stopSignal?: string;
  stopTimeout?: number;
  storageOpt?: string[];
  sysctl?: string[];
  tmpfs?: string[];
  tty?: boolean;
  ulimit?: string[];
  useApiSocket?: boolean;
  user?: string;
  userns?: string;
  uts?: string;
  volume?: string[];
  volumeDriver?: string;
  volumesFrom?: string[];
  workdir?: string;
}

function pullPolicy(v: string): string {
  if (!['always', 'missing', 'never'].includes(v)) throw new CliError(`invalid pull option: '${v}': must be one of "always", "missing" or "never"`, 125);
  return v;
}

/** Adds the create flags (`-h` is the hostname here, so help is `--help` only). */
export function addCreateOptions(cmd: Command): Command {
  const list = (flags: string, description: string): Option => new Option(flags, description).argParser(collect);
  return cmd
    .helpOption('--help', 'Print usage')
    .addOption(list('--add-host <list>', 'Add a custom host-to-IP mapping (host:ip)'))
    .addOption(list('--annotation <map>', 'Add an annotation to the container (passed through to the OCI runtime)'))
    .addOption(list('-a, --attach <list>', 'Attach to STDIN, STDOUT or STDERR'))
    .option('--blkio-weight <uint16>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', uintParser(16))
    .option('--blkio-weight-device <list>', 'Block IO weight (relative device weight) (default [])', weightDevice)
    .addOption(list('--cap-add <list>', 'Add Linux capabilities'))
    .addOption(list('--cap-drop <list>', 'Drop Linux capabilities'))
    .option('--cgroup-parent <string>', 'Optional parent cgroup for the container')
    .option('--cgroupns <string>', 'Cgroup namespace to use (host|private)')
    .option('--cidfile <string>', 'Write the container ID to the file')
    .option('--cpu-count <int>', 'CPU count (Windows only)', int)
    .option('--cpu-percent <int>', 'CPU percent (Windows only)', int)
    .option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period', int)
    .option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota', int)
    .option('--cpu-rt-period <int>', 'Limit CPU real-time period in microseconds', int)
    .option('--cpu-rt-runtime <int>', 'Limit CPU real-time runtime in microseconds', int)
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)', int)
    .option('--cpus <decimal>', 'Number of CPUs', nanoCpus)
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
    .addOption(list('--device <list>', 'Add a host device to the container'))
    .option('--device-cgroup-rule <list>', 'Add a rule to the cgroup allowed devices list', cgroupRule)
    .option('--device-read-bps <list>', 'Limit read rate (bytes per second) from a device (default [])', throttleBps)
    .option('--device-read-iops <list>', 'Limit read rate (IO per second) from a device (default [])', throttleIops)
    .option('--device-write-bps <list>', 'Limit write rate (bytes per second) to a device (default [])', throttleBps)
    .option('--device-write-iops <list>', 'Limit write rate (IO per second) to a device (default [])', throttleIops)
    .option('--disable-content-trust', 'Skip image verification (default true)')
    .addOption(new Option('--no-disable-content-trust').hideHelp())
    .addOption(list('--dns <list>', 'Set custom DNS servers'))
    .addOption(list('--dns-option <list>', 'Set DNS options'))
    .addOption(list('--dns-search <list>', 'Set custom DNS search domains'))
    .option('--domainname <string>', 'Container NIS domain name')
    .option('--entrypoint <string>', 'Overwrite the default ENTRYPOINT of the image')
    .addOption(list('-e, --env <list>', 'Set environment variables'))
    .addOption(list('--env-file <list>', 'Read in a file of environment variables'))
    .addOption(list('--expose <list>', 'Expose a port or a range of ports'))
    .option('--gpus <gpu-request>', "GPU devices to add to the container ('all' to pass all GPUs)", gpuRequest)
    .addOption(list('--group-add <list>', 'Add additional groups to join'))
    .option('--health-cmd <string>', 'Command to run to check health')
    .option('--health-interval <duration>', 'Time between running the check (ms|s|m|h) (default 0s)', durationNs)
    .option('--health-retries <int>', 'Consecutive failures needed to report unhealthy', int)
    .option('--health-start-interval <duration>', 'Time between running the check during the start period (ms|s|m|h) (default 0s)', durationNs)
    .option(
      '--health-start-period <duration>',
      'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)',
      durationNs,
    )
    .option('--health-timeout <duration>', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)', durationNs)
    .option('-h, --hostname <string>', 'Container host name')
    .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('--io-maxbandwidth <bytes>', 'Maximum IO bandwidth limit for the system drive (Windows only)', bytes)
    .option('--io-maxiops <uint>', 'Maximum IOps limit for the system drive (Windows only)', uintParser(64))
    .option('--ip <string>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--ip6 <string>', 'IPv6 address (e.g., 2001:db8::33)')
    .option('--ipc <string>', 'IPC mode to use')
    .option('--isolation <string>', 'Container isolation technology')
    .option('--kernel-memory <bytes>', 'Kernel memory limit', bytes)
    .addOption(list('-l, --label <list>', 'Set meta data on a container'))
    .addOption(list('--label-file <list>', 'Read in a line delimited file of labels'))
    .addOption(list('--link <list>', 'Add link to another container'))
    .addOption(list('--link-local-ip <list>', 'Container IPv4/IPv6 link-local addresses'))
    .option('--log-driver <string>', 'Logging driver for the container')
    .addOption(list('--log-opt <list>', 'Log driver options'))
    .option('--mac-address <string>', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)')
    .option('-m, --memory <bytes>', 'Memory limit', bytes)
    .option('--memory-reservation <bytes>', 'Memory soft limit', bytes)
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", swapBytes)
    .option('--memory-swappiness <int>', 'Tune container memory swappiness (0 to 100) (default -1)', int)
    .addOption(list('--mount <mount>', 'Attach a filesystem mount to the container'))
    .option('--name <string>', 'Assign a name to the container')
    .option('--network <network>', 'Connect a container to a network')
    .addOption(list('--network-alias <list>', 'Add network-scoped alias for the container'))
    .option('--no-healthcheck', 'Disable any container-specified HEALTHCHECK')
    .option('--oom-kill-disable', 'Disable OOM Killer')
    .option('--oom-score-adj <int>', "Tune host's OOM preferences (-1000 to 1000)", int)
    .option('--pid <string>', 'PID namespace to use')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)', int)
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option('--privileged', 'Give extended privileges to this container')
    .addOption(list('-p, --publish <list>', "Publish a container's port(s) to the host"))
    .option('-P, --publish-all', 'Publish all exposed ports to random ports')
    .option('--pull <string>', 'Pull image before running ("always", "missing", "never")', pullPolicy, 'missing')
    .option('-q, --quiet', 'Suppress the pull output')
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('--restart <string>', 'Restart policy to apply when a container exits (default "no")')
    .option('--rm', 'Automatically remove the container and its associated anonymous volumes when it exits')
    .option('--runtime <string>', 'Runtime to use for this container')
    .addOption(list('--security-opt <list>', 'Security Options'))
    .option('--shm-size <bytes>', 'Size of /dev/shm', bytes)
    .option('--stop-signal <string>', 'Signal to stop the container')
    .option('--stop-timeout <int>', 'Timeout (in seconds) to stop a container', int)
    .addOption(list('--storage-opt <list>', 'Storage driver options for the container'))
    .addOption(list('--sysctl <map>', 'Sysctl options'))
    .addOption(list('--tmpfs <list>', 'Mount a tmpfs directory'))
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .addOption(list('--ulimit <ulimit>', 'Ulimit options'))
    .option('--use-api-socket', 'Bind mount Docker API socket and required auth')
    .option('-u, --user <string>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('--userns <string>', 'User namespace to use')
    .option('--uts <string>', 'UTS namespace to use')
    .addOption(list('-v, --volume <list>', 'Bind mount a volume'))
    .option('--volume-driver <string>', 'Optional volume driver for the container')
    .addOption(list('--volumes-from <list>', 'Mount volumes from the specified container(s)'))
    .option('-w, --workdir <string>', 'Working directory inside the container');
}

/** The create flags docker's CLI keeps for a Windows daemon (its "ostype" annotation), in its (sorted) order. */
const WINDOWS_ONLY: [keyof CreateOptions, string][] = [
  ['cpuCount', '--cpu-count'],
  ['cpuPercent', '--cpu-percent'],
  ['ioMaxbandwidth', '--io-maxbandwidth'],
  ['ioMaxiops', '--io-maxiops'],
];

/** Windows-only flags given while the daemon runs `osType` (docker refuses them before anything is created, status 1). */
export function unsupportedOsFlags(o: CreateOptions, osType: string | undefined): string | undefined {
  if (osType === undefined || osType === '' || osType === 'windows') return undefined;
  const lines = WINDOWS_ONLY.filter(([k]) => o[k] !== undefined).map(
    ([, flag]) => `"${flag}" is only supported on a Docker daemon running on windows, but the Docker daemon is running on ${osType}`,
  );
  return lines.length > 0 ? lines.join('\n') : undefined;
}

/** Whether any flag needs the daemon's OS to be checked first. */
export function hasOsFlags(o: CreateOptions): boolean {
  return WINDOWS_ONLY.some(([k]) => o[k] !== undefined);
}

function restartPolicy(v: string | undefined, rm: boolean): HostConfig['RestartPolicy'] {
  if (v === undefined || v === '' || v === 'no') return { Name: 'no', MaximumRetryCount: 0 };
  if (rm) throw new CliError('conflicting options: cannot specify both --restart and --rm', 125);
  const [name = '', count] = v.split(':');
  if (!['always', 'unless-stopped', 'on-failure'].includes(name)) throw new CliError(`invalid restart policy '${name}'`, 125);
  if (count !== undefined && (name !== 'on-failure' || !/^\d+$/.test(count))) {
    throw new CliError(
      name === 'on-failure'
        ? `invalid restart policy format: maximum retry count must be an integer`
        : `invalid restart policy format: maximum retry count can only be used with 'on-failure'`,
      125,
    );
  }
  return { Name: name, MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

function capability(c: string): string {
  const u = c.toUpperCase();
  return u === 'ALL' || u.startsWith('CAP_') ? u : `CAP_${u}`;
}

function keyValues(entries: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const i = e.indexOf('=');
    if (i === 0) throw new CliError(`invalid argument "${e}" for "${flag}" flag: invalid key`, 125);
    if (i < 0) out[e] = '';
    else out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

function withoutEmpty<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const STREAMS = ['stdin', 'stdout', 'stderr'];

/** The create body, name and platform for `IMAGE [COMMAND] [ARG...]` and the flags; `detach` as `run -d`. */
export function createRequest(
  image: string,
  args: readonly string[],
  o: CreateOptions,
  env: NodeJS.ProcessEnv,
  detach = false,
): { body: ContainerCreateRequest; name?: string; platform?: string } {
  const attach = (o.attach ?? []).map((a) => a.toLowerCase());
  for (const a of attach)
    if (!STREAMS.includes(a)) throw new CliError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`, 125);
  if (detach && attach.length > 0) throw new CliError('Conflicting options: -a and -d', 125);
  let attachStdin = attach.includes('stdin') || o.interactive === true;
  let attachStdout = attach.length === 0 || attach.includes('stdout');
  let attachStderr = attach.length === 0 || attach.includes('stderr');
  if (detach) attachStdin = attachStdout = attachStderr = false;

  const exposed = new Set<string>();
  for (const e of o.expose ?? []) for (const k of exposedPorts(e)) exposed.add(k);
  const bindings: Record<string, PortBinding[]> = {};
  for (const p of o.publish ?? []) {
    for (const [k, b] of publishedPorts(p)) {
      exposed.add(k);
      (bindings[k] ??= []).push(b);
    }
  }

  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const v of o.volume ?? []) {
    const s = volumeSpec(v);
    if (s.bind !== undefined) binds.push(s.bind);
    if (s.volume !== undefined) volumes[s.volume] = {};
  }
  const mounts: Mount[] = (o.mount ?? []).map(mountSpec);

  const envs = [...(o.envFile ?? []).flatMap((f) => readKeyValueFile(f, env)), ...(o.env ?? [])].map((e) => envEntry(e, env));
  const labels = keyValues([...(o.labelFile ?? []).flatMap((f) => readKeyValueFile(f, env)), ...(o.label ?? [])], '--label');

  let healthcheck: ContainerCreateRequest['Healthcheck'];
  const healthTuned = [o.healthInterval, o.healthTimeout, o.healthStartPeriod, o.healthStartInterval, o.healthRetries].some((x) => x !== undefined);
  if (o.healthcheck === false) {
    if (o.healthCmd !== undefined || healthTuned) throw new CliError('--no-healthcheck conflicts with --health-* options', 125);
    healthcheck = { Test: ['NONE'] };
  } else if (o.healthCmd !== undefined || healthTuned) {
    healthcheck = withoutEmpty({
      Test: o.healthCmd === undefined ? undefined : ['CMD-SHELL', o.healthCmd],
      Interval: o.healthInterval,
      Timeout: o.healthTimeout,
      StartPeriod: o.healthStartPeriod,
      StartInterval: o.healthStartInterval,
      Retries: o.healthRetries,
    });
  }

  const networkMode = o.network ?? 'default';
  const endpoints: Record<string, EndpointSettings> = {};
  if (!['none', 'host'].includes(networkMode) && !networkMode.startsWith('container:')) {
    const ep: EndpointSettings = {};
    if (o.networkAlias !== undefined) ep.Aliases = o.networkAlias;
    if (o.ip !== undefined || o.ip6 !== undefined || o.linkLocalIp !== undefined)
      ep.IPAMConfig = withoutEmpty({ IPv4Address: o.ip, IPv6Address: o.ip6, LinkLocalIPs: o.linkLocalIp });
    if (o.macAddress !== undefined) ep.MacAddress = o.macAddress;
    endpoints[networkMode] = ep;
  } else if (o.networkAlias !== undefined) {
    throw new CliError('network-scoped aliases are only supported for user-defined networks', 125);
  }

  const rm = o.rm === true;
  const hostConfig: HostConfig = withoutEmpty<HostConfig>({
    Binds: binds.length > 0 ? binds : undefined,
    ContainerIDFile: o.cidfile,
    LogConfig: o.logDriver !== undefined || o.logOpt !== undefined ? { Type: o.logDriver ?? '', Config: keyValues(o.logOpt ?? [], '--log-opt') } : undefined,
    NetworkMode: networkMode,
    PortBindings: Object.keys(bindings).length > 0 ? bindings : undefined,
    RestartPolicy: restartPolicy(o.restart, rm),
    AutoRemove: rm || undefined,
    VolumeDriver: o.volumeDriver,
    VolumesFrom: o.volumesFrom,
    ConsoleSize: [0, 0],
    Annotations: o.annotation === undefined ? undefined : keyValues(o.annotation, '--annotation'),
    CapAdd: o.capAdd?.map(capability),
    CapDrop: o.capDrop?.map(capability),
    CgroupnsMode: o.cgroupns as HostConfig['CgroupnsMode'],
    Dns: o.dns,
    DnsOptions: o.dnsOption,
    DnsSearch: o.dnsSearch,
    ExtraHosts: o.addHost,
    GroupAdd: o.groupAdd,
    IpcMode: o.ipc,
    Links: o.link,
    OomScoreAdj: o.oomScoreAdj,
    PidMode: o.pid,
    Privileged: o.privileged,
    PublishAllPorts: o.publishAll,
    ReadonlyRootfs: o.readOnly,
    SecurityOpt: o.securityOpt,
    StorageOpt: o.storageOpt === undefined ? undefined : keyValues(o.storageOpt, '--storage-opt'),
    Tmpfs: o.tmpfs === undefined ? undefined : Object.fromEntries(o.tmpfs.map(tmpfsSpec)),
    UTSMode: o.uts,
    UsernsMode: o.userns,
    ShmSize: o.shmSize,
    Isolation: o.isolation,
    Sysctls: o.sysctl === undefined ? undefined : keyValues(o.sysctl, '--sysctl'),
    Runtime: o.runtime,
    CpuShares: o.cpuShares,
    Memory: o.memory,
    NanoCpus: o.cpus,
    CgroupParent: o.cgroupParent,
    BlkioWeight: o.blkioWeight,
    BlkioWeightDevice: o.blkioWeightDevice,
    BlkioDeviceReadBps: o.deviceReadBps,
    BlkioDeviceWriteBps: o.deviceWriteBps,
    BlkioDeviceReadIOps: o.deviceReadIops,
    BlkioDeviceWriteIOps: o.deviceWriteIops,
    CpuPeriod: o.cpuPeriod,
    CpuQuota: o.cpuQuota,
    CpuRealtimePeriod: o.cpuRtPeriod,
    CpuRealtimeRuntime: o.cpuRtRuntime,
    CpusetCpus: o.cpusetCpus,
    CpusetMems: o.cpusetMems,
    Devices: o.device?.map(deviceSpec),
    DeviceCgroupRules: o.deviceCgroupRule,
    DeviceRequests: o.gpus,
    MemoryReservation: o.memoryReservation,
    MemorySwap: o.memorySwap,
    MemorySwappiness: o.memorySwappiness ?? -1,
    OomKillDisable: o.oomKillDisable,
    PidsLimit: o.pidsLimit,
    Ulimits: o.ulimit?.map(ulimitSpec),
    CpuCount: o.cpuCount,
    CpuPercent: o.cpuPercent,
    IOMaximumIOps: o.ioMaxiops,
    IOMaximumBandwidth: o.ioMaxbandwidth,
    Mounts: mounts.length > 0 ? mounts : undefined,
    Init: o.init,
  });

  const body: ContainerCreateRequest = withoutEmpty<ContainerCreateRequest>({
    Hostname: o.hostname,
    Domainname: o.domainname,
    User: o.user,
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ExposedPorts: exposed.size > 0 ? Object.fromEntries([...exposed].sort().map((k) => [k, {}])) : undefined,
    Tty: o.tty === true,
    OpenStdin: o.interactive === true,
    StdinOnce: attachStdin && o.interactive === true && !detach,
    Env: envs.length > 0 ? envs : undefined,
    Cmd: args.length > 0 ? [...args] : undefined,
    Healthcheck: healthcheck,
    Image: image,
    Volumes: Object.keys(volumes).length > 0 ? volumes : undefined,
    WorkingDir: o.workdir,
    Entrypoint: o.entrypoint === undefined ? undefined : [o.entrypoint],
    Labels: Object.keys(labels).length > 0 ? labels : undefined,
    StopSignal: o.stopSignal,
    StopTimeout: o.stopTimeout,
    MacAddress: undefined,
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: endpoints },
  });
  return withoutEmpty({ body, name: o.name, platform: o.platform });
}
