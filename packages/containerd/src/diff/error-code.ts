/** The gRPC status of a layer that could not be applied (Diff.Apply, unpack on import). */
import { status as Code } from '@grpc/grpc-js';
import type { LayerError } from './apply';
import { ExpansionError } from './decompress';

/**
 * An archive fault (format, confinement, a decompression bomb) is INVALID_ARGUMENT; a layer too
 * large for the disk RESOURCE_EXHAUSTED; an I/O failure of ours UNKNOWN.
 */
export function layerErrorCode(e: LayerError): Code {
  const cause = e.cause as { code?: unknown } | undefined;
  if (cause instanceof ExpansionError && cause.kind === 'budget') return Code.RESOURCE_EXHAUSTED;
  if (cause?.code === 'ENOSPC' || cause?.code === 'EDQUOT') return Code.RESOURCE_EXHAUSTED;
  const io = typeof cause?.code === 'string' && /^E[A-Z]+$/.test(cause.code) && !['ENOENT', 'ENOTDIR', 'EEXIST', 'EISDIR', 'ELOOP'].includes(cause.code);
  return io ? Code.UNKNOWN : Code.INVALID_ARGUMENT;
}
