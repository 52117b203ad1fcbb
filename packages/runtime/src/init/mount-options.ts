import { MS } from '@gantry/linux';

export interface ParsedMountOptions {
  /** Flags for the mount itself. */
  flags: number;
  /** Propagation flags, applied with a separate mount(2) call as the kernel requires. */
  propagation: number[];
  /** Everything that is not a flag, joined as the fs-specific data string. */
  data: string;
  bind: boolean;
  recursive: boolean;
}

const SET: Record<string, number> = {
  ro: MS.RDONLY,
  nosuid: MS.NOSUID,
  nodev: MS.NODEV,
  noexec: MS.NOEXEC,
  sync: MS.SYNCHRONOUS,
  remount: MS.REMOUNT,
  mand: MS.MANDLOCK,
  dirsync: MS.DIRSYNC,
  nosymfollow: MS.NOSYMFOLLOW,
  noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME,
  relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME,
  lazytime: MS.LAZYTIME,
};

const CLEAR: Record<string, number> = {
  rw: MS.RDONLY,
  suid: MS.NOSUID,
  dev: MS.NODEV,
  exec: MS.NOEXEC,
  async: MS.SYNCHRONOUS,
  nomand: MS.MANDLOCK,
  atime: MS.NOATIME,
  diratime: MS.NODIRATIME,
  norelatime: MS.RELATIME,
  nostrictatime: MS.STRICTATIME,
  nolazytime: MS.LAZYTIME,
  symfollow: MS.NOSYMFOLLOW,
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Split OCI mount options into mount(2) flags, propagation changes and the data string, as runc does. */
export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let bind = false;
  let recursive = false;
  for (const opt of options) {
    if (opt === 'bind' || opt === 'rbind') {
      bind = true;
      flags |= MS.BIND;
      if (opt === 'rbind') {
        recursive = true;
        flags |= MS.REC;
      }
    } else if (opt in SET) flags |= SET[opt]!;
    else if (opt in CLEAR) flags &= ~CLEAR[opt]!;
    else if (opt in PROPAGATION) propagation.push(PROPAGATION[opt]!);
    else if (opt === 'defaults') continue;
    else data.push(opt);
  }
  return { flags, propagation, data: data.join(','), bind, recursive };
}

/** The propagation of the rootfs mount from `linux.rootfsPropagation` (default rslave, like runc). */
export function rootfsPropagationFlags(value: string | undefined): number {
  if (!value) return MS.SLAVE | MS.REC;
  const f = PROPAGATION[value];
  if (f === undefined) throw new Error(`unknown rootfsPropagation "${value}"`);
  return f;
}
