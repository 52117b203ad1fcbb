/**
 * Tar in and out of a container's root directory, for docker cp and docker export. Everything is
 * done by file descriptor inside the root (see @gantry/linux's confine toolkit): no host path is
 * built by joining the root with a container path.
 *
 * Writing: a tree opened inside the root, read with containerd's TreeWriter (each entry opened
 * O_PATH|O_NOFOLLOW below its directory's fd) as an uncompressed tar of regular files,
 * directories, symlinks, hard links within the archive, devices and FIFOs (sockets are skipped,
 * as Go's archive/tar does; other mounts met on the way are not descended).
 *
 * Reading (PUT archive, Docker's Untar semantics): the request body is first spooled to a file
 * and every member name checked, so a hostile archive ("../x", "/../x", a hard link out of the
 * destination) is refused before anything is written. Extraction (containerd's extractTar) then
 * opens each member's parent inside the container root (symlinks made by earlier members, or
 * already in the container, are followed in the container's scope and never lead out of it),
 * never follows the last component, and creates files with O_EXCL|O_NOFOLLOW below the
 * parent's fd.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ByteSource,
  decompressed,
  END_OF_ARCHIVE,
  cleanEntryName,
  extractTar,
  layerLimits,
  LayerError,
  readTar,
  TarFormatError,
  TreeWriter,
} from '@gantry/archive';
import { errdefs, KindError, type Sys, SysError, childNames, withChild, type TreeNode } from '@gantry/linux';

const READ_CHUNK = 1 << 20;

function writer(sys: Sys): TreeWriter {
  return new TreeWriter({ sys, xattrs: false, oneFilesystem: true, padShrunk: true });
}

/** One tree (`node` and, for a directory, everything below it) as a tar named `name`. */
export async function* tarTree(sys: Sys, node: TreeNode, name: string): AsyncGenerator<Buffer> {
  yield* writer(sys).tree(node, name);
  yield END_OF_ARCHIVE;
}

/** The children of the directory `dirFd` as one tar, with no "./" prefix (what docker export writes). */
export async function* tarDirContents(sys: Sys, dirFd: number): AsyncGenerator<Buffer> {
  const w = writer(sys);
  for (const name of childNames(sys, dirFd)) yield* withChild(sys, dirFd, name, (n) => w.tree(n, name));
  yield END_OF_ARCHIVE;
}

// ---- extraction ----

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

/** A 400 for what the archive or the path is at fault for, a 500 for the rest. */
export function tarError(e: unknown): KindError {
  if (e instanceof KindError) return e;
  if (e instanceof TarFormatError) return errdefs.invalidArgument(`invalid tar archive: ${e.message}`);
  if (e instanceof LayerError) return errdefs.invalidArgument(e.message);
  if (e instanceof SysError && e.code === 'ELOOP') return errdefs.invalidArgument(`too many levels of symbolic links: ${e.subject ?? ''}`);
  return errdefs.internal((e as Error).message ?? String(e));
}

/** Pass 1: every member name (and hard link target) stays inside the destination. */
export async function checkArchive(file: string): Promise<void> {
  try {
    for await (const { header } of members(file)) {
      cleanEntryName(header.name, header.name);
      if (header.type === 'link') {
        if (cleanEntryName(header.linkname, header.name) === '')
          throw errdefs.invalidArgument(`refusing hard link ${JSON.stringify(header.name)} to the extraction point`);
      }
    }
  } catch (e) {
    throw tarError(e);
  }
}

/**
 * Pass 2: extract the spooled archive into `destInContainer` (an existing directory, as a clean
 * path inside the root) of the container whose root directory is open as `rootFd`.
 */
export async function extractArchive(sys: Sys, file: string, rootFd: number, destInContainer: string, opts: ExtractOptions): Promise<void> {
  try {
    await extractTar(members(file), rootFd, {
      sys,
      under: destInContainer,
      whiteouts: false,
      chown: true,
      ...(opts.chownTo ? { chownTo: opts.chownTo } : {}),
      noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
      allowDevices: true,
    });
  } catch (e) {
    throw tarError(e);
  }
}
