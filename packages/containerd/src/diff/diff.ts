/**
 * Compute a layer (an uncompressed tar of changes) between two trees, the way containerd's
 * walking differ describes changes: added and modified entries with their metadata (mode, owner,
 * times, xattrs, hard links within the layer), deletions as `.wh.<name>` whiteouts.
 *
 * Two ways in:
 * - `diffDirectories(lower, upper)`: the generic two-tree walk. Both trees are read in name order
 *   per directory; an entry only in lower becomes a whiteout (its subtree is not descended), one
 *   only in upper is added with its subtree, one in both is emitted when its type, mode, owner,
 *   size, mtime (to the nanosecond), device number, symlink target or xattrs differ — or, for
 *   regular files whose metadata is equal but whose mtime has no sub-second part (a tree made by
 *   extracting a tar), when the bytes differ. A directory replaced by a new one comes out as
 *   individual whiteouts of what disappeared (a two-tree walk cannot tell "replaced" from
 *   "emptied"); the result applies to the same tree either way.
 * - `diffOverlayUpper(upperdir)`: the overlay fast path. Everything in an overlay upper dir is a
 *   change: a 0:0 character device is a whiteout, a directory with the `trusted.overlay.opaque`
 *   (or `user.overlay.opaque`) xattr "y" is emitted followed by `.wh..wh..opq`. Overlay's own
 *   xattrs are not copied into the layer. Upper dirs using redirect_dir or metacopy cannot be
 *   read this way (`overlayUpperIsSelfContained` tells), and callers fall back to the walk.
 *
 * Both trees are read by fd (tree.ts): every entry is opened O_PATH|O_NOFOLLOW below its
 * directory's fd, so a tree that changes while it is read (a running container's upper dir)
 * cannot lead the reader onto the host.
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { END_OF_ARCHIVE, entryType, TreeWriter } from '@gantry/archive';
import { byteOrder, childNames, linuxSys, openChild, openForReading, openRoot, withChild, type Sys, type TreeNode } from '@gantry/linux';

export interface DiffOptions {
  /** The kernel seam the trees are read through (default: the real one). */
  sys?: Sys;
  /** Clamp every time in the layer to this instant (reproducible layers, containerd 1.7's source_date_epoch). */
  sourceDateEpoch?: Date;
}

const READ_CHUNK = 1 << 20;

function writer(opts: DiffOptions): TreeWriter {
  return new TreeWriter({
    sys: opts.sys ?? linuxSys(),
    xattrs: true,
    oneFilesystem: false,
    padShrunk: false,
    ...(opts.sourceDateEpoch ? { epoch: Math.floor(opts.sourceDateEpoch.getTime() / 1000) } : {}),
  });
}

function sameXattrs(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || !w.equals(v)) return false;
  }
  return true;
}

/** Whether `u` (upper) differs from `l` (lower), both of the same type; xattrs of upper returned for reuse. */
function changed(w: TreeWriter, sys: Sys, l: TreeNode, u: TreeNode): { changed: boolean; xattrs: Map<string, Buffer> } {
  const ux = w.xattrs(u);
  const [ls, us] = [l.st, u.st];
  if (ls.mode !== us.mode || ls.uid !== us.uid || ls.gid !== us.gid) return { changed: true, xattrs: ux };
  if ((us.isCharacterDevice() || us.isBlockDevice()) && ls.rdev !== us.rdev) return { changed: true, xattrs: ux };
  if (us.isSymbolicLink() && sys.readlinkat(l.fd, '') !== sys.readlinkat(u.fd, '')) return { changed: true, xattrs: ux };
  if (!sameXattrs(w.xattrs(l), ux)) return { changed: true, xattrs: ux };
  if (us.isDirectory()) return { changed: ls.mtimeNs !== us.mtimeNs, xattrs: ux };
  if (us.isFile()) {
    if (ls.size !== us.size || ls.mtimeNs !== us.mtimeNs) return { changed: true, xattrs: ux };
    // equal metadata: trust it, unless the mtime has no sub-second part (tar-extracted trees)
    if (us.mtimeNs % 1_000_000_000n !== 0n) return { changed: false, xattrs: ux };
    return { changed: !sameContent(sys, l, u, Number(us.size)), xattrs: ux };
  }
  return { changed: ls.mtimeNs !== us.mtimeNs, xattrs: ux };
}

function sameContent(sys: Sys, a: TreeNode, b: TreeNode, size: number): boolean {
  const fa = openForReading(sys, a);
  try {
    const fb = openForReading(sys, b);
    try {
      const ba = Buffer.allocUnsafe(Math.min(size, READ_CHUNK) || 1);
      const bb = Buffer.allocUnsafe(ba.length);
      for (let off = 0; off < size;) {
        const n = fs.readSync(fa, ba, 0, ba.length, off);
        const m = fs.readSync(fb, bb, 0, n, off);
        if (n === 0 || m !== n || !ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
        off += n;
      }
      return true;
    } finally {
      sys.close(fb);
    }
  } finally {
    sys.close(fa);
  }
}

async function* walk(w: TreeWriter, sys: Sys, lowerFd: number, upperFd: number, rel: string): AsyncGenerator<Buffer> {
  const upperNames = childNames(sys, upperFd);
  const lowerNames = new Set(childNames(sys, lowerFd));
  const all = [...new Set([...upperNames, ...lowerNames])].sort(byteOrder);
  for (const name of all) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const u = openChild(sys, upperFd, name);
    const l = lowerNames.has(name) ? openChild(sys, lowerFd, name) : undefined;
    try {
      if (!u) {
        if (l) yield* w.whiteoutIn(rel, `.wh.${name}`);
        continue;
      }
      if (!l || entryType(l.st) !== entryType(u.st)) {
        yield* w.tree(u, r);
        continue;
      }
      const c = changed(w, sys, l, u);
      if (c.changed) yield* w.entry(u, r, c.xattrs);
      if (u.st.isDirectory()) {
        w.enter(u, r, c.changed);
        try {
          yield* walk(w, sys, l.fd, u.fd, r);
        } finally {
          w.leave();
        }
      }
    } finally {
      if (u) sys.close(u.fd);
      if (l) sys.close(l.fd);
    }
  }
}

async function* overlayWalk(w: TreeWriter, sys: Sys, dirFd: number, rel: string): AsyncGenerator<Buffer> {
  for (const name of childNames(sys, dirFd)) {
    const r = rel === '' ? name : `${rel}/${name}`;
    yield* withChild(sys, dirFd, name, async function* (n) {
      if (n.st.isCharacterDevice() && n.st.rdev === 0n) {
        yield* w.whiteoutIn(rel, `.wh.${name}`);
        return;
      }
      yield* w.entry(n, r);
      if (!n.st.isDirectory()) return;
      if (isOpaque(sys, n.fd)) yield w.whiteout(`${r}/.wh..wh..opq`);
      yield* overlayWalk(w, sys, n.fd, r);
    });
  }
}

function isOpaque(sys: Sys, fd: number): boolean {
  for (const name of ['trusted.overlay.opaque', 'user.overlay.opaque']) {
    const v = sys.fgetxattr(fd, name);
    if (v !== undefined && v.toString() === 'y') return true;
  }
  return false;
}

/** Whether an overlay upper dir can be read on its own (no redirect_dir / metacopy entries). */
export function overlayUpperIsSelfContained(upperdir: string, sys: Sys = linuxSys()): boolean {
  const visit = (dirFd: number): boolean => {
    for (const name of childNames(sys, dirFd)) {
      const n = openChild(sys, dirFd, name);
      if (!n) continue;
      try {
        if (n.st.isDirectory() || n.st.isFile()) {
          for (const x of sys.flistxattr(n.fd)) if (/^(trusted|user)\.overlay\.(redirect|metacopy)$/.test(x)) return false;
        }
        if (n.st.isDirectory() && !visit(n.fd)) return false;
      } finally {
        sys.close(n.fd);
      }
    }
    return true;
  };
  const root = openRoot(sys, upperdir);
  try {
    return visit(root);
  } finally {
    sys.close(root);
  }
}

/** The trees at `dirs` opened (O_PATH) for the length of `body`, which reads them below those fds only. */
async function* inRoot(sys: Sys, dirs: string[], body: (fds: number[]) => AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  const fds: number[] = [];
  try {
    for (const d of dirs) fds.push(openRoot(sys, d));
    yield* body(fds);
    yield END_OF_ARCHIVE;
  } finally {
    for (const fd of fds) sys.close(fd);
  }
}

export function toReadable(gen: AsyncGenerator<Buffer>): Readable {
  return Readable.from(gen, { objectMode: false, highWaterMark: 4 * READ_CHUNK });
}

/** The tar bytes of the changes from `lower` to `upper` (generic two-tree walk), as a generator. */
export function diffTarChunks(lower: string, upper: string, opts: DiffOptions = {}): AsyncGenerator<Buffer> {
  const sys = opts.sys ?? linuxSys();
  const w = writer(opts);
  return inRoot(sys, [lower, upper], ([l, u]) => walk(w, sys, l!, u!, ''));
}

/** The changes from `lower` to `upper` as an uncompressed tar stream (generic two-tree walk). */
export function diffDirectories(lower: string, upper: string, opts: DiffOptions = {}): Readable {
  return toReadable(diffTarChunks(lower, upper, opts));
}

/** The changes an overlay upper dir holds, as an uncompressed tar stream (overlay fast path). */
export function diffOverlayUpper(upperdir: string, opts: DiffOptions = {}): Readable {
  const sys = opts.sys ?? linuxSys();
  const w = writer(opts);
  return toReadable(inRoot(sys, [upperdir], ([u]) => overlayWalk(w, sys, u!, '')));
}
