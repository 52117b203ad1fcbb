/**
 * Reading a tree by file descriptor: each entry is an O_PATH|O_NOFOLLOW fd opened below the fd of
 * its directory, and stat'ed, listed and read through that fd. Nothing is looked up by a path
 * joined from the tree's root, so a directory swapped for a symlink while the tree is read (a
 * running container's rootfs, a snapshot in use) cannot make the reader leave the tree: at worst
 * an entry is missing or seen as the link it became. The layer differ, the tar tree writer and
 * gantryd's docker cp / diff walk trees this way.
 */
import * as fs from 'node:fs';
import { O } from '../constants';
import { SysError } from '../errors';
import type { Sys } from '../sys';
import { isPlainName } from './at';
import { procFdPath } from './in-root';

/** One entry of a tree: an O_PATH|O_NOFOLLOW fd (the caller closes it) and what fstat said of it. */
export interface TreeNode {
  fd: number;
  st: fs.BigIntStats;
}

/** Names compared as their bytes (the order tar writers list a directory in). */
export const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A node for an fd the caller already holds (an O_PATH fd is fine). */
export function nodeOf(fd: number): TreeNode {
  return { fd, st: fs.fstatSync(fd, { bigint: true }) };
}

/** Open `name` below the directory `dirFd` without following it; undefined when it is gone. */
export function openChild(sys: Sys, dirFd: number, name: string): TreeNode | undefined {
  if (!isPlainName(name)) throw new SysError('openat', 22 /* EINVAL */, name);
  let fd: number;
  try {
    fd = sys.openat(dirFd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
  } catch (e) {
    if (e instanceof SysError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return undefined;
    throw e;
  }
  try {
    return nodeOf(fd);
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** The names in a directory node, in byte order (as tar writers list them). */
export function childNames(sys: Sys, dirFd: number): string[] {
  return sys.readdirFd(dirFd).sort(byteOrder);
}

/** Run `fn` with the child `name` of `dirFd` open, closing it after; `fn` is skipped when it is gone. */
export async function* withChild<T>(sys: Sys, dirFd: number, name: string, fn: (n: TreeNode) => AsyncGenerator<T>): AsyncGenerator<T> {
  const n = openChild(sys, dirFd, name);
  if (!n) return;
  try {
    yield* fn(n);
  } finally {
    sys.close(n.fd);
  }
}

/** A regular file node opened for reading: the magic link reopens exactly the inode stat'ed. */
export function openForReading(sys: Sys, n: TreeNode): number {
  return sys.open(procFdPath(n.fd), O.RDONLY | O.NONBLOCK | O.CLOEXEC);
}
