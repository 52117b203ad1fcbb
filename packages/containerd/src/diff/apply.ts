/**
 * Apply an OCI / Docker layer tarball onto a directory (the plain-directory semantics containerd
 * uses when applying onto mounted snapshots): whiteouts delete from the lower view, opaque markers
 * empty a directory of what this layer did not bring, and nothing is ever written outside the
 * target.
 *
 * Confinement rules (each tested by the hostile-tar corpus in test/diff-apply-hostile.test.ts):
 * - names: leading "/" is stripped; "." and ".." are resolved lexically and a ".." that climbs
 *   above the layer root is refused (LayerError). "a/../b" is "b".
 * - parent directories are resolved one component at a time with `lstat`; a symlink met on the
 *   way is followed as if the target were "/" (absolute targets restart at the target, ".." never
 *   climbs above it), so a symlink from an earlier entry redirects a later entry only to somewhere
 *   inside the target. Missing parents are created (0755).
 * - the last component is never followed: whatever is there (symlink included) is removed and
 *   replaced, except a directory over a directory, which is merged; files are created with
 *   O_CREAT|O_EXCL|O_NOFOLLOW.
 * - hard links: the link name is confined like an entry name and must name an existing
 *   non-directory inside the target (its last component is not followed: linking a symlink links
 *   the symlink). "/etc/passwd" means "<target>/etc/passwd"; "../outside" is refused.
 * - character and block devices need root (LayerError otherwise); FIFOs do not.
 * - an entry resolving to the target itself ("./") is ignored, as containerd does.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { linuxSys, S_IF, type Sys } from '@gantry/linux';
import { decompressed, layerLimits, type ExpansionLimits } from './decompress';
import { BodyReader, ByteSource, readTar, TarFormatError, type TarHeader } from './tar';

/** A layer that cannot be applied; `entry` is the member's name as written in the archive. */
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

export interface ApplyOptions {
  /** The kernel seam for mknod and lsetxattr (default: the real one). */
  sys?: Sys;
  /** Restore owners with lchown (default: when running as root; otherwise files keep ours). */
  chown?: boolean;
  /** Told about what was skipped (xattrs the filesystem does not support). */
  onWarning?(message: string, entry: string): void;
  /** Bounds on the uncompressed stream (default: layerLimits(target): sane ratio and disk budget). */
  limits?: ExpansionLimits;
}

export interface ApplyResult {
  /** Bytes of the uncompressed tar stream. */
  size: number;
  /** "sha256:<hex>" of the uncompressed tar stream: the layer's diffID. */
  digest: string;
}

// decompression (bounded) lives in ./decompress; re-exported here for existing importers
export { decompressed, detectCompression, type Compression } from './decompress';

const O_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW | 0o2000000; /* O_CLOEXEC */
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** A member name made relative and lexically clean; a ".." above the root is refused. */
export function cleanEntryName(name: string, entry: string): string {
  if (name.includes('\0')) throw new LayerError('name contains a NUL byte', entry);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw new LayerError('path escapes the layer root ("..")', entry);
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts.join('/');
}

class Extractor {
  private readonly dirCache = new Map<string, string>();
  /** Absolute paths this layer created or replaced (kept by an opaque marker). */
  private readonly unpacked = new Set<string>();
  private readonly dirTimes: [string, number, number][] = [];
  private readonly isRoot = process.getuid?.() === 0;
  private readonly chown: boolean;
  private readonly sys: Sys;

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
  ) {
    this.chown = opts.chown ?? this.isRoot;
    this.sys = opts.sys ?? linuxSys();
  }

  /**
   * The real directory for `rel` (a clean relative path) inside the root, following symlinks as
   * if the root were "/". Missing components are created when `create`, else undefined.
   */
  private dir(rel: string, entry: string, create: boolean): string | undefined {
    if (rel === '') return this.root;
    const hit = this.dirCache.get(rel);
    if (hit !== undefined) return hit;
    const parts = rel.split('/');
    const resolved: string[] = [];
    let links = 0;
    while (parts.length > 0) {
      const part = parts.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const candidate = resolved.length === 0 ? `${this.root}/${part}` : `${this.root}/${resolved.join('/')}/${part}`;
      const st = lstatOrUndefined(candidate);
      if (!st) {
        if (!create) return undefined;
        fs.mkdirSync(candidate, 0o755);
        this.unpacked.add(candidate);
      } else if (st.isSymbolicLink()) {
        if (++links > 255) throw new LayerError('too many levels of symbolic links in a parent directory', entry);
        const target = fs.readlinkSync(candidate);
        if (target.startsWith('/')) resolved.length = 0;
        parts.unshift(...target.split('/'));
        continue;
      } else if (!st.isDirectory()) {
        throw new LayerError(`parent ${JSON.stringify(resolved.concat(part).join('/'))} is not a directory`, entry);
      }
      resolved.push(part);
    }
    const abs = resolved.length === 0 ? this.root : `${this.root}/${resolved.join('/')}`;
    this.dirCache.set(rel, abs);
    return abs;
  }

  private remove(p: string, st: fs.Stats): void {
    if (st.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
    else fs.unlinkSync(p);
    // a cached resolution may have gone through what was removed
    if (!st.isFile()) this.dirCache.clear();
  }

  async entry(h: TarHeader, body: BodyReader): Promise<void> {
    const rel = cleanEntryName(h.name, h.name);
    const slash = rel.lastIndexOf('/');
    const base = rel.slice(slash + 1);
    const parentRel = slash === -1 ? '' : rel.slice(0, slash);

    if (base.startsWith(WHITEOUT)) return this.whiteout(h, parentRel, base);
    if (rel === '') {
      if (h.type !== 'dir') throw new LayerError(`a ${h.type} cannot replace the layer root`, h.name);
      return; // the root's own entry: ignored, as containerd does
    }

    const parent = this.dir(parentRel, h.name, true)!;
    const p = `${parent}/${base}`;
    let linkSource: string | undefined;
    if (h.type === 'link') {
      linkSource = this.linkSource(h);
      if (linkSource === p) return; // a link to itself: already there
    }
    const existing = lstatOrUndefined(p);
    if (existing && !(existing.isDirectory() && h.type === 'dir')) this.remove(p, existing);

    switch (h.type) {
      case 'dir':
        if (!existing || !existing.isDirectory()) fs.mkdirSync(p, 0o700);
        this.dirCache.set(rel, p);
        break;
      case 'file': {
        const fd = fs.openSync(p, O_FLAGS, 0o600);
        try {
          for (let chunk = await body.chunk(); chunk; chunk = await body.chunk()) {
            for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          }
        } finally {
          fs.closeSync(fd);
        }
        break;
      }
      case 'symlink':
        fs.symlinkSync(h.linkname, p); // the target is kept verbatim
        break;
      case 'link':
        fs.linkSync(linkSource!, p); // link(2) does not follow a symlink source
        this.unpacked.add(p);
        return; // metadata is the inode's, already set
      case 'chr':
      case 'blk':
        if (!this.isRoot) throw new LayerError('device nodes can only be created as root', h.name);
        this.sys.mknod(p, (h.type === 'chr' ? S_IF.CHR : S_IF.BLK) | h.mode, h.devmajor, h.devminor);
        break;
      case 'fifo':
        this.sys.mknod(p, S_IF.FIFO | h.mode, 0, 0);
        break;
    }
    this.unpacked.add(p);
    this.metadata(h, p);
  }

  /** Where a hard link points: an existing non-directory inside the root. */
  private linkSource(h: TarHeader): string {
    const rel = cleanEntryName(h.linkname, h.name);
    if (rel === '') throw new LayerError('hard link to the layer root', h.name);
    const slash = rel.lastIndexOf('/');
    const dir = this.dir(slash === -1 ? '' : rel.slice(0, slash), h.name, false);
    const src = dir === undefined ? undefined : `${dir}/${rel.slice(slash + 1)}`;
    const st = src === undefined ? undefined : lstatOrUndefined(src);
    if (!src || !st) throw new LayerError(`hard link target ${JSON.stringify(h.linkname)} does not exist in the layer`, h.name);
    if (st.isDirectory()) throw new LayerError(`hard link target ${JSON.stringify(h.linkname)} is a directory`, h.name);
    return src;
  }

  private metadata(h: TarHeader, p: string): void {
    if (this.chown) fs.lchownSync(p, h.uid, h.gid);
    if (h.type !== 'symlink') fs.chmodSync(p, h.mode); // after chown, which clears set-id bits
    for (const [name, value] of h.xattrs) {
      try {
        this.sys.lsetxattr(p, name, value);
      } catch (e) {
        const code = errno(e);
        const unsupported = code === 'ENOTSUP' || code === 'EOPNOTSUPP';
        // EPERM: a namespace we may not write, or user.* on a symlink (the kernel allows it on files and dirs only)
        const forbidden = code === 'EPERM' && (!name.startsWith('user.') || h.type === 'symlink');
        if (!unsupported && !forbidden) throw e;
        this.opts.onWarning?.(`xattr ${name} not set: ${(e as Error).message}`, h.name);
      }
    }
    const atime = h.atime ?? h.mtime;
    if (h.type === 'dir') this.dirTimes.push([p, atime, h.mtime]);
    else fs.lutimesSync(p, atime, h.mtime);
  }

  private whiteout(h: TarHeader, parentRel: string, base: string): void {
    if (h.type === 'dir' && base !== OPAQUE) throw new LayerError('a whiteout cannot be a directory', h.name);
    if (base === OPAQUE) {
      const dir = this.dir(parentRel, h.name, true)!;
      this.unpacked.add(dir);
      this.hideLower(dir);
      return;
    }
    if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return; // other AUFS metadata (.wh..wh.plnk, ...): ignored
    const victim = base.slice(WHITEOUT.length);
    if (victim === '' || victim === '.' || victim === '..') throw new LayerError('invalid whiteout name', h.name);
    const dir = this.dir(parentRel, h.name, false);
    if (dir === undefined) return; // nothing below to hide
    const p = `${dir}/${victim}`;
    const st = lstatOrUndefined(p);
    if (st) this.remove(p, st);
  }

  /** Opaque directory: remove everything below `dir` this layer did not create. */
  private hideLower(dir: string): void {
    for (const name of fs.readdirSync(dir)) {
      const p = `${dir}/${name}`;
      const st = fs.lstatSync(p);
      if (!this.unpacked.has(p)) this.remove(p, st);
      else if (st.isDirectory()) this.hideLower(p);
    }
  }

  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [p, atime, mtime] = this.dirTimes[i]!;
      try {
        fs.lutimesSync(p, atime, mtime);
      } catch (e) {
        if (errno(e) !== 'ENOENT') throw e; // removed by a later whiteout
      }
    }
  }
}

/**
 * Apply a layer (gzip or uncompressed tar) onto `target`, which must exist. Returns the size and
 * sha256 of the uncompressed stream (the diffID), every byte of it counted, padding included.
 */
export async function applyLayer(tarStream: Readable, target: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  let root: string;
  try {
    root = fs.realpathSync(target);
    if (!fs.statSync(root).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    tarStream.destroy();
    throw new LayerError(`target ${target}: ${(e as Error).message}`, undefined, { cause: e });
  }
  const hash = createHash('sha256');
  let size = 0;
  const src = new ByteSource(decompressed(tarStream, opts.limits ?? layerLimits(root)), (chunk) => {
    hash.update(chunk);
    size += chunk.length;
  });
  const x = new Extractor(root, opts);
  let current: string | undefined;
  try {
    for await (const { header, body } of readTar(src)) {
      current = header.name;
      await x.entry(header, body);
      current = undefined;
    }
    x.finish();
    await src.drain(); // bytes after the end-of-archive marker are part of the diffID
  } catch (e) {
    tarStream.destroy();
    if (e instanceof LayerError) throw e;
    if (e instanceof TarFormatError) throw new LayerError(`invalid tar: ${e.detail}`, e.entry, { cause: e });
    throw new LayerError((e as Error).message ?? String(e), current, { cause: e });
  }
  return { size, digest: `sha256:${hash.digest('hex')}` };
}
