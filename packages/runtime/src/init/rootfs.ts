import * as path from 'node:path';
import { MS, MNT_DETACH, O, S_IF, SysError, type Sys } from '@gantry/linux';
import type { Device, Mount, Spec } from '../spec/types';
import { parseMountOptions, rootfsPropagationFlags } from './mount-options';
import { secureJoin } from './secure-join';

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
}

const DEFAULT_DEVICES: Device[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** Parse /proc/self/mountinfo text for cgroup hierarchies mounted under /sys/fs/cgroup. */
export function parseCgroupMounts(mountinfo: string): HostCgroupMount[] {
  const out: HostCgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4] ?? '';
    const [fstype, , superOpts = ''] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    if (!mountPoint.startsWith('/sys/fs/cgroup')) continue;
    const name = mountPoint === '/sys/fs/cgroup' ? '' : path.basename(mountPoint);
    const controllers =
      fstype === 'cgroup2'
        ? ''
        : superOpts
            .split(',')
            .filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent') && o !== 'clone_children' && o !== 'xattr')
            .join(',');
    out.push({ name, fstype, controllers, mountPoint });
  }
  return out;
}

function isBindMount(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/** Steps that run in the container's new mount namespace, before pivot_root. */
export function prepareRootfs(sys: Sys, spec: Spec, opts: RootfsOptions): void {
  // Keep our mounts from propagating back to the host, then make the rootfs a mount point for pivot_root.
  sys.mount(null, '/', null, rootfsPropagationFlags(spec.linux?.rootfsPropagation), null);
  sys.mount(opts.rootfs, opts.rootfs, 'bind', MS.BIND | MS.REC, null);

  const mounts = spec.mounts ?? [];
  for (const m of mounts) mountEntry(sys, m, opts);

  const devIsBind = mounts.some((m) => m.destination === '/dev' && isBindMount(m));
  if (!devIsBind) {
    createDevices(sys, opts.rootfs, [...DEFAULT_DEVICES, ...(spec.linux?.devices ?? [])]);
    createDevSymlinks(sys, opts.rootfs);
  }
}

function mountEntry(sys: Sys, m: Mount, opts: RootfsOptions): void {
  const dest = secureJoin(sys, opts.rootfs, m.destination);
  const o = parseMountOptions(m.options);
  const type = m.type ?? (o.bind ? 'bind' : '');
  if (type === 'bind' || o.bind) {
    const source = m.source && path.isAbsolute(m.source) ? m.source : path.join(opts.bundle, m.source ?? '');
    const st = sys.stat(source, true);
    if (!st) throw new SysError('mount', 2, `bind source ${source}`);
    if (st.kind === 'dir') sys.mkdirAll(dest, 0o755);
    else {
      sys.mkdirAll(path.dirname(dest), 0o755);
      if (!sys.stat(dest)) sys.createFile(dest, 0o644);
    }
    const bindFlags = MS.BIND | (o.recursive ? MS.REC : 0);
    sys.mount(source, dest, null, bindFlags, null);
    // Flags other than bind/rec only take effect through a remount of the bind.
    const extra = o.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (extra !== 0) sys.mount(source, dest, null, bindFlags | MS.REMOUNT | extra, null);
  } else if (type === 'cgroup' || type === 'cgroup2') {
    mountCgroup(sys, dest, o.flags, opts);
  } else {
    sys.mkdirAll(dest, 0o755);
    const source = m.source ?? type;
    try {
      sys.mount(source, dest, type, o.flags, o.data || null);
    } catch (e) {
      // Without a network namespace the kernel refuses a new sysfs: fall back to the host's, read-only.
      if (type === 'sysfs' && e instanceof SysError && e.code === 'EPERM') {
        sys.mount('/sys', dest, null, MS.BIND | MS.REC, null);
        sys.mount('/sys', dest, null, MS.BIND | MS.REC | MS.REMOUNT | MS.RDONLY | (o.flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC)), null);
      } else throw e;
    }
  }
  for (const p of o.propagation) sys.mount(null, dest, null, p, null);
}

function mountCgroup(sys: Sys, dest: string, flags: number, opts: RootfsOptions): void {
  sys.mkdirAll(dest, 0o755);
  const unifiedOnly = opts.hostCgroups.length === 1 && opts.hostCgroups[0]!.name === '' && opts.hostCgroups[0]!.fstype === 'cgroup2';
  const baseFlags = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY | MS.RELATIME);
  if (unifiedOnly) {
    if (opts.cgroupNamespace) sys.mount('cgroup2', dest, 'cgroup2', baseFlags, null);
    else sys.mount(path.join('/sys/fs/cgroup', opts.cgroupPath), dest, null, MS.BIND | baseFlags, null);
    return;
  }
  // cgroup v1 (or hybrid): a tmpfs holding one mount per hierarchy, like the host's /sys/fs/cgroup.
  sys.mount('tmpfs', dest, 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755');
  for (const h of opts.hostCgroups) {
    if (!h.name) continue;
    const target = path.join(dest, h.name);
    sys.mkdirAll(target, 0o755);
    if (opts.cgroupNamespace) {
      sys.mount('cgroup', target, h.fstype, baseFlags, h.fstype === 'cgroup2' ? null : h.controllers);
    } else {
      const source = path.join(h.mountPoint, opts.cgroupPath);
      if (!sys.stat(source, true)) continue;
      sys.mount(source, target, null, MS.BIND | MS.REC, null);
      if (baseFlags & MS.RDONLY) sys.mount(source, target, null, MS.BIND | MS.REC | MS.REMOUNT | baseFlags, null);
    }
    // "cpu,cpuacct" is also reachable as "cpu" and "cpuacct", as on the host.
    if (h.name.includes(',')) {
      for (const alias of h.name.split(',')) {
        const link = path.join(dest, alias);
        if (!sys.stat(link)) sys.symlink(h.name, link);
      }
    }
  }
  if (baseFlags & MS.RDONLY) sys.mount('tmpfs', dest, null, MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755');
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

function createDevices(sys: Sys, rootfs: string, devices: Device[]): void {
  for (const d of devices) {
    const dest = secureJoin(sys, rootfs, d.path);
    sys.mkdirAll(path.dirname(dest), 0o755);
    if (sys.stat(dest)) sys.unlink(dest);
    const perm = (d.fileMode ?? 0o666) & 0o7777;
    try {
      sys.mknod(dest, deviceMode(d.type) | perm, d.major ?? 0, d.minor ?? 0);
    } catch (e) {
      // Where mknod is not allowed, bind the host's node instead (runc does the same).
      if (!(e instanceof SysError) || e.code !== 'EPERM') throw e;
      sys.createFile(dest, 0o644);
      sys.mount(d.path, dest, null, MS.BIND, null);
      continue;
    }
    sys.chmod(dest, perm);
    sys.chown(dest, d.uid ?? 0, d.gid ?? 0);
  }
}

function createDevSymlinks(sys: Sys, rootfs: string): void {
  const links: [string, string][] = [
    ['/proc/self/fd', '/dev/fd'],
    ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'],
    ['/proc/self/fd/2', '/dev/stderr'],
  ];
  if (sys.stat('/proc/kcore')) links.push(['/proc/kcore', '/dev/core']);
  for (const [target, link] of links) {
    const dest = path.join(rootfs, link);
    if (!sys.stat(dest)) sys.symlink(target, dest);
  }
  // /dev/ptmx must be the container's own devpts instance.
  const ptmx = path.join(rootfs, '/dev/ptmx');
  if (sys.stat(ptmx)) sys.unlink(ptmx);
  sys.symlink('pts/ptmx', ptmx);
}

/** Make `rootfs` the root: pivot_root, or MS_MOVE + chroot with --no-pivot. */
export function enterRootfs(sys: Sys, rootfs: string, noPivot: boolean): void {
  if (noPivot) {
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
  for (const p of spec.linux?.maskedPaths ?? []) {
    const st = sys.stat(p, true);
    if (!st) continue;
    if (st.kind === 'dir') sys.mount('tmpfs', p, 'tmpfs', MS.RDONLY, null);
    else sys.mount('/dev/null', p, null, MS.BIND, null);
  }
  for (const p of spec.linux?.readonlyPaths ?? []) {
    if (!sys.stat(p, true)) continue;
    sys.mount(p, p, null, MS.BIND | MS.REC, null);
    sys.mount(p, p, null, MS.BIND | MS.REC | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, null);
  }
  if (spec.root?.readonly) sys.mount(null, '/', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null);
}
