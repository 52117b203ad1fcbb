/**
 * Tar in and out of a container's root directory, for docker cp and docker export.
 *
 * Writing: a file system tree as an uncompressed tar (regular files, directories, symlinks,
 * hard links within the archive, devices, FIFOs; sockets are skipped, as Go's archive/tar does;
 * other mounts met on the way are not descended).
 *
 * Reading (PUT archive, Docker's Untar semantics): the request body is first spooled to a file
 * and every member name checked, so a hostile archive ("../x", "/../x", a hard link out of the
 * destination) is refused before anything is written. Extraction then resolves each member's
 * parent inside the container root (symlinks made by earlier members, or already in the
 * container, are followed in the container's scope and never lead out of it), never follows the
 * last component, and creates files with O_EXCL|O_NOFOLLOW.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteSource, decompressed, END_OF_ARCHIVE, layerLimits, padding, readTar, tarHeader, TarFormatError, type EntryType, type TarWriteEntry } from '@gantry/containerd';
import { linuxSys, S_IF } from '@gantry/linux';
import { badRequest, HttpError } from '../http/errors';
import { resolveInRoot, SymlinkLoopError } from './confined-path';

const READ_CHUNK = 1 << 20;

function entryType(st: fs.BigIntStats): EntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

function lstatBig(p: string): fs.BigIntStats | undefined {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The tar members of trees: each `{host, name}` is written as `name` (with everything below it for a directory). */
export async function* tarTrees(trees: { host: string; name: string }[]): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  async function* one(host: string, name: string, st: fs.BigIntStats, rootDev: bigint): AsyncGenerator<Buffer> {
    const type = entryType(st);
    if (!type) return;
    const e: TarWriteEntry = {
      name: type === 'dir' ? `${name}/` : name,
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: Number(st.mtimeMs / 1000n),
    };
    if (type === 'symlink') e.linkname = fs.readlinkSync(host);
    if (type === 'chr' || type === 'blk') {
      e.devmajor = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
      e.devminor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
    }
    if (type === 'file' && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) {
        yield tarHeader({ ...e, type: 'link', linkname: first });
        return;
      }
      links.set(key, name);
    }
    if (type === 'file') {
      yield* fileMember(host, e, Number(st.size));
      return;
    }
    yield tarHeader(e);
    if (type !== 'dir' || st.dev !== rootDev) return; // another mount: its contents are not ours
    for (const child of fs.readdirSync(host).sort(byteOrder)) {
      const cst = lstatBig(path.join(host, child));
      if (cst) yield* one(path.join(host, child), `${name}/${child}`, cst, rootDev);
    }
  }
  for (const t of trees) {
    const st = lstatBig(t.host);
    if (st) yield* one(t.host, t.name, st, st.dev);
  }
  yield END_OF_ARCHIVE;
}

/** A regular file's header and data; a file that shrank while read is padded with zeros to the size announced. */
async function* fileMember(host: string, e: TarWriteEntry, size: number): AsyncGenerator<Buffer> {
  const fd = fs.openSync(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    yield tarHeader({ ...e, size });
    let off = 0;
    while (off < size) {
      const buf = Buffer.allocUnsafe(Math.min(size - off, READ_CHUNK));
      const n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, buf.length, off, (err, bytes) => (err ? reject(err) : resolve(bytes))));
      if (n === 0) {
        yield Buffer.alloc(size - off);
        break;
      }
      off += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
    const pad = padding(size);
    if (pad > 0) yield Buffer.alloc(pad);
  } finally {
    fs.closeSync(fd);
  }
}

/** The children of a root directory as archive trees (what docker export writes: no "./" prefix). */
export function rootTrees(root: string): { host: string; name: string }[] {
  return fs
    .readdirSync(root)
    .sort(byteOrder)
    .map((name) => ({ host: path.join(root, name), name }));
}

// ---- extraction ----

/** A member name made relative and clean; a name climbing out of the destination is refused. */
export function cleanMemberName(name: string): string {
  if (name.includes('\0')) throw badRequest(`invalid tar member name ${JSON.stringify(name)}`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw badRequest(`refusing tar member ${JSON.stringify(name)}: it is outside of the extraction point`);
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts.join('/');
}

export interface ExtractOptions {
  /** Refuse to replace a directory with a non-directory or the reverse (Docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir: boolean;
  /** Owner of everything extracted; otherwise the archive's uid/gid are kept. */
  chownTo?: { uid: number; gid: number };
}

/** The request body spooled to `file`; a gzip body is decompressed on the way. */
export async function spool(body: Readable, file: string): Promise<void> {
  const out = fs.createWriteStream(file, { mode: 0o600, flags: 'wx' });
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value);
  }
  // gzip inflated, plain passed through: both within the sane ratio and the spool's disk budget
  await pipeline(rest(), (src: AsyncIterable<Buffer>) => decompressed(src, layerLimits(path.dirname(file)), 'archives'), out);
}

function members(file: string) {
  return readTar(new ByteSource(fs.createReadStream(file, { highWaterMark: READ_CHUNK })));
}

function tarError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof TarFormatError) return badRequest(`invalid tar archive: ${e.message}`);
  if (e instanceof SymlinkLoopError) return badRequest(e.message);
  return new HttpError(500, (e as Error).message ?? String(e));
}

/** Pass 1: every member name (and hard link target) stays inside the destination. */
export async function checkArchive(file: string): Promise<void> {
  try {
    for await (const { header } of members(file)) {
      cleanMemberName(header.name);
      if (header.type === 'link') {
        if (cleanMemberName(header.linkname) === '') throw badRequest(`refusing hard link ${JSON.stringify(header.name)} to the extraction point`);
      }
    }
  } catch (e) {
    throw tarError(e);
  }
}

const O_CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/**
 * Pass 2: extract the spooled archive into `destInContainer` (an existing directory) of the
 * container whose root directory is `root`.
 */
export async function extractArchive(file: string, root: string, destInContainer: string, opts: ExtractOptions): Promise<void> {
  const sys = linuxSys();
  const dirTimes: [string, number, number][] = [];
  const inContainer = (rel: string) => (rel === '' ? destInContainer : path.posix.join(destInContainer, rel));

  /** The host directory for `rel` below the destination, created (0755) when missing. */
  const ensureDir = (rel: string, member: string): string => {
    const r = resolveInRoot(root, inContainer(rel), true);
    const st = lstatBig(r.host);
    if (st?.isDirectory()) return r.host;
    if (st) throw badRequest(`cannot extract ${JSON.stringify(member)}: ${r.inContainer} is not a directory`);
    if (rel === '') throw badRequest('extraction point is not a directory');
    const slash = rel.lastIndexOf('/');
    const parent = ensureDir(slash < 0 ? '' : rel.slice(0, slash), member);
    const made = path.join(parent, rel.slice(slash + 1));
    fs.mkdirSync(made, 0o755);
    return made;
  };

  try {
    for await (const { header: h, body } of members(file)) {
      const rel = cleanMemberName(h.name);
      if (rel === '') continue; // the destination itself
      const slash = rel.lastIndexOf('/');
      const parent = ensureDir(slash < 0 ? '' : rel.slice(0, slash), h.name);
      const target = path.join(parent, rel.slice(slash + 1));
      const existing = lstatBig(target);
      if (existing) {
        if (opts.noOverwriteDirNonDir && existing.isDirectory() && h.type !== 'dir') throw badRequest(`cannot overwrite directory ${JSON.stringify(inContainer(rel))} with non-directory ${JSON.stringify(h.name)}`);
        if (opts.noOverwriteDirNonDir && !existing.isDirectory() && h.type === 'dir') throw badRequest(`cannot overwrite non-directory ${JSON.stringify(inContainer(rel))} with directory ${JSON.stringify(h.name)}`);
        if (!(existing.isDirectory() && h.type === 'dir')) fs.rmSync(target, { recursive: true, force: true });
      }
      switch (h.type) {
        case 'dir':
          if (!existing?.isDirectory()) fs.mkdirSync(target, 0o700);
          break;
        case 'file': {
          const fd = fs.openSync(target, O_CREATE, 0o600);
          try {
            for (let c = await body.chunk(); c; c = await body.chunk()) {
              for (let off = 0; off < c.length; ) off += fs.writeSync(fd, c, off, c.length - off);
            }
          } finally {
            fs.closeSync(fd);
          }
          break;
        }
        case 'symlink':
          fs.symlinkSync(h.linkname, target);
          break;
        case 'link': {
          // the link target is a member path below the destination; its last component is not followed
          const lrel = cleanMemberName(h.linkname);
          const lslash = lrel.lastIndexOf('/');
          const ldir = resolveInRoot(root, inContainer(lslash < 0 ? '' : lrel.slice(0, lslash)), true).host;
          const src = path.join(ldir, lrel.slice(lslash + 1));
          const sst = lstatBig(src);
          if (!sst || sst.isDirectory()) throw badRequest(`hard link ${JSON.stringify(h.name)}: target ${JSON.stringify(h.linkname)} is not a file in the archive`);
          fs.linkSync(src, target);
          continue; // the inode's metadata is already set
        }
        case 'chr':
        case 'blk':
          sys.mknod(target, (h.type === 'chr' ? S_IF.CHR : S_IF.BLK) | h.mode, h.devmajor, h.devminor);
          break;
        case 'fifo':
          sys.mknod(target, S_IF.FIFO | h.mode, 0, 0);
          break;
      }
      const owner = opts.chownTo ?? { uid: h.uid, gid: h.gid };
      fs.lchownSync(target, owner.uid, owner.gid);
      if (h.type !== 'symlink') fs.chmodSync(target, h.mode);
      if (h.type === 'dir') dirTimes.push([target, h.atime ?? h.mtime, h.mtime]);
      else fs.lutimesSync(target, h.atime ?? h.mtime, h.mtime);
    }
    for (const [p, at, mt] of dirTimes.reverse()) fs.lutimesSync(p, at, mt);
  } catch (e) {
    throw tarError(e);
  }
}
