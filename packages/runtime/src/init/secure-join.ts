import * as path from 'node:path';
import type { Sys } from '@gantry/linux';

/**
 * Resolve `unsafe` as a path inside `root`, following symlinks one component at a time as if
 * `root` were "/": absolute link targets restart at `root` and ".." never climbs above it. This is
 * what keeps a hostile image's symlinks from redirecting a mount onto the host.
 */
export function secureJoin(sys: Sys, root: string, unsafe: string): string {
  const parts = unsafe.split('/').filter((p) => p.length > 0);
  const resolved: string[] = [];
  let linksFollowed = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    const st = sys.stat(candidate);
    if (st?.kind === 'symlink') {
      if (++linksFollowed > 255) throw new Error(`too many symlinks resolving ${unsafe}`);
      const target = sys.readlink(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter((p) => p.length > 0));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}
