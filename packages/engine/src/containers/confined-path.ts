/**
 * Paths inside a container's root filesystem, resolved from the host without ever leaving it:
 * every component is looked at with lstat, a symlink met on the way is expanded as if the root
 * were "/" (an absolute target restarts at the root, ".." never climbs above it), so neither
 * "../../etc/shadow" nor a link to "/.." reaches the host. What Docker's FollowSymlinkInScope does.
 *
 * The result is a host path with no symlink in it at the time of resolution. A process inside a
 * running container could swap a directory for a link afterwards; callers open the final
 * component with O_NOFOLLOW where it matters.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Too many symlinks on the way (ELOOP), as the kernel's limit. */
export class SymlinkLoopError extends Error {
  constructor(readonly containerPath: string) {
    super(`too many levels of symbolic links resolving ${containerPath}`);
    this.name = 'SymlinkLoopError';
  }
}

const MAX_LINKS = 255;

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

export interface Resolved {
  /** The host path (under `root`). */
  host: string;
  /** The same place as a clean absolute path inside the container ("/" for the root). */
  inContainer: string;
}

/**
 * Resolve `containerPath` (absolute or relative to "/") inside `root`. Symlinks in the middle are
 * always followed; the last component only when `followLast` (a trailing "/" or "/." also asks for it).
 * Missing components are kept as they are (the caller's lstat tells they do not exist).
 */
export function resolveInRoot(root: string, containerPath: string, followLast: boolean): Resolved {
  if (containerPath.includes('\0')) throw new Error('path contains a NUL byte');
  const follow = followLast || /\/\.?$/.test(containerPath);
  const parts = containerPath.split('/');
  const resolved: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    const st = lstatOrUndefined(candidate);
    const isLast = parts.every((p) => p === '' || p === '.');
    if (st?.isSymbolicLink() && (!isLast || follow)) {
      if (++links > MAX_LINKS) throw new SymlinkLoopError(containerPath);
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/'));
      continue;
    }
    resolved.push(part);
  }
  return { host: resolved.length === 0 ? root : path.join(root, ...resolved), inContainer: `/${resolved.join('/')}` };
}

/**
 * A clean absolute container path for `p` ("/" joined, ".." resolved lexically), keeping a
 * trailing "/" or "/." the way Docker's PreserveTrailingDotOrSeparator does.
 */
export function containerAbsPath(p: string): string {
  const clean = path.posix.join('/', p).replace(/\/+$/, '') || '/';
  if (clean === '/') return '/';
  if (p.endsWith('/.')) return `${clean}/.`;
  if (p.endsWith('/')) return `${clean}/`;
  return clean;
}

/** The last element of a container path, as Docker names an archive's root entry ("/" for the root). */
export function containerBaseName(absPath: string): string {
  if (absPath.endsWith('/.')) return '.'; // "copy the contents of": Go's filepath.Base gives "."
  const trimmed = absPath.replace(/\/$/, '');
  if (trimmed === '') return '/';
  return path.posix.basename(trimmed);
}
