/**
 * Extract tar members inside a root directory, by file descriptor: the layer applier
 * (`applyLayer`) and gantryd's `docker cp` into a container both use it.
 *
 * Every member's parent directory is opened inside the root (`mkdirAllInRoot`: symlinks on the
 * way are followed as if the root were "/", ".." stops at the root, missing directories are made
 * 0755), and the member is then made below that fd by its last name only, never following it:
 * mkdirat, openat(O_CREAT|O_EXCL|O_NOFOLLOW), symlinkat, mknodat, linkat. Owners, modes, xattrs
 * and times are set through an fd of what was made. A path that changes under us (a running
 * container, an earlier member) can only move the work elsewhere inside the root.
 *
 * Layer semantics (`whiteouts`): `.wh.<name>` removes a lower entry, `.wh..wh..opq` empties a
 * directory of everything this layer did not bring.
 */
import * as fs from 'node:fs';
import { AT, O, S_IF, SysError, fdPath, isPlainName, mkdirAllInRoot, openInRoot, removeAllAt, type FileKind, type Sys } from '@gantry/linux';
import type { BodyReader, TarHeader } from './tar';

/** A member that cannot be extracted; `entry` is its name as written in the archive. */
export class LayerError extends Error {
  constructor(
    message: string,
    readonly entry?: string,
    options?: { cause?: unknown },
  ) {
    super(entry !== undefined ? `${JSON.stringify(entry)}: ${message}` : message, options);
    this.name = 'LayerError';
  }
}

export interface ExtractOptions {
  sys: Sys;
  /** The in-root directory members are relative to ("" or "/" for the root itself). */
  under?: string;
  /** Layer semantics: whiteout and opaque markers act on what is below instead of being written. */
  whiteouts: boolean;
  /** Restore the archive's owners (else files keep ours); ignored when `chownTo` is given. */
  chown: boolean;
  /** Owner of everything extracted (docker cp's copyUIDGID). */
  chownTo?: { uid: number; gid: number };
  /** Refuse to replace a directory with a non-directory or the reverse (Docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir?: boolean;
  /** Device nodes need root; without it they are refused with a LayerError. */
  allowDevices: boolean;
  /** Told about what was skipped (xattrs the filesystem does not support). */
  onWarning?(message: string, entry: string): void;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const CREATE_FILE = O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC;
const PARENT_CACHE = 64;

/** A member name made relative and lexically clean; a ".." above the root is refused. */
export function cleanEntryName(name: string, entry: string): string {
  if (name.includes('\0')) throw new LayerError('name contains a NUL byte', entry);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw new LayerError('path escapes the extraction root ("..")', entry);
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts.join('/');
}

/** A directory opened inside the root, and the host path the kernel names it by (a key, never opened). */
interface Dir {
  fd: number;
  key: string;
}

const code = (e: unknown) => (e instanceof SysError ? e.code : (e as NodeJS.ErrnoException | undefined)?.code);

class TarExtractor {
  /** Parent directories by in-root path, least recently used first. */
  private readonly parents = new Map<string, Dir>();
  /** fds of parents dropped from the cache while a member may still use them; closed after it. */
  private retired: number[] = [];
  /** Keys (host paths) of what this archive made or replaced: an opaque marker keeps those. */
  private readonly unpacked = new Set<string>();
  /** Directories whose times are set last (making their children changed them): in-root path, key, times. */
  private readonly dirTimes: [string, string, number, number][] = [];
  private readonly sys: Sys;
  private readonly under: string;

  constructor(
    private readonly rootFd: number,
    private readonly opts: ExtractOptions,
  ) {
    this.sys = opts.sys;
    this.under = (opts.under ?? '').replace(/^\/+|\/+$/g, '');
  }

  private inRoot(rel: string): string {
    return this.under === '' ? rel : rel === '' ? this.under : `${this.under}/${rel}`;
  }

  /**
   * The directory `rel` (clean, relative to `under`) opened inside the root; made (0755, each
   * new one remembered as this archive's) when `create`, else undefined when it does not exist.
   */
  private parent(rel: string, entry: string, create: boolean): Dir | undefined {
    const hit = this.parents.get(rel);
    if (hit) {
      this.parents.delete(rel);
      this.parents.set(rel, hit);
      return hit;
    }
    let fd: number;
    try {
      fd = create
        ? mkdirAllInRoot(this.sys, this.rootFd, this.inRoot(rel), 0o755, (dirFd, name) => this.unpacked.add(`${fdPath(this.sys, dirFd)}/${name}`))
        : openInRoot(this.sys, this.rootFd, this.inRoot(rel), O.PATH | O.DIRECTORY);
    } catch (e) {
      const c = code(e);
      if (!create && (c === 'ENOENT' || c === 'ENOTDIR')) return undefined;
      if (c === 'ENOTDIR') throw new LayerError(`parent ${JSON.stringify(rel)} is not a directory`, entry, { cause: e });
      if (c === 'ELOOP') throw new LayerError('too many levels of symbolic links in a parent directory', entry, { cause: e });
      throw e;
    }
    const dir = { fd, key: fdPath(this.sys, fd) };
    this.parents.set(rel, dir);
    if (this.parents.size > PARENT_CACHE) {
      const [oldest, d] = this.parents.entries().next().value as [string, Dir];
      this.parents.delete(oldest);
      this.retired.push(d.fd);
    }
    return dir;
  }

  /** Something other than a regular file went: a cached parent may have been below it. */
  private forgetParents(): void {
    for (const d of this.parents.values()) this.retired.push(d.fd);
    this.parents.clear();
  }

  private remove(dir: Dir, name: string, st: FileKind): void {
    removeAllAt(this.sys, dir.fd, name);
    if (st.kind !== 'file') this.forgetParents();
  }

  async entry(h: TarHeader, body: BodyReader): Promise<void> {
    try {
      await this.member(h, body);
    } finally {
      for (const fd of this.retired) this.sys.close(fd);
      this.retired = [];
    }
  }

  private async member(h: TarHeader, body: BodyReader): Promise<void> {
    const rel = cleanEntryName(h.name, h.name);
    const slash = rel.lastIndexOf('/');
    const base = rel.slice(slash + 1);
    const parentRel = slash === -1 ? '' : rel.slice(0, slash);

    if (this.opts.whiteouts && base.startsWith(WHITEOUT)) return this.whiteout(h, parentRel, base);
    if (rel === '') {
      if (h.type !== 'dir') throw new LayerError(`a ${h.type} cannot replace the extraction root`, h.name);
      return; // the root's own entry: ignored, as containerd and Docker do
    }
    if (!isPlainName(base)) throw new LayerError('invalid name', h.name);

    const dir = this.parent(parentRel, h.name, true)!;
    const key = `${dir.key}/${base}`;
    let source: { dir: Dir; name: string } | undefined;
    if (h.type === 'link') {
      source = this.linkSource(h);
      if (`${source.dir.key}/${source.name}` === key) return; // a link to itself: already there
    }
    const existing = this.sys.fstatat(dir.fd, base);
    if (existing) {
      if (this.opts.noOverwriteDirNonDir && existing.kind === 'dir' && h.type !== 'dir')
        throw new LayerError(`cannot overwrite directory ${JSON.stringify(this.inRoot(rel))} with a non-directory`, h.name);
      if (this.opts.noOverwriteDirNonDir && existing.kind !== 'dir' && h.type === 'dir')
        throw new LayerError(`cannot overwrite non-directory ${JSON.stringify(this.inRoot(rel))} with a directory`, h.name);
      if (!(existing.kind === 'dir' && h.type === 'dir')) this.remove(dir, base, existing);
    }

    if (h.type === 'file') {
      const fd = this.sys.openat(dir.fd, base, CREATE_FILE, 0o600);
      try {
        for (let chunk = await body.chunk(); chunk; chunk = await body.chunk()) {
          for (let off = 0; off < chunk.length;) off += fs.writeSync(fd, chunk, off, chunk.length - off);
        }
        this.unpacked.add(key);
        this.metadata(h, fd, dir, base);
      } finally {
        this.sys.close(fd);
      }
      return;
    }
    switch (h.type) {
      case 'dir':
        if (existing?.kind !== 'dir') this.sys.mkdirat(dir.fd, base, 0o700);
        break;
      case 'symlink':
        this.sys.symlinkat(h.linkname, dir.fd, base); // the target is kept verbatim
        break;
      case 'link':
        // without AT_SYMLINK_FOLLOW a symlink source is linked itself, never what it names
        this.sys.linkat(source!.dir.fd, source!.name, dir.fd, base, 0);
        this.unpacked.add(key);
        return; // metadata is the inode's, already set
      case 'chr':
      case 'blk':
        if (!this.opts.allowDevices) throw new LayerError('device nodes can only be created as root', h.name);
        this.sys.mknodat(dir.fd, base, (h.type === 'chr' ? S_IF.CHR : S_IF.BLK) | h.mode, h.devmajor, h.devminor);
        break;
      case 'fifo':
        this.sys.mknodat(dir.fd, base, S_IF.FIFO | h.mode, 0, 0);
        break;
    }
    this.unpacked.add(key);
    const fd = this.sys.openat(dir.fd, base, O.PATH | O.NOFOLLOW | O.CLOEXEC);
    try {
      this.metadata(h, fd, dir, base);
      if (h.type === 'dir') this.dirTimes.push([this.inRoot(rel), key, h.atime ?? h.mtime, h.mtime]);
    } finally {
      this.sys.close(fd);
    }
  }

  /** Where a hard link points: an existing non-directory inside the root (its last name not followed). */
  private linkSource(h: TarHeader): { dir: Dir; name: string } {
    const rel = cleanEntryName(h.linkname, h.name);
    if (rel === '') throw new LayerError('hard link to the extraction root', h.name);
    const slash = rel.lastIndexOf('/');
    const name = rel.slice(slash + 1);
    const dir = this.parent(slash === -1 ? '' : rel.slice(0, slash), h.name, false);
    const st = dir && this.sys.fstatat(dir.fd, name);
    if (!dir || !st) throw new LayerError(`hard link target ${JSON.stringify(h.linkname)} does not exist in the archive`, h.name);
    if (st.kind === 'dir') throw new LayerError(`hard link target ${JSON.stringify(h.linkname)} is a directory`, h.name);
    return { dir, name };
  }

  /** Owner, mode, xattrs and (except for directories, done last) times, through `fd` of the member. */
  private metadata(h: TarHeader, fd: number, dir: Dir, name: string): void {
    const owner = this.opts.chownTo ?? (this.opts.chown ? { uid: h.uid, gid: h.gid } : undefined);
    if (owner) this.sys.fchownat(fd, '', owner.uid, owner.gid, AT.EMPTY_PATH);
    if (h.type !== 'symlink') this.sys.fchmod(fd, h.mode); // after chown, which clears set-id bits
    for (const [xname, value] of h.xattrs) {
      try {
        this.sys.fsetxattr(fd, xname, value);
      } catch (e) {
        const c = code(e);
        const unsupported = c === 'ENOTSUP' || c === 'EOPNOTSUPP';
        // EPERM: a namespace we may not write, or user.* on a symlink (the kernel allows it on files and dirs only)
        const forbidden = c === 'EPERM' && (!xname.startsWith('user.') || h.type === 'symlink');
        if (!unsupported && !forbidden) throw e;
        this.opts.onWarning?.(`xattr ${xname} not set: ${(e as Error).message}`, h.name);
      }
    }
    // by name below the parent fd: utimensat takes an O_PATH fd only from Linux 5.8
    if (h.type !== 'dir') this.sys.utimensat(dir.fd, name, h.atime ?? h.mtime, h.mtime, AT.SYMLINK_NOFOLLOW);
  }

  private whiteout(h: TarHeader, parentRel: string, base: string): void {
    if (h.type === 'dir' && base !== OPAQUE) throw new LayerError('a whiteout cannot be a directory', h.name);
    if (base === OPAQUE) {
      const dir = this.parent(parentRel, h.name, true)!;
      this.unpacked.add(dir.key);
      this.hideLower(dir);
      return;
    }
    if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return; // other AUFS metadata (.wh..wh.plnk, ...): ignored
    const victim = base.slice(WHITEOUT.length);
    if (!isPlainName(victim)) throw new LayerError('invalid whiteout name', h.name);
    const dir = this.parent(parentRel, h.name, false);
    if (dir === undefined) return; // nothing below to hide
    const st = this.sys.fstatat(dir.fd, victim);
    if (st) this.remove(dir, victim, st);
  }

  /** Opaque directory: remove everything below `dir` this layer did not make. */
  private hideLower(dir: Dir): void {
    for (const name of this.sys.readdirFd(dir.fd)) {
      const key = `${dir.key}/${name}`;
      const st = this.sys.fstatat(dir.fd, name);
      if (!st) continue;
      if (!this.unpacked.has(key)) {
        this.remove(dir, name, st);
        continue;
      }
      if (st.kind !== 'dir') continue;
      const fd = this.sys.openat(dir.fd, name, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
      try {
        this.hideLower({ fd, key });
      } finally {
        this.sys.close(fd);
      }
    }
  }

  /** Directory times, innermost last-made first; a directory gone or replaced since is skipped. */
  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [p, key, atime, mtime] = this.dirTimes[i]!;
      let fd: number;
      try {
        fd = openInRoot(this.sys, this.rootFd, p, O.PATH | O.DIRECTORY, { followLast: false });
      } catch (e) {
        const c = code(e);
        if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') continue; // removed or replaced by a later member
        throw e;
      }
      try {
        if (fdPath(this.sys, fd) === key) this.sys.utimensat(fd, '.', atime, mtime, 0);
      } finally {
        this.sys.close(fd);
      }
    }
  }

  /** Close every fd still held. */
  close(): void {
    this.forgetParents();
    for (const fd of this.retired) this.sys.close(fd);
    this.retired = [];
  }
}

/** Extract every member of `members` inside the root `rootFd`; the caller keeps `rootFd`. */
export async function extractTar(
  members: AsyncIterable<{ header: TarHeader; body: BodyReader }>,
  rootFd: number,
  opts: ExtractOptions,
  onMember?: (name: string | undefined) => void,
): Promise<void> {
  const x = new TarExtractor(rootFd, opts);
  try {
    for await (const { header, body } of members) {
      onMember?.(header.name);
      await x.entry(header, body);
      onMember?.(undefined);
    }
    x.finish();
  } finally {
    x.close();
  }
}
