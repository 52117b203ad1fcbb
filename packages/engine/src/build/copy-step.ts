/**
 * COPY and ADD's file work, by file descriptor on both sides: sources are opened inside their
 * root (the build context, or another stage's or image's root mounted read-only), written as a tar
 * stream by @gantry/archive's TreeWriter, and extracted with its extractTar inside the step's
 * root (never a host path joined from a Dockerfile's path). A symlink in the context or the image
 * resolves inside its own root only.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ByteSource,
  decompressed,
  detectCompression,
  END_OF_ARCHIVE,
  extractTar,
  LAYER_RATIO,
  readTar,
  TreeWriter,
  type BodyReader,
  type TarHeader,
} from '@gantry/archive';
import { childNames, mkdirAllInRoot, nodeOf, O, openInRoot, SysError, type Sys, type TreeNode } from '@gantry/linux';
import { BuildError } from './output';

export interface Root {
  sys: Sys;
  fd: number;
}

const GLOB = /[*?[\\]/;
const missing = (e: unknown) => e instanceof SysError && (e.code === 'ENOENT' || e.code === 'ENOTDIR');

/**
 * The in-root paths `pattern` names: itself when it has no wildcard (it must exist), else every
 * path whose components match (`match` is Go's filepath.Match). Sorted; may be empty for a glob.
 */
export function expandSource(root: Root, pattern: string, match: (pattern: string, name: string) => boolean): string[] {
  const clean = path.posix.normalize(path.posix.join('/', pattern));
  if (!GLOB.test(clean)) {
    try {
      root.sys.close(openInRoot(root.sys, root.fd, clean, O.PATH));
    } catch (e) {
      if (missing(e)) return [];
      throw e;
    }
    return [clean];
  }
  let found = ['/'];
  for (const part of clean.split('/').filter(Boolean)) {
    const next: string[] = [];
    for (const dir of found) {
      if (!GLOB.test(part)) {
        next.push(path.posix.join(dir, part));
        continue;
      }
      let fd: number;
      try {
        fd = openInRoot(root.sys, root.fd, dir, O.RDONLY | O.DIRECTORY);
      } catch (e) {
        if (missing(e)) continue;
        throw e;
      }
      try {
        for (const name of childNames(root.sys, fd)) if (match(part, name)) next.push(path.posix.join(dir, name));
      } finally {
        root.sys.close(fd);
      }
    }
    found = next;
  }
  return found
    .filter((p) => {
      try {
        root.sys.close(openInRoot(root.sys, root.fd, p, O.PATH));
        return true;
      } catch (e) {
        if (missing(e)) return false;
        throw e;
      }
    })
    .sort();
}

/** Open a source (followed inside its root) as a tree node; the caller closes `fd`. */
function openSource(root: Root, p: string): TreeNode {
  const fd = openInRoot(root.sys, root.fd, p, O.PATH);
  try {
    return nodeOf(fd);
  } catch (e) {
    root.sys.close(fd);
    throw e;
  }
}

const writer = (sys: Sys) => new TreeWriter({ sys, xattrs: false, oneFilesystem: true, padShrunk: true });

/** What a source contributes, as tar: a directory's contents, or the file itself named `name`. */
async function* sourceTar(root: Root, p: string, name: string): AsyncGenerator<Buffer> {
  const node = openSource(root, p);
  try {
    const w = writer(root.sys);
    if (node.st.isDirectory()) {
      const dirFd = openInRoot(root.sys, root.fd, p, O.RDONLY | O.DIRECTORY);
      try {
        for (const child of childNames(root.sys, dirFd)) {
          const c = openSource(root, path.posix.join(p, child));
          try {
            yield* w.tree(c, child);
          } finally {
            root.sys.close(c.fd);
          }
        }
      } finally {
        root.sys.close(dirFd);
      }
    } else {
      yield* w.tree(node, name);
    }
    yield END_OF_ARCHIVE;
  } finally {
    root.sys.close(node.fd);
  }
}

/**
 * The cache checksum of sources: names, types, modes, link targets and contents, not times or
 * owners (Docker's cache ignores mtimes; COPY sets owners itself).
 */
export async function sourcesChecksum(root: Root, paths: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const p of paths) {
    h.update(`src\0${p}\0`);
    for await (const { header, body } of readTar(new ByteSource(sourceTar(root, p, path.posix.basename(p))))) {
      h.update(`${header.name}\0${header.type}\0${header.mode & 0o7777}\0${header.linkname}\0${header.size}\0`);
      for (let c = await body.chunk(); c; c = await body.chunk()) h.update(c);
    }
  }
  return `sha256:${h.digest('hex')}`;
}

/** One source's hash as Docker's history names it: `file:<hex>` or `dir:<hex>` (content, not times). */
export async function sourceHash(root: Root, p: string): Promise<string> {
  const sum = await sourcesChecksum(root, [p]);
  return `${isDir(root, p) ? 'dir' : 'file'}:${sum.slice('sha256:'.length)}`;
}

export interface CopyOptions {
  /** Owner of everything copied (default 0:0, as Docker). */
  chown?: { uid: number; gid: number };
  /** Mode of everything copied (--chmod). */
  chmod?: number;
}

/** Whether `p` is a directory inside `root` (followed). */
function isDir(root: Root, p: string): boolean {
  try {
    const fd = openInRoot(root.sys, root.fd, p, O.PATH);
    try {
      return nodeOf(fd).st.isDirectory();
    } finally {
      root.sys.close(fd);
    }
  } catch (e) {
    if (missing(e)) return false;
    throw e;
  }
}

async function* withMode(members: AsyncIterable<{ header: TarHeader; body: BodyReader }>, mode: number | undefined) {
  for await (const m of members) yield mode === undefined ? m : { header: { ...m.header, mode: (m.header.mode & ~0o7777) | mode }, body: m.body };
}

/**
 * Copy `paths` of `src` to `dest` (absolute, inside `dst`) with Docker's rules: a directory's
 * contents go into `dest`; a file goes into `dest` when it ends in "/" or is a directory (or there
 * are several sources), else becomes `dest`.
 */
export async function copyInto(src: Root, paths: readonly string[], dst: Root, dest: string, opts: CopyOptions): Promise<void> {
  const destIsDir = dest.endsWith('/') || paths.length > 1 || isDir(dst, dest);
  if (paths.length > 1 && !dest.endsWith('/'))
    throw new BuildError('When using COPY with more than one source file, the destination must be a directory and end with a /');
  const cleanDest = path.posix.normalize(dest);
  for (const p of paths) {
    const node = openSource(src, p);
    const dir = node.st.isDirectory();
    src.sys.close(node.fd);
    const under = dir || destIsDir ? cleanDest : path.posix.dirname(cleanDest);
    const name = dir ? '' : destIsDir ? path.posix.basename(p) : path.posix.basename(cleanDest);
    dst.sys.close(mkdirAllInRoot(dst.sys, dst.fd, under, 0o755));
    await extractTar(withMode(readTar(new ByteSource(sourceTar(src, p, name))), opts.chmod), dst.fd, {
      sys: dst.sys,
      under,
      whiteouts: false,
      chown: true,
      chownTo: opts.chown ?? { uid: 0, gid: 0 },
      noOverwriteDirNonDir: false,
      allowDevices: true,
    });
  }
}

/** Whether the regular file `p` is a tar archive (plain or gzipped): ADD extracts those. */
export async function isLocalArchive(root: Root, p: string): Promise<boolean> {
  const fd = openInRoot(root.sys, root.fd, p, O.RDONLY);
  try {
    if (!fs.fstatSync(fd).isFile()) return false;
    const head = Buffer.alloc(512);
    const n = fs.readSync(fd, head, 0, 512, 0);
    const kind = detectCompression(head.subarray(0, n));
    if (kind === 'gzip') {
      const plain = await firstBytes(
        decompressed(fs.createReadStream('', { fd: fs.openSync(`/proc/self/fd/${fd}`, 'r'), start: 0 }), LAYER_RATIO, 'archives'),
        512,
      );
      return isTarHeader(plain);
    }
    return kind === 'none' && isTarHeader(head.subarray(0, n));
  } finally {
    root.sys.close(fd);
  }
}

async function firstBytes(src: AsyncIterable<unknown>, n: number): Promise<Buffer> {
  let got = Buffer.alloc(0);
  const it = src[Symbol.asyncIterator]();
  try {
    while (got.length < n) {
      const r = await it.next();
      if (r.done) break;
      got = Buffer.concat([got, Buffer.from(r.value as Uint8Array)]);
    }
  } catch {
    return Buffer.alloc(0);
  } finally {
    await it.return?.();
  }
  return got.subarray(0, n);
}

/** A ustar/GNU header: its checksum adds up and it names something. */
function isTarHeader(b: Buffer): boolean {
  if (b.length < 512 || b[0] === 0) return false;
  const stored = parseInt(b.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  return stored === sum;
}

/** ADD of a local archive: its members extracted into the directory `dest` (owners kept unless `chown`). */
export async function extractArchiveInto(src: Root, p: string, dst: Root, dest: string, opts: CopyOptions): Promise<void> {
  const fd = openInRoot(src.sys, src.fd, p, O.RDONLY);
  const stream = fs.createReadStream('', { fd: fs.openSync(`/proc/self/fd/${fd}`, 'r') });
  src.sys.close(fd);
  const under = path.posix.normalize(dest);
  dst.sys.close(mkdirAllInRoot(dst.sys, dst.fd, under, 0o755));
  await extractTar(withMode(readTar(new ByteSource(decompressed(stream, LAYER_RATIO, 'archives'))), opts.chmod), dst.fd, {
    sys: dst.sys,
    under,
    whiteouts: false,
    chown: true,
    ...(opts.chown ? { chownTo: opts.chown } : {}),
    noOverwriteDirNonDir: false,
    allowDevices: true,
  });
}
