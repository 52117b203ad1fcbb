/**
 * `docker diff`: what a container changed, read from its overlay upper dir against the image's
 * lower dirs, with Docker's kinds (0 modified, 1 added, 2 deleted) and Docker's rules: a 0:0
 * character device is a deletion, an opaque directory hides everything the image had below it,
 * a directory present below with the same size, mode and mtime is not reported unless something
 * in it changed, and the parent of an added or deleted entry is reported as modified.
 */
import * as path from 'node:path';
import { O, SysError, linuxSys, openBeneath, openRoot, type Sys, childNames, nodeOf, openChild, type TreeNode } from '@gantry/linux';

export enum ChangeKind {
  Modified = 0,
  Added = 1,
  Deleted = 2,
}

export interface Change {
  Path: string;
  Kind: ChangeKind;
}

type Stats = TreeNode['st'];

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0n;

function isOpaque(sys: Sys, fd: number): boolean {
  for (const name of ['trusted.overlay.opaque', 'user.overlay.opaque']) {
    try {
      if (sys.fgetxattr(fd, name)?.toString() === 'y') return true;
    } catch {
      // no xattr support: not opaque
    }
  }
  return false;
}

/** `rel` in one layer, looked up following no link (a link in a layer is an entry, not a way); undefined when absent. */
function openInLayer(sys: Sys, layerFd: number, rel: string, flags: number): number | undefined {
  try {
    return openBeneath(sys, layerFd, rel, flags);
  } catch (e) {
    if (e instanceof SysError && (e.code === 'ENOENT' || e.code === 'ENOTDIR' || e.code === 'ELOOP')) return undefined;
    throw e;
  }
}

/** The entry the image has at `rel` (topmost lower wins; a whiteout there means none). */
function inLowers(sys: Sys, lowers: readonly number[], rel: string): Stats | undefined {
  for (const l of lowers) {
    const fd = openInLayer(sys, l, rel, O.PATH);
    if (fd === undefined) continue;
    try {
      const st = nodeOf(fd).st;
      return isWhiteout(st) ? undefined : st;
    } finally {
      sys.close(fd);
    }
  }
  return undefined;
}

/** Names the image has in directory `rel`, merged over all lowers (whiteouts removed). */
function lowerNames(sys: Sys, lowers: readonly number[], rel: string): string[] {
  const names = new Set<string>();
  const hidden = new Set<string>();
  for (const l of lowers) {
    const dir = openInLayer(sys, l, rel, O.PATH | O.DIRECTORY);
    if (dir === undefined) continue;
    try {
      for (const n of sys.readdirFd(dir)) {
        if (names.has(n) || hidden.has(n)) continue;
        const st = sys.fstatat(dir, n);
        if (st?.kind === 'chr' && st.rdev === 0) hidden.add(n);
        else names.add(n);
      }
    } finally {
      sys.close(dir);
    }
  }
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * The changes in an overlay `upper` dir against its `lowers` (top first). The upper dir (written
 * by the running container) is read by fd, each entry opened O_NOFOLLOW below its directory's fd;
 * the lowers are looked into following no symlink: nothing the container or the image made can
 * send the walk onto the host.
 */
export function overlayChanges(upper: string, lowers: readonly string[], sys: Sys = linuxSys()): Change[] {
  const out: Change[] = [];
  const changedDirs = new Set<string>();
  const record = (p: string, kind: ChangeKind) => {
    if (kind !== ChangeKind.Modified) {
      const parent = path.posix.dirname(p);
      if (parent !== '/' && !changedDirs.has(parent)) {
        out.push({ Path: parent, Kind: ChangeKind.Modified });
        changedDirs.add(parent);
      }
    }
    out.push({ Path: p, Kind: kind });
  };
  const fds: number[] = [];
  const walk = (dirFd: number, rel: string, lowerFds: readonly number[]) => {
    for (const name of childNames(sys, dirFd)) {
      const p = `${rel}/${name}`;
      const n = openChild(sys, dirFd, name);
      if (!n) continue;
      try {
        const st = n.st;
        if (isWhiteout(st)) {
          if (inLowers(sys, lowerFds, p)) record(p, ChangeKind.Deleted);
          continue;
        }
        const below = inLowers(sys, lowerFds, p);
        const sameDir = below?.isDirectory() && st.isDirectory() && below.size === st.size && below.mode === st.mode && below.mtimeNs === st.mtimeNs;
        // an unchanged directory is not recorded, so a change below it still reports it (as dockerd)
        if (!below || !sameDir) {
          record(p, below ? ChangeKind.Modified : ChangeKind.Added);
          if (st.isDirectory()) changedDirs.add(p);
        }
        if (!st.isDirectory()) continue;
        if (below?.isDirectory() && isOpaque(sys, n.fd)) {
          const kept = new Set(sys.readdirFd(n.fd));
          for (const gone of lowerNames(sys, lowerFds, p)) if (!kept.has(gone)) record(`${p}/${gone}`, ChangeKind.Deleted);
        }
        walk(n.fd, p, lowerFds);
      } finally {
        sys.close(n.fd);
      }
    }
  };
  try {
    const upperFd = openRoot(sys, upper);
    fds.push(upperFd);
    for (const l of lowers) fds.push(openRoot(sys, l));
    walk(upperFd, '', fds.slice(1));
  } finally {
    for (const fd of fds) sys.close(fd);
  }
  return out;
}
