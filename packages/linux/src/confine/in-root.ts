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
const EXDEV = 18;
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

/**
 * One lookup inside a root, component by component: each step is one O_PATH|O_NOFOLLOW openat
 * below the fd of the directory reached so far, a symlink is expanded in place (an absolute target
 * starts again at the root), ".." pops one directory and never the root. Directories known not to
 * exist (for a lexical answer) sit on the stack without an fd.
 */
class Walk {
  private readonly stack: { fd: number | undefined; name: string }[] = [];
  private readonly parts: string[];
  private links = 0;

  constructor(
    private readonly sys: Sys,
    private readonly rootFd: number,
    private readonly path: string,
    private readonly op: string,
  ) {
    this.parts = path.split('/');
  }

  /** The next name to look up ("." and ".." are dealt with here), or undefined at the end. */
  next(): string | undefined {
    while (this.parts.length > 0) {
      const part = this.parts.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        this.pop();
        continue;
      }
      return part;
    }
    return undefined;
  }

  /** Whether the name `next()` just gave is the last one. */
  get atLast(): boolean {
    return this.parts.every((c) => c === '' || c === '.');
  }

  /** The directory reached so far: an fd, or undefined below a component that does not exist. */
  get dir(): number | undefined {
    return this.stack.length > 0 ? this.stack[this.stack.length - 1]!.fd : this.rootFd;
  }

  /** Look `name` up below the current directory without following it; undefined when missing. */
  probe(name: string): number | undefined {
    const dir = this.dir;
    if (dir === undefined) return undefined;
    try {
      return this.sys.openat(dir, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
    } catch (e) {
      if (e instanceof SysError && e.errno === ENOENT) return undefined;
      throw e;
    }
  }

  /** Expand the symlink `linkFd` (closed here) in place of the component it was. */
  follow(linkFd: number): void {
    const target = this.sys.readlinkat(linkFd, '');
    this.sys.close(linkFd);
    if (++this.links > MAX_LINKS) throw new SysError(this.op, ELOOP, this.path);
    if (target.startsWith('/')) this.unwind();
    this.parts.unshift(...target.split('/'));
  }

  push(fd: number | undefined, name: string): void {
    this.stack.push({ fd, name });
  }

  /** Hand the top directory's fd to the caller (the root's is re-opened, never given away). */
  take(): number {
    if (this.stack.length === 0) return this.sys.openat(this.rootFd, '.', O.PATH | O.DIRECTORY | O.CLOEXEC);
    const top = this.stack.pop()!;
    if (top.fd === undefined) throw new SysError(this.op, ENOENT, this.path);
    return top.fd;
  }

  /** The in-root path walked so far, "/" for the root. */
  names(): string {
    return `/${this.stack.map((e) => e.name).join('/')}`;
  }

  /** One directory up, false when already at the top. */
  up(): boolean {
    if (this.stack.length === 0) return false;
    this.pop();
    return true;
  }

  private pop(): void {
    const top = this.stack.pop();
    if (top?.fd !== undefined) this.sys.close(top.fd);
  }

  unwind(): void {
    while (this.stack.length > 0) this.pop();
  }
}

/** RESOLVE_IN_ROOT done by hand, the final open by name again with O_NOFOLLOW. */
function walkInRoot(sys: Sys, rootFd: number, p: string, flags: number, mode: number, followLast: boolean): number {
  const w = new Walk(sys, rootFd, p, 'openat');
  try {
    for (let part = w.next(); part !== undefined; part = w.next()) {
      const last = w.atLast;
      const probe = w.probe(part);
      if (probe === undefined) {
        if (last && (flags & O.CREAT) !== 0) return sys.openat(w.dir!, part, flags | O.NOFOLLOW, mode);
        throw new SysError('openat', ENOENT, part);
      }
      const kind = sys.fstat(probe).kind;
      if (kind === 'symlink') {
        if (last && !followLast) {
          // the caller wants the link itself: only O_PATH can open one
          if ((flags & O.PATH) !== 0) return probe;
          sys.close(probe);
          throw new SysError('openat', ELOOP, part);
        }
        w.follow(probe);
        continue;
      }
      if (!last) {
        if (kind !== 'dir') {
          sys.close(probe);
          throw new SysError('openat', ENOTDIR, part);
        }
        w.push(probe, part);
        continue;
      }
      if ((flags & O.PATH) !== 0) return probe;
      // the final open is by name again, with O_NOFOLLOW: a link swapped in meanwhile fails (ELOOP)
      sys.close(probe);
      return sys.openat(w.dir!, part, flags | O.NOFOLLOW, mode);
    }
    // the path named the root itself (or only "." and ".." components)
    return sys.openat(w.dir!, '.', flags & ~O.NOFOLLOW, mode);
  } finally {
    w.unwind();
  }
}

/**
 * Open `p` below `dirFd` following no symlink at all, and never above `dirFd` (openat2's
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a walk of O_NOFOLLOW openat): for trees read as data,
 * such as an image's layers, where a link is an entry and never a way to somewhere. A symlink on
 * the way fails with ELOOP; a trailing one too, unless `flags` has O_PATH (the link itself is
 * opened: O_NOFOLLOW is always added). ".." above `dirFd` fails with EXDEV.
 */
export function openBeneath(sys: Sys, dirFd: number, p: string, flags: number): number {
  if (p.includes('\0')) throw new SysError('openat2', 22 /* EINVAL */, 'path contains a NUL byte');
  const all = flags | O.CLOEXEC | O.NOFOLLOW;
  if (openat2Works !== false) {
    try {
      const fd = sys.openat2(dirFd, relative(p), all, 0, RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS);
      openat2Works = true;
      return fd;
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      if (!((e.errno === ENOSYS || e.errno === EPERM) && openat2Works === undefined)) throw e;
      openat2Works = false;
    }
  }
  const w = new Walk(sys, dirFd, '', 'openat');
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  try {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const last = i === parts.length - 1;
      if (part === '..') {
        if (!w.up()) throw new SysError('openat', EXDEV, p);
        continue;
      }
      const probe = w.probe(part);
      if (probe === undefined) throw new SysError('openat', ENOENT, part);
      const kind = sys.fstat(probe).kind;
      if (last && (flags & O.PATH) !== 0) return probe;
      if (kind === 'symlink') {
        sys.close(probe);
        throw new SysError('openat', ELOOP, part);
      }
      if (last) {
        sys.close(probe);
        return sys.openat(w.dir!, part, all);
      }
      if (kind !== 'dir') {
        sys.close(probe);
        throw new SysError('openat', ENOTDIR, part);
      }
      w.push(probe, part);
    }
    return sys.openat(w.dir!, '.', all & ~O.NOFOLLOW);
  } finally {
    w.unwind();
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
 * never above the root. Returns an O_PATH fd of the directory; `onCreate` hears of each
 * directory made (the fd of its parent and its name).
 */
export function mkdirAllInRoot(sys: Sys, rootFd: number, p: string, mode: number, onCreate?: (dirFd: number, name: string) => void): number {
  // most directories exist already: one lookup by the kernel
  try {
    return openInRoot(sys, rootFd, p, O.PATH | O.DIRECTORY);
  } catch (e) {
    if (!(e instanceof SysError) || e.errno !== ENOENT) throw e;
  }
  const w = new Walk(sys, rootFd, p, 'mkdirat');
  try {
    for (let part = w.next(); part !== undefined; part = w.next()) {
      let probe = w.probe(part);
      if (probe === undefined) {
        try {
          sys.mkdirat(w.dir!, part, mode);
          onCreate?.(w.dir!, part);
        } catch (err) {
          if (!(err instanceof SysError) || err.errno !== EEXIST) throw err;
        }
        probe = sys.openat(w.dir!, part, O.PATH | O.NOFOLLOW | O.CLOEXEC);
      }
      const kind = sys.fstat(probe).kind;
      if (kind === 'symlink') {
        w.follow(probe);
        continue;
      }
      if (kind !== 'dir') {
        sys.close(probe);
        throw new SysError('mkdirat', ENOTDIR, part);
      }
      w.push(probe, part);
    }
    return w.take();
  } finally {
    w.unwind();
  }
}

/**
 * The clean in-root path `p` leads to, symlinks followed inside the root (the last one only when
 * `followLast`) and components that do not exist (or sit below a non-directory) kept as written:
 * Docker's FollowSymlinkInScope, answered by fd. For naming a place (a link's target in
 * `docker cp`), never for opening it: open with `openInRoot`.
 */
export function realpathInRoot(sys: Sys, rootFd: number, p: string, followLast = true): string {
  const w = new Walk(sys, rootFd, p, 'openat');
  try {
    for (let part = w.next(); part !== undefined; part = w.next()) {
      const probe = w.probe(part);
      if (probe === undefined) {
        w.push(undefined, part);
        continue;
      }
      const kind = sys.fstat(probe).kind;
      if (kind === 'symlink' && (followLast || !w.atLast)) {
        w.follow(probe);
        continue;
      }
      if (kind === 'dir') {
        w.push(probe, part);
        continue;
      }
      sys.close(probe);
      w.push(undefined, part);
    }
    return w.names();
  } finally {
    w.unwind();
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
