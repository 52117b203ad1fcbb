import * as path from 'node:path';
import {
  FS_MAGIC,
  MS,
  MNT_DETACH,
  O,
  PROPAGATION,
  S_IF,
  SysError,
  UnsafeMountTargetError,
  applyMount,
  mkdirAllInRoot,
  mountInRoot,
  openInRoot,
  openMountRoot,
  openMountTarget,
  parseMountOptions,
  parseMountinfo,
  procFdPath,
  remountReadonly,
  reopenMountTarget,
  requestOptions,
  type MountInfo,
  type MountRoot,
  type MountTarget,
  type Sys,
} from '@gantry/linux';
import { InitError } from '../errors';
import type { Device, Mount, Spec } from '../spec/types';
import { checkProcMount, requireFilesystem, requireMountedFilesystem } from './proc-mount';

/** A cgroup hierarchy mounted on the host, read from mountinfo before pivot_root hides it. */
export interface HostCgroupMount {
  /** Directory name under /sys/fs/cgroup, e.g. "cpu,cpuacct" or "unified". */
  name: string;
  fstype: 'cgroup' | 'cgroup2';
  /** The mount data that selects the controllers, e.g. "cpu,cpuacct" or "none,name=systemd". */
  controllers: string;
  mountPoint: string;
}

export interface RootfsOptions {
  rootfs: string;
  bundle: string;
  noPivot: boolean;
  /** The container's cgroup path, for bind mounts when there is no cgroup namespace. */
  cgroupPath: string;
  cgroupNamespace: boolean;
  hostCgroups: HostCgroupMount[];
  /** Bind sources the parent opened as detached mounts (user namespaces), by index in spec.mounts; closed once used. */
  detachedSources?: ReadonlyMap<number, number>;
}

const DEFAULT_DEVICES: Device[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** The cgroup hierarchies mounted under /sys/fs/cgroup, from /proc/self/mountinfo text. */
export function parseCgroupMounts(mountinfo: string): HostCgroupMount[] {
  const out: HostCgroupMount[] = [];
  for (const m of parseMountinfo(mountinfo)) {
    if (m.fstype !== 'cgroup' && m.fstype !== 'cgroup2') continue;
    if (!m.mountPoint.startsWith('/sys/fs/cgroup')) continue;
    const name = m.mountPoint === '/sys/fs/cgroup' ? '' : path.basename(m.mountPoint);
    const controllers =
      m.fstype === 'cgroup2'
        ? ''
        : m.superOptions.filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent') && o !== 'clone_children' && o !== 'xattr').join(',');
    out.push({ name, fstype: m.fstype, controllers, mountPoint: m.mountPoint });
  }
  return out;
}

function isBindMount(m: Mount): boolean {
  return requestOptions(m).bind;
}

/** The propagation of the rootfs mount from `linux.rootfsPropagation` (default rslave, like runc). */
export function rootfsPropagationFlags(value: string | undefined): number {
  if (!value) return MS.SLAVE | MS.REC;
  const f = Object.hasOwn(PROPAGATION, value) ? PROPAGATION[value] : undefined;
  if (f === undefined) throw new InitError(`unknown rootfsPropagation "${value}"`);
  return f;
}

const ENOENT = 2;
const EEXIST = 17;
const isErrno = (e: unknown, errno: number) => e instanceof SysError && e.errno === errno;

/**
 * Steps that run in the container's new mount namespace, before pivot_root. Every path inside the
 * rootfs (mount destinations, device nodes, /dev links) is resolved inside it by fd, so an image
 * whose /dev or a destination's parent is a symlink to a host directory gets nothing made outside.
 */
export function prepareRootfs(sys: Sys, spec: Spec, opts: RootfsOptions): void {
  // Keep our mounts from propagating back to the host, then make the rootfs a mount point for pivot_root.
  const propagation = rootfsPropagationFlags(spec.linux?.rootfsPropagation);
  sys.mount(null, '/', null, propagation, null);
  if (propagation & MS.SHARED) privateRootfsParent(sys, opts.rootfs);
  sys.mount(opts.rootfs, opts.rootfs, 'bind', MS.BIND | MS.REC, null);
  // opened after the bind, so lookups from it start on the bind mount, below which the mounts go
  const root = openMountRoot(sys, opts.rootfs);
  try {
    const mounts = spec.mounts ?? [];
    mounts.forEach((m, i) => mountEntry(sys, root, m, opts, i));
    const devIsBind = mounts.some((m) => path.posix.normalize(m.destination) === '/dev' && isBindMount(m));
    if (!devIsBind) {
      createDevices(sys, root, [...DEFAULT_DEVICES, ...(spec.linux?.devices ?? [])]);
      createDevSymlinks(sys, root);
    }
  } finally {
    sys.close(root.fd);
  }
}

/**
 * pivot_root refuses a new root whose parent mount is shared, and a bind of a shared mount is
 * shared too: with a shared root propagation, the mount holding the rootfs is made private first
 * (runc does the same), so the rootfs bind and its parent are private and the container's other
 * mounts stay shared with the host.
 */
function privateRootfsParent(sys: Sys, rootfs: string): void {
  const under = (dir: string) => dir === '/' || rootfs === dir || rootfs.startsWith(`${dir}/`);
  let parent: MountInfo | undefined;
  // the deepest mount point at or above the rootfs; of mounts stacked on one point the last is on top
  for (const m of parseMountinfo(sys.readFile('/proc/self/mountinfo')))
    if (under(m.mountPoint) && (parent === undefined || m.mountPoint.length >= parent.mountPoint.length)) parent = m;
  if (parent?.optional.some((o) => o.startsWith('shared:'))) sys.mount(null, parent.mountPoint, null, MS.PRIVATE, null);
}

function closing(sys: Sys, t: MountTarget): void {
  sys.close(t.fd);
}

function mountEntry(sys: Sys, root: MountRoot, m: Mount, opts: RootfsOptions, index: number): void {
  const o = requestOptions(m);
  const type = m.type ?? (o.bind ? 'bind' : '');
  if (o.bind) {
    const detached = opts.detachedSources?.get(index);
    const source = m.source && path.isAbsolute(m.source) ? m.source : path.join(opts.bundle, m.source ?? '');
    // the procfs check of a detached source looks at the mount itself, not the host path
    const checked = detached !== undefined ? `/proc/self/fd/${detached}` : source;
    const check = (p: string) => checkProcMount(sys, root.path, p, { destination: m.destination, type, source: checked, bind: true });
    try {
      closing(
        sys,
        mountInRoot(sys, root, m.destination, { type: 'bind', source, options: m.options, ...(detached !== undefined ? { detached } : {}) }, { check }),
      );
    } finally {
      if (detached !== undefined) sys.close(detached);
    }
    return;
  }
  const source = m.source ?? type;
  const check = (p: string) => checkProcMount(sys, root.path, p, { destination: m.destination, type, source, bind: false });
  if (type === 'cgroup' || type === 'cgroup2') mountCgroup(sys, root, m, opts, check);
  else if (type === 'proc' || type === 'sysfs') mountKernelFs(sys, root, m, type, check);
  else {
    // A read-only /dev is mounted writable and made read-only in finalizeRootfs, once its device
    // nodes and links exist (runc does the same; runc's tests mount /dev "ro").
    const options = deferredReadonlyDev(m) ? (m.options ?? []).filter((w) => w !== 'ro') : m.options;
    closing(sys, mountInRoot(sys, root, m.destination, { type, source, options }, { create: 'dir', check }));
  }
}

/** A /dev that is not a bind and asks to be read-only. */
function deferredReadonlyDev(m: Mount): boolean {
  return path.posix.normalize(m.destination) === '/dev' && !isBindMount(m) && (requestOptions(m).flags & MS.RDONLY) !== 0;
}

/** Per-mount flags a read-only remount of /dev must keep (a bind remount sets exactly those given). */
const MOUNT_POINT_FLAGS = MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME;

/**
 * proc and sysfs: never through a symlink in the last component (CVE-2019-19921), and checked
 * with fstatfs right after the mount to be the kernel's own filesystem before anything is masked.
 */
function mountKernelFs(sys: Sys, root: MountRoot, m: Mount, type: 'proc' | 'sysfs', check: (p: string) => void): void {
  const target = { create: 'dir' as const, noFollowLast: true, check };
  let t: MountTarget;
  try {
    t = mountInRoot(sys, root, m.destination, { type, source: m.source ?? type, options: m.options }, target);
  } catch (e) {
    // runc's words, which its tests (and callers) look for
    if (e instanceof UnsafeMountTargetError && e.notDirectory) throw new InitError(`filesystem "${type}" must be mounted on ordinary directory (${e.message})`);
    // Without a network namespace the kernel refuses a new sysfs: fall back to the host's, read-only.
    if (type !== 'sysfs' || !(e instanceof SysError) || e.code !== 'EPERM') throw e;
    const keep = (m.options ?? []).filter((w) => w === 'nosuid' || w === 'nodev' || w === 'noexec');
    t = mountInRoot(sys, root, m.destination, { type: 'bind', source: '/sys', options: ['rbind', 'ro', ...keep] }, target);
  }
  try {
    requireFilesystem(sys, t.fd, type === 'proc' ? FS_MAGIC.PROC : FS_MAGIC.SYSFS, `${type} mounted on ${m.destination}`);
  } finally {
    sys.close(t.fd);
  }
}

/** The options of a cgroup mount that apply to each hierarchy (the rest is for the tmpfs or meaningless). */
const CGROUP_WORDS = new Set(['nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'ro', 'rw', 'relatime', 'norelatime']);

function mountCgroup(sys: Sys, root: MountRoot, m: Mount, opts: RootfsOptions, check: (p: string) => void): void {
  const dest = m.destination;
  const words = (m.options ?? []).filter((w) => CGROUP_WORDS.has(w));
  const readonly = (parseMountOptions(words).flags & MS.RDONLY) !== 0;
  const unifiedOnly = opts.hostCgroups.length === 1 && opts.hostCgroups[0]!.name === '' && opts.hostCgroups[0]!.fstype === 'cgroup2';
  if (unifiedOnly) {
    const req = opts.cgroupNamespace
      ? { type: 'cgroup2', source: 'cgroup2', options: words }
      : { type: 'bind', source: path.join('/sys/fs/cgroup', opts.cgroupPath), options: ['bind', ...words] };
    closing(sys, mountInRoot(sys, root, dest, req, { create: 'dir', check }));
    return;
  }
  // cgroup v1 (or hybrid): a tmpfs holding one mount per hierarchy, like the host's /sys/fs/cgroup.
  const tmpfs = mountInRoot(sys, root, dest, { type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=755'] }, { create: 'dir', check });
  try {
    for (const h of opts.hostCgroups) {
      if (!h.name) continue;
      const target = path.posix.join(dest, h.name);
      if (opts.cgroupNamespace) {
        const controllers = h.fstype === 'cgroup2' ? [] : h.controllers.split(',').filter((c) => c.length > 0);
        closing(sys, mountInRoot(sys, root, target, { type: h.fstype, source: 'cgroup', options: [...words, ...controllers] }, { create: 'dir' }));
      } else {
        const source = path.join(h.mountPoint, opts.cgroupPath);
        if (!sys.stat(source, true)) continue;
        closing(sys, mountInRoot(sys, root, target, { type: 'bind', source, options: ['rbind', ...words] }, { create: 'dir' }));
      }
      // "cpu,cpuacct" is also reachable as "cpu" and "cpuacct", as on the host.
      if (h.name.includes(',')) {
        for (const alias of h.name.split(',')) {
          try {
            sys.symlinkat(h.name, tmpfs.fd, alias);
          } catch (e) {
            if (!isErrno(e, EEXIST)) throw e;
          }
        }
      }
    }
    if (readonly) sys.mount('tmpfs', procFdPath(tmpfs.fd), null, MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755');
  } finally {
    sys.close(tmpfs.fd);
  }
}

function deviceMode(type: string): number {
  switch (type) {
    case 'b':
      return S_IF.BLK;
    case 'p':
      return S_IF.FIFO;
    default:
      return S_IF.CHR;
  }
}

/** dev_t as glibc's makedev encodes it (what fstat reports as rdev). */
function devNumber(major: number, minor: number): number {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return Number(((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n));
}

/** The directory of `p` (made inside the root) as an O_PATH fd, and the last name. */
function parentInRoot(sys: Sys, root: MountRoot, p: string): [number, string] {
  const clean = path.posix.normalize(`/${p}`);
  const name = path.posix.basename(clean);
  if (name === '' || name === '.' || name === '..') throw new InitError(`invalid device path ${JSON.stringify(p)}`);
  return [mkdirAllInRoot(sys, root.fd, path.posix.dirname(clean), 0o755), name];
}

function createDevices(sys: Sys, root: MountRoot, devices: Device[]): void {
  for (const d of devices) {
    const [dir, name] = parentInRoot(sys, root, d.path);
    try {
      try {
        sys.unlinkat(dir, name, 0);
      } catch (e) {
        if (!isErrno(e, ENOENT)) throw e;
      }
      const perm = (d.fileMode ?? 0o666) & 0o7777;
      const mode = deviceMode(d.type);
      try {
        sys.mknodat(dir, name, mode | perm, d.major ?? 0, d.minor ?? 0);
      } catch (e) {
        // Where mknod is not allowed, bind the host's node instead (runc does the same).
        if (!(e instanceof SysError) || e.code !== 'EPERM') throw e;
        bindHostDevice(sys, dir, name, d.path);
        continue;
      }
      // the node just made, by fd: its type and number checked, then mode and owner set on it
      const fd = sys.openat(dir, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
      try {
        const st = sys.fstat(fd);
        const want = mode === S_IF.BLK ? 'blk' : mode === S_IF.FIFO ? 'fifo' : 'chr';
        if (st.kind !== want || (want !== 'fifo' && st.rdev !== devNumber(d.major ?? 0, d.minor ?? 0))) {
          throw new InitError(`device node ${d.path} is not what was made (${st.kind} ${st.rdev})`);
        }
        sys.chmod(procFdPath(fd), perm);
        sys.chown(procFdPath(fd), d.uid ?? 0, d.gid ?? 0);
      } finally {
        sys.close(fd);
      }
    } finally {
      sys.close(dir);
    }
  }
}

function bindHostDevice(sys: Sys, dir: number, name: string, hostPath: string): void {
  const fd = sys.openat(dir, name, O.RDONLY | O.CREAT | O.NOFOLLOW | O.CLOEXEC, 0o644);
  try {
    sys.mount(hostPath, procFdPath(fd), null, MS.BIND, null);
  } finally {
    sys.close(fd);
  }
}

function createDevSymlinks(sys: Sys, root: MountRoot): void {
  const links: [string, string][] = [
    ['/proc/self/fd', 'fd'],
    ['/proc/self/fd/0', 'stdin'],
    ['/proc/self/fd/1', 'stdout'],
    ['/proc/self/fd/2', 'stderr'],
  ];
  if (sys.stat('/proc/kcore')) links.push(['/proc/kcore', 'core']);
  const dev = mkdirAllInRoot(sys, root.fd, '/dev', 0o755);
  try {
    for (const [target, name] of links) {
      try {
        sys.symlinkat(target, dev, name);
      } catch (e) {
        if (!isErrno(e, EEXIST)) throw e;
      }
    }
    // /dev/ptmx must be the container's own devpts instance.
    try {
      sys.unlinkat(dev, 'ptmx', 0);
    } catch (e) {
      if (!isErrno(e, ENOENT)) throw e;
    }
    sys.symlinkat('pts/ptmx', dev, 'ptmx');
  } finally {
    sys.close(dev);
  }
}

/**
 * --no-pivot keeps the host's mounts in our mount namespace, under the chroot. The kernel lets a
 * process mount a new proc or sysfs while a full one (the filesystem's root, nothing locked over
 * it) is in its mount namespace, so a container could mount a bare /proc (runc's test: unshare -mrpf
 * + mount -t proc). As runc does: detach every full proc and sysfs outside the rootfs (made slave
 * first, so the host keeps its own), or cover it with a tmpfs where detaching is refused.
 */
function hideHostProcAndSys(sys: Sys, rootfs: string): void {
  const inside = (p: string) => p === rootfs || p.startsWith(`${rootfs}/`);
  const full = parseMountinfo(sys.readFile('/proc/self/mountinfo')).filter(
    (m) => m.root === '/' && (m.fstype === 'proc' || m.fstype === 'sysfs') && !inside(m.mountPoint),
  );
  // deepest first, so a parent's detach does not hide a child we still have to visit
  for (const m of full.sort((a, b) => b.mountPoint.length - a.mountPoint.length)) {
    try {
      sys.mount(null, m.mountPoint, null, MS.SLAVE | MS.REC, null);
    } catch (e) {
      if (e instanceof SysError && e.code === 'ENOENT') continue; // under something already detached
      throw e;
    }
    try {
      sys.umount(m.mountPoint, MNT_DETACH);
    } catch (e) {
      if (!(e instanceof SysError) || (e.code !== 'EINVAL' && e.code !== 'EPERM')) throw e;
      sys.mount('tmpfs', m.mountPoint, 'tmpfs', 0, null);
    }
  }
}

/** Make `rootfs` the root: pivot_root, or MS_MOVE + chroot with --no-pivot. */
export function enterRootfs(sys: Sys, rootfs: string, noPivot: boolean): void {
  if (noPivot) {
    hideHostProcAndSys(sys, rootfs);
    sys.chdir(rootfs);
    sys.mount(rootfs, '/', null, MS.MOVE, null);
    sys.chroot('.');
    sys.chdir('/');
    return;
  }
  // pivot_root(".", ".") stacks the old root on top of the new one; detach it from there.
  const oldRoot = sys.open('/', O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  const newRoot = sys.open(rootfs, O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  try {
    sys.fchdir(newRoot);
    sys.pivotRoot('.', '.');
    sys.fchdir(oldRoot);
    sys.mount(null, '.', null, MS.SLAVE | MS.REC, null);
    sys.umount('.', MNT_DETACH);
    sys.chdir('/');
  } finally {
    sys.close(oldRoot);
    sys.close(newRoot);
  }
}

/** Steps after pivot_root: masked and read-only paths, then a read-only root if asked. */
export function finalizeRootfs(sys: Sys, spec: Spec): void {
  const masked = spec.linux?.maskedPaths ?? [];
  const readonly = spec.linux?.readonlyPaths ?? [];
  if (masked.length > 0 || readonly.length > 0) {
    const root = openMountRoot(sys, '/');
    try {
      // every mount below goes through /proc/self/fd: it must be the kernel's procfs, and so must
      // /sys be before paths in it are masked (a bind of a host directory would just be a decoy)
      requireMountedFilesystem(sys, root, '/proc', FS_MAGIC.PROC);
      if ([...masked, ...readonly].some((p) => underDir('/sys', p))) requireMountedFilesystem(sys, root, '/sys', FS_MAGIC.SYSFS);
      maskPaths(sys, root, masked);
      readonlyPaths(sys, root, readonly);
    } finally {
      sys.close(root.fd);
    }
  }
  const dev = (spec.mounts ?? []).find(deferredReadonlyDev);
  if (dev) remountReadonly(sys, '/dev', requestOptions(dev).flags & MOUNT_POINT_FLAGS);
  if (spec.root?.readonly) remountReadonly(sys, '/');
}

function underDir(dir: string, p: string): boolean {
  const clean = path.posix.normalize(`/${p}`);
  return clean === dir || clean.startsWith(`${dir}/`);
}

/** An existing path inside the root by fd, or undefined when it does not exist. */
function existingTarget(sys: Sys, root: MountRoot, p: string): MountTarget | undefined {
  let t: MountTarget;
  try {
    t = openMountTarget(sys, root, p, 'none');
  } catch (e) {
    if (isErrno(e, ENOENT) || isErrno(e, 20 /* ENOTDIR */)) return undefined;
    throw e;
  }
  // a path under /proc or /sys must not lead out of it (a link would move the mask elsewhere)
  for (const dir of ['/proc', '/sys']) {
    if (underDir(dir, p) && !underDir(dir, t.hostPath)) {
      sys.close(t.fd);
      throw new InitError(`${p} resolves to ${t.hostPath}, outside ${dir}`);
    }
  }
  return t;
}

/** The container's /dev/null, checked to be the null device before it masks anything. */
function openDevNull(sys: Sys, root: MountRoot): number {
  const fd = openInRoot(sys, root.fd, '/dev/null', O.PATH);
  const st = sys.fstat(fd);
  if (st.kind !== 'chr' || st.rdev !== devNumber(1, 3)) {
    sys.close(fd);
    throw new InitError(`/dev/null in the container is not the null device (${st.kind} ${st.rdev})`);
  }
  return fd;
}

/** Files are covered with /dev/null, directories with an empty read-only tmpfs. */
function maskPaths(sys: Sys, root: MountRoot, paths: readonly string[]): void {
  let devNull: number | undefined;
  try {
    for (const p of paths) {
      const t = existingTarget(sys, root, p);
      if (!t) continue;
      try {
        if (sys.fstat(t.fd).kind === 'dir') sys.mount('tmpfs', procFdPath(t.fd), 'tmpfs', MS.RDONLY, null);
        else sys.mount(procFdPath((devNull ??= openDevNull(sys, root))), procFdPath(t.fd), null, MS.BIND, null);
      } finally {
        sys.close(t.fd);
      }
    }
  } finally {
    if (devNull !== undefined) sys.close(devNull);
  }
}

/** Each path bound onto itself, then remounted read-only (nosuid, nodev, noexec) through a fresh fd. */
function readonlyPaths(sys: Sys, root: MountRoot, paths: readonly string[]): void {
  for (const p of paths) {
    const t = existingTarget(sys, root, p);
    if (!t) continue;
    let fresh: number | undefined;
    try {
      applyMount(
        sys,
        { type: 'bind', source: procFdPath(t.fd), options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
        { first: procFdPath(t.fd), after: () => procFdPath((fresh = reopenMountTarget(sys, root, t.hostPath))) },
      );
    } finally {
      sys.close(t.fd);
      if (fresh !== undefined) sys.close(fresh);
    }
  }
}
