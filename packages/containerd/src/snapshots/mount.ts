/**
 * Mounting what a snapshotter returns, as containerd's mount package does: options that are
 * mount(2) flags (ro, rw, bind, rbind, nosuid, …) become flags, the rest (lowerdir=…, index=off)
 * the data string; a read-only bind is a bind followed by a read-only remount.
 */
import { MNT_DETACH, MS, type Sys } from '@gantry/linux';
import type { MountSpec } from './types';

const FLAGS: Readonly<Record<string, { set: boolean; flag: number }>> = {
  ro: { set: true, flag: MS.RDONLY },
  rw: { set: false, flag: MS.RDONLY },
  bind: { set: true, flag: MS.BIND },
  rbind: { set: true, flag: MS.BIND | MS.REC },
  nosuid: { set: true, flag: MS.NOSUID },
  suid: { set: false, flag: MS.NOSUID },
  nodev: { set: true, flag: MS.NODEV },
  dev: { set: false, flag: MS.NODEV },
  noexec: { set: true, flag: MS.NOEXEC },
  exec: { set: false, flag: MS.NOEXEC },
  noatime: { set: true, flag: MS.NOATIME },
  relatime: { set: true, flag: MS.RELATIME },
  sync: { set: true, flag: MS.SYNCHRONOUS },
  remount: { set: true, flag: MS.REMOUNT },
};

export function parseMountOptions(options: readonly string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = Object.hasOwn(FLAGS, o) ? FLAGS[o] : undefined;
    if (!f) data.push(o);
    else if (f.set) flags |= f.flag;
    else flags &= ~f.flag;
  }
  return { flags, data: data.join(',') };
}

/** Mount each spec on `target` in order (containerd's mount.All). */
export function mountAll(sys: Pick<Sys, 'mount'>, mounts: readonly MountSpec[], target: string): void {
  for (const m of mounts) {
    const { flags, data } = parseMountOptions(m.options);
    const isBind = (flags & MS.BIND) !== 0;
    sys.mount(m.source, target, isBind ? null : m.type, flags & ~(isBind ? MS.RDONLY : 0), data || null);
    if (isBind && (flags & MS.RDONLY) !== 0) sys.mount(null, target, null, MS.REMOUNT | MS.BIND | MS.RDONLY, null);
  }
}

/** Undo mountAll: detach `target` (lazily, so open files don't keep it busy). */
export function unmount(sys: Pick<Sys, 'umount'>, target: string): void {
  sys.umount(target, MNT_DETACH);
}
