/**
 * The OCI runtime spec of a CRI container: the image's config, the container's config and its
 * security context, joined to its pod's pinned namespaces, cgroup parent and /etc files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cri } from '@gantry/api';
import { errdefs } from '@gantry/linux';
import * as os from 'node:os';
import {
  defaultSeccompProfile,
  defaultSpec,
  parseSeccompProfile,
  resolveSeccompProfile,
  type Device,
  type DeviceCgroupRule,
  type Mount,
  type Namespace,
  type Resources,
  type Seccomp,
  type Spec,
  CONTAINER_DEFAULT_CAPABILITIES,
} from '@gantry/runtime';
import type { DeviceLookup } from './devices';
import type { SandboxRecord } from './store';
import { lookupGroup, lookupUser, memberGroups, userByUid, type UserDb } from './users';

/** Every capability this kernel knows, for privileged containers (the last one from /proc). */
function allCaps(): string[] {
  const names = [
    'CHOWN',
    'DAC_OVERRIDE',
    'DAC_READ_SEARCH',
    'FOWNER',
    'FSETID',
    'KILL',
    'SETGID',
    'SETUID',
    'SETPCAP',
    'LINUX_IMMUTABLE',
    'NET_BIND_SERVICE',
    'NET_BROADCAST',
    'NET_ADMIN',
    'NET_RAW',
    'IPC_LOCK',
    'IPC_OWNER',
    'SYS_MODULE',
    'SYS_RAWIO',
    'SYS_CHROOT',
    'SYS_PTRACE',
    'SYS_PACCT',
    'SYS_ADMIN',
    'SYS_BOOT',
    'SYS_NICE',
    'SYS_RESOURCE',
    'SYS_TIME',
    'SYS_TTY_CONFIG',
    'MKNOD',
    'LEASE',
    'AUDIT_WRITE',
    'AUDIT_CONTROL',
    'SETFCAP',
    'MAC_OVERRIDE',
    'MAC_ADMIN',
    'SYSLOG',
    'WAKE_ALARM',
    'BLOCK_SUSPEND',
    'AUDIT_READ',
    'PERFMON',
    'BPF',
    'CHECKPOINT_RESTORE',
  ];
  let last = names.length - 1;
  try {
    last = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    // keep the list as it is
  }
  return names.slice(0, last + 1).map((n) => `CAP_${n}`);
}

/** The capabilities the host's bounding set holds (a privileged container cannot get more). */
function boundingCaps(): Set<string> | undefined {
  try {
    const line = fs
      .readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CapBnd:'));
    if (!line) return undefined;
    const mask = BigInt(`0x${line.split(/\s+/)[1]}`);
    return new Set(allCaps().filter((_, i) => (mask >> BigInt(i)) & 1n));
  } catch {
    return undefined;
  }
}

function capName(c: string): string {
  const u = c.toUpperCase();
  return u.startsWith('CAP_') ? u : `CAP_${u}`;
}

/** The image config fields a container takes. */
export interface ImageRunConfig {
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
}

export interface SpecInput {
  id: string;
  sandbox: SandboxRecord;
  sandboxConfig: cri.PodSandboxConfig;
  config: cri.ContainerConfig;
  image: ImageRunConfig;
  /** The image's /etc/passwd and /etc/group, read when a user is named (see needsUserDb). */
  userDb?: UserDb;
  /** Host device nodes: the config's devices and a privileged container's /dev. */
  devices?: DeviceLookup;
}

function argsOf(config: cri.ContainerConfig, image: ImageRunConfig): string[] {
  // kubelet's rule: command replaces the entrypoint, and then the image's Cmd is not used
  const entrypoint = config.command.length > 0 ? config.command : (image.Entrypoint ?? []);
  const args = config.args.length > 0 ? config.args : config.command.length > 0 ? [] : (image.Cmd ?? []);
  const all = [...entrypoint, ...args];
  if (all.length === 0) throw errdefs.invalidArgument('no command specified: the container config and the image have none');
  return all;
}

function envOf(config: cri.ContainerConfig, image: ImageRunConfig): string[] {
  const env = new Map<string, string>();
  for (const e of image.Env ?? []) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  for (const kv of config.envs) env.set(kv.key, kv.value);
  if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/**
 * Whether the container's user needs the image's user database: a name, and also a uid, whose
 * primary gid and groups come from the image's passwd and group files (as containerd does).
 */
export function needsUserDb(sc: cri.LinuxContainerSecurityContext | undefined, image: ImageRunConfig): boolean {
  return Boolean(sc?.runAsUsername || sc?.runAsUser || image.User);
}

/** uid, gid and the groups of a named user: the security context first, else the image's User. */
function userOf(
  sc: cri.LinuxContainerSecurityContext | undefined,
  image: ImageRunConfig,
  db: UserDb | undefined,
): { uid: number; gid: number; groups: number[] } {
  const named = (name: string) => {
    if (!db) throw errdefs.internal(`user ${name}: the image's user database was not read`);
    return { ...lookupUser(db, name), groups: memberGroups(db, name) };
  };
  // a uid the image's passwd names has that user's primary gid and groups; another has gid 0
  const numbered = (uid: number) => {
    const u = db && userByUid(db, uid);
    return u ? { uid, gid: u.gid, groups: memberGroups(db!, u.name) } : { uid, gid: 0, groups: [] };
  };
  let user = { uid: 0, gid: 0, groups: [] as number[] };
  const imageUser = image.User ?? '';
  if (sc?.runAsUsername) user = named(sc.runAsUsername);
  else if (sc?.runAsUser) user = numbered(Number(sc.runAsUser.value));
  else if (imageUser) {
    const [u = '', g] = imageUser.split(':');
    user = /^\d+$/.test(u) ? numbered(Number(u)) : named(u);
    if (g) user.gid = /^\d+$/.test(g) ? Number(g) : lookupGroup(db!, g);
  }
  if (sc?.runAsGroup) {
    if (!sc.runAsUser && !sc.runAsUsername && !imageUser) throw errdefs.invalidArgument('run_as_group is set without run_as_user or run_as_username');
    user.gid = Number(sc.runAsGroup.value);
  }
  return user;
}

export function nsMode(o: cri.NamespaceOption | undefined, which: 'network' | 'pid' | 'ipc'): cri.NamespaceMode {
  return o ? o[which] : which === 'pid' ? cri.NamespaceMode.CONTAINER : cri.NamespaceMode.POD;
}

function namespacesOf(input: SpecInput): Namespace[] {
  const ns: Namespace[] = [{ type: 'mount' }];
  const opts = input.config.linux?.securityContext?.namespaceOptions;
  const pid = nsMode(opts, 'pid');
  if (pid === cri.NamespaceMode.POD) {
    if (!input.sandbox.pidHolder) throw errdefs.internal(`sandbox ${input.sandbox.id} has no PID namespace`);
    ns.push({ type: 'pid', path: `/proc/${input.sandbox.pidHolder}/ns/pid` });
  }
  if (pid === cri.NamespaceMode.TARGET) throw errdefs.unimplemented('PID namespace mode TARGET is not supported');
  if (pid === cri.NamespaceMode.CONTAINER) ns.push({ type: 'pid' });
  if (input.sandbox.netnsPath) {
    ns.push({ type: 'network', path: input.sandbox.netnsPath });
    ns.push({ type: 'uts' }); // each container sets the pod's hostname in its own UTS namespace
  }
  if (input.sandbox.ipcPath) ns.push({ type: 'ipc', path: input.sandbox.ipcPath });
  return ns;
}

export function resourcesOf(r: cri.LinuxContainerResources | undefined): Resources {
  const res: Resources = {};
  if (!r) return res;
  const cpu: NonNullable<Resources['cpu']> = {};
  if (r.cpuShares) cpu.shares = Number(r.cpuShares);
  if (r.cpuQuota) cpu.quota = Number(r.cpuQuota);
  if (r.cpuPeriod) cpu.period = Number(r.cpuPeriod);
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) res.cpu = cpu;
  if (r.memoryLimitInBytes) res.memory = { limit: Number(r.memoryLimitInBytes), ...(r.memorySwapLimitInBytes && { swap: Number(r.memorySwapLimitInBytes) }) };
  if (r.hugepageLimits.length) res.hugepageLimits = r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: Number(h.limit) }));
  if (Object.keys(r.unified).length) res.unified = { ...r.unified };
  return res;
}

/**
 * The container's device nodes and the cgroup rules that let it use them: a privileged container
 * gets the host's /dev and every device, the config's devices are added at their container paths
 * (a later one at the same path replaces an earlier one) with their permissions, default rwm.
 */
function devicesOf(input: SpecInput, privileged: boolean): { devices: Device[]; rules: DeviceCgroupRule[] } {
  const wanted = input.config.devices;
  if (!privileged && wanted.length === 0) return { devices: [], rules: [{ allow: false, access: 'rwm' }] };
  const lookup = input.devices;
  if (!lookup) throw errdefs.invalidArgument('host devices cannot be looked up here');
  const byPath = new Map<string, Device>();
  if (privileged) for (const d of lookup.host()) byPath.set(d.path, d);
  const rules: DeviceCgroupRule[] = [{ allow: privileged, access: 'rwm' }];
  for (const w of wanted) {
    if (!w.hostPath) throw errdefs.invalidArgument('device host path is empty');
    const at = w.containerPath || w.hostPath;
    if (!at.startsWith('/')) throw errdefs.invalidArgument(`device container path ${JSON.stringify(at)} is not absolute`);
    const access = w.permissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(access)) throw errdefs.invalidArgument(`device ${w.hostPath}: invalid permissions ${JSON.stringify(w.permissions)}`);
    for (const d of lookup.mapped(w.hostPath, at)) {
      byPath.set(d.path, d);
      if (!privileged) rules.push({ allow: true, type: d.type, major: d.major ?? null, minor: d.minor ?? null, access });
    }
  }
  return { devices: [...byPath.values()], rules };
}

function propagationOption(p: cri.MountPropagation): string {
  if (p === cri.MountPropagation.PROPAGATION_BIDIRECTIONAL) return 'rshared';
  if (p === cri.MountPropagation.PROPAGATION_HOST_TO_CONTAINER) return 'rslave';
  return 'rprivate';
}

/**
 * The container's root mount propagation: a bidirectional mount is one of its source's peers only
 * if the container's mounts stay shared with the host's (rshared); a host-to-container one needs
 * them at least slaves (rslave, the runtime's default too). Else the runtime's default.
 */
function rootfsPropagationOf(mounts: cri.Mount[]): string | undefined {
  if (mounts.some((m) => m.propagation === cri.MountPropagation.PROPAGATION_BIDIRECTIONAL)) return 'rshared';
  if (mounts.some((m) => m.propagation === cri.MountPropagation.PROPAGATION_HOST_TO_CONTAINER)) return 'rslave';
  return undefined;
}

function mountsOf(input: SpecInput, readonlyRoot: boolean): Mount[] {
  const wanted = new Set(input.config.mounts.map((m) => path.posix.normalize(m.containerPath)));
  const mounts: Mount[] = (defaultSpec().mounts ?? []).filter((m) => !wanted.has(m.destination));
  const etcOpt = readonlyRoot ? ['rbind', 'rprivate', 'ro'] : ['rbind', 'rprivate', 'rw'];
  for (const f of ['hosts', 'resolv.conf', 'hostname'])
    if (!wanted.has(`/etc/${f}`)) mounts.push({ destination: `/etc/${f}`, type: 'bind', source: path.join(input.sandbox.dir, f), options: etcOpt });
  for (const m of input.config.mounts) {
    if (!m.containerPath.startsWith('/')) throw errdefs.invalidArgument(`mount container path ${JSON.stringify(m.containerPath)} is not absolute`);
    if (!m.hostPath) throw errdefs.invalidArgument(`mount ${m.containerPath}: host path is empty`);
    if (m.uidMappings.length || m.gidMappings.length) throw errdefs.unimplemented('idmapped mounts are not supported');
    let source = m.hostPath;
    try {
      source = fs.realpathSync(m.hostPath);
    } catch {
      // kubelet creates host paths before; a missing one is made as a directory, as containerd does
      fs.mkdirSync(m.hostPath, { recursive: true });
    }
    mounts.push({ destination: m.containerPath, type: 'bind', source, options: ['rbind', propagationOption(m.propagation), m.readonly ? 'ro' : 'rw'] });
  }
  return mounts;
}

/**
 * The container's seccomp filter: none for privileged containers and Unconfined (and when none is
 * asked, as containerd 1.6), Docker's default for RuntimeDefault, a Docker-format JSON profile
 * file for Localhost (also the deprecated seccomp_profile_path forms).
 */
function seccompOf(sc: cri.LinuxContainerSecurityContext | undefined, caps: string[]): Seccomp | undefined {
  if (!sc || sc.privileged) return undefined;
  let kind: 'default' | 'unconfined' | 'localhost' = 'unconfined';
  let file = '';
  if (sc.seccomp) {
    const t = sc.seccomp.profileType;
    kind = t === cri.SecurityProfile_ProfileType.RuntimeDefault ? 'default' : t === cri.SecurityProfile_ProfileType.Localhost ? 'localhost' : 'unconfined';
    file = sc.seccomp.localhostRef;
  } else if (sc.seccompProfilePath === 'runtime/default' || sc.seccompProfilePath === 'docker/default') kind = 'default';
  else if (sc.seccompProfilePath.startsWith('localhost/')) {
    kind = 'localhost';
    file = sc.seccompProfilePath.slice('localhost/'.length);
  } else if (sc.seccompProfilePath && sc.seccompProfilePath !== 'unconfined')
    throw errdefs.invalidArgument(`unknown seccomp profile path ${JSON.stringify(sc.seccompProfilePath)}`);
  const ctx = { capabilities: caps, kernel: os.release() };
  if (kind === 'default') return defaultSeccompProfile(ctx);
  if (kind === 'unconfined') return undefined;
  if (!file.startsWith('/')) throw errdefs.invalidArgument(`seccomp localhost profile ${JSON.stringify(file)} is not an absolute path`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw errdefs.invalidArgument(`cannot load seccomp profile ${JSON.stringify(file)}: ${(e as Error).message}`);
  }
  try {
    return resolveSeccompProfile(parseSeccompProfile(text), ctx);
  } catch (e) {
    throw errdefs.invalidArgument(`seccomp profile ${JSON.stringify(file)}: ${(e as Error).message}`);
  }
}

export function cgroupParentOf(sandbox: SandboxRecord): string {
  return sandbox.cgroupParent;
}

/** The spec of a CRI container (seccomp is left to `seccompOf`, which may refuse). */
export function containerSpec(input: SpecInput): Spec {
  const { config, image } = input;
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged === true;
  if (privileged && !input.sandboxConfig.linux?.securityContext?.privileged)
    throw errdefs.invalidArgument('no privileged container allowed in a sandbox that is not privileged');
  const base = defaultSpec();
  const { groups, ...user } = userOf(sc, image, input.userDb);
  const additionalGids = [...new Set([...groups, ...(sc?.supplementalGroups ?? []).map(Number)])].filter((g) => g !== user.gid);
  let caps: string[];
  if (privileged) caps = allCaps();
  else {
    const add = (sc?.capabilities?.addCapabilities ?? []).map(capName);
    const drop = new Set((sc?.capabilities?.dropCapabilities ?? []).map(capName));
    caps = add.includes('CAP_ALL') ? allCaps() : [...new Set([...CONTAINER_DEFAULT_CAPABILITIES, ...add])];
    caps = drop.has('CAP_ALL') ? caps.filter((c) => add.includes(c)) : caps.filter((c) => !drop.has(c));
  }
  // no process can hold a capability outside the daemon's bounding set (this host lacks some)
  const bnd = boundingCaps();
  if (bnd) caps = caps.filter((c) => bnd.has(c));
  const ambient = (sc?.capabilities?.addAmbientCapabilities ?? []).map(capName);
  const readonlyRoot = sc?.readonlyRootfs === true;
  const resources = resourcesOf(config.linux?.resources);
  const { devices, rules } = devicesOf(input, privileged);
  const spec: Spec = {
    ociVersion: base.ociVersion,
    process: {
      terminal: config.tty,
      user: { ...user, ...(additionalGids.length && { additionalGids }) },
      args: argsOf(config, image),
      env: envOf(config, image),
      cwd: config.workingDir || image.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, ...(ambient.length && { ambient, inheritable: ambient }) },
      noNewPrivileges: sc?.noNewPrivs === true,
      ...(config.linux?.resources?.oomScoreAdj && { oomScoreAdj: Number(config.linux.resources.oomScoreAdj) }),
    },
    root: { path: 'rootfs', readonly: readonlyRoot },
    hostname: input.sandbox.hostname,
    mounts: mountsOf(input, readonlyRoot),
    annotations: {
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.sandbox-id': input.sandbox.id,
      'io.kubernetes.cri.container-name': config.metadata?.name ?? '',
      ...config.annotations,
    },
    linux: {
      namespaces: namespacesOf(input),
      cgroupsPath: `${cgroupParentOf(input.sandbox)}/${input.id}`,
      ...(devices.length && { devices }),
      resources: { devices: rules, ...resources },
      ...(privileged
        ? {}
        : {
            maskedPaths: sc?.maskedPaths.length ? sc.maskedPaths : base.linux?.maskedPaths,
            readonlyPaths: sc?.readonlyPaths.length ? sc.readonlyPaths : base.linux?.readonlyPaths,
          }),
      ...(Object.keys(input.sandboxConfig.linux?.sysctls ?? {}).length && { sysctl: { ...input.sandboxConfig.linux!.sysctls } }),
    },
  };
  const seccomp = seccompOf(sc, caps);
  if (seccomp) spec.linux!.seccomp = seccomp;
  if (privileged) {
    // a privileged container sees the host's /sys read-write
    spec.mounts = spec.mounts!.map((m) => (m.destination === '/sys' ? { ...m, options: ['nosuid', 'noexec', 'nodev', 'rw'] } : m));
  }
  const rootfsPropagation = rootfsPropagationOf(input.config.mounts);
  if (rootfsPropagation) spec.linux!.rootfsPropagation = rootfsPropagation;
  if (!input.sandbox.netnsPath) delete spec.hostname; // host network: the host's UTS namespace and name
  return spec;
}
