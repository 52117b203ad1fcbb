/** The error kind of a layer that could not be applied (Diff.Apply, unpack on import). */
import type { ErrorKind } from '@gantry/linux';
import { ExpansionError, type LayerError } from '@gantry/archive';

/**
 * An archive fault (format, confinement, a decompression bomb) is an invalid argument; a layer too
 * large for the disk resource-exhausted; an I/O failure of ours unknown.
 */
export function layerErrorKind(e: LayerError): ErrorKind {
  const cause = e.cause as { code?: unknown } | undefined;
  if (cause instanceof ExpansionError && cause.kind === 'budget') return 'resource-exhausted';
  if (cause?.code === 'ENOSPC' || cause?.code === 'EDQUOT') return 'resource-exhausted';
  const io = typeof cause?.code === 'string' && /^E[A-Z]+$/.test(cause.code) && !['ENOENT', 'ENOTDIR', 'EEXIST', 'EISDIR', 'ELOOP'].includes(cause.code);
  return io ? 'unknown' : 'invalid-argument';
}
