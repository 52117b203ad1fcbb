import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** Root of the Gantry repository (this file lives in <repo>/e2e/src). */
export const repoRoot = resolve(__dirname, '..', '..');

/** tools/make-busybox-bundle.sh */
export const bundleTool = join(repoRoot, 'tools', 'make-busybox-bundle.sh');

/**
 * The OCI runtime under test: $RUNTIME (e.g. /usr/sbin/runc to check the harness itself),
 * defaulting to the repository's bin/gantry-runtime launcher.
 */
export function runtimeUnderTest(): string {
  const fromEnv = process.env.RUNTIME;
  return fromEnv && fromEnv.length > 0 ? resolve(fromEnv) : join(repoRoot, 'bin', 'gantry-runtime');
}

/** Absolute path of an executable found on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
