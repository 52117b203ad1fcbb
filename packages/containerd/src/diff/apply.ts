/**
 * Apply an OCI / Docker layer tarball onto a directory (the plain-directory semantics containerd
 * uses when applying onto mounted snapshots): whiteouts delete from the lower view, opaque markers
 * empty a directory of what this layer did not bring, and nothing is ever written outside the
 * target. The members are written by `TarExtractor` (extract.ts), by file descriptor.
 *
 * Confinement rules (each tested by the hostile-tar corpus in test/diff-apply-hostile.test.ts):
 * - names: leading "/" is stripped; "." and ".." are resolved lexically and a ".." that climbs
 *   above the layer root is refused (LayerError). "a/../b" is "b".
 * - parent directories are opened inside the target by fd (openat2 RESOLVE_IN_ROOT, or a walk of
 *   one O_NOFOLLOW openat per component): a symlink met on the way is followed as if the target
 *   were "/", so a symlink from an earlier entry redirects a later entry only to somewhere inside
 *   the target. Missing parents are created (0755).
 * - the last component is never followed: whatever is there (symlink included) is removed and
 *   replaced, except a directory over a directory, which is merged; files are created with
 *   openat(O_CREAT|O_EXCL|O_NOFOLLOW) below the parent's fd.
 * - hard links: the link name is confined like an entry name and must name an existing
 *   non-directory inside the target (its last component is not followed: linking a symlink links
 *   the symlink). "/etc/passwd" means "<target>/etc/passwd"; "../outside" is refused.
 * - owners, modes, xattrs and times are set through an fd of the entry, never by path.
 * - character and block devices need root (LayerError otherwise); FIFOs do not.
 * - an entry resolving to the target itself ("./") is ignored, as containerd does.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { linuxSys, openRoot, type Sys } from '@gantry/linux';
import { extractTar, LayerError } from './extract';
import { ByteSource, readTar, TarFormatError } from './tar';

export { cleanEntryName, LayerError } from './extract';

export interface ApplyOptions {
  /** The kernel seam every member is written through (default: the real one). */
  sys?: Sys;
  /** Restore owners with lchown (default: when running as root; otherwise files keep ours). */
  chown?: boolean;
  /** Told about what was skipped (xattrs the filesystem does not support). */
  onWarning?(message: string, entry: string): void;
}

export interface ApplyResult {
  /** Bytes of the uncompressed tar stream. */
  size: number;
  /** "sha256:<hex>" of the uncompressed tar stream: the layer's diffID. */
  digest: string;
}

export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

/** Compression of a stream from its first bytes (magic numbers). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  return 'none';
}

const toBuffer = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v as Uint8Array));

/** The uncompressed bytes of a layer stream (gzip detected by its magic; zstd, xz, bzip2 refused). */
export async function* decompressed(src: Readable): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, toBuffer(r.value)]);
  }
  const kind = detectCompression(head);
  if (kind !== 'gzip' && kind !== 'none') throw new LayerError(`${kind}-compressed layers are not supported (gzip or uncompressed tar only)`);
  async function* raw(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    while (!ended) {
      const r = await it.next();
      if (r.done) return;
      yield toBuffer(r.value);
    }
  }
  if (kind === 'none') {
    yield* raw();
    return;
  }
  const gunzip = createGunzip({ chunkSize: 256 << 10 });
  const feed = raw();
  // feed the compressed bytes by hand so errors on either side end both
  void (async () => {
    try {
      for await (const chunk of feed) {
        if (gunzip.destroyed) return;
        if (!gunzip.write(chunk)) await new Promise<void>((resolve) => gunzip.once('drain', resolve));
      }
      gunzip.end();
    } catch (e) {
      gunzip.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  })();
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (e) {
    throw new LayerError(`gzip: ${(e as Error).message}`, undefined, { cause: e });
  } finally {
    gunzip.destroy();
  }
}

/**
 * Apply a layer (gzip or uncompressed tar) onto `target`, which must exist. Returns the size and
 * sha256 of the uncompressed stream (the diffID), every byte of it counted, padding included.
 */
export async function applyLayer(tarStream: Readable, target: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const sys = opts.sys ?? linuxSys();
  let rootFd: number;
  try {
    rootFd = openRoot(sys, fs.realpathSync(target));
  } catch (e) {
    tarStream.destroy();
    throw new LayerError(`target ${target}: ${(e as Error).message}`, undefined, { cause: e });
  }
  const hash = createHash('sha256');
  let size = 0;
  const src = new ByteSource(decompressed(tarStream), (chunk) => {
    hash.update(chunk);
    size += chunk.length;
  });
  const isRoot = process.getuid?.() === 0;
  let current: string | undefined;
  try {
    await extractTar(readTar(src), rootFd, { sys, whiteouts: true, chown: opts.chown ?? isRoot, allowDevices: isRoot, ...(opts.onWarning ? { onWarning: opts.onWarning } : {}) }, (name) => (current = name));
    await src.drain(); // bytes after the end-of-archive marker are part of the diffID
  } catch (e) {
    tarStream.destroy();
    if (e instanceof LayerError) throw e;
    if (e instanceof TarFormatError) throw new LayerError(`invalid tar: ${e.detail}`, e.entry, { cause: e });
    throw new LayerError((e as Error).message ?? String(e), current, { cause: e });
  } finally {
    sys.close(rootFd);
  }
  return { size, digest: `sha256:${hash.digest('hex')}` };
}
