/**
 * Mount options as OCI configs, containerd mounts, fstab and `mount -o` spell them, turned into
 * what mount(2) takes: MS_* flags to set and to clear, propagation changes (each needs its own
 * mount(2) call), recursive attributes for mount_setattr(2) ("rro", "rnosuid", ...) and the
 * filesystem's data string (everything else, e.g. "mode=755,size=64m" or "lowerdir=...").
 *
 * The one table of these words in Gantry: the runtime, the shim, containerd and the engine's
 * volumes all parse through here, and plan the calls with `mountSteps`.
 */
import { MOUNT_ATTR, MS, ST } from '../constants';

/** Words that set (`set: true`) or clear a mount(2) flag; later words win over earlier ones. */
const FLAG_WORDS: Readonly<Record<string, { set: boolean; flag: number }>> = {
  ro: { set: true, flag: MS.RDONLY },
  rw: { set: false, flag: MS.RDONLY },
  nosuid: { set: true, flag: MS.NOSUID },
  suid: { set: false, flag: MS.NOSUID },
  nodev: { set: true, flag: MS.NODEV },
  dev: { set: false, flag: MS.NODEV },
  noexec: { set: true, flag: MS.NOEXEC },
  exec: { set: false, flag: MS.NOEXEC },
  sync: { set: true, flag: MS.SYNCHRONOUS },
  async: { set: false, flag: MS.SYNCHRONOUS },
  remount: { set: true, flag: MS.REMOUNT },
  mand: { set: true, flag: MS.MANDLOCK },
  nomand: { set: false, flag: MS.MANDLOCK },
  dirsync: { set: true, flag: MS.DIRSYNC },
  nosymfollow: { set: true, flag: MS.NOSYMFOLLOW },
  symfollow: { set: false, flag: MS.NOSYMFOLLOW },
  noatime: { set: true, flag: MS.NOATIME },
  atime: { set: false, flag: MS.NOATIME },
  nodiratime: { set: true, flag: MS.NODIRATIME },
  diratime: { set: false, flag: MS.NODIRATIME },
  relatime: { set: true, flag: MS.RELATIME },
  norelatime: { set: false, flag: MS.RELATIME },
  strictatime: { set: true, flag: MS.STRICTATIME },
  nostrictatime: { set: false, flag: MS.STRICTATIME },
  lazytime: { set: true, flag: MS.LAZYTIME },
  nolazytime: { set: false, flag: MS.LAZYTIME },
  silent: { set: true, flag: MS.SILENT },
  loud: { set: false, flag: MS.SILENT },
  bind: { set: true, flag: MS.BIND },
  rbind: { set: true, flag: MS.BIND | MS.REC },
};

/** Propagation words: each becomes a separate mount(2) call on the mount point. */
export const PROPAGATION: Readonly<Record<string, number>> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Recursive attributes (kernel 5.12+, mount_setattr with AT_RECURSIVE), as runc spells them. */
const RECURSIVE_WORDS: Readonly<Record<string, { set: boolean; attr: number }>> = {
  rro: { set: true, attr: MOUNT_ATTR.RDONLY },
  rrw: { set: false, attr: MOUNT_ATTR.RDONLY },
  rnosuid: { set: true, attr: MOUNT_ATTR.NOSUID },
  rsuid: { set: false, attr: MOUNT_ATTR.NOSUID },
  rnodev: { set: true, attr: MOUNT_ATTR.NODEV },
  rdev: { set: false, attr: MOUNT_ATTR.NODEV },
  rnoexec: { set: true, attr: MOUNT_ATTR.NOEXEC },
  rexec: { set: false, attr: MOUNT_ATTR.NOEXEC },
  rnodiratime: { set: true, attr: MOUNT_ATTR.NODIRATIME },
  rdiratime: { set: false, attr: MOUNT_ATTR.NODIRATIME },
  rrelatime: { set: true, attr: MOUNT_ATTR.RELATIME },
  rnorelatime: { set: false, attr: MOUNT_ATTR.RELATIME },
  rnoatime: { set: true, attr: MOUNT_ATTR.NOATIME },
  ratime: { set: false, attr: MOUNT_ATTR.NOATIME },
  rstrictatime: { set: true, attr: MOUNT_ATTR.STRICTATIME },
  rnostrictatime: { set: false, attr: MOUNT_ATTR.STRICTATIME },
  rnosymfollow: { set: true, attr: MOUNT_ATTR.NOSYMFOLLOW },
  rsymfollow: { set: false, attr: MOUNT_ATTR.NOSYMFOLLOW },
};

/** The MS_* flag a word sets or clears ("ro" and "rw" both name MS_RDONLY), or undefined for other words. */
export function mountFlagWord(word: string): { flag: number; set: boolean } | undefined {
  return Object.hasOwn(FLAG_WORDS, word) ? FLAG_WORDS[word] : undefined;
}

/** Every option word the parser understands (for `features`); anything else is filesystem data. */
export const KNOWN_MOUNT_OPTIONS: readonly string[] = [
  'defaults',
  ...Object.keys(FLAG_WORDS),
  ...Object.keys(PROPAGATION),
  ...Object.keys(RECURSIVE_WORDS),
].sort();

export interface RecursiveAttrs {
  /** MOUNT_ATTR_* to set on the mount and every mount below it. */
  set: number;
  /** MOUNT_ATTR_* to clear (MOUNT_ATTR__ATIME too when an atime mode is chosen, as the kernel requires). */
  clear: number;
}

export interface MountOptions {
  /** MS_* flags to set, including MS_BIND/MS_REC/MS_REMOUNT. */
  flags: number;
  /** MS_* flags the options explicitly clear ("rw", "suid", "exec", ...). */
  cleared: number;
  /** Propagation changes, in order, each applied with its own mount(2) call. */
  propagation: number[];
  /** Recursive attributes, or undefined when no r-word was given. */
  recursive?: RecursiveAttrs;
  /** The filesystem-specific data string ("" when none). */
  data: string;
  bind: boolean;
  /** "rbind": the bind takes the submounts too. */
  recursiveBind: boolean;
}

/** Split mount options (a list, or a comma-separated `-o` string) as runc and mount(8) do. */
export function parseMountOptions(options: readonly string[] | string | undefined): MountOptions {
  const words = typeof options === 'string' ? options.split(',') : (options ?? []);
  let flags = 0;
  let cleared = 0;
  let recSet = 0;
  let recClear = 0;
  let anyRecursive = false;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const word of words) {
    if (word === '' || word === 'defaults') continue;
    const f = Object.hasOwn(FLAG_WORDS, word) ? FLAG_WORDS[word]! : undefined;
    const r = Object.hasOwn(RECURSIVE_WORDS, word) ? RECURSIVE_WORDS[word]! : undefined;
    if (f) {
      if (f.set) {
        flags |= f.flag;
        cleared &= ~f.flag;
      } else {
        flags &= ~f.flag;
        cleared |= f.flag;
      }
    } else if (Object.hasOwn(PROPAGATION, word)) {
      propagation.push(PROPAGATION[word]!);
    } else if (r) {
      anyRecursive = true;
      if (r.set) {
        recSet |= r.attr;
        recClear &= ~r.attr;
      } else {
        recClear |= r.attr;
        recSet &= ~r.attr;
      }
      // mount_setattr(2): an atime mode is set only with MOUNT_ATTR__ATIME in attr_clr
      if ((r.attr & MOUNT_ATTR.ATIME_MASK) === r.attr) recClear |= MOUNT_ATTR.ATIME_MASK;
    } else data.push(word);
  }
  const bind = (flags & MS.BIND) !== 0;
  return {
    flags,
    cleared,
    propagation,
    ...(anyRecursive ? { recursive: { set: recSet, clear: recClear } } : {}),
    data: data.join(','),
    bind,
    recursiveBind: bind && (flags & MS.REC) !== 0,
  };
}

/** A mount as containerd and OCI describe one: the type ("bind" and "rbind" mean a bind), source and options. */
export interface MountRequest {
  type?: string | null;
  source?: string | null;
  options?: readonly string[] | string;
  /**
   * A bind's source as a detached mount (`Sys.openTreeClone`), attached with move_mount instead
   * of binding `source` (which then only names it in errors and for the locked-flag lookup).
   */
  detached?: number;
}

/** The options of `m`, with a type of "bind" or "rbind" read as the bind option (as runc and containerd do). */
export function requestOptions(m: MountRequest): MountOptions {
  const o = parseMountOptions(m.options);
  if ((m.type === 'bind' || m.type === 'rbind') && !o.bind) {
    const rec = m.type === 'rbind' ? MS.REC : 0;
    return { ...o, flags: o.flags | MS.BIND | rec, bind: true, recursiveBind: rec !== 0 };
  }
  return o;
}

/** Flags a bind mount takes only through a remount (everything but MS_BIND/MS_REC/MS_REMOUNT). */
const BIND_ONLY = MS.BIND | MS.REC | MS.REMOUNT;

/**
 * Flags the kernel locks on a mount made in a less privileged mount namespace (MNT_LOCK_*): a
 * bind remount may not drop them, so they are carried over from the source when the first try fails.
 */
export const LOCKED_FLAGS = MS.RDONLY | MS.NODEV | MS.NOEXEC | MS.NOSUID | MS.NOATIME | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME;
const ATIME_FLAGS = MS.NOATIME | MS.RELATIME | MS.STRICTATIME;

/** One mount(2) call of a plan; the caller supplies the target. */
export interface MountStep {
  /**
   * "mount": the mount itself; "bind-remount": flags a bind takes only on a remount (the caller
   * retries it with the source's locked flags on EPERM, see `withLockedFlags`); "propagation".
   */
  kind: 'mount' | 'bind-remount' | 'propagation';
  source: string | null;
  fstype: string | null;
  flags: number;
  data: string | null;
}

/**
 * The mount(2) calls one mount needs, in order. A bind takes only MS_BIND|MS_REC on the first call;
 * any other flag (notably MS_RDONLY: "ro") needs a second MS_REMOUNT|MS_BIND call, and an
 * explicitly cleared flag needs it too, so the bind ends up with exactly the flags asked for.
 * Propagation changes come last, one call each.
 */
export function mountSteps(m: MountRequest, o: MountOptions = requestOptions(m)): MountStep[] {
  const steps: MountStep[] = [];
  const source = m.source ?? null;
  if (o.bind) {
    steps.push({ kind: 'mount', source, fstype: null, flags: o.flags & (MS.BIND | MS.REC), data: null });
    if ((o.flags & ~BIND_ONLY) !== 0 || o.cleared !== 0) {
      steps.push({ kind: 'bind-remount', source: null, fstype: null, flags: (o.flags & ~(MS.REC | MS.REMOUNT)) | MS.BIND | MS.REMOUNT, data: null });
    }
  } else {
    const fstype = m.type ? m.type : null;
    steps.push({ kind: 'mount', source: source ?? fstype ?? 'none', fstype, flags: o.flags, data: o.data || null });
  }
  for (const p of o.propagation) steps.push({ kind: 'propagation', source: null, fstype: null, flags: p, data: null });
  return steps;
}

/** MS_* flags of a mount from statfs(2)'s f_flags (ST_*), as the kernel's calculate_f_flags reports them. */
export function statfsToMountFlags(stFlags: number): number {
  const pairs: [number, number][] = [
    [ST.RDONLY, MS.RDONLY],
    [ST.NOSUID, MS.NOSUID],
    [ST.NODEV, MS.NODEV],
    [ST.NOEXEC, MS.NOEXEC],
    [ST.MANDLOCK, MS.MANDLOCK],
    [ST.SYNCHRONOUS, MS.SYNCHRONOUS],
    [ST.NOATIME, MS.NOATIME],
    [ST.NODIRATIME, MS.NODIRATIME],
    [ST.RELATIME, MS.RELATIME],
    [ST.NOSYMFOLLOW, MS.NOSYMFOLLOW],
  ];
  let flags = 0;
  for (const [st, ms] of pairs) if ((stFlags & st) === st) flags |= ms;
  // strictatime is not stored as a flag: a mount with none of the other atime modes has it
  if ((flags & (MS.NOATIME | MS.RELATIME)) === 0) flags |= MS.STRICTATIME;
  return flags;
}

/** Why a bind remount cannot give what the options ask for. */
export class LockedMountFlagsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockedMountFlagsError';
  }
}

/**
 * The flags of a failed bind remount retried with the source mount's locked flags (runc's rule):
 * an explicitly cleared flag that is locked, or an atime mode other than the locked one, cannot
 * be had, and that is an error rather than a silently different mount.
 */
export function withLockedFlags(step: MountStep, cleared: number, sourceMountFlags: number): number {
  const locked = sourceMountFlags & LOCKED_FLAGS;
  const cannotClear = locked & cleared;
  if (cannotClear !== 0) throw new LockedMountFlagsError(`cannot clear locked mount flags 0x${cannotClear.toString(16)}`);
  const wantAtime = step.flags & ATIME_FLAGS;
  if (wantAtime !== 0 && wantAtime !== (locked & ATIME_FLAGS)) {
    throw new LockedMountFlagsError(`cannot change the locked atime flags 0x${(locked & ATIME_FLAGS).toString(16)}`);
  }
  return step.flags | locked;
}
