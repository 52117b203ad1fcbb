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
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { linuxSys, type Sys } from '@gantry/linux';
import { END_OF_ARCHIVE, padding, tarHeader, type EntryType, type TarWriteEntry } from './tar';

export interface DiffOptions {
  /** The kernel seam for reading xattrs (default: the real one). */
  sys?: Sys;
  /** Clamp every time in the layer to this instant (reproducible layers, containerd 1.7's source_date_epoch). */
  sourceDateEpoch?: Date;
}

type BigStats = fs.BigIntStats;

const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;
const READ_CHUNK = 1 << 20;

function typeOf(st: BigStats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets are not carried in layers
}

const lstat = (p: string): BigStats | undefined => {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
};

const sortedNames = (dir: string): string[] => fs.readdirSync(dir).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));

function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

class Writer {
  /** dev:ino of every multiply-linked file already written, to its name in the layer. */
  private readonly links = new Map<string, string>();
  private readonly sys: Sys;
  private readonly epoch: number | undefined;

  constructor(opts: DiffOptions) {
    this.sys = opts.sys ?? linuxSys();
    this.epoch = opts.sourceDateEpoch ? Math.floor(opts.sourceDateEpoch.getTime() / 1000) : undefined;
  }

  private time(t: number): number {
    return this.epoch !== undefined && t > this.epoch ? this.epoch : t;
  }

  xattrs(p: string): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    let names: string[];
    try {
      names = this.sys.llistxattr(p);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOTSUP' || code === 'EOPNOTSUPP') return out;
      throw e;
    }
    for (const name of names.sort()) {
      if (OVERLAY_XATTR.test(name)) continue;
      const v = this.sys.lgetxattr(p, name);
      if (v !== undefined) out.set(name, v);
    }
    return out;
  }

  whiteout(rel: string): Buffer {
    return tarHeader({ name: rel, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: this.time(0) });
  }

  /**
   * Directories entered but not written yet. Before any entry below them is written they are
   * (outermost first), so the layer carries its parents' metadata: applying a child changes its
   * parent's mtime, and the parent's own entry (times set after its children) restores it.
   */
  private readonly parents: { abs: string; rel: string; st: BigStats; written: boolean }[] = [];

  enter(abs: string, rel: string, st: BigStats, written: boolean): void {
    this.parents.push({ abs, rel, st, written });
  }
  leave(): void {
    this.parents.pop();
  }

  private async *flushParents(): AsyncGenerator<Buffer> {
    for (const p of this.parents) {
      if (p.written) continue;
      p.written = true;
      yield* this.entry(p.abs, p.rel, p.st);
    }
  }

  async *whiteoutIn(rel: string, name: string): AsyncGenerator<Buffer> {
    yield* this.flushParents();
    yield this.whiteout(rel === '' ? name : `${rel}/${name}`);
  }

  /** One entry (header, then data for a regular file), after its unwritten parents. */
  async *entry(abs: string, rel: string, st: BigStats, xattrs?: Map<string, Buffer>): AsyncGenerator<Buffer> {
    const type = typeOf(st);
    if (!type) return;
    yield* this.flushParents();
    const base: TarWriteEntry = {
      name: type === 'dir' ? `${rel}/` : rel,
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: this.time(Number(st.mtimeMs / 1000n)),
      xattrs: xattrs ?? this.xattrs(abs),
    };
    if (type === 'file' && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first !== undefined) {
        yield tarHeader({ ...base, type: 'link', linkname: first, xattrs: new Map() });
        return;
      }
      this.links.set(key, rel);
    }
    if (type === 'symlink') base.linkname = fs.readlinkSync(abs);
    if (type === 'chr' || type === 'blk') {
      base.devmajor = major(st.rdev);
      base.devminor = minor(st.rdev);
    }
    if (type !== 'file') {
      yield tarHeader(base);
      return;
    }
    const size = Number(st.size);
    yield tarHeader({ ...base, size });
    const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      let left = size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
        const n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, buf.length, size - left, (err, bytes) => (err ? reject(err) : resolve(bytes))));
        if (n === 0) throw new Error(`${rel}: file shrank while being read`);
        left -= n;
        yield n === buf.length ? buf : buf.subarray(0, n);
      }
    } finally {
      fs.closeSync(fd);
    }
    const pad = padding(size);
    if (pad > 0) yield Buffer.alloc(pad);
  }

  /** An entry and, for a directory, everything below it. */
  async *tree(abs: string, rel: string, st: BigStats): AsyncGenerator<Buffer> {
    yield* this.entry(abs, rel, st);
    if (!st.isDirectory()) return;
    this.enter(abs, rel, st, true);
    try {
      for (const name of sortedNames(abs)) {
        const child = lstat(`${abs}/${name}`);
        if (child) yield* this.tree(`${abs}/${name}`, `${rel}/${name}`, child);
      }
    } finally {
      this.leave();
    }
  }

  private sameXattrs(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) {
      const w = b.get(k);
      if (!w || !w.equals(v)) return false;
    }
    return true;
  }

  /** Whether `u` (upper) differs from `l` (lower), both of the same type; xattrs of upper returned for reuse. */
  changed(lAbs: string, l: BigStats, uAbs: string, u: BigStats): { changed: boolean; xattrs: Map<string, Buffer> } {
    const ux = this.xattrs(uAbs);
    if (l.mode !== u.mode || l.uid !== u.uid || l.gid !== u.gid) return { changed: true, xattrs: ux };
    if ((u.isCharacterDevice() || u.isBlockDevice()) && l.rdev !== u.rdev) return { changed: true, xattrs: ux };
    if (u.isSymbolicLink() && fs.readlinkSync(lAbs) !== fs.readlinkSync(uAbs)) return { changed: true, xattrs: ux };
    if (!this.sameXattrs(this.xattrs(lAbs), ux)) return { changed: true, xattrs: ux };
    if (u.isDirectory()) return { changed: l.mtimeNs !== u.mtimeNs, xattrs: ux };
    if (u.isFile()) {
      if (l.size !== u.size || l.mtimeNs !== u.mtimeNs) return { changed: true, xattrs: ux };
      // equal metadata: trust it, unless the mtime has no sub-second part (tar-extracted trees)
      if (u.mtimeNs % 1_000_000_000n !== 0n) return { changed: false, xattrs: ux };
      return { changed: !sameContent(lAbs, uAbs, Number(u.size)), xattrs: ux };
    }
    return { changed: l.mtimeNs !== u.mtimeNs, xattrs: ux };
  }
}

function sameContent(a: string, b: string, size: number): boolean {
  const fa = fs.openSync(a, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const fb = fs.openSync(b, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const ba = Buffer.allocUnsafe(Math.min(size, READ_CHUNK) || 1);
    const bb = Buffer.allocUnsafe(ba.length);
    for (let off = 0; off < size; ) {
      const n = fs.readSync(fa, ba, 0, ba.length, off);
      const m = fs.readSync(fb, bb, 0, n, off);
      if (n === 0 || m !== n || !ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
      off += n;
    }
    return true;
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

async function* walk(w: Writer, lowerDir: string, upperDir: string, rel: string): AsyncGenerator<Buffer> {
  const upperNames = sortedNames(upperDir);
  const lowerNames = new Set(sortedNames(lowerDir));
  const all = [...new Set([...upperNames, ...lowerNames])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of all) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const uAbs = `${upperDir}/${name}`;
    const lAbs = `${lowerDir}/${name}`;
    const u = lstat(uAbs);
    const l = lowerNames.has(name) ? lstat(lAbs) : undefined;
    if (!u) {
      if (l) yield* w.whiteoutIn(rel, `.wh.${name}`);
      continue;
    }
    if (!l || typeOf(l) !== typeOf(u)) {
      yield* w.tree(uAbs, r, u);
      continue;
    }
    const { changed, xattrs } = w.changed(lAbs, l, uAbs, u);
    if (changed) yield* w.entry(uAbs, r, u, xattrs);
    if (u.isDirectory()) {
      w.enter(uAbs, r, u, changed);
      try {
        yield* walk(w, lAbs, uAbs, r);
      } finally {
        w.leave();
      }
    }
  }
}

async function* overlayWalk(w: Writer, sys: Sys, dir: string, rel: string): AsyncGenerator<Buffer> {
  for (const name of sortedNames(dir)) {
    const abs = `${dir}/${name}`;
    const r = rel === '' ? name : `${rel}/${name}`;
    const st = lstat(abs);
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0n) {
      yield* w.whiteoutIn(rel, `.wh.${name}`);
      continue;
    }
    yield* w.entry(abs, r, st);
    if (!st.isDirectory()) continue;
    if (isOpaque(sys, abs)) yield w.whiteout(`${r}/.wh..wh..opq`);
    yield* overlayWalk(w, sys, abs, r);
  }
}

function isOpaque(sys: Sys, p: string): boolean {
  for (const name of ['trusted.overlay.opaque', 'user.overlay.opaque']) {
    const v = sys.lgetxattr(p, name);
    if (v !== undefined && v.toString() === 'y') return true;
  }
  return false;
}

/** Whether an overlay upper dir can be read on its own (no redirect_dir / metacopy entries). */
export function overlayUpperIsSelfContained(upperdir: string, sys: Sys = linuxSys()): boolean {
  const stack = [upperdir];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${ent.name}`;
      if (ent.isDirectory() || ent.isFile()) {
        for (const x of sys.llistxattr(p)) if (/^(trusted|user)\.overlay\.(redirect|metacopy)$/.test(x)) return false;
      }
      if (ent.isDirectory()) stack.push(p);
    }
  }
  return true;
}

async function* archive(body: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  yield* body;
  yield END_OF_ARCHIVE;
}

export function toReadable(gen: AsyncGenerator<Buffer>): Readable {
  return Readable.from(gen, { objectMode: false, highWaterMark: 4 * READ_CHUNK });
}

/** The tar bytes of the changes from `lower` to `upper` (generic two-tree walk), as a generator. */
export function diffTarChunks(lower: string, upper: string, opts: DiffOptions = {}): AsyncGenerator<Buffer> {
  return archive(walk(new Writer(opts), lower, upper, ''));
}

/** The changes from `lower` to `upper` as an uncompressed tar stream (generic two-tree walk). */
export function diffDirectories(lower: string, upper: string, opts: DiffOptions = {}): Readable {
  return toReadable(diffTarChunks(lower, upper, opts));
}

/** The changes an overlay upper dir holds, as an uncompressed tar stream (overlay fast path). */
export function diffOverlayUpper(upperdir: string, opts: DiffOptions = {}): Readable {
  const w = new Writer(opts);
  return toReadable(archive(overlayWalk(w, opts.sys ?? linuxSys(), upperdir, '')));
}
