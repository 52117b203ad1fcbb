/**
 * docker cp's paths inside a container: named the way Docker names them, and opened inside the
 * container's root by file descriptor (@gantry/linux's confine toolkit), so neither "../.." nor a
 * symlink to "/" or to a host file, made before or while we look, leads out of the root.
 */
import * as path from 'node:path';
import { O, SysError, openInRoot, realpathInRoot, type Sys, nodeOf, type TreeNode } from '@gantry/linux';
import { pathStat, type ContainerPathStat } from './path-stat';

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

/** A trailing "/" or "/." asks for the last element to be followed. */
const followsLast = (abs: string) => /\/\.?$/.test(abs);

const missing = (e: unknown) => e instanceof SysError && (e.code === 'ENOENT' || e.code === 'ENOTDIR');

/** What HEAD/GET archive see at a path: an open node of it (the caller closes `node.fd`) and its stat. */
export interface CpSource {
  node: TreeNode;
  stat: ContainerPathStat;
}

/**
 * Open `p` in the container, its parent followed in the container's scope and the last element
 * not (Docker's ResolvePath + StatPath); undefined when there is nothing. A symlink's
 * `linkTarget` is the container path it leads to.
 */
export function openCpSource(sys: Sys, rootFd: number, p: string): CpSource | undefined {
  const abs = containerAbsPath(p);
  let fd: number;
  try {
    fd = openInRoot(sys, rootFd, abs, O.PATH, { followLast: followsLast(abs) });
  } catch (e) {
    if (missing(e)) return undefined;
    throw e;
  }
  try {
    const node = nodeOf(fd);
    const linkTarget = node.st.isSymbolicLink() ? realpathInRoot(sys, rootFd, abs, true) : '';
    return { node, stat: pathStat(containerBaseName(abs), node.st, linkTarget) };
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/**
 * PUT archive's extraction point: `p` followed inside the container; its clean in-root path when
 * it is a directory, 'not-dir' when it is something else, undefined when there is nothing.
 */
export function cpDestination(sys: Sys, rootFd: number, p: string): string | undefined {
  const abs = containerAbsPath(p);
  let fd: number;
  try {
    fd = openInRoot(sys, rootFd, abs, O.PATH);
  } catch (e) {
    if (missing(e)) return undefined;
    throw e;
  }
  try {
    if (sys.fstat(fd).kind !== 'dir') return 'not-dir';
  } finally {
    sys.close(fd);
  }
  // members are resolved below this path again, inside the root, by fd
  return realpathInRoot(sys, rootFd, abs, true);
}
