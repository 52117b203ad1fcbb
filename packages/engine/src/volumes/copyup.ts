/**
 * Docker's copy-up of an image's directory into an empty volume, by file descriptor on both sides:
 * the directory is opened inside the image root (a mount point such as `/data -> /host/dir` is
 * followed within the root), the volume as a root of its own, every entry is read below the fd of
 * its directory and made with *at calls below the fd of its copy, never following a name. Neither
 * a hostile image nor a container writing into a shared volume meanwhile can turn the copy into a
 * read or a write of a host path.
 */
import * as fs from 'node:fs';
import { AT, O, SysError, linuxSys, openInRoot, openRoot, procFdPath, type Sys, nodeOf, openChild } from '@gantry/linux';

const COPY_CHUNK = 1 << 20;

/** Seconds with the nanoseconds as a fraction, for utimensat. */
const seconds = (ns: bigint): number => Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;

/** Owner, then mode (chown clears set-id bits), then times of `name` below `dirFd`; `fd` is an fd of it. */
function copyMeta(sys: Sys, st: fs.BigIntStats, fd: number, dirFd: number, name: string, symlink: boolean): void {
  sys.fchownat(fd, '', Number(st.uid), Number(st.gid), AT.EMPTY_PATH);
  if (!symlink) sys.fchmod(fd, Number(st.mode & 0o7777n));
  sys.utimensat(dirFd, name, seconds(st.atimeNs), seconds(st.mtimeNs), AT.SYMLINK_NOFOLLOW);
}

function copyData(sys: Sys, fromFd: number, toFd: number): void {
  const input = sys.open(procFdPath(fromFd), O.RDONLY | O.NONBLOCK | O.CLOEXEC);
  try {
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    for (let n = fs.readSync(input, buf); n > 0; n = fs.readSync(input, buf)) {
      for (let off = 0; off < n;) off += fs.writeSync(toFd, buf, off, n - off);
    }
  } finally {
    sys.close(input);
  }
}

/**
 * Copy the tree below the directory `srcFd` into the empty directory `dstFd` (the root of the
 * volume): directories, regular files (hard links kept as links), symlinks (not followed) and
 * their owners, modes and times. Device nodes, FIFOs and sockets are skipped.
 */
function copyTree(sys: Sys, srcFd: number, dstFd: number): void {
  /** dev:ino of multiply-linked files to where the first copy is in the volume. */
  const inodes = new Map<string, { dir: string; name: string }>();
  const walk = (from: number, to: number, rel: string) => {
    for (const name of sys.readdirFd(from)) {
      const n = openChild(sys, from, name);
      if (!n) continue;
      try {
        const st = n.st;
        if (st.isDirectory()) {
          sys.mkdirat(to, name, 0o700);
          const d = sys.openat(to, name, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
          try {
            walk(n.fd, d, rel === '' ? name : `${rel}/${name}`);
            copyMeta(sys, st, d, to, name, false);
          } finally {
            sys.close(d);
          }
        } else if (st.isSymbolicLink()) {
          sys.symlinkat(sys.readlinkat(n.fd, ''), to, name);
          const l = sys.openat(to, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
          try {
            copyMeta(sys, st, l, to, name, true);
          } finally {
            sys.close(l);
          }
        } else if (st.isFile()) {
          const key = `${st.dev}:${st.ino}`;
          const first = st.nlink > 1n ? inodes.get(key) : undefined;
          if (first) {
            // the first copy's directory, opened inside the volume again
            const fdir = openInRoot(sys, dstFd, first.dir, O.PATH | O.DIRECTORY);
            try {
              sys.linkat(fdir, first.name, to, name, 0);
            } finally {
              sys.close(fdir);
            }
            continue;
          }
          const out = sys.openat(to, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o600);
          try {
            copyData(sys, n.fd, out);
            copyMeta(sys, st, out, to, name, false);
          } finally {
            sys.close(out);
          }
          if (st.nlink > 1n) inodes.set(key, { dir: rel, name });
        }
      } finally {
        sys.close(n.fd);
      }
    }
  };
  walk(srcFd, dstFd, '');
}

const missing = (e: unknown) => e instanceof SysError && (e.code === 'ENOENT' || e.code === 'ENOTDIR');

/**
 * Docker's copy-up: when the volume directory `volumeDir` is empty and the image (mounted at
 * `rootfs`) has a directory at `destination`, its content (and the directory's owner and mode)
 * are copied into the volume. Returns whether anything was copied.
 */
export function copyImageContent(rootfs: string, destination: string, volumeDir: string, sys: Sys = linuxSys()): boolean {
  const rootFd = openRoot(sys, rootfs);
  try {
    let src: number;
    try {
      src = openInRoot(sys, rootFd, destination, O.PATH | O.DIRECTORY);
    } catch (e) {
      if (missing(e)) return false;
      throw e;
    }
    try {
      const dst = openRoot(sys, volumeDir);
      try {
        if (sys.readdirFd(dst).length > 0) return false;
        copyTree(sys, src, dst);
        copyMeta(sys, nodeOf(src).st, dst, dst, '.', false);
        return true;
      } finally {
        sys.close(dst);
      }
    } finally {
      sys.close(src);
    }
  } finally {
    sys.close(rootFd);
  }
}
