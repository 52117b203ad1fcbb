/**
 * Paths inside a root (a container's rootfs, an image layer, a volume), resolved by file
 * descriptor so that nothing the root contains (symlinks, "..", magic links) can lead outside it.
 *
 * The kernel does it for us with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): every
 * lookup starts from the root fd, absolute symlinks restart there and ".." stops there. On kernels
 * without openat2 the same rules are applied by a walk of one O_PATH|O_NOFOLLOW openat per
 * component. Either way the caller gets an fd, never a joined string, so a component swapped
 * for a symlink after the check cannot redirect the final operation (the CVE-2021-30465 class).
 */
import { O } from '../constants';
import { SysError } from '../errors';
import type { FileKind, Sys } from '../sys';

/** RESOLVE_* bits of openat2's struct open_how. */
export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
  CACHED: 0x20,
} as const;

const ENOENT = 2;
const ENOTDIR = 20;
const EAGAIN = 11;
const ELOOP = 40;
const ENOSYS = 38;
const EEXIST = 17;
const EPERM = 1;
const MAX_LINKS = 40; // the kernel's own limit on symlinks in one lookup

export interface InRootOptions {
  /** Follow a symlink in the last component (default true, like open(2) without O_NOFOLLOW). */
  followLast?: boolean;
  /** Mode for O_CREAT. */
  mode?: number;
}

/** openat2 is probed once per process: ENOSYS (or EPERM from a seccomp filter) means "walk". */
let openat2Works: boolean | undefined;

/** Forget the probe (tests switch between the kernel and the walk). */
export function resetOpenat2Probe(): void {
  openat2Works = undefined;
}

/** Open `root` itself: the anchor every confined lookup starts from. */
export function openRoot(sys: Sys, root: string): number {
  return sys.open(root, O.PATH | O.DIRECTORY | O.CLOEXEC);
}

/**
 * Open `p` (absolute or relative: both mean "from the root") inside the root `rootFd`. `flags`
 * are open(2) flags; O_CLOEXEC is always added. Returns a new fd the caller closes.
 */
export function openInRoot(sys: Sys, rootFd: number, p: string, flags: number, opts: InRootOptions = {}): number {
  if (p.includes('\0')) throw new SysError('openat2', 22 /* EINVAL */, 'path contains a NUL byte');
  const followLast = opts.followLast ?? true;
  const all = flags | O.CLOEXEC | (followLast ? 0 : O.NOFOLLOW);
  const mode = (flags & O.CREAT) !== 0 ? (opts.mode ?? 0o644) : 0;
  if (openat2Works !== false) {
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = sys.openat2(rootFd, relative(p), all, mode, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
        openat2Works = true;
        return fd;
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        // EAGAIN: a rename raced the lookup and the kernel could not prove it stayed inside
        if (e.errno === EAGAIN && attempt < 16) continue;
        if ((e.errno === ENOSYS || e.errno === EPERM) && openat2Works === undefined) {
          openat2Works = false;
          break;
        }
        throw e;
      }
    }
  }
  return walkInRoot(sys, rootFd, p, all, mode, followLast);
}

function relative(p: string): string {
  const trimmed = p.replace(/^\/+/, '');
  return trimmed === '' ? '.' : trimmed;
}

function isLastComponent(rest: readonly string[]): boolean {
  return rest.every((c) => c === '' || c === '.');
}

/**
 * RESOLVE_IN_ROOT done by hand. `stack` holds the O_PATH fds of the directories walked through
 * (below the root), so ".." pops one and never climbs above the root fd.
 */
function walkInRoot(sys: Sys, rootFd: number, p: string, flags: number, mode: number, followLast: boolean): number {
  const stack: number[] = [];
  const current = () => (stack.length > 0 ? stack[stack.length - 1]! : rootFd);
  const unwind = () => {
    while (stack.length > 0) sys.close(stack.pop()!);
  };
  const parts = p.split('/');
  let links = 0;
  try {
    while (parts.length > 0) {
      const part = parts.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length > 0) sys.close(stack.pop()!);
        continue;
      }
      const last = isLastComponent(parts);
      let probe: number;
      try {
        probe = sys.openat(current(), part, O.PATH | O.NOFOLLOW | O.CLOEXEC);
      } catch (e) {
        if (last && e instanceof SysError && e.errno === ENOENT && (flags & O.CREAT) !== 0) {
          return sys.openat(current(), part, flags | O.NOFOLLOW, mode);
        }
        throw e;
      }
      const kind = sys.fstat(probe).kind;
      if (kind === 'symlink') {
        if (last && !followLast) {
          // the caller wants the link itself: only O_PATH can open one
          if ((flags & O.PATH) !== 0) return probe;
          sys.close(probe);
          throw new SysError('openat', ELOOP, part);
        }
        const target = sys.readlinkat(probe, '');
        sys.close(probe);
        if (++links > MAX_LINKS) throw new SysError('openat', ELOOP, p);
        if (target.startsWith('/')) unwind();
        parts.unshift(...target.split('/'));
        continue;
      }
      if (!last) {
        if (kind !== 'dir') {
          sys.close(probe);
          throw new SysError('openat', ENOTDIR, part);
        }
        stack.push(probe);
        continue;
      }
      if ((flags & O.PATH) !== 0) return probe;
      // the final open is by name again, with O_NOFOLLOW: a link swapped in meanwhile fails (ELOOP)
      sys.close(probe);
      return sys.openat(current(), part, flags | O.NOFOLLOW, mode);
    }
    // the path named the root itself (or only "." and ".." components)
    return sys.openat(current(), '.', flags & ~O.NOFOLLOW, mode);
  } finally {
    unwind();
  }
}

/** The kind of `p` inside the root, or undefined when it does not exist. */
export function statInRoot(sys: Sys, rootFd: number, p: string, followLast = false): FileKind | undefined {
  let fd: number;
  try {
    fd = openInRoot(sys, rootFd, p, O.PATH, { followLast });
  } catch (e) {
    if (e instanceof SysError && (e.errno === ENOENT || e.errno === ENOTDIR)) return undefined;
    throw e;
  }
  try {
    return sys.fstat(fd);
  } finally {
    sys.close(fd);
  }
}

/**
 * mkdir -p inside the root: one O_NOFOLLOW step per component below the fd of its parent, a
 * symlink on the way expanded inside the root (a dangling one, such as an image's `/dev` pointing
 * at a host directory, gets its target created inside the root, as a secure join would), ".."
 * never above the root. Returns an O_PATH fd of the directory.
 */
export function mkdirAllInRoot(sys: Sys, rootFd: number, p: string, mode: number): number {
  const stack: number[] = [];
  const current = () => (stack.length > 0 ? stack[stack.length - 1]! : rootFd);
  const unwind = () => {
    while (stack.length > 0) sys.close(stack.pop()!);
  };
  const parts = p.split('/');
  let links = 0;
  try {
    while (parts.length > 0) {
      const part = parts.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length > 0) sys.close(stack.pop()!);
        continue;
      }
      let probe: number;
      try {
        probe = sys.openat(current(), part, O.PATH | O.NOFOLLOW | O.CLOEXEC);
      } catch (e) {
        if (!(e instanceof SysError) || e.errno !== ENOENT) throw e;
        try {
          sys.mkdirat(current(), part, mode);
        } catch (err) {
          if (!(err instanceof SysError) || err.errno !== EEXIST) throw err;
        }
        probe = sys.openat(current(), part, O.PATH | O.NOFOLLOW | O.CLOEXEC);
      }
      const kind = sys.fstat(probe).kind;
      if (kind === 'symlink') {
        const target = sys.readlinkat(probe, '');
        sys.close(probe);
        if (++links > MAX_LINKS) throw new SysError('mkdirat', ELOOP, p);
        if (target.startsWith('/')) unwind();
        parts.unshift(...target.split('/'));
        continue;
      }
      if (kind !== 'dir') {
        sys.close(probe);
        throw new SysError('mkdirat', ENOTDIR, part);
      }
      stack.push(probe);
    }
    if (stack.length === 0) return sys.openat(rootFd, '.', O.PATH | O.DIRECTORY | O.CLOEXEC);
    return stack.pop()!;
  } finally {
    unwind();
  }
}

/** The magic-link path of one of this process's fds: mount(2) and friends act on exactly that file. */
export function procFdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** Where an fd points now, as the kernel names it (readlink of /proc/self/fd/N). */
export function fdPath(sys: Sys, fd: number): string {
  return sys.readlink(procFdPath(fd));
}

/** True when `p` is `root` or below it (both absolute, normalised by the kernel). */
export function isWithin(root: string, p: string): boolean {
  const r = root.endsWith('/') ? root : `${root}/`;
  return p === root || p.startsWith(r) || root === '/';
}

export const _testing = { ENOENT, ENOTDIR, ELOOP, ENOSYS };
