/**
 * The container's root filesystem, mounted by the shim from the Mount list containerd sends with
 * Create (an overlay of snapshot dirs, or a bind): each mount goes to <bundle>/rootfs (or its
 * `target` below it), resolved inside the bundle by fd and mounted through /proc/self/fd, with
 * the options read by @gantry/linux (so a read-only bind really is read-only).
 */
import * as path from 'node:path';
import { MNT_DETACH, mountInRoot, openMountRoot, type MountRequest, type Sys } from '@gantry/linux';

export interface RootfsMount extends MountRequest {
  type: string;
  source: string;
  /** Where below the rootfs this mount goes (containerd's Mount.target); the rootfs itself when empty. */
  target?: string;
  options: string[];
}

/** Mount `mounts` in order; returns how many mount points were made (all undone again on failure). */
export function mountRootfs(sys: Sys, bundle: string, mounts: readonly RootfsMount[]): number {
  const made: string[] = [];
  try {
    for (const m of mounts) {
      const root = openMountRoot(sys, bundle);
      try {
        const dest = path.posix.join('rootfs', m.target ?? '');
        sys.close(mountInRoot(sys, root, dest, m, { mounted: (p) => made.push(p) }).fd);
      } finally {
        sys.close(root.fd);
      }
    }
    return made.length;
  } catch (e) {
    for (const p of made.reverse()) {
      try {
        sys.umount(p, MNT_DETACH);
      } catch {
        // already gone
      }
    }
    throw e;
  }
}
