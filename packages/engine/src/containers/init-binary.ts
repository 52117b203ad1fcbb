/**
 * The init that `docker run --init` puts in front of a container's command (dockerd's
 * docker-init, on Debian a link to tini-static): found the way dockerd finds it, on PATH and in
 * its libexec directories, unless --init-path names it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The name dockerd looks for, and what `docker info` reports as InitBinary by default. */
export const DEFAULT_INIT_BINARY = 'docker-init';

const LIBEXEC_DIRS = ['/usr/local/libexec/docker', '/usr/libexec/docker', '/usr/local/lib/docker', '/usr/lib/docker'];

function executable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The host path of the init binary: `configured` (--init-path) if it is an executable file,
 * else docker-init on `searchPath` (PATH) or in dockerd's libexec directories; undefined when
 * there is none (a container asking for --init is then refused at create).
 */
export function findInitBinary(configured: string | undefined, searchPath = process.env.PATH ?? ''): string | undefined {
  if (configured !== undefined && path.isAbsolute(configured)) return executable(configured) ? fs.realpathSync(configured) : undefined;
  const name = configured ?? DEFAULT_INIT_BINARY;
  for (const dir of [...searchPath.split(':').filter((d) => d !== ''), ...LIBEXEC_DIRS]) {
    const p = path.join(dir, name);
    if (executable(p)) return fs.realpathSync(p);
  }
  return undefined;
}
