/**
 * Mounting onto a place inside a root (a container's rootfs, a bundle, a temp dir holding image
 * layers) the way runc does since CVE-2021-30465: the target is resolved inside the root by fd
 * (created there when missing), the mount goes onto /proc/self/fd/N of that fd, so a symlink
 * swapped into the path after the check cannot send it elsewhere, and afterwards a fresh open of
 * the target must name the same place. Later calls on the new mount (bind remount, propagation)
 * go through the fresh fd, which names the new mount rather than what it covers.
 */
import * as path from 'node:path';
import { O } from '../constants';
import { SysError } from '../errors';
import type { Sys } from '../sys';
import { applyMount } from '../mount/apply';
import { requestOptions, type MountRequest } from '../mount/options';
import { fdPath, isWithin, mkdirAllInRoot, openInRoot, openRoot, procFdPath } from './in-root';

/** A root to mount into: its O_PATH fd and its path as the kernel names it (symlinks resolved). */
export interface MountRoot {
  fd: number;
  path: string;
}

/** An fd on a mount target (or, after the mount, on the new mount) and the host path it was checked to have. */
export interface MountTarget {
  fd: number;
  hostPath: string;
}

/** A mount target that would not be where it was meant to be: outside the root, the root itself, moved. */
export class UnsafeMountTargetError extends Error {
  constructor(
    readonly destination: string,
    message: string,
    /** Set when the target exists but is not an ordinary directory (see `noFollowLast`). */
    readonly notDirectory = false,
  ) {
    super(`mount destination ${JSON.stringify(destination)}: ${message}`);
    this.name = 'UnsafeMountTargetError';
  }
}

export interface MountTargetOptions {
  /**
   * What to make when the target does not exist: "dir" (mkdir -p inside the root), "file" (an
   * empty file, for a bind mount of a file) or "none" (fail with ENOENT). Default: "file" for a
   * bind whose source is not a directory, else "dir".
   */
  create?: 'dir' | 'file' | 'none';
  /**
   * Refuse a symlink as the last component instead of following it inside the root, and an
   * existing target that is not a directory (runc does so for proc and sysfs).
   */
  noFollowLast?: boolean;
  /** The target may be the root itself (the mounts of a temp dir Gantry made); refused by default. */
  allowRoot?: boolean;
  /** The caller's own rule on the resolved host path (e.g. what may go over /proc); throws to refuse. */
  check?: (hostPath: string) => void;
  /** Told the host path once the mount exists (before its remount and propagation), so a failure after can be undone. */
  mounted?: (hostPath: string) => void;
}

/** Open `hostPath` as a root for mountInRoot; the caller closes `fd`. */
export function openMountRoot(sys: Sys, hostPath: string): MountRoot {
  const fd = openRoot(sys, hostPath);
  try {
    return { fd, path: fdPath(sys, fd) };
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

const ENOENT = 2;

function isEnoent(e: unknown): boolean {
  return e instanceof SysError && e.errno === ENOENT;
}

/** The directory part of `dest` and its last name, lexically (".." is then resolved inside the root anyway). */
function splitLast(dest: string): [string, string] {
  const clean = path.posix.normalize(`/${dest}`);
  return [path.posix.dirname(clean), path.posix.basename(clean)];
}

function createTarget(sys: Sys, root: MountRoot, dest: string, kind: 'dir' | 'file'): number {
  if (kind === 'dir') return mkdirAllInRoot(sys, root.fd, dest, 0o755);
  const [dir] = splitLast(dest);
  sys.close(mkdirAllInRoot(sys, root.fd, dir, 0o755));
  // no O_EXCL: a dangling symlink (an image's /etc/resolv.conf -> ../run/...) gets its target
  // made inside the root. O_NONBLOCK|O_NOCTTY: harmless should a fifo or tty be there by now.
  return openInRoot(sys, root.fd, dest, O.RDONLY | O.CREAT | O.NONBLOCK | O.NOCTTY, { mode: 0o644 });
}

/** Where the fd points must be inside the root (and not the root itself unless allowed). */
function checkedHostPath(sys: Sys, root: MountRoot, dest: string, fd: number, allowRoot: boolean): string {
  const hostPath = fdPath(sys, fd);
  if (!isWithin(root.path, hostPath)) throw new UnsafeMountTargetError(dest, `resolves to ${hostPath}, outside the root ${root.path}`);
  if (hostPath === root.path && !allowRoot) throw new UnsafeMountTargetError(dest, `is the root ${root.path} itself`);
  return hostPath;
}

/** Resolve (or create) `dest` inside the root and check where it is; the caller closes `fd`. */
export function openMountTarget(sys: Sys, root: MountRoot, dest: string, kind: 'dir' | 'file' | 'none', opts: MountTargetOptions = {}): MountTarget {
  let fd: number;
  try {
    fd = openInRoot(sys, root.fd, dest, O.PATH, { followLast: !opts.noFollowLast });
  } catch (e) {
    if (!isEnoent(e) || kind === 'none') throw e;
    fd = createTarget(sys, root, dest, kind);
  }
  try {
    if (opts.noFollowLast) {
      const k = sys.fstat(fd).kind;
      if (k === 'symlink') throw new UnsafeMountTargetError(dest, 'is a symlink', true);
      if (k !== 'dir') throw new UnsafeMountTargetError(dest, `is a ${k}, not a directory`, true);
    }
    const hostPath = checkedHostPath(sys, root, dest, fd, opts.allowRoot ?? false);
    opts.check?.(hostPath);
    return { fd, hostPath };
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/**
 * A fresh O_PATH fd on what is mounted at `hostPath` now, checked to be that same place: the fd
 * of a mount target keeps naming the directory under the new mount, a fresh lookup finds the mount.
 */
export function reopenMountTarget(sys: Sys, root: MountRoot, hostPath: string): number {
  const fd =
    hostPath === root.path
      ? sys.open(root.path, O.PATH | O.DIRECTORY | O.CLOEXEC) // "." from the root fd would stay under the mount
      : openInRoot(sys, root.fd, path.relative(root.path, hostPath), O.PATH, { followLast: false });
  try {
    const now = fdPath(sys, fd);
    if (now !== hostPath) throw new UnsafeMountTargetError(hostPath, `moved to ${now} while being mounted`);
    if (sys.fstat(fd).kind === 'symlink') throw new UnsafeMountTargetError(hostPath, 'was replaced by a symlink while being mounted');
    return fd;
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** Whether a bind of `source` needs a file, not a directory, as its mount point. */
function bindTargetKind(sys: Sys, source: string): 'dir' | 'file' {
  const st = sys.stat(source, true);
  if (!st) throw new SysError('mount', ENOENT, `bind source ${source}`);
  return st.kind === 'dir' ? 'dir' : 'file';
}

/**
 * Mount `m` onto `dest` inside the root: resolve or create the target by fd, mount onto
 * /proc/self/fd/N, re-check the place with a fresh open, and apply the rest of the options (bind
 * remount with "ro" and the like, propagation, recursive attributes) through that fresh fd.
 * Returns the fresh fd on the new mount (the caller closes it) and its host path.
 */
export function mountInRoot(sys: Sys, root: MountRoot, dest: string, m: MountRequest, opts: MountTargetOptions = {}): MountTarget {
  const o = requestOptions(m);
  const kind =
    opts.create ??
    (o.bind && m.detached !== undefined ? (sys.fstat(m.detached).kind === 'dir' ? 'dir' : 'file') : o.bind && m.source ? bindTargetKind(sys, m.source) : 'dir');
  const target = openMountTarget(sys, root, dest, kind, opts);
  let fresh: number | undefined;
  const reopen = () => (fresh ??= reopenMountTarget(sys, root, target.hostPath));
  try {
    const onFirst = opts.mounted && (() => opts.mounted!(target.hostPath));
    applyMount(sys, m, { first: procFdPath(target.fd), after: () => procFdPath(reopen()), ...(onFirst ? { onFirst } : {}) }, o);
    return { fd: reopen(), hostPath: target.hostPath };
  } catch (e) {
    if (fresh !== undefined) sys.close(fresh);
    throw e;
  } finally {
    sys.close(target.fd);
  }
}
