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
import { linuxSys, openRoot, type Sys } from '@gantry/linux';
import { ByteSource, decompressed, extractTar, layerLimits, LayerError, readTar, TarFormatError, type ExpansionLimits } from '@gantry/archive';

export interface ApplyOptions {
  /** The kernel seam every member is written through (default: the real one). */
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
  const src = new ByteSource(decompressed(tarStream, opts.limits ?? layerLimits(target)), (chunk) => {
    hash.update(chunk);
    size += chunk.length;
  });
  const isRoot = process.getuid?.() === 0;
  let current: string | undefined;
  try {
    await extractTar(
      readTar(src),
      rootFd,
      { sys, whiteouts: true, chown: opts.chown ?? isRoot, allowDevices: isRoot, ...(opts.onWarning ? { onWarning: opts.onWarning } : {}) },
      (name) => (current = name),
    );
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
