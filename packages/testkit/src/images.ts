/**
 * Busybox bundles and images for tests, made offline by the repository's tool
 * (tools/make-busybox-bundle.sh, from Debian's busybox-static): one place that knows its flags.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** The repository's root (this file is in packages/testkit/src or packages/testkit/dist). */
export const REPO_ROOT = path.resolve(__dirname, '../../..');
const MAKE_BUNDLE = path.join(REPO_ROOT, 'tools/make-busybox-bundle.sh');

function makeBundle(args: string[]): void {
  const r = spawnSync('bash', [MAKE_BUNDLE, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-busybox-bundle.sh ${args.join(' ')}: ${r.stderr || r.error?.message || `status ${r.status}`}`);
}

/** An OCI bundle (config.json + rootfs/) at `bundle` whose process runs `args`; returns `bundle`. */
export function busyboxBundle(bundle: string, args: string[]): string {
  makeBundle([bundle, '--', ...args]);
  return bundle;
}

/**
 * A docker-archive (`docker save` layout) of a busybox image named `name`, written to `archive`,
 * whose command is `args` (default `sh`); its bundle is left in `bundle` (default `<archive>.bundle`).
 */
export function busyboxArchive(archive: string, name: string, opts: { args?: string[]; bundle?: string } = {}): string {
  makeBundle([opts.bundle ?? `${archive}.bundle`, '--docker-archive', archive, '--name', name, '--', ...(opts.args ?? ['sh'])]);
  return archive;
}
