/**
 * Writing a tree as tar members, reading it by file descriptor (`@gantry/linux`'s tree helpers:
 * every entry an O_PATH|O_NOFOLLOW fd below its directory's fd, so a tree that changes while it
 * is read cannot lead the writer out of it). gantryd's docker cp / export and gantry-containerd's
 * layer differ write with it.
 */
import * as fs from 'node:fs';
import { SysError, childNames, deviceMajor, deviceMinor, openForReading, withChild, type Sys, type TreeNode } from '@gantry/linux';
import { padding, tarHeader, type EntryType, type TarWriteEntry } from './tar';

const READ_CHUNK = 1 << 20;
const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;

/** The tar type of a stat, undefined for what tar does not carry (sockets). */
export function entryType(st: fs.BigIntStats | fs.Stats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

export interface TreeWriterOptions {
  sys: Sys;
  /** Carry xattrs (overlay's own left out) as PAX SCHILY.xattr records. */
  xattrs: boolean;
  /** Do not descend into a directory on another device than the tree's top (docker cp, export). */
  oneFilesystem: boolean;
  /** A file that shrank while read: padded with zeros to the size announced (else an error). */
  padShrunk: boolean;
  /** Clamp every time to this many seconds since the epoch (reproducible layers). */
  epoch?: number;
}

/**
 * Writes tree nodes as tar members. Hard links are kept within what one writer writes (the
 * second name of an inode becomes a link to the first). Directories entered with `enter` but not
 * written are written before the first member below them, so a layer carries its parents'
 * metadata (applying a child changes its parent's mtime; the parent's entry, timed after its
 * children, restores it).
 */
export class TreeWriter {
  private readonly links = new Map<string, string>();
  private readonly parents: { node: TreeNode; rel: string; written: boolean }[] = [];
  private readonly sys: Sys;

  constructor(private readonly opts: TreeWriterOptions) {
    this.sys = opts.sys;
  }

  private time(t: number): number {
    return this.opts.epoch !== undefined && t > this.opts.epoch ? this.opts.epoch : t;
  }

  xattrs(n: TreeNode): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    if (!this.opts.xattrs) return out;
    let names: string[];
    try {
      names = this.sys.flistxattr(n.fd);
    } catch (e) {
      if (e instanceof SysError && (e.code === 'ENOTSUP' || e.code === 'EOPNOTSUPP')) return out;
      throw e;
    }
    for (const name of names.sort()) {
      if (OVERLAY_XATTR.test(name)) continue;
      const v = this.sys.fgetxattr(n.fd, name);
      if (v !== undefined) out.set(name, v);
    }
    return out;
  }

  /** A `.wh.` or opaque marker member (an empty file owned by root). */
  whiteout(rel: string): Buffer {
    return tarHeader({ name: rel, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: this.time(0) });
  }

  enter(node: TreeNode, rel: string, written: boolean): void {
    this.parents.push({ node, rel, written });
  }
  leave(): void {
    this.parents.pop();
  }

  private async *flushParents(): AsyncGenerator<Buffer> {
    for (const p of this.parents) {
      if (p.written) continue;
      p.written = true;
      yield* this.entry(p.node, p.rel);
    }
  }

  async *whiteoutIn(rel: string, name: string): AsyncGenerator<Buffer> {
    yield* this.flushParents();
    yield this.whiteout(rel === '' ? name : `${rel}/${name}`);
  }

  /** One member (header, then data for a regular file), after its unwritten parents. */
  async *entry(n: TreeNode, rel: string, xattrs?: Map<string, Buffer>): AsyncGenerator<Buffer> {
    const st = n.st;
    const type = entryType(st);
    if (!type) return;
    yield* this.flushParents();
    const e: TarWriteEntry = {
      name: type === 'dir' ? `${rel}/` : rel,
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: this.time(Number(st.mtimeMs / 1000n)),
      xattrs: xattrs ?? this.xattrs(n),
    };
    if (type === 'file' && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first !== undefined) {
        yield tarHeader({ ...e, type: 'link', linkname: first, xattrs: new Map() });
        return;
      }
      this.links.set(key, rel);
    }
    if (type === 'symlink') e.linkname = this.sys.readlinkat(n.fd, '');
    if (type === 'chr' || type === 'blk') {
      e.devmajor = deviceMajor(st.rdev);
      e.devminor = deviceMinor(st.rdev);
    }
    if (type !== 'file') {
      yield tarHeader(e);
      return;
    }
    yield* this.fileMember(n, e, Number(st.size));
  }

  private async *fileMember(n: TreeNode, e: TarWriteEntry, size: number): AsyncGenerator<Buffer> {
    const fd = openForReading(this.sys, n);
    try {
      yield tarHeader({ ...e, size });
      let off = 0;
      while (off < size) {
        const buf = Buffer.allocUnsafe(Math.min(size - off, READ_CHUNK));
        const got = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, buf.length, off, (err, bytes) => (err ? reject(err) : resolve(bytes))));
        if (got === 0) {
          if (!this.opts.padShrunk) throw new Error(`${e.name}: file shrank while being read`);
          yield Buffer.alloc(size - off);
          break;
        }
        off += got;
        yield got === buf.length ? buf : buf.subarray(0, got);
      }
      const pad = padding(size);
      if (pad > 0) yield Buffer.alloc(pad);
    } finally {
      this.sys.close(fd);
    }
  }

  /** A member and, for a directory, everything below it (not across devices with `oneFilesystem`). */
  async *tree(n: TreeNode, rel: string, topDev: bigint = n.st.dev): AsyncGenerator<Buffer> {
    yield* this.entry(n, rel);
    if (!n.st.isDirectory()) return;
    if (this.opts.oneFilesystem && n.st.dev !== topDev) return; // another mount: its contents are not ours
    this.enter(n, rel, true);
    try {
      for (const name of childNames(this.sys, n.fd)) {
        yield* withChild(this.sys, n.fd, name, (c) => this.tree(c, `${rel}/${name}`, topDev));
      }
    } finally {
      this.leave();
    }
  }
}
