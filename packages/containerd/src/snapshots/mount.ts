/**
 * Mounting what a snapshotter returns, as containerd's mount package does: each mount onto the
 * target in order, its options read by @gantry/linux (a read-only bind is a bind followed by a
 * read-only remount).
 */
import { MNT_DETACH, applyMount, type MountSeam, type MountSpec, type Sys } from '@gantry/linux';

/** Mount each spec on `target` in order (containerd's mount.All). */
export function mountAll(sys: MountSeam, mounts: readonly MountSpec[], target: string): void {
  for (const m of mounts) applyMount(sys, m, target);
}

/** Undo mountAll: detach `target` (lazily, so open files don't keep it busy). */
export function unmount(sys: Pick<Sys, 'umount'>, target: string): void {
  sys.umount(target, MNT_DETACH);
}
