/**
 * Mounting containerd mount descriptions (type, source, options) on a temporary directory, as
 * gantry-containerd's diff service and gantryd's docker cp / diff need them: every mount of the list onto the same directory, in order;
 * read-only on request (an overlay with an upper dir becomes a read-only overlay of upper +
 * lowers, so nothing needs a work dir); always undone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mountInRoot, openMountRoot } from '../confine/mount-in-root';
import { MNT_DETACH } from '../constants';
import { SysError } from '../errors';
import type { Sys } from '../sys';
import { applyMount } from './apply';

/** A mount as containerd describes it: mount(2) type, source and options (overlay's lowerdir=... etc.). */
export interface MountSpec {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

/** The lower dirs of an overlay mount, upper first when it has one (what a read-only view stacks). */
export function overlayLayers(m: MountSpec): { upper?: string; lowers: string[] } {
  let upper: string | undefined;
  let lowers: string[] = [];
  for (const o of m.options) {
    if (o.startsWith('upperdir=')) upper = o.slice('upperdir='.length);
    else if (o.startsWith('lowerdir='))
      lowers = o
        .slice('lowerdir='.length)
        .split(':')
        .filter((s) => s.length > 0);
  }
  return upper !== undefined ? { upper, lowers } : { lowers };
}

/** A mount made read-only: overlay upper dirs fold into the lower stack. */
export function readonlyMount(m: MountSpec): MountSpec {
  const opts = m.options.filter((o) => o !== 'rw');
  if (m.type === 'overlay') {
    const { upper, lowers } = overlayLayers(m);
    if (upper !== undefined) {
      const rest = opts.filter((o) => !/^(upperdir|workdir|lowerdir)=/.test(o) && o !== 'volatile');
      return { ...m, options: [...rest, `lowerdir=${[upper, ...lowers].join(':')}`, 'ro'] };
    }
  }
  return { ...m, options: [...opts, 'ro'] };
}

/**
 * Mount every mount of `mounts` onto `target` (in order). Returns the mount points to undo. A
 * mount with a `target` below the first ones lands inside image content, so that path is
 * resolved inside `target` by fd (mountInRoot) and cannot be led out of it by a symlink.
 */
export function mountAll(sys: Sys, mounts: readonly MountSpec[], target: string, readonly: boolean): string[] {
  const done: string[] = [];
  try {
    for (const raw of mounts) {
      const m = readonly ? readonlyMount(raw) : raw;
      const sub = (m.target ?? '').split('/').filter((s) => s.length > 0 && s !== '.');
      if (sub.includes('..')) throw new Error(`mount target ${JSON.stringify(m.target)} leaves the mount root`);
      // recorded as soon as the first mount(2) succeeded, so a failed remount is undone too
      if (sub.length === 0) {
        applyMount(sys, m, { first: target, onFirst: () => done.push(target) });
        continue;
      }
      const root = openMountRoot(sys, target);
      try {
        sys.close(mountInRoot(sys, root, sub.join('/'), m, { mounted: (p) => done.push(p) }).fd);
      } finally {
        sys.close(root.fd);
      }
    }
    return done;
  } catch (e) {
    unmountAll(sys, done);
    throw e;
  }
}

/** Undo `mountAll`, innermost first; a busy mount is detached. */
export function unmountAll(sys: Sys, points: readonly string[]): void {
  for (const at of [...points].reverse()) {
    try {
      sys.umount(at, 0);
    } catch (e) {
      if (e instanceof SysError && e.code === 'EBUSY') sys.umount(at, MNT_DETACH);
      else if (!(e instanceof SysError && e.code === 'EINVAL')) throw e;
    }
  }
}

/** Run `fn` with `mounts` mounted on a fresh directory under `tmpRoot`; unmounted and removed after, always. */
export async function withTempMounts<T>(
  sys: Sys,
  tmpRoot: string,
  mounts: readonly MountSpec[],
  readonly: boolean,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  fs.mkdirSync(tmpRoot, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'mount-'));
  try {
    const points = mountAll(sys, mounts, dir, readonly);
    try {
      return await fn(dir);
    } finally {
      unmountAll(sys, points);
    }
  } finally {
    removeMountDir(dir);
  }
}

/** rmdir only: if an unmount failed, whatever is still mounted there is left alone. */
export function removeMountDir(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* still mounted (busy) or already gone */
  }
}
